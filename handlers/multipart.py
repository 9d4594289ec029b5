"""multipart/form-data bodies (what ``curl -F file=@photo.jpg`` sends), in memory.

Wraps python-multipart's streaming ``MultipartParser`` with callbacks, so parts never
spill to temporary files (its ``FormParser`` would write files over 1 MiB to disk).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data or lacks the wanted field."""


class PartTooLarge(ValueError):
    """The wanted part is bigger than allowed; ``size_bytes`` is how much was seen."""

    def __init__(self, size_bytes: int, max_bytes: int) -> None:
        super().__init__(f"expected at most {max_bytes} bytes, got at least {size_bytes}")
        self.size_bytes = size_bytes
        self.max_bytes = max_bytes


@dataclass(frozen=True, slots=True)
class FilePart:
    """One form part: field name, client file name (may be empty), declared type, bytes."""

    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class _PartState:
    headers: dict[str, str] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    name: str = ""
    filename: str = ""
    chunks: list[bytes] = field(default_factory=list)
    size_bytes: int = 0


def is_multipart(content_type: str | None) -> bool:
    """True for a ``multipart/form-data`` Content-Type header."""
    ctype, _ = parse_options_header(content_type or "")
    return ctype == b"multipart/form-data"


def file_field(body: bytes, content_type: str, *, name: str = "file", max_bytes: int) -> FilePart:
    """The part named ``name`` of a multipart/form-data ``body``; exactly one is expected.

    Args:
        body: the whole request body.
        content_type: the request's Content-Type header (carries the boundary).
        name: the form field wanted (``file``).
        max_bytes: largest accepted part, bytes.

    Raises:
        MultipartError: no boundary, malformed body, a body cut before its closing
            boundary, no such field, or the field given more than once (ambiguous).
        PartTooLarge: the part exceeds ``max_bytes`` (parsing stops early).
    """
    ctype, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        msg = "expected Content-Type multipart/form-data with a boundary"
        raise MultipartError(msg)

    state = _PartState()
    found: list[FilePart] = []
    ended: list[bool] = []
    seen = 0

    def on_part_begin() -> None:
        nonlocal state
        state = _PartState()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state.header_value += data[start:end]

    def on_header_end() -> None:
        key = state.header_field.decode("latin-1").strip().lower()
        state.headers[key] = state.header_value.decode("latin-1").strip()
        state.header_field.clear()
        state.header_value.clear()

    def on_headers_finished() -> None:
        nonlocal seen
        _, disposition = parse_options_header(state.headers.get("content-disposition", ""))
        state.name = _text(disposition.get(b"name", b""))
        state.filename = _text(disposition.get(b"filename", b""))
        if state.name == name:
            seen += 1

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state.name != name or found:
            return
        state.size_bytes += end - start
        if state.size_bytes > max_bytes:
            raise PartTooLarge(state.size_bytes, max_bytes)
        state.chunks.append(data[start:end])

    def on_part_end() -> None:
        if state.name == name and not found:
            found.append(
                FilePart(
                    name=state.name,
                    filename=state.filename,
                    content_type=state.headers.get("content-type", ""),
                    data=b"".join(state.chunks),
                )
            )

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": lambda: ended.append(True),
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as e:
        msg = f"malformed multipart body: {e}"
        raise MultipartError(msg) from e
    if not ended:
        msg = "malformed multipart body: it ends before the closing boundary"
        raise MultipartError(msg)
    if not found:
        msg = f"expected a form field named {name!r} holding the image"
        raise MultipartError(msg)
    if seen > 1:
        msg = f"expected one form field named {name!r}, got {seen}; send one image per request"
        raise MultipartError(msg)
    return found[0]


def _text(raw: bytes) -> str:
    """Header parameter bytes (latin-1 round trip of what the client sent) as UTF-8 text."""
    return raw.decode("utf-8", errors="replace")
