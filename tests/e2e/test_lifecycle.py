"""An image's whole life through the running local pipeline (issue 11): upload, process,
DELETE /images/{id}, and the emulator's ObjectRemoved notification taking the rendition; the
journey (the pipeline's stderr, test-artifacts/local-pipeline.log) shows every step."""

from __future__ import annotations

import io
from typing import Any

import requests

from handlers.keys import direct_image_id
from tests.e2e.conftest import ARTIFACTS, quadrant_jpeg, wait_until
from tests.e2e.test_pipeline import wait_final


def journey_lines(image_id: str) -> list[str]:
    """The pipeline's journey lines about ``image_id`` so far, from ``journey`` on."""
    text = (ARTIFACTS / "local-pipeline.log").read_text(encoding="utf-8")
    return [line.split(" journey  ", 1)[1] for line in text.splitlines() if image_id in line]


def wait_for_journey(image_id: str, *starts: str) -> list[str]:
    """``image_id``'s journey lines once one starts with each of ``starts`` (fails after
    10 s: the outcome line follows the item's update, which a poll may see first)."""

    def complete() -> list[str] | None:
        lines = journey_lines(image_id)
        return lines if all(any(x.startswith(s) for x in lines) for s in starts) else None

    return list(wait_until(complete, 10))


def test_delete_through_the_api_removes_original_and_rendition(
    pipeline: dict[str, Any], s3: Any
) -> None:
    api = pipeline["api_url"]
    reply = requests.post(
        f"{api}/images",
        files={"file": ("short-lived.jpg", io.BytesIO(quadrant_jpeg()), "image/jpeg")},
        timeout=30,
    )
    image_id = reply.json()["image_id"]
    item = wait_final(api, image_id)
    assert item["status"] == "processed"
    original = f"uploads/{image_id}/"  # the API hides keys: the upload's folder
    listed = s3.list_objects_v2(Bucket=pipeline["processed_bucket"], Prefix=original)
    assert listed["KeyCount"] >= 1

    deleting = requests.delete(f"{api}/images/{image_id}", timeout=10)

    assert deleting.status_code == 202 and deleting.json()["status"] == "deleting"
    listed = s3.list_objects_v2(Bucket=pipeline["uploads_bucket"], Prefix=original)
    assert "Contents" not in listed  # the original is gone at once

    def deleted() -> dict[str, Any] | None:
        shown = requests.get(f"{api}/images/{image_id}", timeout=10).json()
        return shown if shown["status"] == "deleted" else None

    shown = wait_until(deleted, 30)
    assert shown["deleted_at"].endswith("Z") and "download_url" not in shown
    gone = s3.list_objects_v2(Bucket=pipeline["processed_bucket"], Prefix=original)
    assert "Contents" not in gone
    again = requests.delete(f"{api}/images/{image_id}", timeout=10)
    assert (again.status_code, again.json()["status"]) == (202, "deleted")

    source = f"s3://{pipeline['uploads_bucket']}/uploads/{image_id}/short-lived.jpg"
    lines = wait_for_journey(image_id, "deleting ", f"deleted    {image_id} s3://")
    assert f"deleting   {image_id} via DELETE /images/{image_id}" in lines
    assert f"queued     {image_id} removal of {source}" in lines
    (outcome,) = [line for line in lines if line.startswith(f"deleted    {image_id} s3://")]
    assert outcome.startswith(f"deleted    {image_id} {source} and its renditions (")
    assert f"deleted    {image_id} via DELETE /images/{image_id}" in lines  # the second DELETE
    steps = [line.split()[0] for line in lines]
    assert steps.index("processed") < steps.index("deleting")


def test_an_object_removed_from_the_uploads_bucket_is_a_journey_step(
    pipeline: dict[str, Any], s3: Any
) -> None:
    bucket, key = pipeline["uploads_bucket"], "journey/removed directly.jpg"
    image_id = direct_image_id(bucket, key)
    s3.put_object(Bucket=bucket, Key=key, Body=quadrant_jpeg((640, 480)), ContentType="image/jpeg")
    assert wait_final(pipeline["api_url"], image_id)["status"] == "processed"

    s3.delete_object(Bucket=bucket, Key=key)

    lines = wait_for_journey(image_id, f"deleted    {image_id} ")
    source = f"s3://{bucket}/{key}"
    assert f"queued     {image_id} removal of {source}" in lines
    assert any(
        line.startswith(f"deleted    {image_id} {source} and its renditions (") for line in lines
    )
    shown = requests.get(f"{pipeline['api_url']}/images/{image_id}", timeout=10).json()
    assert shown["status"] == "deleted"
