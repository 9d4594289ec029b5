"""The local runner's batch form: upload files through the API, wait for each, summarise.

A plain HTTP client of the API (Contract 3), so it works against any deployment of it:

- files up to the API's body limit go in one multipart ``POST /images`` (field ``file``);
- bigger ones ask ``POST /uploads`` for a presigned S3 POST and send the file there;
- then ``GET /images/{image_id}`` is polled until the status is final or a timeout passes.

Which files, and where their renditions go under ``--out``: :func:`plan_batch`, by the same
rules as ``imgproc resize`` (:mod:`imgproc.cli_plan`): the default rendition at
``OUT/a.jpg``, the other renditions of a set (``RENDITIONS``) at ``OUT/a/w640.avif``...

Outcomes use the pipeline's vocabulary (``status`` and ``reason``, plus a free-text
``message``):

- ``processed``; ``rejected`` with the engine's reason, from the metadata item
  (``error_reason``) or, when the API refuses the file itself (400, 413, 415), its error
  code, which is the engine's reason code (``unsupported_format``, ``too_large``,
  ``empty``, ...; DESIGN.md); the older codes ``unsupported_media_type`` and
  ``payload_too_large`` are read as the first two;
- ``failed`` (the pipeline's own, from the item); ``pending`` with reason ``timeout``;
  ``cancelled`` (stopped by Ctrl-C before its turn);
- ``error`` only for real failures on the way: ``connection_error``, ``timeout``, 5xx
  (reason ``http_503`` or the API's error code), ``io_error`` (the file could not be read:
  it vanished after the plan, say), with the detail in ``message``.

Under ``--out``, each run starts clean of the previous one: :func:`forget_previous_run`
removes the renditions the previous ``results.jsonl`` lists (and nothing else), and
``results.jsonl`` grows one line per image as each ends (rewritten in input order at the
end), so it always lists what the run wrote, even one that was killed.

The table (:func:`summary_table`) reads at 80 columns: ``image_id`` and ``time`` go first,
then the sizes shrink to dimensions and the reason moves beside the message; the status and
the reason are always whole. Originals are shown upright (EXIF orientation applied, as the
rendition is), file names through :func:`imgproc.cli_report.printable`. Sizes are decimal
(1 MB = 1,000,000 bytes, like the API's 4.5 MB limit).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import requests
import requests.auth
from rich.table import Table
from rich.text import Text

from handlers.config import Settings
from handlers.sniff import content_type_for_name
from imgproc.cli_plan import (
    Task,
    check_out_dir,
    collect_inputs,
    file_identity,
    output_path,
    plan_outputs,
)
from imgproc.cli_report import MIN_NAME_WIDTH, MIN_REASON_WIDTH, fit_table, human_size, printable
from imgproc.orientation import upright_size


def _default_api_max_body_bytes() -> int:
    """The API's ``POST /images`` limit when not configured otherwise (handlers/config.py)."""
    default = next(f.default for f in fields(Settings) if f.name == "api_max_body_bytes")
    if not isinstance(default, int):
        msg = f"Settings.api_max_body_bytes: expected an int default, got {default!r}"
        raise TypeError(msg)
    return default


API_MAX_BODY_BYTES = _default_api_max_body_bytes()
FINAL_STATUSES = frozenset({"processed", "rejected", "failed"})
POLL_INTERVAL_S = 0.2
HTTP_TIMEOUT_S = 60
RESULTS_FILE = "results.jsonl"  # under --out: every item, one JSON object per line
RENDITION_FILE_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}\.[a-z]{3,4}")  # w640.avif (renditions.py)
REFUSAL_STATUSES = frozenset({400, 413, 415})  # the API refusing the file: its code is the reason
# Codes the API answered before it used the engine's reason codes; no deployment outside this
# repository ever did, so this is dead, but tests/e2e/test_batch_outcomes.py pins it.
STATUS_REASONS = {413: "too_large", 415: "unsupported_format"}  # a refusal without a JSON code


