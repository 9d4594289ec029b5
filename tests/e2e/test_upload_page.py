"""The upload page in a real headless browser: pick a file, see it reach processed.

Debian's chromium driven by playwright (never ``playwright install``: no browser downloads
here). Skips with the reason when either is missing. Screenshot: test-artifacts/.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

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
        assert "1200×800" in row.locator(".original").inner_text()
        assert "500×333" in row.locator(".rendition").inner_text()
        assert len(row.locator(".id code").inner_text()) == 32
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "upload-page.png"), full_page=True)
        page.close()
