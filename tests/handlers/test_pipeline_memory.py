"""The resize shell (handlers/pipeline.py) over the in-memory stores: no AWS, no moto."""

from __future__ import annotations

import io

from PIL import Image

from handlers.config import ResizeSettings
from handlers.events import ObjectCreated
from handlers.item import pending_item
from handlers.keys import direct_image_id
from handlers.memory_store import MemoryMetadataStore, MemoryObjectStore
from handlers.pipeline import resize_object
from tests.handlers.conftest import jpeg_bytes

SETTINGS = ResizeSettings(
    metadata_table="t", processed_bucket="out", uploads_bucket="up", max_object_bytes=200_000
)
EVENT_TIME = "2024-05-01T00:00:00.000Z"


def stores() -> tuple[MemoryObjectStore, MemoryMetadataStore]:
    return MemoryObjectStore("up", "out"), MemoryMetadataStore()


def upload(objects: MemoryObjectStore, key: str, data: bytes) -> ObjectCreated:
    objects.put("up", key, data, content_type="image/jpeg", metadata={})
    head = objects.head("up", key)
    return ObjectCreated(
        bucket="up", key=key, size_bytes=len(data), etag=head.etag, event_time=EVENT_TIME
    )


def test_processed_once_then_duplicate() -> None:
    objects, metadata = stores()
    obj = upload(objects, "cats/tabby.jpg", jpeg_bytes((1000, 800)))
    first = resize_object(obj, settings=SETTINGS, objects=objects, metadata=metadata)
    again = resize_object(obj, settings=SETTINGS, objects=objects, metadata=metadata)

    assert (first.status, first.processed_key) == ("processed", "cats/tabby.jpg")
    assert (again.status, again.reason) == ("skipped", "duplicate")
    rendition = Image.open(io.BytesIO(objects.get("out", "cats/tabby.jpg", max_bytes=10**6)))
    assert rendition.size == (500, 400)
    assert objects.head("out", "cats/tabby.jpg").metadata["generated-by"] == "image-pipeline"
    (item,) = metadata.items()
    assert item["image_id"] == direct_image_id("up", "cats/tabby.jpg")
    assert (item["status"], item["processed_width"], item["processed_height"]) == (
        "processed",
        500,
        400,
    )
    assert (item["uploaded_at"], item["filename"], item["origin"]) == (
        EVENT_TIME,
        "tabby.jpg",
        "s3",
    )


def test_oversize_is_rejected_without_output() -> None:
    objects, metadata = stores()
    obj = upload(objects, "huge.jpg", b"\xff\xd8" + bytes(300_000))

    outcome = resize_object(obj, settings=SETTINGS, objects=objects, metadata=metadata)

    assert (outcome.status, outcome.reason) == ("rejected", "too_large")
    assert objects.keys("out") == []
    (item,) = metadata.items()
    assert item["error_message"] == "expected at most 200000 bytes, got 300002"


def test_vanished_api_upload_marks_its_item_failed() -> None:
    objects, metadata = stores()
    image_id = "a" * 32
    key = f"uploads/{image_id}/x.jpg"
    metadata.create_pending(
        pending_item(
            image_id=image_id,
            filename="x.jpg",
            bucket="up",
            key=key,
            content_type="image/jpeg",
            uploaded_at=EVENT_TIME,
        )
    )
    obj = upload(objects, key, jpeg_bytes())
    objects.delete("up", obj.key)

    outcome = resize_object(obj, settings=SETTINGS, objects=objects, metadata=metadata)

    assert (outcome.status, outcome.reason, outcome.image_id) == (
        "skipped",
        "source_missing",
        image_id,
    )
    item = metadata.get(image_id)
    assert item is not None
    assert (item["status"], item["error_reason"]) == ("failed", "source_missing")