@dataclass
class ImageOutcome:
    """How one file fared. Sizes are bytes, dimensions pixels (``original_dims`` upright,
    as the rendition); ``elapsed_s`` runs from the start of its upload until its final
    status was seen."""

    path: Path
    status: str = "pending"
    image_id: str | None = None
    reason: str | None = None
    message: str | None = None
    original_size_bytes: int | None = None
    original_dims: tuple[int, int] | None = None
    processed_size_bytes: int | None = None
    processed_dims: tuple[int, int] | None = None
    elapsed_s: float = 0.0
    output: Path | None = None
    outputs: list[Path] = field(default_factory=list)  # every rendition saved, default first
    item: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Source:
    """One file to process and where its rendition goes: ``output_base`` is the path under
    ``--out`` without the extension (``2024/a``; the rendition's own extension is added once
    it is known), planned by :func:`plan_batch`."""

    path: Path
    output_base: Path


def plan_batch(paths: Iterable[str | Path], out_dir: Path | None) -> list[Source]:
    """The files to upload and their renditions' names, by the engine CLI's rules.

    ``imgproc resize`` and the batch form walk and name alike (:mod:`imgproc.cli_plan`):
    files as given, folders walked (sorted, files before sub-folders) for image suffixes,
    hidden names and ``out_dir`` skipped, a file reached twice taken once; names made
    unique case-insensitively (``a.jpg`` + ``a.png`` -> ``a_jpg``, ``a_png``). One
    difference: a path that does not exist is kept (its outcome is an ``io_error``).

    Raises:
        UsageError: a path is neither a file nor a folder, or ``out_dir`` would take the
            renditions or ``results.jsonl`` over an input (:func:`imgproc.cli_plan.check_out_dir`).
    """
    inputs = [Path(p) for p in paths]
    planned = plan_outputs(collect_inputs(inputs, out_dir, missing_ok=True), Path())
    if out_dir is not None:
        under_out = [Task(t.input_path, out_dir / t.output_base) for t in planned]
        check_out_dir(inputs, out_dir, under_out, also_written=[out_dir / RESULTS_FILE])
    return [Source(t.input_path, t.output_base) for t in planned]


def content_type_of(path: Path) -> str:
    """A real media type for ``path`` (never form-urlencoded; see the emulator's traps): the
    accepted image type of its suffix (:func:`handlers.sniff.content_type_for_name`, any
    case), else ``application/octet-stream``."""
    return content_type_for_name(path.name) or "application/octet-stream"


def upload(
    session: requests.Session,
    api_url: str,
    path: Path,
    *,
    api_max_body_bytes: int = API_MAX_BODY_BYTES,
) -> str:
    """Send ``path`` through the API; return its image id.

    Raises:
        requests.HTTPError: the API refused it (the message carries the API's error).
    """
    size_bytes = path.stat().st_size
    content_type = content_type_of(path)
    if size_bytes <= api_max_body_bytes:
        with path.open("rb") as f:
            response = session.post(
                f"{api_url}/images",
                files={"file": (path.name, f, content_type)},
                timeout=HTTP_TIMEOUT_S,
            )
        _raise_for_api_error(response)
        return response.json()["image_id"]
    response = session.post(
        f"{api_url}/uploads",
        json={"filename": path.name, "content_type": content_type, "size_bytes": size_bytes},
        timeout=HTTP_TIMEOUT_S,
    )
    _raise_for_api_error(response)
    grant = response.json()
    post = grant.get("upload", grant)
    with path.open("rb") as f:
        sent = requests.post(
            post["url"],
            data=post["fields"],
            files={"file": (path.name, f, content_type)},
            timeout=HTTP_TIMEOUT_S,
        )
    sent.raise_for_status()
    return grant["image_id"]


