"""Real photos from ../shared/samples (when present) through the API and the resize function."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from handlers import api, resize
from imgproc import REASONS
from tests.handlers.conftest import Aws, LambdaContext, api_event, s3_event

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
JPEGS = ["Canon_40D.jpg", "orientation/portrait_6.jpg", "gps/DSCN0010.jpg"]

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"no sample photos at {SAMPLES}")


@pytest.mark.parametrize("name", [*JPEGS, "heic/IMG_5195.HEIC"])
def test_sample_upload_then_resize(aws: Aws, context: LambdaContext, name: str) -> None:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    event = api_event(
        "apigw_post_images_binary",
        body=path.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
        query={"filename": path.name},
    )
    response = api.handler(event, context)
    assert response["statusCode"] == 202, response["body"]
    image_id = json.loads(response["body"])["image_id"]
    key = aws.item(image_id)["source_key"]
    head = aws.s3.head_object(Bucket=aws.uploads_bucket, Key=key)

    resize.handler(s3_event(aws.uploads_bucket, key, etag=head["ETag"].strip('"')), context)

    item = aws.item(image_id)
    if name in JPEGS:
        assert item["status"] == "processed", item
    if item["status"] == "rejected":  # a format the current engine does not read
        assert item["error_reason"] in REASONS
        return
    assert item["status"] == "processed"
    assert item["filename"] == path.name
    body = aws.s3.get_object(Bucket=aws.processed_bucket, Key=item["processed_key"])["Body"]
    image = Image.open(io.BytesIO(body.read()))
    assert image.size == (item["processed_width"], item["processed_height"])
    longest = max(item["original_width"], item["original_height"])
    assert max(image.size) == min(500, longest)  # never upscaled
