"""The batch form's outcomes against a stand-in API over HTTP: the pipeline's vocabulary.

A file the API refuses (400, 413, 415) is ``rejected`` with the API's error code as the
reason, which is the engine's reason code (``unsupported_format``, ``too_large``, ``empty``);
the older codes ``unsupported_media_type``/``payload_too_large`` are read as those. ``error``
is kept for real failures (5xx, connection refused), with the HTTP detail in ``message``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.local.batch import Source, process_one, run_batch, status_text
from deploy.local.http_front import ApiFront
from deploy.local.journey import item_size as journey_size
from imgproc.cli_report import human_size
from tests.e2e.conftest import quadrant_jpeg


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"error": {"code": code, "message": message}}),
    }


def stand_in_api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """POST /images answers by the query's ``answer``; POST /uploads refuses big files."""
    body = event.get("body") or ""
    if event["path"] == "/uploads":
        return _error(413, "too_large", "uploads are limited to 52428800 bytes")
    answer = (event.get("queryStringParameters") or {}).get("answer")
    if "empty.jpg" in body or answer == "400":
        return _error(400, "empty", "the request body is empty")
    if "down.jpg" in body:
        return _error(503, "service_unavailable", "the table is throttling; retry")
    if "crash.jpg" in body:
        raise RuntimeError("the handler crashed")
    if "bare.jpg" in body:  # a refusal without the error shape (a proxy in between, say)
        return {"statusCode": 415, "body": "nope"}
    return _error(415, "unsupported_format", "expected an image")


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    front = ApiFront(stand_in_api, port=0, binary_media_types=())  # multipart as text
    yield front.start()
    front.stop()


def _outcome(api_url: str, path: Path, **kwargs: Any) -> Any:
    return process_one(api_url, Source(path, Path(path.name)), timeout_s=5, **kwargs)


def test_refusals_are_rejected_with_the_pipeline_reason(api_url: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_bytes(b"not an image")
    outcome = _outcome(api_url, notes)
    assert (outcome.status, outcome.reason) == ("rejected", "unsupported_format")
    assert outcome.message == "HTTP 415 unsupported_format: expected an image"
    assert status_text(outcome) == "rejected (unsupported_format)"

    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    outcome = _outcome(api_url, empty)
    assert (outcome.status, outcome.reason) == ("rejected", "empty")

    huge = tmp_path / "huge.jpg"
    huge.write_bytes(quadrant_jpeg((64, 64)))
    outcome = _outcome(api_url, huge, api_max_body_bytes=10)  # so it asks POST /uploads
    assert (outcome.status, outcome.reason) == ("rejected", "too_large")
    assert outcome.message.startswith("HTTP 413 too_large: ")


def test_bare_refusals_map_to_the_engine_reasons(api_url: str, tmp_path: Path) -> None:
    bare = tmp_path / "bare.jpg"
    bare.write_bytes(b"not an image")
    outcome = _outcome(api_url, bare)
    assert (outcome.status, outcome.reason, outcome.message) == (
        "rejected",
        "unsupported_format",
        "HTTP 415 nope",
    )


def test_server_failures_are_errors_with_the_detail_in_message(
    api_url: str, tmp_path: Path
) -> None:
    down = tmp_path / "down.jpg"
    down.write_bytes(quadrant_jpeg((64, 64)))
    outcome = _outcome(api_url, down)
    assert (outcome.status, outcome.reason) == ("error", "service_unavailable")
    assert outcome.message == "HTTP 503 service_unavailable: the table is throttling; retry"
    assert status_text(outcome).startswith("error (service_unavailable): HTTP 503 ")

    crash = tmp_path / "crash.jpg"
    crash.write_bytes(quadrant_jpeg((64, 64)))
    outcome = _outcome(api_url, crash)
    assert (outcome.status, outcome.reason) == ("error", "internal_error")
    assert outcome.message == "HTTP 502 internal_error: Internal server error"


def test_connection_refused_is_an_error_and_results_carry_message(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(quadrant_jpeg((64, 64)))
    out = tmp_path / "out"
    [outcome] = run_batch(
        f"http://127.0.0.1:{closed_port}",
        [Source(photo, Path("photo.jpg"))],
        timeout_s=5,
        out_dir=out,
    )
    assert (outcome.status, outcome.reason) == ("error", "connection_error")
    [record] = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert record["status"] == "error" and record["reason"] == "connection_error"
    assert "Connection refused" in record["message"] or "Max retries" in record["message"]


def test_sizes_are_decimal() -> None:
    assert human_size(15_790_000) == "15.79 MB"
    assert human_size(4_500_000) == "4.50 MB"
    assert human_size(48_200) == "48.2 kB"
    assert human_size(512) == "512 B"
    assert journey_size(2_100_000) == "2.10 MB" and journey_size(48_200) == "48.2 kB"


def test_a_file_gone_before_its_upload_is_an_io_error(api_url: str, tmp_path: Path) -> None:
    """No status of its own (``missing`` was one): the file could not be read."""
    outcome = _outcome(api_url, tmp_path / "gone.jpg")
    assert (outcome.status, outcome.reason) == ("error", "io_error")
    assert "No such file or directory" in (outcome.message or "")


def test_the_original_is_reported_upright(tmp_path: Path) -> None:
    """``landscape_5.jpg`` is stored 450x600 with orientation 5: upright it is 600x450,
    so ``600x450 -> 500x375`` does not read as an upscale."""
    image_id = "5" * 32
    item = {
        "image_id": image_id,
        "status": "processed",
        "original_width": 450,
        "original_height": 600,
        "orientation": 5,
        "original_size_bytes": 120_000,
        "processed_width": 500,
        "processed_height": 375,
        "processed_size_bytes": 20_000,
    }

    def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = {"image_id": image_id} if event["httpMethod"] == "POST" else item
        status = 202 if event["httpMethod"] == "POST" else 200
        return {
            "statusCode": status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body),
        }

    front = ApiFront(api, port=0)
    url = front.start()
    try:
        photo = tmp_path / "landscape_5.jpg"
        photo.write_bytes(quadrant_jpeg((64, 48)))
        outcome = _outcome(url, photo)
    finally:
        front.stop()
    assert outcome.status == "processed"
    assert outcome.original_dims == (600, 450) and outcome.processed_dims == (500, 375)
    assert outcome.item["original_width"] == 450  # the item itself as stored
