"""Pure rules about identifiers and S3 keys (no I/O).

- image ids: 32 lowercase hex characters; ``uuid4().hex`` for API uploads, a SHA-256
  prefix of bucket and key for direct S3 uploads (one item per key: a new version of the
  key updates the same item, as its rendition replaces the same rendition key).
- rendition keys: derived from the source key under the processed prefix, at most
  1,024 bytes of UTF-8 (S3's limit), never leaving the prefix: the default rendition at
  :func:`rendition_key` (``photos/cat.jpg``), every other rendition of a set in the
  source's folder, :func:`rendition_folder` (``photos/cat.jpg/w640.avif``).
- upload keys: ``{uploads_prefix}{image_id}/{sanitised filename}``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from urllib.parse import quote, unquote

from imgproc.sniff import IMAGE_SUFFIXES

MAX_KEY_BYTES = 1024  # S3 object key limit, bytes of UTF-8
MAX_FILENAME_BYTES = 200
MAX_METADATA_VALUE_CHARS = 1024  # S3 allows 2 KB of user metadata in total
MAX_RENDITION_FILE_BYTES = 32 + 1 + 4
"""Longest ``<name>.<ext>`` of a rendition: a name is at most 32 characters of a-z 0-9 _ -
(:mod:`imgproc.renditions`), an extension at most 4 (``avif``, ``webp``)."""
IMAGE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\\]")
_FILENAME_BAD_RE = re.compile(r"[^\w.\-]+")
_KNOWN_EXTENSIONS = frozenset(suffix[1:] for suffix in IMAGE_SUFFIXES)
# Extensions that already name an output format: such a source key keeps its name.
_SAME_FORMAT_EXTENSIONS = {
    "jpg": frozenset({"jpg", "jpeg", "jpe"}),
    "png": frozenset({"png"}),
    "webp": frozenset({"webp"}),
}


def new_image_id() -> str:
    """A fresh image id for an API upload: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def is_image_id(value: object) -> bool:
    """True when ``value`` has the image id shape (32 lowercase hex characters)."""
    return isinstance(value, str) and bool(IMAGE_ID_RE.match(value))


def direct_image_id(bucket: str, key: str) -> str:
    """Deterministic image id of a direct S3 upload: one per (bucket, key).

    Returns 32 lowercase hex characters (the first half of a SHA-256 of bucket and key),
    so a redelivered event and a new version of the key find the same item, which then
    records the revision it describes (``source_revision``).
    """
    digest = hashlib.sha256("\x00".join(("s3", bucket, key)).encode("utf-8"))
    return digest.hexdigest()[:32]


def image_id_from_upload_key(key: str, uploads_prefix: str) -> str | None:
    """The image id in an API upload key ``{uploads_prefix}{image_id}/...``, else ``None``."""
    if not uploads_prefix or not key.startswith(uploads_prefix):
        return None
    candidate = key[len(uploads_prefix) :].split("/", 1)[0]
    return candidate if is_image_id(candidate) else None


DIRECT_OWNER_PREFIX = "users/"


def owner_from_direct_key(key: str) -> str | None:
    """The owner of a direct S3 upload at ``users/<owner>/<anything>``, else ``None``.

    ``<owner>`` is the owner id percent-encoded as one segment (``quote(owner, safe="")``:
    an IAM ARN's ``/`` and ``:`` become ``%2F``, ``%3A``); a Cognito ``sub`` is itself.
    Whoever may write to the uploads bucket is trusted to name the owner (bucket writers
    are operators and back-end services, not API callers). Other keys have no owner.
    """
    if not key.startswith(DIRECT_OWNER_PREFIX):
        return None
    segment, sep, rest = key[len(DIRECT_OWNER_PREFIX) :].partition("/")
    owner = unquote(segment)
    if not sep or not rest or not owner or not owner.isprintable():
        return None
    return owner


def upload_key(uploads_prefix: str, image_id: str, filename: str) -> str:
    """Key of an API upload: ``{uploads_prefix}{image_id}/{filename}``."""
    return f"{uploads_prefix}{image_id}/{filename}"


