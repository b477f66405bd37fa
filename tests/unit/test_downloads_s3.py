"""Exports too large for a response, kept in S3 behind a link that expires (moto)."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests

from chalicelib.adapters.downloads import LINK_SECONDS, S3DownloadStore
from chalicelib.auth import Caller
from chalicelib.services.privacy import EXPORT_FILENAME
from tests.conftest import MOTO_REGION, seed_people

REGION = MOTO_REGION
BUCKET = "relais-test-mail-123456789012-eu-west-1"


@pytest.fixture
def s3(moto_aws):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


def test_a_kept_file_downloads_under_its_name_through_a_link_that_expires(s3):
    kept = S3DownloadStore(BUCKET, REGION).keep("abc.json", b'{"a": 1}',
                                                content_type="application/json",
                                                filename="relais-my-data.json")
    stored = s3.get_object(Bucket=BUCKET, Key="exports/abc.json")  # where the lifecycle
    assert stored["Body"].read() == b'{"a": 1}'                    # rule deletes it
    assert stored["ContentType"] == "application/json" and kept.size == 8
    query = parse_qs(urlparse(kept.url).query)
    assert query["X-Amz-Expires"] == [str(LINK_SECONDS)]
    fetched = requests.get(kept.url, timeout=10)
    assert fetched.status_code == 200 and fetched.json() == {"a": 1}
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="relais-my-data.json"'
    assert kept.expires_at.endswith("Z")


def test_an_export_too_large_for_a_response_comes_as_a_link(s3, relais):
    # An id long enough that a random file name cannot contain it by chance
    # (a two-letter id is in one random name in a hundred or so).
    writer = "prolific-writer"
    seed_people(relais, [{"id": writer, "name": "Prolific Writer"}])
    privacy = relais.privacy
    whole = privacy.export(Caller(writer))
    privacy.downloads = S3DownloadStore(BUCKET, REGION)
    assert privacy.export_or_link(Caller(writer))["profile"]["name"] == "Prolific Writer"
    privacy.inline_export_bytes = 100  # this export is larger than that
    linked = privacy.export_or_link(Caller(writer))
    assert set(linked) == {"format", "exported_at", "download"}
    assert linked["download"]["filename"] == EXPORT_FILENAME
    data = requests.get(linked["download"]["url"], timeout=10).json()
    assert data["profile"] == whole["profile"] and data["format"] == "relais-export-v1"
    assert linked["download"]["bytes"] == len(json.dumps(data, ensure_ascii=False).encode())
    # Two exports, two files: a name is never reused (nor guessable from the person's id).
    again = privacy.export_or_link(Caller(writer))["download"]["url"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == 2 and again != linked["download"]["url"]
    assert all(k.startswith("exports/") and writer not in k for k in keys)
