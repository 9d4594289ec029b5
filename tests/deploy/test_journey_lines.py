"""The journey's lines on the terminal: keys printed escaped, originals shown upright,
deletions shown as the other steps are.

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
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console

from deploy.local.dispatcher import BatchOutcome
from deploy.local.http_front import RequestRecord
from deploy.local.journey import Journey, describe_item
from deploy.local.runner import ConsoleHandler
from handlers.events import format_utc
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


def sqs_record(
    key: str, event_name: str = "ObjectCreated:Put", message_id: str = "m1"
) -> dict[str, Any]:
    s3_event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": event_name,
                "s3": {
                    "bucket": {"name": "image-uploads"},
                    "object": {"key": key.replace(" ", "+"), "size": 1},
                },
            }
        ]
    }
    return {"messageId": message_id, "body": json.dumps(s3_event), "attributes": {}}


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


def delete_request(image_id: str, status: str) -> RequestRecord:
    body = {"image_id": image_id, "status": status, "status_url": f"/images/{image_id}"}
    return RequestRecord(
        "DELETE", f"/images/{image_id}", 202, 0.01, 0, json.dumps(body).encode(), "application/json"
    )


def test_a_delete_through_the_api_is_a_line_with_the_answer_it_got(
    terminal: io.StringIO,
) -> None:
    steps = journey()
    steps.on_request(delete_request(IMAGE_ID, "deleting"))
    steps.on_request(delete_request(IMAGE_ID, "deleted"))  # again: nothing left to remove

    printed = terminal.getvalue()
    assert_one_line_each(printed, 2)
    deleting, deleted = printed.splitlines()
    assert deleting.endswith(f"journey  deleting   {IMAGE_ID} via DELETE /images/{IMAGE_ID}")
    assert deleted.endswith(f"journey  deleted    {IMAGE_ID} via DELETE /images/{IMAGE_ID}")


@pytest.mark.parametrize(
    ("event_name", "what"),
    [
        ("ObjectRemoved:Delete", "removal of"),
        ("ObjectRemoved:DeleteMarkerCreated", "removal of"),
        ("LifecycleExpiration:Delete", "expiry of"),
    ],
)
def test_a_removal_event_is_queued_as_a_removal(
    terminal: io.StringIO, event_name: str, what: str
) -> None:
    key = f"uploads/{IMAGE_ID}/photo.jpg"
    handled: list[dict[str, Any]] = []
    journey().wrap_resize(lambda event, context: handled.append(event))(
        {"Records": [sqs_record(key, event_name)]}, None
    )

    assert len(handled) == 1  # the handler still runs, once
    printed = terminal.getvalue()
    assert_one_line_each(printed, 1)
    assert printed.rstrip().endswith(
        f"journey  queued     {IMAGE_ID} {what} s3://image-uploads/{key}"
    )


DELETED_NOW = {"image_id": IMAGE_ID, "status": "deleted"}  # deleted_at: set when the test runs
DELETED_LONG_AGO = {**DELETED_NOW, "deleted_at": "2026-01-02T03:04:05.000Z"}


@pytest.mark.parametrize(
    ("event_name", "item", "expected"),
    [
        (
            "ObjectRemoved:Delete",
            DELETED_NOW,  # by this batch
            "deleted    {id} s3://image-uploads/{key} and its renditions (100 ms)",
        ),
        (
            "ObjectRemoved:Delete",
            DELETED_LONG_AGO,
            "duplicate  {id} s3://image-uploads/{key} already deleted at "
            "2026-01-02T03:04:05.000Z; skipped",
        ),
        (
            "ObjectRemoved:Delete",
            None,
            "removed    {id} s3://image-uploads/{key}: no item; its renditions, if any, "
            "deleted (100 ms)",
        ),
        (
            "ObjectRemoved:Delete",
            {"image_id": IMAGE_ID, "status": "processed"},
            "kept       {id} s3://image-uploads/{key} removed; the item stays processed "
            "(a newer upload or version of the key)",
        ),
        (
            "LifecycleExpiration:Delete",
            {"image_id": IMAGE_ID, "status": "processed"},
            "kept       {id} s3://image-uploads/{key} removed; the item stays processed "
            "(the retention rule keeps an expired original's renditions, or a newer upload)",
        ),
    ],
)
def test_a_handled_removal_is_told_from_the_item_as_it_is_after_the_batch(
    terminal: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    event_name: str,
    item: dict[str, Any] | None,
    expected: str,
) -> None:
    key = f"uploads/{IMAGE_ID}/photo.jpg"
    steps = journey()
    if item is DELETED_NOW:
        item = {**item, "deleted_at": format_utc(datetime.now(UTC))}
    looked_up: list[str] = []
    monkeypatch.setattr(steps, "item", lambda image_id: looked_up.append(image_id) or item)
    record = sqs_record(key, event_name)

    steps.on_batch(BatchOutcome(records=[record], deleted=["m1"], failed=[], duration_s=0.1))

    assert looked_up == [IMAGE_ID]
    printed = terminal.getvalue()
    assert_one_line_each(printed, 1)
    assert printed.rstrip().endswith("journey  " + expected.format(id=IMAGE_ID, key=key))


def test_a_failed_removal_is_retried_as_a_removal(terminal: io.StringIO) -> None:
    record = sqs_record(HOSTILE_KEY, "ObjectRemoved:Delete")
    journey().on_batch(BatchOutcome(records=[record], deleted=[], failed=["m1"], duration_s=0.1))

    printed = terminal.getvalue()
    assert_one_line_each(printed, 1)
    assert "\\u202egpj.exe: removal failed, back on the queue in 30 s" in printed
