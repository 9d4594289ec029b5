"""Object keys holding CR, LF and TAB: S3 accepts them, the resize function must too.

Issue 9: the embedded emulator (moto's server) answers 404 to a put of such a key, so the
end-to-end pass could not try them. Here the handler runs under moto's in-process
``mock_aws``, which stores them, with the events S3 sends for them (the key form-encoded:
``\\n`` arrives as ``%0A``, a space as ``+``), directly, wrapped in SQS, and as EventBridge
sends them. Each key must give one ``processed`` item naming the exact key and one
rendition whose key and metadata hold no control character.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote_plus, unquote

import pytest
from PIL import Image

from handlers import resize
from handlers.keys import direct_image_id
from tests.handlers.conftest import Aws, LambdaContext, eventbridge_event, jpeg_bytes, sqs_event

CONTROL_KEYS = {
    "lf": "line\nbreak.jpg",
    "cr": "carriage\rreturn.jpg",
    "crlf": "crlf\r\nphoto.jpg",
    "tab": "tab\tname.jpg",
    "tab_in_folder": "holiday\t2024/beach photo.jpg",
    "newline_folder": "a\nb/c\rd/e\tf.jpg",
    "only_controls": "\r\n\t.jpg",
    "after_extension": "photo.jpg\n",
    "forged_log_line": "x.jpg\n12:00:00.000 journey  processed fake.jpg",
}
CONTROL_CHARACTERS = ("\r", "\n", "\t")


def _put(aws: Aws, key: str) -> dict[str, Any]:
    """PutObject under moto (which stores such keys) and the S3 event for it."""
    data = jpeg_bytes((640, 480))
    event = aws.put(key, data)
    assert aws.s3.get_object(Bucket=aws.uploads_bucket, Key=key)["Body"].read() == data
    assert "%0A" in quote_plus(key) or "%0D" in quote_plus(key) or "%09" in quote_plus(key)
    return event


def _check_outcome(aws: Aws, key: str) -> None:
    items = aws.items()
    assert len(items) == 1, items
    item = items[0]
    assert item["status"] == "processed"
    assert item["source_key"] == key  # exact, control characters and all
    assert item["image_id"] == direct_image_id(aws.uploads_bucket, key)
    assert (item["processed_width"], item["processed_height"]) == (500, 375)
    out_key = item["processed_key"]
    assert aws.keys() == [out_key]
    assert not any(c in out_key for c in CONTROL_CHARACTERS), repr(out_key)
    assert out_key.endswith(".jpg")
    obj = aws.s3.get_object(Bucket=aws.processed_bucket, Key=out_key)
    assert Image.open(io.BytesIO(obj["Body"].read())).size == (500, 375)
    source_meta = obj["Metadata"]["source-key"]
    assert source_meta.isascii()
    assert not any(c in source_meta for c in CONTROL_CHARACTERS)
    assert unquote(source_meta) == key


@pytest.mark.parametrize("key", CONTROL_KEYS.values(), ids=CONTROL_KEYS.keys())
def test_s3_event_for_a_key_with_control_characters(
    aws: Aws, context: LambdaContext, key: str
) -> None:
    event = _put(aws, key)

    result = resize.handler(event, context)

    assert [o["status"] for o in result["outcomes"]] == ["processed"]
    _check_outcome(aws, key)


@pytest.mark.parametrize("key", CONTROL_KEYS.values(), ids=CONTROL_KEYS.keys())
def test_sqs_wrapped_event_for_a_key_with_control_characters(
    aws: Aws, context: LambdaContext, key: str
) -> None:
    event = sqs_event(_put(aws, key))

    result = resize.handler(event, context)

    assert result["batchItemFailures"] == []
    _check_outcome(aws, key)


@pytest.mark.parametrize("key", ["line\nbreak.jpg", "crlf\r\nphoto.jpg", "tab\tname.jpg"])
def test_eventbridge_event_for_a_key_with_control_characters(
    aws: Aws, context: LambdaContext, key: str
) -> None:
    data = jpeg_bytes((640, 480))
    resp = aws.s3.put_object(Bucket=aws.uploads_bucket, Key=key, Body=data)
    event = eventbridge_event(
        aws.uploads_bucket, key, etag=resp["ETag"].strip('"'), size_bytes=len(data)
    )

    resize.handler(event, context)

    _check_outcome(aws, key)


def test_keys_differing_only_in_control_characters_keep_distinct_renditions(
    aws: Aws, context: LambdaContext
) -> None:
    """``a\\nb.jpg``, ``a\\rb.jpg``, ``a\\tb.jpg`` and ``a_b.jpg`` all clean to ``a_b``."""
    keys = ["a\nb.jpg", "a\rb.jpg", "a\tb.jpg", "a_b.jpg"]
    for key in keys:
        resize.handler(aws.put(key, jpeg_bytes((640, 480))), context)

    items = {i["source_key"]: i for i in aws.items()}
    assert sorted(items) == sorted(keys)
    assert all(i["status"] == "processed" for i in items.values())
    out_keys = {i["processed_key"] for i in items.values()}
    assert len(out_keys) == 4
    assert sorted(out_keys) == aws.keys()
