"""Rendition sets in the local pipeline over HTTP: ``python -m deploy.local --renditions web``.

Serving: an upload ends with every rendition of the ``web`` preset listed in its item and
downloadable through its own URL, with its content type. The batch form saves every
rendition under ``--out`` (``a.jpg``, ``a/w640.avif``...). A malformed set stops the
runner before its ready line.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from tests.e2e.conftest import ARTIFACTS, READY_TIMEOUT_S, ROOT, quadrant_jpeg, read_ready_line
from tests.e2e.test_batch_form import run_local, usage_error
from tests.e2e.test_pipeline import wait_final
from tests.e2e.test_upload_page import browser  # noqa: F401  (the fixture)

WEB_FILES = ["w320.avif", "w320.webp", "w320.jpg", "w500.avif", "w500.webp"]
SIZES = {"default": (500, 375), "w320": (320, 240), "w500": (500, 375)}
SERVE_FLAGS = ("--api-port", "0", "--emulator-port", "0", "--renditions", "web")
QUADRANTS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255))  # conftest.quadrant_jpeg


def assert_rendition(data: bytes, name: str, fmt: str) -> None:
    """``data`` decodes as ``fmt`` at the size of ``name``, its quadrants in their colours."""
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == (fmt, SIZES[name])
    rgb = image.convert("RGB")
    w, h = rgb.size
    centres = [
        (w // 4, h // 4),
        (3 * w // 4, h // 4),
        (w // 4, 3 * h // 4),
        (3 * w // 4, 3 * h // 4),
    ]
    for xy, colour in zip(centres, QUADRANTS, strict=True):
        actual = rgb.getpixel(xy)
        assert isinstance(actual, tuple)
        assert all(abs(a - e) <= 40 for a, e in zip(actual, colour, strict=True)), (name, xy)


@pytest.fixture(scope="module")
def web_pipeline() -> Iterator[dict[str, Any]]:
    """``python -m deploy.local --renditions web`` serving on free ports; its ready line."""
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "local-pipeline-web.log").open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "deploy.local", *SERVE_FLAGS],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            yield read_ready_line(process, READY_TIMEOUT_S)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_every_rendition_is_listed_and_downloadable(web_pipeline: dict[str, Any]) -> None:
    api = web_pipeline["api_url"]
    upload = requests.post(
        f"{api}/images",
        files={"file": ("cat.jpg", quadrant_jpeg((1600, 1200)), "image/jpeg")},
        timeout=30,
    )
    assert upload.status_code == 202, upload.text

    item = wait_final(api, upload.json()["image_id"])

    assert item["status"] == "processed", item
    assert "processed_key" not in item  # the public view; the default rendition comes first
    key = item["renditions"][0]["key"]
    assert key == f"uploads/{item['image_id']}/cat.jpg"
    assert [e["key"] for e in item["renditions"]] == [key] + [f"{key}/{f}" for f in WEB_FILES]
    # w500's JPEG is the default rendition: named, not stored twice
    assert item["collapsed"] == [{"name": "w500", "format": "JPEG", "same_as": key}]
    types = {"JPEG": "image/jpeg", "WEBP": "image/webp", "AVIF": "image/avif"}
    for entry in item["renditions"]:
        download = requests.get(entry["url"], timeout=10)
        assert download.status_code == 200, entry["key"]
        assert download.headers["Content-Type"] == entry["content_type"] == types[entry["format"]]
        assert len(download.content) == entry["bytes"]
        assert_rendition(download.content, entry["name"], entry["format"])
    assert requests.get(item["download_url"], timeout=10).content[:2] == b"\xff\xd8"


def test_batch_form_saves_every_rendition(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(quadrant_jpeg((1600, 1200)))
    out = tmp_path / "out"

    done = run_local(str(photos), "--out", str(out), "--renditions", "web")

    assert done.returncode == 0, done.stderr[-3000:]
    saved = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert saved == sorted(["cat.jpg", "results.jsonl"] + [f"cat/{f}" for f in WEB_FILES])
    assert_rendition((out / "cat.jpg").read_bytes(), "default", "JPEG")
    formats = {"avif": "AVIF", "webp": "WEBP", "jpg": "JPEG"}
    for name in WEB_FILES:
        stem, ext = name.split(".")
        assert_rendition((out / "cat" / name).read_bytes(), stem, formats[ext])
    (record,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert record["outputs"] == [str(out / "cat.jpg")] + [str(out / "cat" / f) for f in WEB_FILES]
    assert len(record["item"]["renditions"]) == 6


def test_a_malformed_set_is_a_start_error(tmp_path: Path) -> None:
    (tmp_path / "never.jpg").write_bytes(quadrant_jpeg((64, 64)))  # never uploaded
    done = run_local("--renditions", "thumb:200:gif", str(tmp_path / "never.jpg"))

    message = usage_error(done)
    assert "bad configuration: RENDITIONS='thumb:200:gif' is invalid" in message


@pytest.mark.browser
def test_upload_page_shows_the_set_and_a_picture_snippet(
    browser: Any,  # noqa: F811  (the fixture imported above)
    web_pipeline: dict[str, Any],
    tmp_path: Path,
) -> None:
    photo = tmp_path / "set photo.jpg"
    photo.write_bytes(quadrant_jpeg((1600, 1200)))
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    try:
        page.goto(web_pipeline["api_url"] + "/")
        page.set_input_files("#file", str(photo))
        row = page.locator("#rows tr", has_text="set photo.jpg").first
        row.locator(".status").filter(has_text="processed").wait_for(timeout=30_000)
        row.locator("details.set summary").click()

        links = row.locator("details.set li a")
        assert links.count() == 6
        assert "w500 AVIF 500×375" in links.nth(4).inner_text()
        assert "X-Amz-Signature" in (links.nth(4).get_attribute("href") or "")
        snippet = row.locator("details.set pre code").inner_text()
        key = "uploads/" + row.locator(".id code").inner_text() + "/set_photo.jpg"
        base = "https://cdn.example.com/" + key
        assert snippet.startswith('<picture>\n  <source type="image/avif"')
        assert f"{base}/w320.avif 320w, {base}/w500.avif 500w" in snippet
        # the JPEG steps: w320 and the default rendition, which is w500's JPEG
        assert f'<img src="{base}" sizes="100vw"' in snippet
        assert f'srcset="{base}/w320.jpg 320w, {base} 500w"' in snippet
        assert 'width="500" height="375"' in snippet and snippet.endswith("</picture>")

        # after a reload the row comes from the listing (no signed URLs): opening the set
        # fetches the image's own view
        page.reload()
        row = page.locator("#rows tr", has_text="set photo.jpg").first
        row.locator("details.set summary").click()
        row.locator("details.set li a").first.wait_for(timeout=10_000)
        assert row.locator("details.set li a").count() == 6
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "upload-page-renditions.png"), full_page=True)
        page.close()
