"""multipart/form-data bodies (what ``curl -F file=@photo.jpg`` sends), in memory.

Wraps python-multipart's streaming ``MultipartParser`` with callbacks, so parts never
spill to temporary files (its ``FormParser`` would write files over 1 MiB to disk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks


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


def is_multipart(content_type: str | None) -> bool:
    """True for a ``multipart/form-data`` Content-Type header.

    Raises:
        MultipartError: the header holds characters outside Latin-1 (HTTP header values
            are bytes; python-multipart encodes them as Latin-1 and cannot read others).
    """
    ctype, _ = _parse_content_type(content_type or "")
    return ctype == b"multipart/form-data"


def _parse_content_type(content_type: str) -> tuple[bytes, dict[bytes, bytes]]:
    """python-multipart's ``parse_options_header``, with its ``UnicodeEncodeError`` as a
    :class:`MultipartError`."""
    try:
        return parse_options_header(content_type)
    except UnicodeEncodeError as e:
        msg = (
            "the Content-Type header holds characters outside Latin-1; send "
            "multipart/form-data with an ASCII boundary, or the image's own type"
        )
        raise MultipartError(msg) from e


def file_field(body: bytes, content_type: str, *, name: str = "file", max_bytes: int) -> FilePart:
    """The part named ``name`` of a multipart/form-data ``body``; exactly one is expected.

    Args:
        body: the whole request body.
        content_type: the request's Content-Type header (carries the boundary).
        name: the form field wanted (``file``).
        max_bytes: largest accepted part, bytes.

    Raises:
        MultipartError: no boundary, a boundary over 256 bytes, a header outside
            Latin-1, malformed body, a body cut before its closing boundary, no such
            field, or the field given more than once (ambiguous).
        PartTooLarge: the part exceeds ``max_bytes`` (parsing stops early).
    """
    ctype, params = _parse_content_type(content_type)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        msg = "expected Content-Type multipart/form-data with a boundary"
        raise MultipartError(msg)
    collector = _FieldCollector(name, max_bytes)
    try:  # the constructor checks the boundary (at most 256 bytes, RFC 2046's 70 + slack)
        parser = MultipartParser(boundary, collector.callbacks())
        parser.write(body)
        parser.finalize()
    except FormParserError as e:
        msg = f"malformed multipart body: {e}"
        raise MultipartError(msg) from e
    return collector.result()


class _FieldCollector:
    """Collects the first part named ``name`` as python-multipart's callbacks report it.

    The parser calls, per part: ``on_part_begin``, then ``on_header_field`` /
    ``on_header_value`` pieces and ``on_header_end`` per header, ``on_headers_finished``,
    ``on_part_data`` pieces, ``on_part_end``; and ``on_end`` after the closing boundary.
    """

    def __init__(self, name: str, max_bytes: int) -> None:
        self.name = name
        self.max_bytes = max_bytes
        self.found: FilePart | None = None
        self.times_seen = 0
        self.ended = False
        self._start_part()

    def callbacks(self) -> MultipartCallbacks:
        """The callbacks for ``MultipartParser``."""
        return {
            "on_part_begin": self._start_part,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def result(self) -> FilePart:
        """The part, once the whole body was written.

        Raises:
            MultipartError: body cut before its closing boundary, no such field, or more
                than one.
        """
        if not self.ended:
            msg = "malformed multipart body: it ends before the closing boundary"
            raise MultipartError(msg)
        if self.found is None:
            msg = f"expected a form field named {self.name!r} holding the image"
            raise MultipartError(msg)
        if self.times_seen > 1:
            msg = (
                f"expected one form field named {self.name!r}, got {self.times_seen}; "
                "send one image per request"
            )
            raise MultipartError(msg)
        return self.found

    def _start_part(self) -> None:
        self.headers: dict[str, str] = {}
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.part_name = ""
        self.filename = ""
        self.chunks: list[bytes] = []
        self.size_bytes = 0

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _header_end(self) -> None:
        key = self.header_field.decode("latin-1").strip().lower()
        self.headers[key] = self.header_value.decode("latin-1").strip()
        self.header_field.clear()
        self.header_value.clear()

    def _headers_finished(self) -> None:
        _, disposition = parse_options_header(self.headers.get("content-disposition", ""))
        self.part_name = _text(disposition.get(b"name", b""))
        self.filename = _text(disposition.get(b"filename", b""))
        if self.part_name == self.name:
            self.times_seen += 1

    def _wanted(self) -> bool:
        """This part is the field, and the first one of that name."""
        return self.part_name == self.name and self.found is None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._wanted():
            return
        self.size_bytes += end - start
        if self.size_bytes > self.max_bytes:
            raise PartTooLarge(self.size_bytes, self.max_bytes)
        self.chunks.append(data[start:end])

    def _part_end(self) -> None:
        if self._wanted():
            self.found = FilePart(
                name=self.part_name,
                filename=self.filename,
                content_type=self.headers.get("content-type", ""),
                data=b"".join(self.chunks),
            )

    def _end(self) -> None:
        self.ended = True


def _text(raw: bytes) -> str:
    """Header parameter bytes (latin-1 round trip of what the client sent) as UTF-8 text."""
    return raw.decode("utf-8", errors="replace")
