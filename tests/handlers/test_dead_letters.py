"""Poison messages, giving up on the last receive, orphan renditions and phantom API items.

Issue 9 ("Delivery, faults"): one unparseable message never fails its batch; a message
failing on its last receive leaves the item ``failed``/``gave_up`` (for a direct upload
too) and no rendition; a rendition never stays without an item; an upload key with an id
the API never issued never becomes an API item.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from handlers import resize
from handlers.bootstrap import Deps
from handlers.config import ResizeSettings
from handlers.errors import TransientError
from handlers.give_up import GAVE_UP
from handlers.item import pending_item
from handlers.keys import direct_image_id
from handlers.memory_store import MemoryMetadataStore, MemoryObjectStore
from handlers.observability import flush_metrics, logger
from handlers.ports import OpenedObject
from tests.handlers.conftest import Aws, LambdaContext, jpeg_bytes, s3_event, sqs_event

SETTINGS = ResizeSettings(
    metadata_table="t", processed_bucket="out", uploads_bucket="up", max_receive_count=3
)
API_ID = "0123456789abcdef0123456789abcdef"
NESTED_JSON = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError


@pytest.fixture(autouse=True)
def _no_metrics_from_earlier_tests(capsys: pytest.CaptureFixture[str]) -> None:
    """``resize.handle`` leaves metrics unflushed: start each test with none collected."""
    flush_metrics()
    capsys.readouterr()


class FlakyMetadata(MemoryMetadataStore):
    """A metadata store whose ``processed`` outcome writes always time out."""

    def record(
        self,
        image_id: str,
        revision: str,
        fields: Mapping[str, Any],
        *,
        remove: tuple[str, ...] = (),
        keep_if_present: Mapping[str, Any] | None = None,
    ) -> bool:
        if fields.get("status") == "processed":
            raise TransientError("dynamodb.update_item", "ThrottlingException", "slow down")
        return super().record(
            image_id, revision, fields, remove=remove, keep_if_present=keep_if_present
        )


class BrokenObjects(MemoryObjectStore):
    """An object store whose GETs answer, then fail reading the body with a bug-like error."""

    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> OpenedObject:
        opened = super().open(bucket, key, version_id=version_id)

        def broken(max_bytes: int) -> bytes:
            raise RuntimeError("engine bug")

        return OpenedObject(opened.head, broken)


def deps(
    objects: MemoryObjectStore | None = None, metadata: MemoryMetadataStore | None = None
) -> Deps[ResizeSettings]:
    return Deps(
        settings=SETTINGS,
        objects=objects or MemoryObjectStore("up", "out"),
        metadata=metadata or MemoryMetadataStore(),
    )


def put_event(objects: MemoryObjectStore, key: str, data: bytes | None = None) -> dict[str, Any]:
    data = jpeg_bytes((800, 600)) if data is None else data
    objects.put("up", key, data, content_type="image/jpeg", metadata={})
    head = objects.head("up", key)
    return s3_event("up", key, etag=head.etag, size_bytes=len(data))


def received(event: dict[str, Any], receive_count: int) -> dict[str, Any]:
    """``event`` (an SQS batch) as delivered for the ``receive_count``-th time."""
    event = copy.deepcopy(event)
    for record in event["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return event


# ---------------------------------------------------------------- one poison message


@pytest.mark.parametrize(
    "poison",
    [
        NESTED_JSON,
        '{"Records": ' * 50_000 + "[]" + "}" * 50_000,
        json.dumps({"Records": [{"eventSource": "aws:s3", "s3": "not a mapping"}]}),
        "\udcff not even text",
    ],
    ids=["nested_array", "nested_object", "wrong_types", "lone_surrogate"],
)
def test_a_poison_message_is_acknowledged_and_its_batch_mates_processed(poison: str) -> None:
    d = deps()
    clean = [put_event(d.objects, f"clean/{n}.jpg") for n in range(3)]  # type: ignore[arg-type]
    event = sqs_event(clean[0], poison, clean[1], clean[2])

    answer = resize.handle(event, d)

    assert answer == {"batchItemFailures": []}  # the poison is acknowledged, not retried
    items = d.metadata.items()  # type: ignore[attr-defined]
    assert sorted(i["source_key"] for i in items) == ["clean/0.jpg", "clean/1.jpg", "clean/2.jpg"]
    assert {i["status"] for i in items} == {"processed"}
    assert d.objects.keys("out") == ["clean/0.jpg", "clean/1.jpg", "clean/2.jpg"]  # type: ignore[attr-defined]


def test_nested_json_under_moto_is_logged_and_acknowledged(
    aws: Aws, context: LambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = aws.put("fine.jpg", jpeg_bytes())

    with captured_logs() as logs:
        answer = resize.handler(sqs_event(NESTED_JSON, clean), context)

    assert answer == {"batchItemFailures": []}
    assert aws.keys() == ["fine.jpg"]
    malformed = [line for line in logs() if line["message"].startswith("malformed")]
    assert len(malformed) == 1 and malformed[0]["error"].startswith("EventShapeError")
    assert emitted(capsys, "MalformedMessages") == 1


@contextmanager
def captured_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The resize function's JSON log lines while the block runs."""
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.registered_handler.setStream(previous)


