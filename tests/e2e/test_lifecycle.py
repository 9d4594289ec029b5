"""An image's whole life through the running local pipeline (issue 11): upload, process,
DELETE /images/{id}, and the emulator's ObjectRemoved notification taking the rendition."""

from __future__ import annotations

import io
from typing import Any

import requests

from tests.e2e.conftest import quadrant_jpeg, wait_until
from tests.e2e.test_pipeline import wait_final


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
