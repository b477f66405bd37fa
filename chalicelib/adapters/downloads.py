"""Files too large for an API response, kept in S3 behind links that expire (aws profile).

They go to the stack's private bucket under `exports/`, where a lifecycle rule deletes them
after a day (infra/resources.yaml); the link is a presigned GET that downloads the file under
its name, signed with the function's own role.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ..clock import iso
from ..ports import Download

PREFIX = "exports/"
LINK_SECONDS = 15 * 60  # long enough to start a download, short enough not to be passed on


class S3DownloadStore:
    """DownloadStore on S3."""

    def __init__(self, bucket: str, region: str, client=None):
        self.bucket = bucket
        self.region = region
        self._client = client

    @property
    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Signature version 4 for the links: every region takes it, newer ones no other.
            self._client = boto3.client("s3", region_name=self.region,
                                        config=Config(signature_version="s3v4"))
        return self._client

    def keep(self, key: str, body: bytes, *, content_type: str, filename: str) -> Download:
        name = PREFIX + key
        self.client.put_object(Bucket=self.bucket, Key=name, Body=body,
                               ContentType=content_type)
        url = self.client.generate_presigned_url("get_object", Params={
            "Bucket": self.bucket, "Key": name,
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
            "ResponseContentType": content_type}, ExpiresIn=LINK_SECONDS)
        # The signature counts from the real time, whatever clock the services run on.
        expires = datetime.now(timezone.utc) + timedelta(seconds=LINK_SECONDS)
        return Download(url=url, expires_at=iso(expires), size=len(body))
