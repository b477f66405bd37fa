"""Files too large for an API response, kept in S3 behind links that expire (aws profile).

They go to the stack's private bucket under `exports/`, where a lifecycle rule deletes them
after a day (infra/resources.yaml); the link is a presigned GET that downloads the file under
its name, signed with the function's own role.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ..clock import iso
from ..ports import Download
from .mail import aws_client

PREFIX = "exports/"
LINK_SECONDS = 15 * 60  # long enough to start a download, short enough not to be passed on


class S3DownloadStore:
    """DownloadStore on S3."""

    def __init__(self, bucket: str, region: str):
        self.bucket = bucket
        self.region = region

    def keep(self, key: str, body: bytes, *, content_type: str, filename: str) -> Download:
        # Links signed with signature version 4: every region takes it, newer ones no other.
        client = aws_client("s3", self.region, signature_version="s3v4")
        name = PREFIX + key
        client.put_object(Bucket=self.bucket, Key=name, Body=body, ContentType=content_type)
        url = client.generate_presigned_url("get_object", Params={
            "Bucket": self.bucket, "Key": name,
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
            "ResponseContentType": content_type}, ExpiresIn=LINK_SECONDS)
        # The signature counts from the real time, whatever clock the services run on.
        expires = datetime.now(timezone.utc) + timedelta(seconds=LINK_SECONDS)
        return Download(url=url, expires_at=iso(expires), size=len(body))