def api_error_code(response: requests.Response) -> str | None:
    """The ``code`` of an API error answer ``{"error": {"code", "message"}}``, else None."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


def _raise_for_api_error(response: requests.Response) -> None:
    if response.ok:
        return
    try:
        error = response.json()["error"]
        detail = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        detail = response.text[:200]
    msg = f"HTTP {response.status_code} {detail}"
    raise requests.HTTPError(msg, response=response)


def classify_failure(error: Exception) -> tuple[str, str, str]:
    """``(status, reason, message)`` for an exception met while processing one file.

    The API refusing the file itself (413, 415, or 400 in its error shape) is ``rejected``
    with the pipeline's reason (see the module docstring); S3 refusing a presigned upload
    as too big (``EntityTooLarge``) is ``rejected``/``too_large``. Everything else is
    ``error``: ``connection_error``, ``timeout``, ``http_<status>`` (or the API's code for
    its 5xx answers), ``io_error`` reading the file, ``bad_response``.
    """
    message = str(error)
    if isinstance(error, requests.HTTPError) and error.response is not None:
        status_code = error.response.status_code
        code = api_error_code(error.response)
        if status_code in REFUSAL_STATUSES:
            reason = code or STATUS_REASONS.get(status_code)
            if reason is not None:
                return "rejected", reason, message
        if status_code == 400 and "<Code>EntityTooLarge</Code>" in error.response.text:
            return "rejected", "too_large", message
        return "error", code or f"http_{status_code}", message
    if isinstance(error, requests.Timeout):
        return "error", "timeout", message
    if isinstance(error, requests.ConnectionError):
        return "error", "connection_error", message
    if isinstance(error, OSError):
        return "error", "io_error", message
    return "error", "bad_response", f"{type(error).__name__}: {message}"


def wait_for(
    session: requests.Session,
    api_url: str,
    image_id: str,
    *,
    timeout_s: float,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Poll ``GET /images/{image_id}`` until its status is final; return the last item.

    Returns the last item seen (status still ``pending``) when ``timeout_s`` passes or
    ``stop`` is set.
    """
    deadline = time.monotonic() + timeout_s
    item: dict[str, Any] = {"image_id": image_id, "status": "pending"}
    while True:
        response = session.get(f"{api_url}/images/{image_id}", timeout=HTTP_TIMEOUT_S)
        if response.status_code == 200:
            item = response.json()
            if item.get("status") in FINAL_STATUSES:
                return item
        elif response.status_code != 404:  # 404: not recorded yet
            _raise_for_api_error(response)
        if time.monotonic() > deadline or (stop is not None and stop.is_set()):
            return item
        time.sleep(POLL_INTERVAL_S)


def _dims(item: dict[str, Any], prefix: str) -> tuple[int, int] | None:
    width, height = item.get(f"{prefix}_width"), item.get(f"{prefix}_height")
    return (int(width), int(height)) if width is not None and height is not None else None


def process_one(
    api_url: str,
    source: Source,
    *,
    timeout_s: float,
    api_max_body_bytes: int = API_MAX_BODY_BYTES,
    out_dir: Path | None = None,
    stop: threading.Event | None = None,
    token: str | None = None,
) -> ImageOutcome:
    """Upload ``source``, wait for its final status, save the rendition under ``out_dir``
    (``source.output_base`` plus the rendition's extension); never raises. ``token``: sent
    as ``Authorization`` to the API only (``AUTH_MODE=jwt``), never to S3."""
    path = source.path
    outcome = ImageOutcome(path=path)
    started = time.monotonic()
    with requests.Session() as session:
        if token:
            session.auth = ApiToken(api_url, token)
        try:
            outcome.image_id = upload(session, api_url, path, api_max_body_bytes=api_max_body_bytes)
            item = wait_for(session, api_url, outcome.image_id, timeout_s=timeout_s, stop=stop)
            outcome.elapsed_s = time.monotonic() - started
            if out_dir is not None and item.get("status") == "processed":
                outcome.outputs = save_renditions(session, item, out_dir / source.output_base)
                outcome.output = outcome.outputs[0]
        except (requests.RequestException, OSError, KeyError, ValueError) as e:
            outcome.status, outcome.reason, outcome.message = classify_failure(e)
            outcome.elapsed_s = time.monotonic() - started
            return outcome
    outcome.item = item
    outcome.status = str(item.get("status", "pending"))
    if outcome.status == "pending":
        outcome.reason, outcome.message = "timeout", f"not final after {timeout_s:g} s"
    else:
        outcome.reason = item.get("error_reason")
        outcome.message = item.get("error_message")
    outcome.original_size_bytes = item.get("original_size_bytes")
    stored = _dims(item, "original")
    outcome.original_dims = upright_size(*stored, item.get("orientation")) if stored else None
    outcome.processed_size_bytes = item.get("processed_size_bytes")
    outcome.processed_dims = _dims(item, "processed")
    return outcome


