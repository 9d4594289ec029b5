"""Raw AWS events for tests and benchmarks, from ``tests/events/*.json`` (as AWS documents
them): the builders only substitute bucket, key, ETag, size, version, time and bodies."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"

TEMPLATE_SEQUENCER = "0C0F6F405D6ED209E1"  # s3_object_created_put.json's


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/events/<name>.json``."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def s3_event(
    bucket: str,
    key: str,
    *,
    etag: str | None = None,
    size_bytes: int | None = None,
    version_id: str | None = None,
    encode_slash: bool = False,
    event_time: str | None = None,
    sequencer: str | None = TEMPLATE_SEQUENCER,
) -> dict[str, Any]:
    """The documented S3 Put notification for ``bucket``/``key`` (key form-encoded as S3
    does). ``event_time``: ISO 8601 in place of the template's; ``sequencer``: S3's ordering
    token, ``None`` for none (an event replayed without one)."""
    event = load_event("s3_object_created_put")
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    obj = record["s3"]["object"]
    obj["key"] = quote_plus(key, safe="" if encode_slash else "/")
    if etag is not None:
        obj["eTag"] = etag
    if size_bytes is not None:
        obj["size"] = size_bytes
    if version_id is not None:
        obj["versionId"] = version_id
    if event_time is not None:
        record["eventTime"] = event_time
    if sequencer is None:
        del obj["sequencer"]
    else:
        obj["sequencer"] = sequencer
    return event


def s3_event_for(bucket: str, key: str, head: dict[str, Any], **options: Any) -> dict[str, Any]:
    """:func:`s3_event` for an object as ``head_object`` describes it (its ETag and size)."""
    return s3_event(
        bucket, key, etag=head["ETag"].strip('"'), size_bytes=head["ContentLength"], **options
    )


def sqs_event(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """The documented SQS batch event, one message per body (dict bodies are JSON-encoded)."""
    template = load_event("sqs_s3_object_created")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"00000000-0000-4000-8000-{i:012d}"
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        records.append(record)
    return {"Records": records}
