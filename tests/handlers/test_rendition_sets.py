"""Rendition sets in the resize function and the API, under moto (``RENDITIONS``).

The ``web`` and ``web-large`` presets: every rendition at its key, with its content type,
size and the source metadata, listed in the item; ``GET /images/{id}`` signs a URL per
rendition. The default configuration: the same single key and the same item fields as
before rendition sets, plus the new fields. A failed write leaves no partial output.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
import pytest
from PIL import Image

from handlers import api, bootstrap, resize
from handlers.errors import TransientError
from handlers.keys import direct_image_id
from imgproc import process
from tests.handlers.conftest import Aws, LambdaContext, api_event, png_bytes, s3_event

# The fields of a direct upload's processed item before rendition sets (main at b5395e7),
# and the fields rendition sets add. A default configuration writes exactly both.
PRE_SET_FIELDS = {
    "content_type",
    "filename",
    "has_alpha",
    "icc_converted",
    "image_id",
    "listing",
    "origin",
    "original_format",
    "original_height",
    "original_mode",
    "original_size_bytes",
    "original_width",
    "processed_at",
    "processed_bucket",
    "processed_height",
    "processed_key",
    "processed_size_bytes",
    "processed_width",
    "source_bucket",
    "source_etag",
    "source_event_time",
    "source_key",
    "source_revision",
    "status",
    "updated_at",
    "uploaded_at",
}
SET_FIELDS = {
    "renditions",
    "collapsed",
    "dominant_color",
    "blurhash",
    "upright_width",
    "upright_height",
    "sha256",
    "animated",
}
LIFECYCLE_FIELDS = {"pipeline_version", "source_sequencer"}  # issue 11: reprocess, ordering
QUADRANTS = ((220, 30, 30), (30, 200, 40), (30, 60, 220), (240, 230, 40))  # TL, TR, BL, BR
LARGE_FILES = [f"w{size}.{ext}" for size in (320, 640, 1280) for ext in ("avif", "webp", "jpg")]
WEB_FILES = ["w320.avif", "w320.webp", "w320.jpg", "w500.avif", "w500.webp"]


def quadrant_jpeg(size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A JPEG of four solid quadrants (:data:`QUADRANTS`)."""
    image = Image.new("RGB", size)
    w, h = size
    boxes = [
        (0, 0, w // 2, h // 2),
        (w // 2, 0, w, h // 2),
        (0, h // 2, w // 2, h),
        (w // 2, h // 2, w, h),
    ]
    for box, colour in zip(boxes, QUADRANTS, strict=True):
        image.paste(colour, box)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def quadrant_colours(image: Image.Image) -> list[tuple[int, ...]]:
    """The colour at the centre of each quadrant, RGB."""
    rgb = image.convert("RGB")
    w, h = rgb.size
    points = [
        (w // 4, h // 4),
        (3 * w // 4, h // 4),
        (w // 4, 3 * h // 4),
        (3 * w // 4, 3 * h // 4),
    ]
    return [tuple(rgb.getpixel(p)) for p in points]  # type: ignore[arg-type]


def stored(aws: Aws, key: str) -> tuple[Image.Image, dict[str, Any]]:
    obj = aws.s3.get_object(Bucket=aws.processed_bucket, Key=key)
    data = obj["Body"].read()
    image = Image.open(io.BytesIO(data))
    image.load()
    return image, {**obj, "data": data}


def call_api(event: dict[str, Any], context: LambdaContext) -> tuple[int, Any]:
    response = api.handler(event, context)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def web(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The mocked account, with the resize function configured for the ``web`` preset."""
    monkeypatch.setenv("RENDITIONS", "web")
    bootstrap.reset()
    return aws


@pytest.fixture
def web_large(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The mocked account, with the resize function configured for the ``web-large`` preset."""
    monkeypatch.setenv("RENDITIONS", "web-large")
    bootstrap.reset()
    return aws


def test_web_preset_stores_320_and_500_px_and_names_the_default_as_w500s_jpeg(
    web: Aws, context: LambdaContext
) -> None:
    resize.handler(web.put("photos/cat.jpg", quadrant_jpeg()), context)

    keys = ["photos/cat.jpg"] + [f"photos/cat.jpg/{f}" for f in WEB_FILES]
    assert web.keys() == sorted(keys)
    item = web.item(direct_image_id(web.uploads_bucket, "photos/cat.jpg"))
    assert item is not None
    assert [e["key"] for e in item["renditions"]] == keys
    sizes = {"default": (500, 375), "w320": (320, 240), "w500": (500, 375)}
    for entry in item["renditions"]:
        image, obj = stored(web, entry["key"])
        assert image.format == entry["format"] and obj["ContentType"] == entry["content_type"]
        assert image.size == sizes[entry["name"]] == (entry["width"], entry["height"])
        for got, want in zip(quadrant_colours(image), QUADRANTS, strict=True):
            assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= 12, entry["key"]
    # w500's JPEG is the default rendition: listed as the same key, not stored twice
    assert item["collapsed"] == [{"name": "w500", "format": "JPEG", "same_as": "photos/cat.jpg"}]


def test_web_large_preset_stores_every_rendition_at_its_key(
    web_large: Aws, context: LambdaContext
) -> None:
    event = web_large.put("photos/cat.jpg", quadrant_jpeg())

    outcome = resize.handler(event, context)["outcomes"][0]

    assert (outcome["status"], outcome["processed_key"]) == ("processed", "photos/cat.jpg")
    assert web_large.keys() == sorted(
        ["photos/cat.jpg"] + [f"photos/cat.jpg/{f}" for f in LARGE_FILES]
    )
    image_id = direct_image_id(web_large.uploads_bucket, "photos/cat.jpg")
    expected = {"default": (500, 375), "w320": (320, 240), "w640": (640, 480), "w1280": (1280, 960)}
    types = {"JPEG": "image/jpeg", "WEBP": "image/webp", "AVIF": "image/avif"}
    default_metadata = stored(web_large, "photos/cat.jpg")[1]["Metadata"]
    assert default_metadata["image-id"] == image_id
    item = web_large.item(image_id)
    assert item is not None
    listed = {e["key"]: e for e in item["renditions"]}
    assert list(listed) == ["photos/cat.jpg"] + [f"photos/cat.jpg/{f}" for f in LARGE_FILES]
    for key, entry in listed.items():
        image, obj = stored(web_large, key)
        assert image.format == entry["format"]
        assert obj["ContentType"] == types[image.format] == entry["content_type"]
        assert obj["CacheControl"] == "private, max-age=900"
        assert obj["Metadata"] == default_metadata  # the same source metadata on each
        assert image.size == expected[entry["name"]] == (entry["width"], entry["height"])
        assert entry["bytes"] == len(obj["data"])
        for got, want in zip(quadrant_colours(image), QUADRANTS, strict=True):
            assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= 12, (key, got)
    assert item["collapsed"] == []
    assert (item["processed_key"], item["processed_width"]) == ("photos/cat.jpg", 500)
    assert (item["upright_width"], item["upright_height"]) == (1600, 1200)
    assert item["animated"] is False


def test_web_large_preset_keeps_alpha_and_collapses_sizes_above_the_original(
    web_large: Aws, context: LambdaContext
) -> None:
    resize.handler(web_large.put("logo.png", png_bytes((600, 300), alpha=True)), context)

    item = web_large.item(direct_image_id(web_large.uploads_bucket, "logo.png"))
    assert item is not None
    files = [e["key"].removeprefix("logo.png/") for e in item["renditions"][1:]]
    # 640 and 1280 px of a 600 px original are both 600 px: made once, as w640
    assert files == ["w320.avif", "w320.webp", "w320.png", "w640.avif", "w640.webp", "w640.png"]
    assert web_large.keys() == sorted(["logo.png"] + [f"logo.png/{f}" for f in files])
    assert item["collapsed"] == [
        {"name": "w1280", "format": "AVIF", "same_as": "logo.png/w640.avif"},
        {"name": "w1280", "format": "WEBP", "same_as": "logo.png/w640.webp"},
        {"name": "w1280", "format": "PNG", "same_as": "logo.png/w640.png"},
    ]
    for entry in item["renditions"]:
        image, _ = stored(web_large, entry["key"])
        assert image.mode == "RGBA", entry["key"]
        assert image.getpixel((10, 10))[3] == pytest.approx(128, abs=3)


def test_default_configuration_keeps_the_key_the_bytes_and_the_fields(
    aws: Aws, context: LambdaContext
) -> None:
    data = quadrant_jpeg((1000, 800))

    resize.handler(aws.put("photos/cat.jpg", data), context)

    assert aws.keys() == ["photos/cat.jpg"]
    _, obj = stored(aws, "photos/cat.jpg")
    assert obj["data"] == process(data).data  # the single rendition of before, byte for byte
    item = aws.item(direct_image_id(aws.uploads_bucket, "photos/cat.jpg"))
    assert item is not None
    assert set(item) == PRE_SET_FIELDS | SET_FIELDS | LIFECYCLE_FIELDS
    assert item["renditions"] == [
        {
            "name": "default",
            "key": "photos/cat.jpg",
            "format": "JPEG",
            "content_type": "image/jpeg",
            "width": 500,
            "height": 400,
            "bytes": len(obj["data"]),
        }
    ]
    assert item["collapsed"] == []
    assert item["sha256"] == hashlib.sha256(data).hexdigest()
    assert item["processed_size_bytes"] == len(obj["data"])


def test_get_image_signs_a_url_per_rendition(web_large: Aws, context: LambdaContext) -> None:
    resize.handler(web_large.put("photos/cat.jpg", quadrant_jpeg()), context)
    image_id = direct_image_id(web_large.uploads_bucket, "photos/cat.jpg")

    status, body = call_api(api_event("apigw_get_image", path=f"/images/{image_id}"), context)

    assert status == 200
    assert len(body["renditions"]) == 10
    for entry in body["renditions"]:
        url = urlsplit(entry["url"])
        assert url.path.endswith("/" + entry["key"])
        assert parse_qs(url.query)["X-Amz-Expires"] == ["900"]
        assert "X-Amz-Signature" in parse_qs(url.query)
    # the listing shows the set without signing every rendition
    status, page = call_api(api_event("apigw_get_image", path="/images", query={}), context)
    assert status == 200
    (listed,) = page["items"]
    assert listed["download_url"] and all("url" not in e for e in listed["renditions"])


def _failing_put(aws: Aws, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """Make the PUT of ``w640.webp`` fail with ``error``; every other PUT goes through."""
    client = bootstrap.get_deps("resize").objects.client  # type: ignore[attr-defined]
    real_put = client.put_object

    def put(**kwargs: Any) -> Any:
        if kwargs["Key"].endswith("/w640.webp"):
            raise error
        return real_put(**kwargs)

    monkeypatch.setattr(client, "put_object", put)


def _client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return botocore.exceptions.ClientError(response, "PutObject")


def test_a_refused_write_marks_failed_and_leaves_no_rendition(
    web_large: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = web_large.put("photos/cat.jpg", quadrant_jpeg())
    _failing_put(web_large, monkeypatch, _client_error("AccessDenied", 403))

    with pytest.raises(botocore.exceptions.ClientError):
        resize.handler(event, context)

    assert web_large.keys() == []  # the nine that were written are deleted again
    item = web_large.item(direct_image_id(web_large.uploads_bucket, "photos/cat.jpg"))
    assert item is not None
    assert (item["status"], item["error_reason"]) == ("failed", "internal_error")
    assert "renditions" not in item and "processed_key" not in item


def test_a_transient_write_failure_leaves_nothing_then_the_retry_stores_all(
    web_large: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = web_large.put("photos/cat.jpg", quadrant_jpeg())

    with monkeypatch.context() as patch:
        _failing_put(web_large, patch, _client_error("SlowDown", 503))
        with pytest.raises(TransientError):
            resize.handler(event, context)
        assert web_large.keys() == [] and web_large.items() == []

    resize.handler(event, context)
    assert len(web_large.keys()) == 10
    (item,) = web_large.items()
    assert [e["key"] for e in item["renditions"]] == ["photos/cat.jpg"] + [
        f"photos/cat.jpg/{f}" for f in LARGE_FILES
    ]


def test_a_failed_write_keeps_what_the_item_still_points_at(
    web_large: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    resize.handler(web_large.put("photos/cat.jpg", quadrant_jpeg()), context)
    first = web_large.items()[0]
    newer = web_large.put("photos/cat.jpg", quadrant_jpeg((1700, 1200)))  # a new version, same key

    _failing_put(web_large, monkeypatch, _client_error("SlowDown", 503))
    with pytest.raises(TransientError):
        resize.handler(newer, context)

    # the item still describes the first version: every key it lists is there
    (item,) = web_large.items()
    assert item["source_etag"] == first["source_etag"]
    assert web_large.keys() == sorted(e["key"] for e in item["renditions"])


def test_a_new_smaller_version_removes_the_renditions_it_no_longer_makes(
    web_large: Aws, context: LambdaContext
) -> None:
    resize.handler(web_large.put("photos/cat.jpg", quadrant_jpeg()), context)
    assert len(web_large.keys()) == 10

    resize.handler(web_large.put("photos/cat.jpg", quadrant_jpeg((600, 450))), context)

    (item,) = web_large.items()
    keys = web_large.keys()
    assert keys == sorted(e["key"] for e in item["renditions"])
    assert not [key for key in keys if "w1280" in key]  # no older picture's w1280 left
    assert [c["name"] for c in item["collapsed"]] == ["w1280"] * 3


def test_api_upload_with_the_web_large_preset(web_large: Aws, context: LambdaContext) -> None:
    status, created = call_api(api_event("apigw_post_images_binary", body=quadrant_jpeg()), context)
    assert status == 202
    image_id = created["image_id"]
    key = web_large.item(image_id)["source_key"]  # type: ignore[index]
    head = web_large.s3.head_object(Bucket=web_large.uploads_bucket, Key=key)

    resize.handler(s3_event(web_large.uploads_bucket, key, etag=head["ETag"].strip('"')), context)

    assert web_large.keys() == sorted([key] + [f"{key}/{f}" for f in LARGE_FILES])
    for name in ("w320.avif", "w1280.webp"):
        metadata = stored(web_large, f"{key}/{name}")[1]["Metadata"]
        assert metadata["image-id"] == image_id
        assert metadata["source-key"] == key


def test_a_set_needing_a_missing_encoder_fails_at_cold_start(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers import config

    monkeypatch.setenv("RENDITIONS", "web")
    monkeypatch.setattr(config, "missing_encoders", lambda formats: sorted({"avif"} & formats))
    config.resolve_renditions.cache_clear()
    bootstrap.reset()
    try:
        with pytest.raises(config.ConfigError, match=r"RENDITIONS='web'.* needs avif"):
            resize.handler(aws.put("a.jpg", quadrant_jpeg((100, 100))), context)
    finally:
        config.resolve_renditions.cache_clear()
    assert aws.keys() == [] and aws.items() == []
