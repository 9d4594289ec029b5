"""The upload page in a real headless browser: pick a file, see it reach processed.

Debian's chromium driven by playwright (never ``playwright install``: no browser downloads
here). Skips with the reason when either is missing. Screenshots: test-artifacts/.

Also at a phone's width (390 px, issue 9): no sideways scrolling, reasons visible without
hover on one line, refusals kept across a reload, and large files whose browser-reported
type is empty (an iPhone's ``IMG_9999.HEIC``) sent with the type their suffix names, or
not sent, saying why, when the suffix is unknown.
"""

from __future__ import annotations

import io
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgproc.sniff import FILE_EXTENSIONS, MEDIA_TYPES
from tests.e2e.conftest import ARTIFACTS, quadrant_jpeg

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PHONE = {"width": 390, "height": 844}
API_MAX_BODY_BYTES = 4_500_000
LONG_NAME = "IMG_20240601_183000_from_the_camera_roll_of_a_phone_with_a_long_name.jpg"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Any:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as e:  # a broken or incompatible chromium: say so, don't fail
            pytest.skip(f"chromium at {CHROMIUM} did not start under playwright: {e}")
        yield browser
        browser.close()


def test_pick_a_file_and_see_it_processed(
    browser: Any, pipeline: dict[str, Any], tmp_path: Path
) -> None:
    photo = tmp_path / "browser-photo.jpg"
    photo.write_bytes(quadrant_jpeg((1200, 800)))
    page = browser.new_page(viewport={"width": 1100, "height": 700})
    try:
        page.goto(pipeline["api_url"] + "/")
        assert page.title() == "Image pipeline: upload"
        page.set_input_files("#file", str(photo))
        row = page.locator("#rows tr", has_text="browser-photo.jpg").first
        status = row.locator(".status")
        status.filter(has_text="processed").wait_for(timeout=30_000)
        thumb = row.locator("img.thumb")
        thumb.wait_for(timeout=10_000)
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0",
            arg=thumb.element_handle(),
            timeout=10_000,
        )
        natural = thumb.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert natural == [500, 333]
        link = row.locator("a:has(img.thumb)")  # a thumbnail opens the whole rendition
        assert link.get_attribute("href") == thumb.get_attribute("src")
        assert link.get_attribute("target") == "_blank"
        assert "1200×800" in row.locator(".original").inner_text()
        assert "500×333" in row.locator(".rendition").inner_text()
        assert len(row.locator(".id code").inner_text()) == 32
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "upload-page.png"), full_page=True)
        page.close()


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A JPEG of grain over the API's 4.5 MB body limit (so it goes by POST /uploads)."""
    noise = Image.frombytes("RGB", (3000, 2000), random.Random(9).randbytes(3000 * 2000 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=95)
    assert out.tell() > API_MAX_BODY_BYTES
    return out.getvalue()


def _status(page: Any, filename: str) -> Any:
    return page.locator("#rows tr", has_text=filename).first.locator(".status")


def _page_width(page: Any) -> int:
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
    )


