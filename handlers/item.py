"""The metadata item: one per image, its fields named here and only here (DESIGN.md Contract 2).

An item is created ``pending`` by the API (:func:`pending_item`) or directly by the
resize function, then records one outcome (``processed``, ``rejected`` or ``failed``) for
the source *revision* it describes: the object's version id, else its ETag
(``source_revision``). What a write sets is built by the functions below from the engine's
facts; the stores (:mod:`handlers.dynamo_store`, :mod:`handlers.memory_store`) add
``source_revision`` and ``listing`` and apply :func:`refusal`, the rule that keeps one
outcome per revision and the newest revision's item.

Field types are plain Python values (ints, not Decimals). In the fields given to
``MetadataStore.record`` a ``None`` value means "remove this attribute".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypedDict, TypeGuard

from handlers.events import format_utc
from handlers.keys import owner_from_direct_key
from imgproc import ImageRejected, RenditionResult, Result, SetResult

Status = Literal["pending", "processed", "rejected", "failed"]
Origin = Literal["api", "s3"]
FINAL_STATUSES: tuple[Status, ...] = ("processed", "rejected")
"""Outcomes that end a revision: a later delivery of the same revision is a duplicate."""
OPEN_STATUSES: tuple[Status, ...] = ("pending", "failed")
"""States a revision's outcome may still replace."""
LISTING = "images"
"""The constant ``listing`` of every item: the partition key of the newest-first index."""
TTL_ATTRIBUTE: Final = "expires_at"
"""Epoch seconds after which an unused upload grant's pending item may be deleted."""
REVISION = "source_revision"
EVENT_TIME = "source_event_time"


class RenditionEntry(TypedDict):
    """One stored rendition of a set, in the item's ``renditions`` list.

    ``format`` is Pillow's name (``JPEG``, ``PNG``, ``WEBP``, ``AVIF``); ``width`` and
    ``height`` in pixels, upright; ``bytes`` the object's length.
    """

    name: str
    key: str
    format: str
    content_type: str
    width: int
    height: int
    bytes: int


class CollapsedEntry(TypedDict):
    """A rendition of the set not stored because ``same_as`` (a key in ``renditions``) holds
    the same pixels and encoding (``format`` is that rendition's): sizes above the original
    collapse into one."""

    name: str
    format: str
    same_as: str


class RenditionFields(TypedDict, total=False):
    """What a ``processed`` outcome records about the renditions and the original.

    The ``processed_*`` fields and ``content_type`` describe the default rendition (the
    set's first, at the default key); ``renditions`` lists every stored one, the default
    first; ``collapsed`` the renditions of the set not made (see :class:`CollapsedEntry`).
    ``dominant_color`` (``#rrggbb``) and ``blurhash`` are placeholders computed from the
    smallest rendition; ``upright_width``/``upright_height`` the original's size once
    upright; ``sha256`` the original's bytes; ``animated``: the original has more than one
    frame and every rendition is a still of the first.
    """

    processed_bucket: str
    processed_key: str
    processed_width: int
    processed_height: int
    processed_size_bytes: int
    content_type: str
    original_width: int
    original_height: int
    original_format: str
    original_mode: str
    has_alpha: bool
    orientation: int | None
    icc_converted: bool
    renditions: list[RenditionEntry]
    collapsed: list[CollapsedEntry]
    dominant_color: str
    blurhash: str
    upright_width: int
    upright_height: int
    sha256: str
    animated: bool


class ErrorFields(TypedDict, total=False):
    """What a ``rejected`` or ``failed`` outcome records: a reason code and a message."""

    error_reason: str
    error_message: str


class ImageItem(RenditionFields, ErrorFields, total=False):
    """Every field an item may hold (all optional: a write sets some, the store adds others).

    Times are ISO 8601 UTC with milliseconds (``2024-05-01T12:00:00.000Z``).
    """

    image_id: str
    status: Status
    origin: Origin
    listing: str
    filename: str
    uploaded_at: str
    updated_at: str
    processed_at: str
    expires_at: int
    source_bucket: str
    source_key: str
    source_etag: str | None
    source_version_id: str | None
    source_event_time: str | None
    source_revision: str
    original_size_bytes: int
    original_content_type: str | None
    owner: str | None
    upload_token: str


INTERNAL_FIELDS: tuple[str, ...] = (
    "listing",
    REVISION,
    TTL_ATTRIBUTE,
    "source_bucket",
    "source_key",
    "source_etag",
    "source_version_id",
    EVENT_TIME,
    "processed_bucket",
    "processed_key",
    "owner",
    "upload_token",
)
"""Kept in the table and the logs, never shown by the API (issue 12's security pass): bucket
names carry the account id, direct uploaders' keys are their paths, revisions and owners
are nobody else's business, and ``upload_token`` is the secret that binds an API item to the
one object its upload created."""


