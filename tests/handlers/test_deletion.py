"""An image's whole life under moto: delete, expire, overwrite (issue 11).

Removal events are built from the documented ``ObjectRemoved:Delete``,
``ObjectRemoved:DeleteMarkerCreated`` and ``LifecycleExpiration:Delete`` notifications
(``tests/events``), substituting bucket, key, version, sequencer and time.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any
from urllib.parse import quote_plus

import pytest
from PIL import Image

from handlers import api, bootstrap, resize
from handlers.keys import direct_image_id
from tests.handlers.conftest import (
    Aws,
    LambdaContext,
    api_event,
    jpeg_bytes,
    load_event,
    png_bytes,
    sqs_event,
)
from tests.handlers.test_api import multipart_body

T1, T2, T3 = "2024-05-01T10:00:00.000Z", "2024-05-01T10:00:01.000Z", "2024-05-01T10:00:02.000Z"
S1, S2, S3 = "0C0F6F405D6ED20900", "0C0F6F405D6ED20A00", "0C0F6F405D6ED20B00"
DAY_S = 86_400


def removal(
    bucket: str,
    key: str,
    *,
    name: str = "s3_object_removed_delete",
    sequencer: str | None = None,
    event_time: str | None = None,
    version_id: str | None = None,
) -> dict[str, Any]:
    """A documented removal notification for ``bucket``/``key`` (key form-encoded)."""
    event = load_event(name)
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    obj = record["s3"]["object"]
    obj["key"] = quote_plus(key, safe="/")
    if sequencer is not None:
        obj["sequencer"] = sequencer
    if version_id is not None:
        obj["versionId"] = version_id
    if event_time is not None:
        record["eventTime"] = event_time
    return event


def ordered(event: dict[str, Any], sequencer: str, event_time: str) -> dict[str, Any]:
    """``event`` (a creation) with its sequencer and time set."""
    record = event["Records"][0]
    record["s3"]["object"]["sequencer"] = sequencer
    record["eventTime"] = event_time
    return event


def rendition_size(aws: Aws, key: str) -> tuple[int, int]:
    body = aws.s3.get_object(Bucket=aws.processed_bucket, Key=key)["Body"].read()
    return Image.open(io.BytesIO(body)).size


def call_api(event: dict[str, Any], context: LambdaContext) -> tuple[int, Any]:
    response = api.handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def delete_request(image_id: str) -> dict[str, Any]:
    return api_event("apigw_get_image", method="DELETE", path=f"/images/{image_id}")


# ---------------------------------------------------------------- delete the original


def test_deleting_the_original_deletes_its_renditions_and_marks_the_item(
    aws: Aws, context: LambdaContext
) -> None:
    created = ordered(aws.put("photos/cat.jpg", jpeg_bytes((800, 600))), S1, T1)
    resize.handler(created, context)
    assert aws.keys() == ["photos/cat.jpg"]
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="photos/cat.jpg")

    before = time.time()
    result = resize.handler(removal(aws.uploads_bucket, "photos/cat.jpg"), context)

    assert result["outcomes"][0]["status"] == "deleted"
    assert aws.keys() == []
    item = aws.item(direct_image_id(aws.uploads_bucket, "photos/cat.jpg"))
    assert item is not None
    assert item["status"] == "deleted" and item["deleted_at"].endswith("Z")
    assert "processed_key" not in item and "processed_width" not in item
    assert item["source_key"] == "photos/cat.jpg"  # what was deleted
    assert before + 30 * DAY_S - 5 <= item["expires_at"] <= time.time() + 30 * DAY_S


def test_a_lifecycle_expiration_counts_as_a_deletion(aws: Aws, context: LambdaContext) -> None:
    resize.handler(aws.put("old/expired.png", png_bytes()), context)
    assert aws.keys() == ["old/expired.png"]
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="old/expired.png")
    event = removal(aws.uploads_bucket, "old/expired.png", name="s3_lifecycle_expiration_delete")

    resize.handler(sqs_event(event), context)

    assert aws.keys() == []
    item = aws.item(direct_image_id(aws.uploads_bucket, "old/expired.png"))
    assert item is not None and item["status"] == "deleted"


def test_duplicate_delete_events_change_nothing_twice(aws: Aws, context: LambdaContext) -> None:
    resize.handler(aws.put("dup.jpg", jpeg_bytes()), context)
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="dup.jpg")
    event = removal(aws.uploads_bucket, "dup.jpg")
    resize.handler(event, context)
    first = aws.items()

    again = resize.handler(event, context)["outcomes"][0]

    assert (again["status"], again["reason"]) == ("skipped", "duplicate")
    assert aws.items() == first and aws.keys() == []


def test_a_rendition_set_and_only_this_sources_renditions_go(
    aws: Aws, context: LambdaContext
) -> None:
    resize.handler(aws.put("a/cat.jpg", jpeg_bytes()), context)
    resize.handler(aws.put("a/cat.jpg2", jpeg_bytes()), context)  # shares the prefix
    ours = {"generated-by": "image-pipeline", "source-bucket": aws.uploads_bucket}
    for name in ("thumb.webp", "large.avif"):  # a rendition set's objects
        aws.s3.put_object(
            Bucket=aws.processed_bucket,
            Key=f"a/cat.jpg/{name}",
            Body=b"x",
            Metadata={**ours, "source-key": "a/cat.jpg"},
        )
    aws.s3.put_object(Bucket=aws.processed_bucket, Key="a/cat.jpg/notes.txt", Body=b"someone's")
    assert len(aws.keys()) == 5
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="a/cat.jpg")

    resize.handler(removal(aws.uploads_bucket, "a/cat.jpg"), context)

    assert aws.keys() == [
        "a/cat.jpg/notes.txt",
        "a/cat.jpg2.jpg",
    ]  # not ours; cat.jpg2 keeps its own


def test_removal_of_a_source_without_an_item_creates_none(aws: Aws, context: LambdaContext) -> None:
    resize.handler(removal(aws.uploads_bucket, "never-seen.jpg"), context)

    assert aws.items() == []


# ---------------------------------------------------------------- ordering


def test_out_of_order_delete_and_create_of_two_versions_ends_with_the_newest(
    aws: Aws, context: LambdaContext
) -> None:
    """put v1 (S1), delete (S2), put v2 (S3), delivered as: v2, delete, v1."""
    v1 = ordered(aws.put("k.jpg", jpeg_bytes((900, 600))), S1, T1)
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="k.jpg")
    delete = removal(aws.uploads_bucket, "k.jpg", sequencer=S2, event_time=T2)
    v2 = ordered(aws.put("k.jpg", jpeg_bytes((600, 900))), S3, T3)

    outcomes = [resize.handler(e, context)["outcomes"][0] for e in (v2, delete, v1)]

    assert [(o["status"], o["reason"]) for o in outcomes] == [
        ("processed", None),
        ("skipped", "superseded"),  # older than the upload the item describes
        ("skipped", "superseded"),  # the key holds v2 now
    ]
    assert aws.keys() == ["k.jpg"] and rendition_size(aws, "k.jpg") == (333, 500)
    item = aws.item(direct_image_id(aws.uploads_bucket, "k.jpg"))
    assert item is not None and item["status"] == "processed"


def test_a_create_arriving_after_the_delete_of_the_same_version_is_a_no_op(
    aws: Aws, context: LambdaContext
) -> None:
    created = ordered(aws.put("late.jpg", jpeg_bytes()), S1, T1)
    resize.handler(created, context)
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="late.jpg")
    resize.handler(removal(aws.uploads_bucket, "late.jpg", sequencer=S2, event_time=T2), context)
    deleted = aws.items()

    late = resize.handler(created, context)["outcomes"][0]

    assert (late["status"], late["reason"]) == ("skipped", "source_missing")
    assert aws.items() == deleted and aws.keys() == []


def test_the_same_bytes_uploaded_again_after_a_delete_are_processed(
    aws: Aws, context: LambdaContext
) -> None:
    data = jpeg_bytes()
    resize.handler(ordered(aws.put("again.jpg", data), S1, T1), context)
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="again.jpg")
    resize.handler(removal(aws.uploads_bucket, "again.jpg", sequencer=S2, event_time=T2), context)

    again = resize.handler(ordered(aws.put("again.jpg", data), S3, T3), context)["outcomes"][0]

    assert again["status"] == "processed"  # the same ETag, a later upload
    item = aws.item(direct_image_id(aws.uploads_bucket, "again.jpg"))
    assert item is not None and item["status"] == "processed" and aws.keys() == ["again.jpg"]


def test_versioned_delete_marker_and_the_deletion_of_an_older_version(
    aws: Aws, context: LambdaContext
) -> None:
    aws.s3.put_bucket_versioning(
        Bucket=aws.uploads_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    v1 = ordered(aws.put("v.jpg", jpeg_bytes((900, 600))), S1, T1)
    v2 = ordered(aws.put("v.jpg", jpeg_bytes((600, 900))), S2, T2)
    resize.handler(v2, context)
    v1_id = v1["Records"][0]["s3"]["object"]["versionId"]
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="v.jpg", VersionId=v1_id)

    old_version_gone = removal(aws.uploads_bucket, "v.jpg", version_id=v1_id, sequencer=S3)
    skipped = resize.handler(old_version_gone, context)["outcomes"][0]

    assert (skipped["status"], skipped["reason"]) == ("skipped", "superseded")
    assert aws.keys() == ["v.jpg"]  # v2's rendition stays
    marker = aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="v.jpg")
    hidden = removal(
        aws.uploads_bucket,
        "v.jpg",
        name="s3_object_removed_delete_marker",
        version_id=marker["VersionId"],
        sequencer="0C0F6F405D6ED20C00",
    )

    gone = resize.handler(hidden, context)["outcomes"][0]

    assert gone["status"] == "deleted" and aws.keys() == []
    item = aws.item(direct_image_id(aws.uploads_bucket, "v.jpg"))
    assert item is not None and item["status"] == "deleted"


# ---------------------------------------------------------------- DELETE /images/{id}


def test_delete_images_id_removes_the_original_then_the_renditions(
    aws: Aws, context: LambdaContext
) -> None:
    status, body = call_api(
        api_event("apigw_post_images_multipart", body=multipart_body(jpeg_bytes())), context
    )
    assert status == 202
    image_id = body["image_id"]
    key = aws.item(image_id)["source_key"]  # type: ignore[index]
    resize.handler(aws_event_for(aws, key), context)
    assert aws.item(image_id)["status"] == "processed"  # type: ignore[index]

    status, answer = call_api(delete_request(image_id), context)

    assert (status, answer["status"]) == (202, "deleting")
    assert answer["status_url"] == f"/images/{image_id}"
    assert aws.keys(aws.uploads_bucket) == []  # the original is gone
    resize.handler(removal(aws.uploads_bucket, key), context)  # what S3 then sends
    assert aws.keys() == []
    status, shown = call_api(api_event("apigw_get_image", path=f"/images/{image_id}"), context)
    assert (status, shown["status"]) == (200, "deleted") and "download_url" not in shown
    status, again = call_api(delete_request(image_id), context)
    assert (status, again["status"]) == (202, "deleted")  # idempotent
    listed = call_api(api_event("apigw_list_images"), context)[1]["items"]
    assert image_id not in [i["image_id"] for i in listed]


def test_delete_images_id_for_a_pending_upload_and_an_unknown_id(
    aws: Aws, context: LambdaContext
) -> None:
    raw = json.dumps({"filename": "never.jpg", "content_type": "image/jpeg"})
    image_id = call_api(api_event("apigw_post_uploads", body=raw), context)[1]["image_id"]

    status, answer = call_api(delete_request(image_id), context)

    assert (status, answer["status"]) == (202, "deleted")  # nothing arrived: at once
    item = aws.item(image_id)
    assert item is not None and item["status"] == "deleted"
    assert call_api(delete_request("f" * 32), context)[0] == 404
    assert call_api(delete_request("not-an-id"), context)[0] == 404


def aws_event_for(aws: Aws, key: str) -> dict[str, Any]:
    """The creation event S3 sends for an object already in the uploads bucket."""
    from tests.handlers.conftest import s3_event

    head = aws.s3.head_object(Bucket=aws.uploads_bucket, Key=key)
    return s3_event(
        aws.uploads_bucket, key, etag=head["ETag"].strip('"'), size_bytes=head["ContentLength"]
    )


# ---------------------------------------------------------------- overwrite


def test_a_rejected_newer_version_takes_the_older_rendition_away(
    aws: Aws, context: LambdaContext
) -> None:
    resize.handler(ordered(aws.put("swap.jpg", jpeg_bytes()), S1, T1), context)
    assert aws.keys() == ["swap.jpg"]

    newer = ordered(aws.put("swap.jpg", b"not an image at all"), S2, T2)
    outcome = resize.handler(newer, context)["outcomes"][0]

    assert outcome["status"] == "rejected"
    assert aws.keys() == []  # the item tells the truth: this key has no rendition now
    item = aws.item(direct_image_id(aws.uploads_bucket, "swap.jpg"))
    assert item is not None and item["status"] == "rejected" and "processed_key" not in item


def test_a_newer_version_in_another_format_replaces_the_rendition_key(
    aws: Aws, context: LambdaContext
) -> None:
    resize.handler(ordered(aws.put("art", jpeg_bytes()), S1, T1), context)
    assert aws.keys() == ["art.jpg"]

    resize.handler(ordered(aws.put("art", png_bytes(alpha=True)), S2, T2), context)

    assert aws.keys() == ["art.png"]  # the JPEG of the older version is gone
    item = aws.item(direct_image_id(aws.uploads_bucket, "art"))
    assert item is not None and item["processed_key"] == "art.png"


@pytest.fixture(autouse=True)
def _settings_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DELETED_ITEM_TTL_DAYS", raising=False)


def test_deleting_the_original_removes_a_whole_rendition_set(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDITIONS", "web")
    bootstrap.reset()
    resize.handler(aws.put("sets/cat.jpg", jpeg_bytes((1600, 1200))), context)
    made = aws.keys()
    assert "sets/cat.jpg" in made and len(made) > 3  # the default and the set's folder
    assert all(k == "sets/cat.jpg" or k.startswith("sets/cat.jpg/") for k in made)
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="sets/cat.jpg")

    result = resize.handler(removal(aws.uploads_bucket, "sets/cat.jpg"), context)

    assert result["outcomes"][0]["reason"] == f"{len(made)} rendition(s) removed"
    assert aws.keys() == []
    item = aws.item(direct_image_id(aws.uploads_bucket, "sets/cat.jpg"))
    assert item is not None and item["status"] == "deleted" and "renditions" not in item


def test_a_retention_rule_expiring_originals_leaves_renditions_and_item(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPIRY_KEEPS_RENDITIONS", "true")
    bootstrap.reset()
    resize.handler(aws.put("kept/photo.jpg", jpeg_bytes()), context)
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key="kept/photo.jpg")
    expired = removal(aws.uploads_bucket, "kept/photo.jpg", name="s3_lifecycle_expiration_delete")
    deleted = removal(aws.uploads_bucket, "kept/photo.jpg")

    kept = resize.handler(expired, context)["outcomes"][0]

    assert (kept["status"], kept["reason"]) == ("skipped", "retention")
    assert aws.keys() == ["kept/photo.jpg"]
    item = aws.item(direct_image_id(aws.uploads_bucket, "kept/photo.jpg"))
    assert item is not None and item["status"] == "processed"
    assert resize.handler(deleted, context)["outcomes"][0]["status"] == "deleted"  # a delete
    assert aws.keys() == []