def emitted(capsys: pytest.CaptureFixture[str], metric: str) -> float:
    """The value of ``metric`` in the EMF lines printed so far (0 when absent)."""
    total = 0.0
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and metric in (record := json.loads(line)):
            value = record[metric]
            total += sum(value) if isinstance(value, list) else value
    return total


# ---------------------------------------------------------------- giving up on the last receive


def test_a_direct_upload_failing_until_the_dlq_ends_failed_gave_up() -> None:
    d = deps(objects=BrokenObjects("up", "out"))
    event = sqs_event(put_event(d.objects, "photos/doomed.jpg"))  # type: ignore[arg-type]
    message_id = event["Records"][0]["messageId"]
    image_id = direct_image_id("up", "photos/doomed.jpg")

    first = resize.handle(received(event, 1), d)
    item = d.metadata.get(image_id)
    assert first == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert item is not None and item["error_reason"] == "internal_error"

    last = resize.handle(received(event, 3), d)

    assert last == {"batchItemFailures": [{"itemIdentifier": message_id}]}  # on to the DLQ
    item = d.metadata.get(image_id)
    assert item is not None
    assert (item["status"], item["error_reason"]) == ("failed", GAVE_UP)
    assert item["error_message"].startswith("gave up after 3 failed attempts (RuntimeError)")
    assert "dead-letter queue" in item["error_message"]
    assert (item["origin"], item["source_key"], item["filename"]) == (
        "s3",
        "photos/doomed.jpg",
        "doomed.jpg",
    )


def test_a_direct_upload_with_no_item_yet_gets_one_when_given_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = deps(objects=BrokenObjects("up", "out"))
    event = sqs_event(put_event(d.objects, "never.jpg"))  # type: ignore[arg-type]
    monkeypatch.setattr("handlers.pipeline._OutcomeWriter.failed", lambda self, error: None)

    resize.handle(received(event, 3), d)

    item = d.metadata.get(direct_image_id("up", "never.jpg"))
    assert item is not None and (item["status"], item["error_reason"]) == ("failed", GAVE_UP)


def test_a_pending_api_upload_failing_until_the_dlq_ends_failed_gave_up() -> None:
    d = deps(objects=BrokenObjects("up", "out"))
    key = f"uploads/{API_ID}/cat.jpg"
    d.metadata.create_pending(
        pending_item(
            image_id=API_ID,
            filename="cat.jpg",
            bucket="up",
            key=key,
            content_type="image/jpeg",
            uploaded_at="2024-05-01T00:00:00.000Z",
            expires_at=2_000_000_000,
        )
    )
    event = sqs_event(put_event(d.objects, key))  # type: ignore[arg-type]

    resize.handle(received(event, 5), d)  # past the count (a redrive policy raised later)

    item = d.metadata.get(API_ID)
    assert item is not None
    assert (item["status"], item["error_reason"], item["origin"]) == ("failed", GAVE_UP, "api")
    assert item["uploaded_at"] == "2024-05-01T00:00:00.000Z"  # the pending item's, kept
    assert "expires_at" not in item  # an outcome: TTL no longer applies
    assert len(d.metadata.items()) == 1  # type: ignore[attr-defined]


def test_giving_up_never_overwrites_a_final_outcome() -> None:
    d = deps()
    event = sqs_event(put_event(d.objects, "ok.jpg"))  # type: ignore[arg-type]
    resize.handle(event, d)  # processed
    from handlers.events import objects_from_message
    from handlers.give_up import give_up

    (obj,) = objects_from_message(event["Records"][0]["body"])
    outcome = give_up(
        obj,
        RuntimeError("late"),
        attempts=3,
        settings=SETTINGS,
        objects=d.objects,
        metadata=d.metadata,
    )

    assert (outcome.status, outcome.reason) == ("skipped", "duplicate")
    item = d.metadata.get(direct_image_id("up", "ok.jpg"))
    assert item is not None and item["status"] == "processed"
    assert d.objects.keys("out") == ["ok.jpg"]  # type: ignore[attr-defined]


