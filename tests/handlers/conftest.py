"""Fixtures for the handler tests: moto-backed AWS, raw events, a Lambda context, images.

Events come from ``tests/events/*.json`` (raw, as AWS documents them); the builders
(:mod:`tests.support.events`, and the two below) only substitute bucket, key, ETag, size,
version and bodies.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from deploy.local.lambda_context import LambdaContext
from handlers import bootstrap
from handlers.dynamo_store import TABLE_DEFINITION

# The raw-event builders live in tests/support/events.py (the container tests and the
# benchmarks use them too); the handler tests import them from here as before.
from tests.support.events import load_event as load_event
from tests.support.events import s3_event as s3_event
from tests.support.events import sqs_event as sqs_event

REGION = "us-east-1"
UPLOADS_BUCKET = "test-uploads"
PROCESSED_BUCKET = "test-processed"
TABLE = "test-images"


# ---------------------------------------------------------------- images


def jpeg_bytes(
    size: tuple[int, int] = (800, 600), color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    """A solid-colour baseline JPEG of ``size`` (width, height) pixels."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=90)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (640, 480), alpha: bool = True) -> bytes:
    """A PNG of ``size`` pixels; half transparent when ``alpha``."""
    mode = "RGBA" if alpha else "RGB"
    image = Image.new(mode, size, (10, 120, 200, 128) if alpha else (10, 120, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# ---------------------------------------------------------------- events


def eventbridge_event(
    bucket: str, key: str, *, etag: str, size_bytes: int, version_id: str | None = None
) -> dict[str, Any]:
    """The documented EventBridge "Object Created" event for ``bucket``/``key``."""
    event = load_event("eventbridge_s3_object_created")
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    obj = event["detail"]["object"]
    obj["key"] = quote_plus(key, safe="/")
    obj["etag"] = etag
    obj["size"] = size_bytes
    if version_id is None:
        obj.pop("version-id")
    else:
        obj["version-id"] = version_id
    return event


def api_event(
    name: str,
    *,
    method: str | None = None,
    path: str | None = None,
    body: bytes | str | None = None,
    base64_body: bool | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A documented API Gateway REST proxy event from ``tests/events/<name>.json``, adjusted."""
    event = load_event(name)
    if method is not None:
        event["httpMethod"] = method
        event["requestContext"]["httpMethod"] = method
    if path is not None:
        event["path"] = path
        event["requestContext"]["path"] = f"/prod{path}"
    if body is not None:
        if isinstance(body, bytes) or base64_body:
            raw = body if isinstance(body, bytes) else body.encode()
            event["body"] = base64.b64encode(raw).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = body
            event["isBase64Encoded"] = False
    for k, v in (headers or {}).items():
        event["headers"][k] = v
        event["multiValueHeaders"][k] = [v]
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return event


# ---------------------------------------------------------------- AWS


@dataclass
class Aws:
    """Clients and names of the mocked account."""

    s3: Any
    dynamodb: Any
    sqs: Any
    queue_url: str
    uploads_bucket: str = UPLOADS_BUCKET
    processed_bucket: str = PROCESSED_BUCKET
    table: str = TABLE

    def put(self, key: str, data: bytes, *, bucket: str | None = None, **kwargs: Any) -> dict:
        """PutObject; returns the S3 event for it (what S3 would send)."""
        bucket = bucket or self.uploads_bucket
        resp = self.s3.put_object(Bucket=bucket, Key=key, Body=data, **kwargs)
        return s3_event(
            bucket,
            key,
            etag=resp["ETag"].strip('"'),
            size_bytes=len(data),
            version_id=resp.get("VersionId"),
        )

    def item(self, image_id: str) -> dict[str, Any] | None:
        """The table item as plain values."""
        from handlers.dynamo_store import from_dynamo

        resp = self.dynamodb.get_item(TableName=self.table, Key={"image_id": {"S": image_id}})
        return from_dynamo(resp["Item"]) if "Item" in resp else None

    def items(self) -> list[dict[str, Any]]:
        from handlers.dynamo_store import from_dynamo

        return [from_dynamo(i) for i in self.dynamodb.scan(TableName=self.table)["Items"]]

    def keys(self, bucket: str | None = None) -> list[str]:
        resp = self.s3.list_objects_v2(Bucket=bucket or self.processed_bucket)
        return sorted(o["Key"] for o in resp.get("Contents", []))


@pytest.fixture(scope="package", autouse=True)
def _reuse_boto3_clients() -> Iterator[None]:
    """Speed: build each distinct boto3 client once per run of this package, not per test.

    Clients are stateless towards moto (it intercepts at send time), so sharing them
    between these tests changes nothing but the ~50 ms each creation costs. The patch is
    package-scoped so it ends (and the cache goes) when the last handler test has run: a
    shared client also shares its event handlers and ignores the session it is asked from
    (the key holds neither), which other suites rely on (tests/deploy records calls per
    client and per session), so it must never outlive tests/handlers.
    """
    original = boto3.session.Session.client
    cache: dict[tuple[Any, ...], Any] = {}

    def client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        config = kwargs.get("config")
        options = sorted(config._user_provided_options.items()) if config else []
        key = (
            service_name,
            kwargs.get("region_name") or self.region_name,
            kwargs.get("endpoint_url"),
            repr(options),
            args,
        )
        if key not in cache:
            cache[key] = original(self, service_name, *args, **kwargs)
        return cache[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(boto3.session.Session, "client", client)
        yield


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The handlers' environment for the mocked account."""
    tunables = [
        "MAX_DIMENSION",
        "MAX_PIXELS",
        "MAX_OBJECT_BYTES",
        "API_MAX_BODY_BYTES",
        "UPLOAD_MAX_BYTES",
        "UPLOAD_URL_EXPIRES_S",
        "DOWNLOAD_URL_EXPIRES_S",
        "UPLOADS_PREFIX",
        "PROCESSED_PREFIX",
        "RENDITION_CACHE_CONTROL",
        "RENDITIONS",
        "PUBLIC_S3_ENDPOINT_URL",
        "S3_ADDRESSING_STYLE",
        "AWS_CONNECT_TIMEOUT_S",
        "AWS_READ_TIMEOUT_S",
        "AWS_MAX_ATTEMPTS",
        "AWS_PROFILE",
        "AUTH_MODE",
        "QUOTA_TABLE",
        "DAILY_UPLOAD_COUNT",
        "DAILY_UPLOAD_BYTES",
    ]
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in tunables:
            monkeypatch.delenv(name, raising=False)
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "METADATA_TABLE": TABLE,
        "UPLOADS_BUCKET": UPLOADS_BUCKET,
        "PROCESSED_BUCKET": PROCESSED_BUCKET,
        "POWERTOOLS_METRICS_NAMESPACE": "ImagePipelineTest",
        "CORS_ALLOW_ORIGINS": "*",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    bootstrap.reset()
    return values


@pytest.fixture
def aws(env: dict[str, str]) -> Iterator[Aws]:
    """Mocked S3, DynamoDB and SQS with the buckets, table and queue created."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        for bucket in (UPLOADS_BUCKET, PROCESSED_BUCKET):
            s3.create_bucket(Bucket=bucket)
        dynamodb.create_table(TableName=TABLE, **TABLE_DEFINITION)
        queue_url = sqs.create_queue(QueueName="test-uploads-events")["QueueUrl"]
        yield Aws(s3=s3, dynamodb=dynamodb, sqs=sqs, queue_url=queue_url)
    bootstrap.reset()


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()
