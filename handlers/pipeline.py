"""Resize one created object: the shell around :mod:`handlers.decision`.

It gathers the facts (HEAD, the current item), lets :mod:`handlers.decision` decide, and
acts: GET, engine, PUT rendition, record the outcome (fields from :mod:`handlers.item`).

- Rejections (``ImageRejected`` from the engine, or an oversize HEAD) give a ``rejected``
  item (with what the engine knew), no output, no retry.
- ``TransientError`` propagates for a retry; any other error (engine bug, S3 refusing the
  rendition PUT) marks the item ``failed``, then propagates.
- A source deleted before it could be read is a final outcome, never retried: an API
  upload's item becomes ``failed`` (``source_missing``); a direct upload records nothing.
- Every outcome write is conditional (:func:`handlers.item.refusal`): refused, the
  outcome is a ``duplicate`` or ``superseded`` skip. Caveat: two versions of one key
  processed at the same moment can still race on the rendition PUT (the newer item is
  kept either way).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from handlers import item
from handlers.config import ResizeSettings
from handlers.decision import (
    MARKER_KEY,
    MARKER_VALUE,
    Reject,
    Skip,
    claimed_api_id,
    decide,
    identify,
    is_api_upload,
    screen,
)
from handlers.errors import ObjectMissing, PreconditionFailed, TransientError
from handlers.events import ObjectCreated
from handlers.item import ImageItem, SourceRevision, utc_now
from handlers.keys import metadata_safe, rendition_key
from handlers.observability import logger
from handlers.ports import MetadataStore, ObjectStore
from handlers.removal import rendition_keys_of
from handlers.versions import pipeline_version
from imgproc import ImageRejected, Result, process


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one object.

    Attributes:
        status: ``processed``, ``rejected``, ``failed``, ``skipped`` or ``deleted`` (a
            removal took the renditions: :mod:`handlers.deletion`).
        image_id: the item's id, when one was determined.
        reason: rejection reason code or skip reason.
        processed_key: the rendition's key when processed.
        bytes_in, bytes_out: source bytes read, rendition bytes written.
        duration_ms: time from HEAD to recorded item.
    """

    status: Literal["processed", "rejected", "failed", "skipped", "deleted"]
    image_id: str | None = None
    reason: str | None = None
    processed_key: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    duration_ms: float = 0.0
    message: str | None = None
    """The rejection's message, for a ``rejected`` outcome."""


def resize_object(
    obj: ObjectCreated,
    *,
    settings: ResizeSettings,
    objects: ObjectStore,
    metadata: MetadataStore,
    now: Callable[[], str] = utc_now,
) -> Outcome:
    """Make and record the rendition of one created object.

    Returns:
        The :class:`Outcome`; rejections and skips are outcomes, not exceptions.

    Raises:
        TransientError: S3 or DynamoDB throttling, timeout or 5xx (retry the event).
        Exception: anything unexpected, after marking the item ``failed`` (best effort).
    """
    started = time.perf_counter()
    skip = screen(obj, settings)
    if skip:
        return _skipped(skip)
    try:
        head = objects.head(obj.bucket, obj.key)
    except ObjectMissing:
        return _source_missing(obj, settings, metadata, now)
    claimed = claimed_api_id(obj, head, settings)
    api_item = metadata.get(claimed) if claimed else None
    source = identify(obj, head, settings, api_item)
    if isinstance(source, Skip):
        return _skipped(source)
    logger.append_keys(image_id=source.image_id)
    current = api_item if source.image_id == claimed else metadata.get(source.image_id)
    version = pipeline_version(settings)
    decision = decide(source, current, settings, version)
    if isinstance(decision, Skip):
        return _skipped(decision)
    outcomes = _OutcomeWriter(source, metadata, now, started, version)
    if isinstance(decision, Reject):
        return _rejected(outcomes, decision.rejection, current, settings, objects)
    try:
        data = objects.get(
            source.bucket,
            source.key,
            version_id=source.version_id,
            if_match=None if source.version_id else source.etag,
            max_bytes=settings.max_object_bytes,
        )
        result = process(data, max_dim=settings.max_dim_px, max_pixels=settings.max_pixels)
        out_key = _write_rendition(source, result, settings, objects)
    except PreconditionFailed:
        return _skipped(Skip("superseded", source.image_id))
    except ObjectMissing:
        return _source_missing(obj, settings, metadata, now)
    except ImageRejected as rejection:
        return _rejected(outcomes, rejection, current, settings, objects)
    except TransientError:
        raise
    except Exception as error:
        outcomes.failed(error)
        raise
    try:
        outcome = outcomes.processed(result, settings.processed_bucket, out_key, bytes_in=len(data))
    except Exception:
        _withdraw_rendition(source.image_id, out_key, settings, objects, metadata)
        raise
    if outcome.status == "processed" and _rendition_key(current) not in (None, out_key):
        _replace_renditions(source, settings, objects, keep=out_key)
    return outcome


