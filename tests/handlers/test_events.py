"""Event parsing: documented shapes in, typed records with keys decoded once out."""

from __future__ import annotations

import json

import pytest

from handlers.events import (
    EventShapeError,
    ObjectCreated,
    event_kind,
    objects_from_event,
    objects_from_message,
    sqs_messages,
)
from tests.handlers.conftest import load_event


def test_documented_s3_put_event() -> None:
    event = load_event("s3_object_created_put")

    assert event_kind(event) == "s3"
    assert objects_from_event(event) == [
        ObjectCreated(
            bucket="DOC-EXAMPLE-BUCKET",
            key="b21b84d653bb07b05b1e6b33684dc11b",
            size_bytes=1305107,
            etag="b21b84d653bb07b05b1e6b33684dc11b",
            version_id=None,
            sequencer="0C0F6F405D6ED209E1",
            event_time="2019-09-03T19:37:27.192Z",
        )
    ]


def test_versioned_event_carries_version() -> None:
    (obj,) = objects_from_event(load_event("s3_object_created_put_versioned"))
    assert obj.version_id == "096fKKXTRTtl3on89fVO.nfljtsv6qko"


@pytest.mark.parametrize(
    ("encoded", "key"),
    [
        ("red+flower.jpg", "red flower.jpg"),
        ("a%2Bb.jpg", "a+b.jpg"),
        ("100%25.jpg", "100%.jpg"),
        ("caf%C3%A9.jpg", "café.jpg"),
        ("%2Fleading%2F%2Fdouble.jpg", "/leading//double.jpg"),
        ("%252e%252e", "%2e%2e"),  # decoded exactly once
    ],
)
def test_keys_are_decoded_once(encoded: str, key: str) -> None:
    event = load_event("s3_object_created_put")
    event["Records"][0]["s3"]["object"]["key"] = encoded
    assert objects_from_event(event)[0].key == key


def test_non_create_records_are_ignored() -> None:
    event = load_event("s3_object_created_put")
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert objects_from_event(event) == []


def test_eventbridge_event() -> None:
    event = load_event("eventbridge_s3_object_created")

    assert event_kind(event) == "eventbridge"
    (obj,) = objects_from_event(event)
    assert (obj.bucket, obj.key, obj.size_bytes) == ("DOC-EXAMPLE-BUCKET1", "example-key", 5)
    assert obj.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    assert obj.event_time == "2021-11-12T00:00:00.000Z"


def test_sqs_event_and_bodies() -> None:
    event = load_event("sqs_s3_object_created")

    assert event_kind(event) == "sqs"
    (message,) = sqs_messages(event)
    assert message.message_id == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert message.receive_count == 1
    assert objects_from_message(message.body)[0].bucket == "DOC-EXAMPLE-BUCKET"
    test_body = load_event("sqs_s3_test_event")["Records"][0]["body"]
    assert objects_from_message(test_body) == []


def test_sns_wrapped_and_eventbridge_bodies() -> None:
    s3 = load_event("s3_object_created_put")
    sns = {"Type": "Notification", "MessageId": "x", "Message": json.dumps(s3)}
    eb = load_event("eventbridge_s3_object_created")

    assert objects_from_message(json.dumps(sns))[0].key == "b21b84d653bb07b05b1e6b33684dc11b"
    assert objects_from_message(json.dumps(eb))[0].key == "example-key"


@pytest.mark.parametrize(
    "body", ["{not json", "[]", '{"Records": [{"eventName": "ObjectCreated:Put"}]}', "{}"]
)
def test_malformed_bodies_raise(body: str) -> None:
    with pytest.raises(EventShapeError):
        objects_from_message(body)


def test_unknown_event_shape() -> None:
    with pytest.raises(EventShapeError):
        event_kind({"hello": "world"})
    with pytest.raises(EventShapeError):
        event_kind(load_event("apigw_get_image"))