class ApiToken(requests.auth.AuthBase):
    """``Authorization: <token>`` on requests to the API; presigned S3 URLs go without."""

    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url.rstrip("/") + "/"
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the header when ``request`` goes to the API."""
        if str(request.url or "").startswith(self.api_url):
            request.headers["Authorization"] = self.token
        return request


def save_renditions(
    session: requests.Session, item: dict[str, Any], output_base: Path
) -> list[Path]:
    """Download every rendition of a processed item: the default one as
    :func:`save_rendition` does, each other one listed in ``renditions`` (with its ``url``)
    to ``output_base/<name>.<ext>`` (the engine CLI's layout); returns the paths written,
    the default first. An entry whose key does not end in a rendition file name is skipped.
    """
    paths = [save_rendition(session, item, output_base)]
    # the default rendition comes first (the API's view has no processed_key to compare)
    for entry in (item.get("renditions") or [])[1:]:
        key, url = str(entry.get("key", "")), entry.get("url")
        file_name = key.rsplit("/", 1)[-1]
        if not url or not RENDITION_FILE_RE.fullmatch(file_name):
            continue
        response = session.get(url, timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        path = output_base / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(response.content)
        paths.append(path)
    return paths


def save_rendition(session: requests.Session, item: dict[str, Any], output_base: Path) -> Path:
    """Download a processed item's rendition (its presigned ``download_url``) to
    ``output_base`` plus the rendition's extension; returns the path written."""
    # The API's public view has no processed_key: the URL's path ends like the rendition.
    name = urllib.parse.urlsplit(str(item.get("download_url", ""))).path.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    path = output_path(output_base, extension) if extension else output_base
    response = session.get(item["download_url"], timeout=HTTP_TIMEOUT_S)
    response.raise_for_status()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(response.content)
    return path


def run_batch(
    api_url: str,
    sources: list[Source],
    *,
    timeout_s: float = 120.0,
    concurrency: int = 4,
    api_max_body_bytes: int = API_MAX_BODY_BYTES,
    out_dir: Path | None = None,
    on_done: Callable[[ImageOutcome], None] | None = None,
    stop: threading.Event | None = None,
    token: str | None = None,
) -> list[ImageOutcome]:
    """Process ``sources`` (from :func:`plan_batch`) through the API, ``concurrency`` at a
    time; outcomes in input order.

    ``timeout_s`` bounds the wait for each image's final status after its upload. With
    ``out_dir``, renditions are saved there and every outcome is written, one JSON object
    per line with its ``file``, to ``out_dir/results.jsonl``: a line as each image ends,
    then the whole file again in input order. (Call :func:`forget_previous_run` first for
    a clean ``out_dir``.)
    """
    results = out_dir / RESULTS_FILE if out_dir is not None else None
    if results is not None:
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text("", encoding="utf-8")
    written = threading.Lock()

    def one(source: Source) -> ImageOutcome:
        if stop is not None and stop.is_set():
            return ImageOutcome(path=source.path, status="cancelled")
        outcome = process_one(
            api_url,
            source,
            timeout_s=timeout_s,
            api_max_body_bytes=api_max_body_bytes,
            out_dir=out_dir,
            stop=stop,
            token=token,
        )
        if results is not None:
            with written, results.open("a", encoding="utf-8") as f:
                f.write(result_line(outcome))
        if on_done is not None:
            on_done(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="upload") as pool:
        outcomes = list(pool.map(one, sources))
    if results is not None:
        partial = results.with_name(f".{RESULTS_FILE}.tmp")
        partial.write_text("".join(result_line(o) for o in outcomes), encoding="utf-8")
        os.replace(partial, results)
    return outcomes


def result_line(outcome: ImageOutcome) -> str:
    """One line of ``results.jsonl``: the outcome and its metadata item, as JSON."""
    record = {
        "file": str(outcome.path),
        "status": outcome.status,
        "reason": outcome.reason,
        "message": outcome.message,
        "output": str(outcome.output) if outcome.output else None,
        "outputs": [str(path) for path in outcome.outputs],
        "elapsed_s": round(outcome.elapsed_s, 3),
        "item": outcome.item or None,
    }
    return json.dumps(record, default=str) + "\n"


def forget_previous_run(out_dir: Path, *, keep: Iterable[Path] = ()) -> list[Path]:
    """Remove the renditions the previous run wrote under ``out_dir``; the paths removed.

    Only what that run's ``results.jsonl`` lists as an ``output`` goes, and only if it is
    still the file that run wrote: a regular file inside ``out_dir`` (symlinks not
    followed out of it) of the size its item records, and not one of ``keep`` (this run's
    inputs). Folders left empty by a removal go too, up to ``out_dir``. Anything else in
    ``out_dir`` (a file of the user's, an unreadable results file) stays as it is.
    """
    results = out_dir / RESULTS_FILE
    try:
        lines = results.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    root = out_dir.resolve()
    kept = {file_identity(path) for path in keep} - {None}
    removed: list[Path] = []
    for output, size in _written_files(lines):
        try:
            resolved = output.parent.resolve() / output.name
            st = output.lstat()
        except (OSError, ValueError):
            continue
        if not resolved.is_relative_to(root) or resolved.parent == resolved:
            continue
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in kept:
            continue
        if isinstance(size, int) and st.st_size != size:
            continue  # not what that run wrote any more
        with contextlib.suppress(OSError):
            output.unlink()
            removed.append(output)
            _remove_empty_parents(resolved.parent, root)
    return removed


def _written_files(lines: Iterable[str]) -> Iterator[tuple[Path, object]]:
    """Each file a ``results.jsonl`` says its run wrote, with the size its item records:
    the default rendition, then the rest of a rendition set (same order as the item's)."""
    for line in lines:
        try:
            record = json.loads(line)
            item = record.get("item") or {}
            outputs = [Path(p) for p in record.get("outputs") or [record["output"]]]
            sizes = [r.get("bytes") for r in item.get("renditions") or []]
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if len(sizes) != len(outputs):
            sizes = [item.get("processed_size_bytes"), *[None] * (len(outputs) - 1)]
        yield from zip(outputs, sizes, strict=True)


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            return
        folder = folder.parent


def _size(size_bytes: int | None, dims: tuple[int, int] | None) -> str:
    if size_bytes is None:
        return ""
    text = human_size(size_bytes)
    return f"{dims[0]}x{dims[1]}, {text}" if dims else text


def _dims_text(dims: tuple[int, int] | None) -> str:
    return f"{dims[0]}x{dims[1]}" if dims else ""


def status_text(outcome: ImageOutcome, *, max_message_chars: int = 160) -> str:
    """``processed``, ``rejected (too_large)``; for the rest also the message:
    ``error (http_503): HTTP 503 ...``, ``error (io_error): [Errno 2] ...``."""
    text = _status_reason(outcome)
    message = _message(outcome, max_message_chars)
    if message and outcome.status not in ("processed", "rejected"):
        text += f": {message}"
    return text


def _status_reason(outcome: ImageOutcome) -> str:
    return outcome.status if not outcome.reason else f"{outcome.status} ({outcome.reason})"


def _message(outcome: ImageOutcome, max_chars: int = 160) -> str:
    """The message for a person: printable, at most ``max_chars``; a refusal's HTTP
    detail (``HTTP 415 unsupported_format: ``) left to results.jsonl."""
    message = printable(outcome.message or "")
    if outcome.status == "rejected":
        message = HTTP_DETAIL.sub("", message, count=1)
    return message if len(message) <= max_chars else message[: max_chars - 1] + "…"


COLOURS = {"processed": "green", "rejected": "yellow"}
HTTP_DETAIL = re.compile(r"^HTTP \d{3} [a-z_]+: ")  # how _raise_for_api_error starts a message


def summary_table(outcomes: list[ImageOutcome], *, width: int = 200) -> Table:
    """A rich table of ``outcomes`` that reads whole within ``width`` columns.

    Wide: file, image_id, status (with the reason), original, rendition, time, message.
    Narrower, ``image_id`` then ``time`` go; narrower still (80 columns), the status is the
    word alone and the reason leads the message, the sizes become ``WxH -> wxh``. Status
    words and reason codes are never folded (:func:`imgproc.cli_report.fit_table`).
    """
    wide = _wide_table(outcomes)
    if fit_table(wide, width, drop=("image_id", "time")):
        return wide
    narrow = _narrow_table(outcomes)
    fit_table(narrow, width, drop=("time",))
    return narrow


def _new_table(outcomes: list[ImageOutcome]) -> Table:
    table = Table(title="local pipeline: batch summary", title_justify="left")
    done = sum(o.status == "processed" for o in outcomes)
    table.caption = f"{done} of {len(outcomes)} processed"
    table.add_column("file", overflow="fold", min_width=MIN_NAME_WIDTH)
    return table


def _wide_table(outcomes: list[ImageOutcome]) -> Table:
    table = _new_table(outcomes)
    table.add_column("image_id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for column in ("original", "rendition", "time"):
        table.add_column(column, justify="right", no_wrap=True)
    messages = [_message(o) if o.status != "processed" else "" for o in outcomes]
    if any(messages):
        table.add_column("message", overflow="fold", min_width=MIN_REASON_WIDTH)
    for o, message in zip(outcomes, messages, strict=True):
        cells: list[Text | str] = [
            Text(printable(str(o.path))),
            o.image_id or "",
            Text(
                status_text(o, max_message_chars=0).split(":", 1)[0], COLOURS.get(o.status, "red")
            ),
            _size(o.original_size_bytes, o.original_dims),
            _size(o.processed_size_bytes, o.processed_dims),
            f"{o.elapsed_s:.2f} s",
        ]
        table.add_row(*cells, *([Text(message)] if any(messages) else []))
    return table


def _narrow_table(outcomes: list[ImageOutcome]) -> Table:
    table = _new_table(outcomes)
    table.add_column("status", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    reasons = [
        ": ".join(x for x in (o.reason or "", _message(o)) if x) if o.status != "processed" else ""
        for o in outcomes
    ]
    if any(reasons):
        table.add_column("reason", overflow="fold", min_width=MIN_REASON_WIDTH)
    for o, reason in zip(outcomes, reasons, strict=True):
        sizes = " -> ".join(
            x for x in (_dims_text(o.original_dims), _dims_text(o.processed_dims)) if x
        )
        cells: list[Text | str] = [
            Text(printable(str(o.path))),
            Text(o.status, COLOURS.get(o.status, "red")),
            sizes,
            f"{o.elapsed_s:.2f} s",
        ]
        table.add_row(*cells, *([Text(reason)] if any(reasons) else []))
    return table