def _rendition_key(item: Mapping[str, Any] | None) -> str | None:
    """The rendition key ``item`` points at, when it holds one."""
    key = (item or {}).get("processed_key")
    return key if isinstance(key, str) else None


def _replace_renditions(
    source: SourceRevision, settings: ResizeSettings, objects: ObjectStore, *, keep: str | None
) -> None:
    """A new outcome replaced the item's renditions: delete the source's other renditions
    (an earlier version's under another key, or every one when the new version was
    rejected), so none is left that no item points at (best effort)."""
    try:
        for key in rendition_keys_of(source.bucket, source.key, settings=settings, objects=objects):
            if key != keep:
                objects.delete(settings.processed_bucket, key)
    except Exception:
        logger.exception("could not remove the renditions an outcome replaced")


def _rejected(
    outcomes: _OutcomeWriter,
    rejection: ImageRejected,
    current: Mapping[str, Any] | None,
    settings: ResizeSettings,
    objects: ObjectStore,
) -> Outcome:
    """Record the rejection; an earlier version's renditions go with it (the item tells the
    truth: this key's content has no rendition)."""
    outcome = outcomes.rejected(rejection)
    if outcome.status == "rejected" and _rendition_key(current) is not None:
        _replace_renditions(outcomes.source, settings, objects, keep=None)
    return outcome


@dataclass(frozen=True, slots=True)
class _OutcomeWriter:
    """Records the outcome of one revision; a refused write becomes a skip."""

    source: SourceRevision
    metadata: MetadataStore
    now: Callable[[], str]
    started: float
    version: str | None = None

    def processed(self, result: Result, bucket: str, key: str, *, bytes_in: int) -> Outcome:
        fields = item.processed_fields(result, bucket=bucket, key=key, now=self.now())
        if self.version:
            fields["pipeline_version"] = self.version
        refused = self._write(fields, remove=item.ERROR_FIELDS)
        if refused == "superseded":
            logger.warning(
                "a newer version was recorded while this one was processed; its rendition "
                "at processed_key may now hold this older version",
                extra={"processed_key": key},
            )
        return Outcome(
            "skipped" if refused else "processed",
            image_id=self.source.image_id,
            reason=refused,
            processed_key=key,
            bytes_in=bytes_in,
            bytes_out=0 if refused else result.size_bytes,
            duration_ms=_ms(self.started),
        )

    def rejected(self, rejection: ImageRejected) -> Outcome:
        fields = item.rejected_fields(rejection, now=self.now())
        if self.version:
            fields["pipeline_version"] = self.version
        refused = self._write(fields, remove=item.RENDITION_FIELDS)
        return Outcome(
            "skipped" if refused else "rejected",
            image_id=self.source.image_id,
            reason=refused or rejection.reason,
            duration_ms=_ms(self.started),
            message=None if refused else rejection.message,
        )

    def failed(self, error: Exception) -> None:
        """Record ``failed`` before ``error`` propagates (best effort; a retry may succeed)."""
        message = f"unexpected {type(error).__name__}; the event will be retried"
        fields = item.failed_fields("internal_error", message, now=self.now())
        try:
            self._write(fields, remove=item.RENDITION_FIELDS)
        except Exception:  # the original error matters more
            logger.exception("could not mark the item failed")

    def _write(
        self, outcome: ImageItem, *, remove: tuple[str, ...]
    ) -> Literal["duplicate", "superseded"] | None:
        """Write ``outcome`` for the revision; ``None`` when written, else why it was refused."""
        source = self.source
        fields, keep = item.revision_fields(source, now=self.now())
        fields.update(outcome)
        written = self.metadata.record(
            source.image_id, source.revision, fields, remove=remove, keep_if_present=keep
        )
        if written:
            return None
        current = self.metadata.get(source.image_id)
        refused = item.refusal(
            current,
            source.revision,
            source.event_time,
            sequencer=source.sequencer,
            pipeline_version=outcome.get("pipeline_version"),
        )
        return refused or "duplicate"