def sanitise_filename(filename: str | None, *, extension: str | None = None) -> str:
    """A safe single-segment file name from a client-supplied one.

    Keeps letters and digits of any script, ``.``, ``-`` and ``_`` (NFC-normalised); drops
    any directory part (``/`` or ``\\``), leading dots and runs of other characters (to
    ``_``); caps the name at 200 bytes of UTF-8. When the result has no image extension
    and ``extension`` (``"jpg"``...) is given, it is appended. Never returns an empty
    string: the fallback is ``image``.
    """
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[/\\]", name)[-1]
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip("."):
        stem, ext = name, ""  # "README", ".hidden": no extension
    ext = _FILENAME_BAD_RE.sub("", ext)
    if ext.lower() not in _KNOWN_EXTENSIONS and extension:
        stem, ext = f"{stem}.{ext}" if ext else stem, extension
    stem = _FILENAME_BAD_RE.sub("_", stem).strip("._-") or "image"
    suffix = f".{ext}" if ext else ""
    stem = truncate_utf8(stem, MAX_FILENAME_BYTES - len(suffix.encode("utf-8")))
    return f"{stem}{suffix}"


def rendition_key(source_key: str, processed_prefix: str, extension: str) -> str:
    """Key of the default rendition of ``source_key`` in the processed bucket.

    ``photos/cat.jpg`` (or ``cat.JPEG``) with prefix ``processed/`` and extension ``jpg``
    keeps its name: ``processed/photos/cat.jpg``. Any other name gets the output
    extension appended: ``photos/cat.png`` -> ``processed/photos/cat.png.jpg``, so
    ``cat.png`` and ``cat.jpg`` side by side keep distinct renditions (replacing the
    extension would give both ``cat.jpg``).

    The source key is treated as text, never as a path to resolve: empty, ``.`` and
    ``..`` segments (also percent-encoded ones such as ``%2e%2e`` or ``..%2f``) are
    dropped and control characters and backslashes become ``_``, so the result always
    starts with ``processed_prefix`` and holds no dot segment. Whenever that cleaning
    changed the key, or the key would exceed 1,024 bytes of UTF-8 (the name is then cut on
    a character boundary), a 16-hex hash of the exact source key is added before the
    extension, so distinct source keys keep distinct renditions.

    Caveat: a source literally named ``a.png.jpg`` and an opaque ``a.png`` share a
    rendition key; the metadata item of each still names its own source.
    """
    segments, changed = _clean_segments(source_key)
    stem, dot, ext = segments[-1].rpartition(".")
    keeps_name = bool(dot and stem) and ext.lower() in _SAME_FORMAT_EXTENSIONS.get(
        extension, frozenset({extension})
    )
    if keeps_name:
        segments[-1] = stem
        extension = ext
    return _fitted(source_key, processed_prefix, "/".join(segments), f".{extension}", changed)


def rendition_folder(source_key: str, processed_prefix: str) -> str:
    """``{processed_prefix}{source_key}/``: where every rendition of ``source_key`` but the
    default one is stored, as ``<folder><name>.<ext>`` (:func:`set_rendition_key`).

    One prefix delete of the folder (plus :func:`rendition_key`) removes every rendition of
    the source; a CDN function can map ``<folder><name>`` and an ``Accept`` header to a
    file. The source key is cleaned and cut as in :func:`rendition_key` (a 16-hex hash of
    the exact source key before the ``/`` when that changed it), leaving room for the
    longest file name (:data:`MAX_RENDITION_FILE_BYTES`) within S3's 1,024 bytes.

    Caveat: a source key that itself lies in another source's folder (``a.jpg/w320.jpg``
    beside ``a.jpg``) has its default rendition at a key that ``a.jpg``'s ``w320``
    rendition also uses; the metadata item of each still names its own source.
    """
    segments, changed = _clean_segments(source_key)
    folder = _fitted(
        source_key,
        processed_prefix,
        "/".join(segments),
        "/",
        changed,
        reserve=MAX_RENDITION_FILE_BYTES,
    )
    return folder


