"""The aws profile on one machine: moto's server stands in for DynamoDB, S3 and SES; the
search index is a real OpenSearch node. Writes are indexed in process, since no stream
Lambda runs here."""
from __future__ import annotations

import argparse
import os
import secrets
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/run-aws-local", description=__doc__)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--moto-port", type=int, default=5005)
    args = parser.parse_args(argv)

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per moto call otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.moto_port)
    server.start()
    os.environ.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{args.moto_port}",
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": os.environ.get("RELAIS_AWS_REGION", "eu-west-1"),
    })
    from chalicelib.adapters.dynamodb_store import create_tables
    from chalicelib.adapters.mail import create_mail_table
    from chalicelib.config import Settings
    from chalicelib.server import serve

    settings = Settings.from_env(backend="aws", index_on_write=True,
                                 token_secret=os.environ.get("RELAIS_TOKEN_SECRET")
                                 or secrets.token_urlsafe(32))
    dynamodb = boto3.client("dynamodb", region_name=settings.aws_region)
    create_tables(dynamodb, settings.table_prefix)
    create_mail_table(dynamodb, settings.table_prefix)
    s3 = boto3.client("s3", region_name=settings.aws_region)
    s3.create_bucket(Bucket=settings.mail_bucket, CreateBucketConfiguration={
        "LocationConstraint": settings.aws_region})
    boto3.client("ses", region_name=settings.aws_region).verify_email_identity(
        EmailAddress=settings.mail_from)
    print(f"moto server on {os.environ['AWS_ENDPOINT_URL']}; OpenSearch at "
          f"{settings.opensearch_url}", flush=True)
    try:
        return serve(settings, demo=args.demo)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