def _write_rendition(
    source: SourceRevision, result: Result, settings: ResizeSettings, objects: ObjectStore
) -> str:
    """PUT the rendition (marked as ours, pointing back to its source); returns its key.

    Raises:
        TransientError: throttling, timeout, 5xx; anything else S3 raises propagates.
    """
    out_key = rendition_key(source.key, settings.processed_prefix, result.extension)
    source_key_meta, truncated = metadata_safe(source.key)
    object_metadata = {
        MARKER_KEY: MARKER_VALUE,
        "image-id": source.image_id,
        "source-bucket": source.bucket,
        "source-key": source_key_meta,
    }
    if truncated:
        object_metadata["source-key-truncated"] = "true"
    if source.version_id:
        object_metadata["source-version-id"] = source.version_id
    if source.sequencer:
        object_metadata["source-sequencer"] = source.sequencer
    objects.put(
        settings.processed_bucket,
        out_key,
        result.data,
        content_type=result.content_type,
        cache_control=settings.rendition_cache_control,
        metadata=object_metadata,
    )
    return out_key


def _withdraw_rendition(
    image_id: str,
    out_key: str,
    settings: ResizeSettings,
    objects: ObjectStore,
    metadata: MetadataStore,
) -> None:
    """The outcome write failed after the rendition PUT: delete the rendition unless the
    item (read again now) points at it, so no rendition stays without an item (best
    effort; when the item cannot be read it is kept, as an item may point at it)."""
    try:
        current = metadata.get(image_id)
        if (current or {}).get("processed_key") == out_key and (current or {}).get(
            "processed_bucket"
        ) == settings.processed_bucket:
            return
        objects.delete(settings.processed_bucket, out_key)
        logger.warning(
            "the item could not be written: its new rendition was deleted",
            extra={"processed_key": out_key},
        )
    except Exception:
        logger.exception("could not withdraw the rendition", extra={"processed_key": out_key})


def _source_missing(
    obj: ObjectCreated,
    settings: ResizeSettings,
    metadata: MetadataStore,
    now: Callable[[], str],
) -> Outcome:
    """The object is gone: mark an API upload's item failed; a direct upload records none.

    Only an item the API issued for this key (:func:`handlers.decision.is_api_upload`) is
    marked, never one for an id merely found in the key.
    """
    image_id = claimed_api_id(obj, None, settings)
    logger.warning("source object is gone", extra={"bucket": obj.bucket, "key": obj.key})
    current = metadata.get(image_id) if image_id else None
    if not is_api_upload(current, obj) or (current or {}).get("status") == "deleted":
        image_id = None  # never issued by the API, or deleted on purpose: nothing to tell
    if image_id:
        message = "the uploaded object no longer exists"
        fields = item.failed_fields("source_missing", message, now=now(), stamp="updated_at")
        fields.update(
            {
                "source_bucket": obj.bucket,
                "source_key": obj.key,
                "source_event_time": obj.event_time,
                "source_sequencer": item.normalise_sequencer(obj.sequencer),
            }
        )
        fields = {k: v for k, v in fields.items() if v is not None}  # type: ignore[assignment]
        metadata.record(image_id, obj.version_id or obj.etag or "missing", fields)
    return _skipped(Skip("source_missing", image_id))


def _skipped(skip: Skip) -> Outcome:
    return Outcome("skipped", image_id=skip.image_id, reason=skip.reason)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