def test_the_give_up_metric_is_emitted(capsys: pytest.CaptureFixture[str]) -> None:
    d = deps(objects=BrokenObjects("up", "out"))
    event = sqs_event(put_event(d.objects, "counted.jpg"))  # type: ignore[arg-type]

    with captured_logs() as logs:
        resize.handle(received(event, 3), d)
        flush_metrics()

    assert emitted(capsys, "ImagesGivenUp") == 1
    (gave_up,) = [line for line in logs() if line["message"].startswith("gave up")]
    assert gave_up["level"] == "ERROR" and gave_up["key"] == "counted.jpg"


# ---------------------------------------------------------------- orphans


def test_a_rendition_never_stays_without_an_item() -> None:
    objects = MemoryObjectStore("up", "out")
    d = deps(objects=objects, metadata=FlakyMetadata())
    event = sqs_event(put_event(objects, "orphan/risk.jpg"))
    image_id = direct_image_id("up", "orphan/risk.jpg")

    for receive in (1, 2):
        resize.handle(received(event, receive), d)
        assert objects.keys("out") == []  # withdrawn after each failed item write
        assert d.metadata.get(image_id) is None

    resize.handle(received(event, 3), d)

    assert objects.keys("out") == []
    item = d.metadata.get(image_id)
    assert item is not None and (item["status"], item["error_reason"]) == ("failed", GAVE_UP)


def test_a_rendition_the_item_points_at_is_kept_when_a_later_write_fails() -> None:
    objects = MemoryObjectStore("up", "out")
    good = deps(objects=objects)
    event_v1 = sqs_event(put_event(objects, "same.jpg", jpeg_bytes((900, 600))))
    resize.handle(event_v1, good)
    flaky = deps(objects=objects, metadata=FlakyMetadata())
    flaky.metadata._items = good.metadata._items  # type: ignore[attr-defined]  # same table
    event_v2 = sqs_event(put_event(objects, "same.jpg", jpeg_bytes((600, 900))))

    resize.handle(received(event_v2, 1), flaky)

    item = good.metadata.get(direct_image_id("up", "same.jpg"))
    assert item is not None and item["processed_key"] == "same.jpg"
    assert objects.keys("out") == ["same.jpg"]  # the item still points at it: kept


def test_giving_up_removes_the_rendition_of_an_earlier_version_too() -> None:
    objects = MemoryObjectStore("up", "out")
    good = deps(objects=objects)
    resize.handle(sqs_event(put_event(objects, "v.jpg", jpeg_bytes((900, 600)))), good)
    flaky = deps(objects=objects, metadata=FlakyMetadata())
    flaky.metadata._items = good.metadata._items  # type: ignore[attr-defined]
    event_v2 = sqs_event(put_event(objects, "v.jpg", jpeg_bytes((600, 900))))

    resize.handle(received(event_v2, 3), flaky)

    item = good.metadata.get(direct_image_id("up", "v.jpg"))
    assert item is not None and (item["status"], item["error_reason"]) == ("failed", GAVE_UP)
    assert "processed_key" not in item
    assert objects.keys("out") == []  # the item tells the truth: no rendition


# ---------------------------------------------------------------- phantoms


def test_an_upload_key_with_an_id_the_api_never_issued_creates_no_item(
    aws: Aws, context: LambdaContext
) -> None:
    key = f"uploads/{API_ID}/forged.jpg"
    event = aws.put(key, jpeg_bytes(), Metadata={"image-id": API_ID})

    outcome = resize.handler(event, context)["outcomes"][0]

    assert (outcome["status"], outcome["reason"]) == ("skipped", "not_issued")
    assert aws.items() == [] and aws.keys() == []  # no phantom item, no rendition


def test_a_missing_source_with_an_unissued_id_creates_no_item(
    aws: Aws, context: LambdaContext
) -> None:
    event = s3_event(aws.uploads_bucket, f"uploads/{API_ID}/gone.jpg", etag="e1", size_bytes=5)

    resize.handler(event, context)

    assert aws.items() == []
