"""The upload page shows an original upright, as the batch table and the journey do.

``landscape_5.jpg`` is stored 450x600 with EXIF orientation 5; upright it is 600x450, so
the page reads ``600×450 -> 500×375``, not an upscale. The page's own ``dims`` in a real
headless browser (skips as tests/e2e/test_upload_page.py does without one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from deploy.local.http_front import ApiFront
from tests.e2e.test_upload_page import browser  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def page_url() -> Iterator[str]:
    front = ApiFront(lambda event, context: {"statusCode": 404, "body": "{}"}, port=0)
    yield front.start() + "/"
    front.stop()


@pytest.mark.parametrize(
    ("orientation", "shown"),
    [(5, "600×450, "), (6, "600×450, "), (8, "600×450, "), (3, "450×600, "), (None, "450×600, ")],
)
def test_the_original_is_shown_upright(
    browser: Any,  # noqa: F811
    page_url: str,
    orientation: int | None,
    shown: str,
) -> None:
    page = browser.new_page()
    try:
        page.goto(page_url)
        item = {
            "original_width": 450,
            "original_height": 600,
            "orientation": orientation,
            "processed_width": 500,
            "processed_height": 375,
        }
        assert page.evaluate("item => dims(item, 'original')", item) == shown
        assert page.evaluate("item => dims(item, 'processed')", item) == "500×375, "
    finally:
        page.close()
