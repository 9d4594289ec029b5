"""The journey's lines on the terminal: keys printed escaped, originals shown upright.

A key is anything a client chooses. One with a newline must not forge a second journey line
("processed ..."), nor a tab or U+202E reorder or hide the one it is in. Each test logs
through the journey's hooks as the pipeline calls them (no pipeline needed: nothing is
looked up for these lines) and reads what the runner's console handler prints.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console

from deploy.local.dispatcher import BatchOutcome
from deploy.local.http_front import RequestRecord
from deploy.local.journey import Journey, describe_item
from deploy.local.runner import ConsoleHandler
from imgproc.cli_report import printable

HOSTILE_KEY = "uploads/x.jpg\n12:00:00.000 journey  processed  forged\tline \u202egpj.exe"
IMAGE_ID = "3f2a" * 8


@pytest.fixture
def terminal() -> Iterator[io.StringIO]:
    """What the runner's console handler prints for the ``journey`` logger."""
    out = io.StringIO()
    handler = ConsoleHandler(Console(file=out, width=200, color_system=None))
    logger = logging.getLogger("journey")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)


def journey() -> Journey:
    return Journey(
        table="t", region="us-east-1", endpoint_url="http://127.0.0.1:9", visibility_timeout_s=30
    )


def sqs_record(key: str) -> dict[str, Any]:
    s3_event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "image-uploads"},
                    "object": {"key": key.replace(" ", "+"), "size": 1},
                },
            }
        ]
    }
    return {"messageId": "m1", "body": json.dumps(s3_event), "attributes": {}}


def assert_one_line_each(printed: str, count: int) -> None:
    lines = printed.splitlines()
    assert len(lines) == count, printed
    assert all(" journey  " in line[:22] for line in lines)
    assert "\t" not in printed and "\u202e" not in printed
    assert not any("journey  processed  forged" in line[:40] for line in lines)


def test_a_hostile_key_is_one_escaped_line_at_every_step(terminal: io.StringIO) -> None:
    steps = journey()
    steps.on_request(
        RequestRecord(
            "POST",
            "/images",
            202,
            0.01,
            10,
            json.dumps({"image_id": IMAGE_ID, "filename": HOSTILE_KEY}).encode(),
            "application/json",
        )
    )
    record = sqs_record(HOSTILE_KEY.replace("uploads/", f"uploads/{IMAGE_ID}/"))
    steps.wrap_resize(lambda event, context: None)({"Records": [record]}, None)
    steps.on_batch(BatchOutcome(records=[record], deleted=[], failed=["m1"], duration_s=0.1))

    printed = terminal.getvalue()
    assert_one_line_each(printed, 3)
    uploaded, queued, retrying = printed.splitlines()
    escaped = printable(HOSTILE_KEY)
    assert escaped.startswith("uploads/x.jpg\\n12:00:00.000 journey  processed  forged\\tline")
    assert f"uploaded   {IMAGE_ID} {escaped} (10 B) via POST /images" in uploaded
    assert f"queued     {IMAGE_ID} s3://image-uploads/" in queued and queued.endswith("gpj.exe")
    assert "\\u202egpj.exe: resize failed" in retrying


def test_the_console_handler_escapes_every_message(terminal: io.StringIO) -> None:
    logging.getLogger("journey").info("refused    %s", "a\nb\x1b[2Jc")
    assert_one_line_each(terminal.getvalue(), 1)
    assert terminal.getvalue().rstrip().endswith("refused    a\\nb\\x1b[2Jc")


def test_a_processed_item_shows_its_original_upright() -> None:
    item = {
        "status": "processed",
        "original_width": Decimal(450),  # as DynamoDB gives numbers back
        "original_height": Decimal(600),
        "orientation": Decimal(5),
        "original_size_bytes": Decimal(120_000),
        "processed_width": Decimal(500),
        "processed_height": Decimal(375),
        "processed_size_bytes": Decimal(20_000),
        "processed_bucket": "image-processed",
        "processed_key": "landscape_5.jpg",
    }
    assert describe_item(item) == (
        "600x450 120.0 kB -> 500x375 20.0 kB s3://image-processed/landscape_5.jpg"
    )
    assert describe_item({**item, "orientation": None}).startswith("450x600 ")
    rejected = {"status": "rejected", "error_reason": "corrupt", "error_message": "bad\nline"}
    assert describe_item(rejected) == "corrupt: bad\\nline"