RENDITION_FIELDS: tuple[str, ...] = tuple(sorted(RenditionFields.__optional_keys__))
"""Removed when a revision is rejected or fails: they describe an earlier rendition."""
ERROR_FIELDS: tuple[str, ...] = tuple(sorted(ErrorFields.__optional_keys__))
"""Removed when a revision is processed."""


def utc_now() -> str:
    """Now as the item stores times: ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return format_utc(datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class SourceRevision:
    """The object revision an outcome describes, once the resize function identified it.

    Attributes:
        image_id: the item's id.
        origin: ``"api"`` (an API upload: its pending item keeps ``uploaded_at`` and
            ``filename``) or ``"s3"`` (a direct upload).
        bucket, key: where the source object is (the exact key).
        revision: version id, else ETag.
        etag: ETag without quotes.
        version_id: version id, ``None`` in an unversioned bucket.
        event_time: the S3 event time of this revision, when the event had one.
        size_bytes: ContentLength from the HEAD.
        upload_token: the ``upload-token`` object metadata, when the object carries one.
    """

    image_id: str
    origin: Origin
    bucket: str
    key: str
    revision: str
    etag: str
    version_id: str | None
    event_time: str | None
    size_bytes: int
    upload_token: str | None = None


def pending_item(
    *,
    image_id: str,
    filename: str,
    bucket: str,
    key: str,
    content_type: str | None,
    uploaded_at: str,
    size_bytes: int | None = None,
    expires_at: int | None = None,
    owner: str | None = None,
    upload_token: str | None = None,
) -> ImageItem:
    """The ``pending`` item of an API upload (``POST /images`` or ``POST /uploads``).

    ``size_bytes`` when the bytes are at hand; ``expires_at`` (epoch seconds) for an upload
    grant whose object may never arrive; ``owner``: the caller (:mod:`handlers.auth`);
    ``upload_token``: the secret the uploaded object must carry as ``upload-token``
    metadata to complete this item (:func:`handlers.decision.is_issued_upload`). ``None``
    values are left out of the item.
    """
    item: ImageItem = {
        "image_id": image_id,
        "status": "pending",
        "origin": "api",
        "filename": filename,
        "source_bucket": bucket,
        "source_key": key,
        "original_content_type": content_type,
        "uploaded_at": uploaded_at,
    }
    if size_bytes is not None:
        item["original_size_bytes"] = size_bytes
    if expires_at is not None:
        item[TTL_ATTRIBUTE] = expires_at
    if owner is not None:
        item["owner"] = owner
    if upload_token is not None:
        item["upload_token"] = upload_token
    return item


def revision_fields(source: SourceRevision, *, now: str) -> tuple[ImageItem, ImageItem]:
    """``(fields, keep_if_present)`` describing ``source`` in an outcome write.

    A direct upload's item describes the version at hand, so a new version moves
    ``uploaded_at`` (its event time) and ``filename`` along; an API upload keeps the
    values of its pending item (set only when absent). ``None`` values (no version id, no
    event time) remove what an earlier revision recorded. A direct upload's ``owner``
    comes from its key (:func:`handlers.keys.owner_from_direct_key`: ``users/<owner>/...``);
    elsewhere it has none, so only ``AUTH_MODE=none`` listings (and the table) show it.
    """
    fields: ImageItem = {
        "image_id": source.image_id,
        "source_bucket": source.bucket,
        "source_key": source.key,
        "source_etag": source.etag,
        "source_version_id": source.version_id,
        "source_event_time": source.event_time,
        "original_size_bytes": source.size_bytes,
        "origin": source.origin,
        "updated_at": now,
    }
    upload: ImageItem = {
        "uploaded_at": source.event_time or now,
        "filename": source.key.rsplit("/", 1)[-1],
    }
    if source.origin == "api":
        return fields, upload
    fields.update(upload)
    fields["owner"] = owner_from_direct_key(source.key)
    return fields, {}


def processed_fields(result: Result, *, bucket: str, key: str, now: str) -> ImageItem:
    """The ``processed`` outcome: where the rendition is and what the engine reported."""
    return {
        "status": "processed",
        "processed_at": now,
        "processed_bucket": bucket,
        "processed_key": key,
        "processed_width": result.width,
        "processed_height": result.height,
        "processed_size_bytes": result.size_bytes,
        "content_type": result.content_type,
        "original_width": result.original_width,
        "original_height": result.original_height,
        "original_format": result.original_format,
        "original_mode": result.original_mode,
        "has_alpha": result.has_alpha,
        "orientation": result.orientation,
        "icc_converted": result.icc_converted,
    }


def processed_set_fields(result: SetResult, *, bucket: str, keys: list[str], now: str) -> ImageItem:
    """The ``processed`` outcome of a rendition set stored at ``keys`` (one per rendition of
    ``result.renditions``, in order; the first is the default key): :func:`processed_fields`
    of the default rendition, then the set's own fields (:class:`RenditionFields`).

    Raises:
        ValueError: ``keys`` does not match ``result.renditions`` one to one.
    """
    if len(keys) != len(result.renditions):
        msg = f"expected {len(result.renditions)} keys, one per rendition, got {len(keys)}"
        raise ValueError(msg)
    stored = {r.file_name: (r, key) for r, key in zip(result.renditions, keys, strict=True)}
    fields = processed_fields(result.primary_result(), bucket=bucket, key=keys[0], now=now)
    fields["renditions"] = [
        rendition_entry(r, key) for r, key in zip(result.renditions, keys, strict=True)
    ]
    fields["collapsed"] = [
        {"name": c.name, "format": stored[c.same_as][0].format, "same_as": stored[c.same_as][1]}
        for c in result.collapsed
    ]
    fields.update(
        {
            "dominant_color": result.dominant_color,
            "blurhash": result.blurhash,
            "upright_width": result.upright_width,
            "upright_height": result.upright_height,
            "sha256": result.sha256,
            "animated": result.animated,
        }
    )
    return fields


def rendition_entry(rendition: RenditionResult, key: str) -> RenditionEntry:
    """The ``renditions`` list entry of ``rendition`` stored at ``key``."""
    return {
        "name": rendition.name,
        "key": key,
        "format": rendition.format,
        "content_type": rendition.content_type,
        "width": rendition.width,
        "height": rendition.height,
        "bytes": rendition.size_bytes,
    }


def rendition_keys(item: Mapping[str, Any]) -> list[str]:
    """The keys of the renditions a ``processed`` item points at (``renditions``, else the
    ``processed_key`` of an item written before rendition sets); ``[]`` for any other."""
    if item.get("status") != "processed":
        return []
    listed = item.get("renditions")
    if isinstance(listed, list):
        return [str(e["key"]) for e in listed if isinstance(e, Mapping) and "key" in e]
    key = item.get("processed_key")
    return [key] if isinstance(key, str) else []


def rejected_fields(rejection: ImageRejected, *, now: str) -> ImageItem:
    """The ``rejected`` outcome: reason code, message, and what the engine knew.

    Of ``rejection.facts`` (keys among :data:`imgproc.errors.FACT_KEYS`) only values of
    the right type are kept, widths and heights as int numbers (never bools or strings):
    the facts are a plain mutable mapping, so a caller may have put anything there.
    """
    fields: ImageItem = {
        "status": "rejected",
        "processed_at": now,
        "error_reason": rejection.reason,
        "error_message": rejection.message,
    }
    facts = rejection.facts if isinstance(rejection.facts, Mapping) else {}
    if isinstance(fmt := facts.get("original_format"), str):
        fields["original_format"] = fmt
    if isinstance(mode := facts.get("original_mode"), str):
        fields["original_mode"] = mode
    if _is_int(width := facts.get("original_width")):
        fields["original_width"] = width
    if _is_int(height := facts.get("original_height")):
        fields["original_height"] = height
    return fields


def failed_fields(
    reason: str,
    message: str,
    *,
    now: str,
    stamp: Literal["processed_at", "updated_at"] = "processed_at",
) -> ImageItem:
    """A ``failed`` outcome with an error ``reason`` code and ``message``.

    ``stamp``: the time field set to ``now``, ``processed_at`` (the resize function tried)
    or ``updated_at`` (the upload or its source went missing).
    """
    fields: ImageItem = {"status": "failed", "error_reason": reason, "error_message": message}
    if stamp == "processed_at":
        fields["processed_at"] = now
    else:
        fields["updated_at"] = now
    return fields


def refusal(
    existing: Mapping[str, Any] | None, revision: str, event_time: str | None
) -> Literal["duplicate", "superseded"] | None:
    """Why an outcome for ``revision`` must not be written over ``existing``, or ``None``.

    The duplicate-delivery and ordering rule (DESIGN.md Contract 2: the same object version
    processed twice yields one item and one output):

    - ``duplicate``: the item already holds this revision, in a state other than pending
      or failed (a final outcome).
    - ``superseded``: the item describes another revision whose S3 event time is later
      than ``event_time`` (compared only when both are known).

    The DynamoDB store states the same rule as its condition expression
    (``DynamoMetadataStore.record``); ``tests/handlers/test_store_contract.py`` runs both.
    """
    if not existing or existing.get(REVISION) is None:
        return None
    if existing[REVISION] == revision:
        return None if existing.get("status") in OPEN_STATUSES else "duplicate"
    recorded = existing.get(EVENT_TIME)
    if event_time is not None and isinstance(recorded, str) and recorded > event_time:
        return "superseded"
    return None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