def set_rendition_key(source_key: str, processed_prefix: str, file_name: str) -> str:
    """Key of a rendition other than the default: ``{rendition_folder}{file_name}``.

    ``file_name`` is :attr:`imgproc.RenditionResult.file_name` (``w640.avif``).

    Raises:
        ValueError: ``file_name`` is longer than :data:`MAX_RENDITION_FILE_BYTES` or holds
            a ``/`` (a rendition name never does).
    """
    if "/" in file_name or len(file_name.encode("utf-8")) > MAX_RENDITION_FILE_BYTES:
        msg = f"expected a rendition file name of at most {MAX_RENDITION_FILE_BYTES} bytes"
        raise ValueError(f"{msg}, got {file_name!r}")
    return rendition_folder(source_key, processed_prefix) + file_name


def _clean_segments(source_key: str) -> tuple[list[str], bool]:
    """The source key's safe segments (never empty) and whether cleaning changed the key."""
    cleaned = _CONTROL_RE.sub("_", source_key)
    segments = [s for s in cleaned.split("/") if not _is_unsafe_segment(s)]
    changed = "/".join(segments) != source_key
    return segments or ["image"], changed


def _fitted(
    source_key: str, prefix: str, body: str, suffix: str, changed: bool, *, reserve: int = 0
) -> str:
    """``{prefix}{body}{suffix}`` within S3's key limit (less ``reserve`` bytes); when
    ``changed`` or too long, ``body`` is cut and a hash of ``source_key`` added before
    ``suffix``."""
    limit = MAX_KEY_BYTES - reserve
    key = f"{prefix}{body}{suffix}"
    if not changed and len(key.encode("utf-8")) <= limit:
        return key
    digest = hashlib.sha256(source_key.encode("utf-8")).hexdigest()[:16]
    tail = f"-{digest}{suffix}"
    room = limit - len(prefix.encode("utf-8")) - len(tail.encode("utf-8"))
    if room < 1:
        msg = f"processed prefix of {len(prefix)} characters leaves no room for a key"
        raise ValueError(msg)
    body = truncate_utf8(body, room).rstrip("/") or "image"
    return f"{prefix}{body}{tail}"


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Longest prefix of ``text`` whose UTF-8 encoding fits in ``max_bytes`` bytes.

    Cuts on a character boundary, and never between a base character and the combining
    marks that follow it (so NFD text keeps whole graphemes where it can).
    """
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    cut = encoded[:max_bytes].decode("utf-8", errors="ignore")
    while cut and unicodedata.combining(text[len(cut)] if len(cut) < len(text) else "a"):
        cut = cut[:-1]
    return cut


def metadata_safe(value: str) -> tuple[str, bool]:
    """Percent-encode ``value`` for S3 user metadata (which must be ASCII).

    Returns ``(encoded, truncated)``: at most 1,024 characters, cut between characters;
    ``urllib.parse.unquote`` restores the (possibly cut) original.
    """
    encoded = quote(value, safe="/")
    if len(encoded) <= MAX_METADATA_VALUE_CHARS:
        return encoded, False
    parts: list[str] = []
    used = 0
    for char in value:  # cut between characters, never inside a UTF-8 escape sequence
        piece = quote(char, safe="/")
        if used + len(piece) > MAX_METADATA_VALUE_CHARS:
            break
        parts.append(piece)
        used += len(piece)
    return "".join(parts), True


def _is_unsafe_segment(segment: str) -> bool:
    """True for segments a path resolver could collapse or split into dot segments.

    Empty, ``.`` and ``..``, also after undoing up to three rounds of percent-encoding,
    and segments that decode to something holding a ``.``/``..`` part (``..%2f``).
    """
    value = segment
    for _ in range(3):
        decoded = unquote(value)
        if decoded == value:
            break
        value = decoded
    if value.strip() in {"", ".", ".."}:
        return True
    parts = re.split(r"[/\\]", value)
    return len(parts) > 1 and any(p.strip() in {".", ".."} for p in parts)