def test_phone_width_reasons_visible_and_refusals_kept(
    browser: Any, pipeline: dict[str, Any], tmp_path: Path
) -> None:
    photo, cut, text = tmp_path / LONG_NAME, tmp_path / "cut-short.jpg", tmp_path / "notes.jpg"
    photo.write_bytes(quadrant_jpeg((1200, 800)))
    cut.write_bytes(quadrant_jpeg((900, 600))[:2500])  # stored, then rejected by the engine
    text.write_text("not an image: the API refuses it before storing anything")
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(pipeline["api_url"] + "/")
        page.set_input_files("#file", [str(photo), str(cut), str(text)])
        _status(page, LONG_NAME).filter(has_text="processed").wait_for(timeout=30_000)
        _status(page, "cut-short.jpg").filter(has_text="rejected").wait_for(timeout=30_000)
        refused = _status(page, "notes.jpg").filter(has_text="rejected (unsupported_format)")
        refused.wait_for(timeout=30_000)
        page.locator("#rows tr", has_text=LONG_NAME).first.locator("img.thumb").wait_for()

        assert _page_width(page) <= PHONE["width"]
        for name in ("notes.jpg", "cut-short.jpg"):
            detail = page.locator("#rows tr", has_text=name).first.locator(".detail")
            assert detail.is_visible()  # not only a tooltip
            assert len(detail.inner_text()) > 10
            box = detail.bounding_box()
            font_px = float(detail.evaluate("el => parseFloat(getComputedStyle(el).fontSize)"))
            assert box["height"] < 2 * font_px, f"{name}: one short line, got {box}"
            assert box["x"] + box["width"] <= PHONE["width"]
            assert detail.evaluate("el => getComputedStyle(el).fontWeight") == "400"
        refused_detail = page.locator("#rows tr", has_text="notes.jpg").first.locator(".detail")
        refused_detail.click()  # a tap shows the whole reason
        assert refused_detail.bounding_box()["height"] >= box["height"]
        assert _page_width(page) <= PHONE["width"]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "upload-page-phone.png"), full_page=True)

        page.reload()  # the API never stored notes.jpg: this browser kept it
        kept = page.locator("#rows tr[data-kept]", has_text="notes.jpg")
        kept.first.wait_for(timeout=10_000)
        assert "rejected (unsupported_format)" in kept.first.locator(".status").inner_text()
        assert kept.first.locator(".detail").is_visible()
        assert page.locator("#kept-note").is_visible()
        _status(page, "cut-short.jpg").filter(has_text="rejected").wait_for(timeout=10_000)
        assert _page_width(page) <= PHONE["width"]

        page.locator("#forget").click()
        assert page.locator("#rows tr", has_text="notes.jpg").count() == 0
        page.reload()
        _status(page, "cut-short.jpg").wait_for(timeout=10_000)
        assert page.locator("#rows tr", has_text="notes.jpg").count() == 0
    finally:
        page.close()


def test_large_heic_without_a_browser_type_is_sent_as_image_heic(
    browser: Any, pipeline: dict[str, Any], big_jpeg: bytes
) -> None:
    """An iPhone's ``IMG_9999.HEIC`` often comes with an empty ``File.type``. (The bytes
    are a JPEG: the pipeline sniffs the content, the page only names the type for S3.)"""
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(pipeline["api_url"] + "/")
        payload = {"name": "IMG_9999.HEIC", "mimeType": "", "buffer": big_jpeg}
        with page.expect_request(lambda r: r.url.endswith("/uploads")) as asked:
            page.set_input_files("#file", files=[payload])
        assert json.loads(asked.value.post_data)["content_type"] == "image/heic"
        status = _status(page, "IMG_9999.HEIC")
        status.filter(has_text="processed").wait_for(timeout=60_000)
        assert _page_width(page) <= PHONE["width"]
    finally:
        page.close()


def test_large_file_of_unknown_type_is_not_sent_and_says_why(
    browser: Any, pipeline: dict[str, Any], big_jpeg: bytes
) -> None:
    page = browser.new_page(viewport=PHONE)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.method == "POST" else None)
    try:
        page.goto(pipeline["api_url"] + "/")
        payload = {"name": "scan.rw2", "mimeType": "", "buffer": big_jpeg}
        page.set_input_files("#file", files=[payload])
        status = _status(page, "scan.rw2")
        status.filter(has_text="not sent (unknown_type)").wait_for(timeout=10_000)
        detail = page.locator("#rows tr", has_text="scan.rw2").first.locator(".detail")
        assert detail.is_visible()
        assert "\u201c.rw2\u201d" in detail.get_attribute("title")
        assert asked == []  # nothing went to the API or S3
    finally:
        page.close()


def test_page_knows_every_type_the_pipeline_accepts(browser: Any, pipeline: dict[str, Any]) -> None:
    page = browser.new_page()
    try:
        page.goto(pipeline["api_url"] + "/")
        suffixes = page.evaluate("SUFFIX_TYPES")
        accepted = set(page.evaluate("[...ACCEPTED_TYPES]"))
    finally:
        page.close()
    for fmt, extensions in FILE_EXTENSIONS.items():
        for extension in extensions:
            assert suffixes[extension] == MEDIA_TYPES[fmt] or (
                fmt == "HEIF" and suffixes[extension] in ("image/heic", "image/heif")
            ), extension
    assert set(MEDIA_TYPES.values()) <= accepted
    assert set(suffixes.values()) <= accepted
