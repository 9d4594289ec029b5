"""Resize one created object: the shell around :mod:`handlers.decision`.

It gathers the facts (one GET's headers, the current item), lets :mod:`handlers.decision`
decide, and acts: reads that GET's body, engine (:func:`imgproc.process_set` with
``RENDITIONS``), PUT every rendition, record the outcome (fields from :mod:`handlers.item`).

- One S3 read per object: the GET's headers serve as the HEAD did (version, ETag, size,
  metadata: :meth:`handlers.ports.ObjectStore.open`), and its body, the same version, is
  read only when the decision is to process (a skip or a rejection closes it unread; an
  object bigger than ``MAX_OBJECT_BYTES`` is refused from its ContentLength, no byte read).

- Keys (:mod:`handlers.keys`): the default rendition (the set's first) at today's key,
  :func:`~handlers.keys.rendition_key`; every other one in the source's folder,
  :func:`~handlers.keys.set_rendition_key` (``photos/cat.jpg/w640.avif``). Every object
  carries its Content-Type, ``RENDITION_CACHE_CONTROL`` and the source metadata.
- No partial output: the renditions are written (up to :data:`PUT_CONCURRENCY` at a time)
  before the item is. When one write fails, the error propagates as any other (a
  ``TransientError`` leaves the item as it is for the retry; anything else marks it
  ``failed``, which removes its rendition fields), after what this attempt wrote is
  deleted, except the keys the item, read afresh, still points at (an earlier revision's
  renditions this attempt overwrote, or a concurrent delivery's): the item never points at
  a missing rendition, and a retry rewrites those keys. Nothing is deleted when the item
  cannot be read.
- Renditions an earlier revision of the item listed in the source's folder and this one
  did not write (a smaller new version collapses ``w1280``) are deleted once the new
  outcome is recorded, so a name never serves an older picture.

- Rejections (``ImageRejected`` from the engine, or an oversize object) give a ``rejected``
  item (with what the engine knew), no output, no retry.
- ``TransientError`` propagates for a retry; any other error (engine bug, S3 refusing the
  rendition PUT) marks the item ``failed``, then propagates.
- A source deleted before it could be read is a final outcome, never retried: an API
  upload's item becomes ``failed`` (``source_missing``); a direct upload records nothing,
  and neither does an item deleted on purpose.
- When the outcome write itself fails after the renditions were stored, what this attempt
  wrote and the item does not point at is deleted before the error propagates: no
  rendition stays without an item.
- Overwrite: a newer revision's outcome replaces the older one's renditions. The keys the
  earlier item listed (in the source's folder, or its default key when the output format
  changed) that this revision did not write are deleted once the new outcome is recorded;
  a rejected newer revision takes all of them, so the item tells the truth.
- ``pipeline_version`` (:mod:`handlers.versions`) is recorded with every processed or
  rejected outcome; a final outcome of another version is redone (a reprocess), one of
  the running version is a duplicate.
- Every outcome write is conditional (:func:`handlers.item.refusal`): refused, the
  outcome is a ``duplicate`` or ``superseded`` skip. Caveat: two versions of one key
  processed at the same moment can still race on the rendition PUT (the newer item is
  kept either way).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

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
from handlers.errors import ObjectMissing, TransientError
from handlers.events import ObjectCreated
from handlers.item import ImageItem, SourceRevision, utc_now
from handlers.keys import (
    metadata_safe,
    rendition_candidates,
    rendition_folder,
    rendition_key,
    set_rendition_key,
)
from handlers.observability import logger
from handlers.ports import MetadataStore, ObjectStore
from handlers.versions import pipeline_version
from imgproc import ImageRejected, RenditionResult, SetResult, process_set

PUT_CONCURRENCY = 4
"""Rendition PUTs in flight at once: a set's objects are written in about the time of the
slowest, not the sum (botocore's connection pool holds 10)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one object.

    Attributes:
        status: ``processed``, ``rejected``, ``failed``, ``skipped`` or ``deleted`` (a
            removal took the renditions: :mod:`handlers.deletion`).
        image_id: the item's id, when one was determined.
        reason: rejection reason code or skip reason.
        processed_key: the default rendition's key when processed.
        bytes_in, bytes_out: source bytes read, bytes of every rendition written.
        duration_ms: time from the GET to the recorded item.
        message: the rejection's message, for a ``rejected`` outcome.
    """

    status: Literal["processed", "rejected", "failed", "skipped", "deleted"]
    image_id: str | None = None
    reason: str | None = None
    processed_key: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    duration_ms: float = 0.0
    message: str | None = None


def resize_object(
    obj: ObjectCreated,
    *,
    settings: ResizeSettings,
    objects: ObjectStore,
    metadata: MetadataStore,
    now: Callable[[], str] = utc_now,
) -> Outcome:
    """Make, store and record the renditions of one created object.

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
        opened = objects.open(obj.bucket, obj.key)
    except ObjectMissing:
        return _source_missing(obj, settings, metadata, now)
    with opened:  # the body is read only for a decision to process; closed unread otherwise
        source = identify(obj, opened.head, settings)
        if isinstance(source, Skip):
            return _skipped(source)
        logger.append_keys(image_id=source.image_id)
        current = metadata.get(source.image_id)
        version = pipeline_version(settings)
        decision = decide(source, current, settings, version)
        if isinstance(decision, Skip):
            return _skipped(decision)
        outcomes = _OutcomeWriter(source, metadata, now, started, version)
        if isinstance(decision, Reject):
            return _rejected(outcomes, decision.rejection, current, settings, objects)
        try:
            data = opened.read(settings.max_object_bytes)
            result = process_set(data, settings.rendition_set(), max_pixels=settings.max_pixels)
        except ImageRejected as rejection:
            return _rejected(outcomes, rejection, current, settings, objects)
        except TransientError:
            raise
        except Exception as error:
            outcomes.failed(error)
            raise
    keys = _store(source, result, settings, objects, metadata, outcomes)
    try:
        outcome = outcomes.processed(result, settings.processed_bucket, keys, bytes_in=len(data))
    except Exception:  # the item write failed: no rendition may stay without an item
        _delete_unreferenced(keys, source.image_id, metadata, objects, settings)
        raise
    if outcome.status == "processed":
        _delete_stale(current, source.key, keys, settings, objects)
    return outcome


def _rejected(
    outcomes: _OutcomeWriter,
    rejection: ImageRejected,
    current: ImageItem | None,
    settings: ResizeSettings,
    objects: ObjectStore,
) -> Outcome:
    """Record the rejection; an earlier revision's renditions go with it (the item tells
    the truth: this key's content has no rendition)."""
    outcome = outcomes.rejected(rejection)
    if outcome.status == "rejected":
        _delete_stale(current, outcomes.source.key, [], settings, objects)
    return outcome


def plan_keys(
    source_key: str, result: SetResult, processed_prefix: str
) -> list[tuple[str, RenditionResult]]:
    """``(key, rendition)`` for every rendition of ``result``, in order: the default (first)
    at :func:`~handlers.keys.rendition_key`, the others at
    :func:`~handlers.keys.set_rendition_key`."""
    primary, *others = result.renditions
    planned = [(rendition_key(source_key, processed_prefix, primary.extension), primary)]
    planned += [(set_rendition_key(source_key, processed_prefix, r.file_name), r) for r in others]
    return planned


@dataclass(frozen=True, slots=True)
class _OutcomeWriter:
    """Records the outcome of one revision; a refused write becomes a skip."""

    source: SourceRevision
    metadata: MetadataStore
    now: Callable[[], str]
    started: float
    version: str | None = None

    def processed(
        self, result: SetResult, bucket: str, keys: list[str], *, bytes_in: int
    ) -> Outcome:
        fields = item.processed_set_fields(result, bucket=bucket, keys=keys, now=self.now())
        if self.version:
            fields["pipeline_version"] = self.version
        refused = self._write(fields, remove=item.ERROR_FIELDS)
        if refused == "superseded":
            logger.warning(
                "a newer version was recorded while this one was processed; its renditions "
                "at these keys may now hold this older version",
                extra={"processed_key": keys[0], "rendition_count": len(keys)},
            )
        return Outcome(
            "skipped" if refused else "processed",
            image_id=self.source.image_id,
            reason=refused,
            processed_key=keys[0],
            bytes_in=bytes_in,
            bytes_out=0 if refused else sum(r.size_bytes for r in result.renditions),
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


def _store(
    source: SourceRevision,
    result: SetResult,
    settings: ResizeSettings,
    objects: ObjectStore,
    metadata: MetadataStore,
    outcomes: _OutcomeWriter,
) -> list[str]:
    """Write every rendition of ``result``; returns their keys, the default first.

    On a failed write, no partial output (module docstring): a permanent error marks the
    item ``failed``, then what was written and is not referenced is deleted, then the error
    propagates.
    """
    planned = plan_keys(source.key, result, settings.processed_prefix)
    written: list[str] = []
    try:
        _write_renditions(source, planned, settings, objects, written)
    except Exception as error:
        if not isinstance(error, TransientError):
            outcomes.failed(error)
        _delete_unreferenced(written, source.image_id, metadata, objects, settings)
        raise
    return [key for key, _ in planned]


def _delete_stale(
    previous: ImageItem | None,
    source_key: str,
    keys: list[str],
    settings: ResizeSettings,
    objects: ObjectStore,
) -> None:
    """Delete the renditions ``previous`` (the item before this outcome) listed, in the
    source's folder or at one of its default keys (the output format changed), that this
    revision did not write (best effort)."""
    if not previous or previous.get("processed_bucket") != settings.processed_bucket:
        return
    folder = rendition_folder(source_key, settings.processed_prefix)
    defaults = set(rendition_candidates(source_key, settings.processed_prefix))
    listed = item.rendition_keys(previous)
    stale = {k for k in listed if k.startswith(folder) or k in defaults} - set(keys)
    _delete_quietly(objects, settings.processed_bucket, sorted(stale))


def _write_renditions(
    source: SourceRevision,
    planned: list[tuple[str, RenditionResult]],
    settings: ResizeSettings,
    objects: ObjectStore,
    written: list[str],
) -> None:
    """PUT every planned rendition (marked as ours, pointing back to its source), up to
    :data:`PUT_CONCURRENCY` at once; each key is appended to ``written`` once stored.

    Every PUT is waited for, then the first error is raised.

    Raises:
        TransientError: throttling, timeout, 5xx; anything else S3 raises propagates.
    """
    object_metadata = _object_metadata(source)

    def put(key: str, rendition: RenditionResult) -> str:
        objects.put(
            settings.processed_bucket,
            key,
            rendition.data,
            content_type=rendition.content_type,
            cache_control=settings.rendition_cache_control,
            metadata=object_metadata,
        )
        return key

    if len(planned) == 1:
        written.append(put(*planned[0]))
        return
    errors: list[Exception] = []
    workers = min(PUT_CONCURRENCY, len(planned))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="put") as pool:
        futures = [pool.submit(put, key, rendition) for key, rendition in planned]
        for future in futures:
            try:
                written.append(future.result())
            except Exception as error:
                errors.append(error)
    if errors:
        raise errors[0]


def _object_metadata(source: SourceRevision) -> dict[str, str]:
    """The user metadata of every rendition: ours, and which source it comes from."""
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
    return object_metadata


def _delete_unreferenced(
    written: list[str],
    image_id: str,
    metadata: MetadataStore,
    objects: ObjectStore,
    settings: ResizeSettings,
) -> None:
    """Delete the ``written`` keys the item does not point at (read afresh), best effort.

    The item may point at some of them: an earlier revision's renditions this attempt
    overwrote, or a concurrent delivery's; those stay (a retry rewrites them). When the
    item cannot be read, nothing is deleted.
    """
    if not written:
        return
    try:
        referenced = set(item.rendition_keys(metadata.get(image_id) or {}))
    except Exception:
        logger.exception("could not read the item; renditions of a failed attempt are kept")
        return
    _delete_quietly(objects, settings.processed_bucket, [k for k in written if k not in referenced])


def _delete_quietly(objects: ObjectStore, bucket: str, keys: list[str]) -> None:
    """Delete ``keys`` (best effort: a failure is logged, never raised)."""
    for key in keys:
        try:
            objects.delete(bucket, key)
        except Exception:
            logger.exception("could not delete a rendition", extra={"processed_key": key})


def _source_missing(
    obj: ObjectCreated,
    settings: ResizeSettings,
    metadata: MetadataStore,
    now: Callable[[], str],
) -> Outcome:
    """The object is gone: mark an API upload's item failed; a direct upload records none.

    Only an item the API issued for this key (:func:`handlers.decision.is_api_upload`) is
    marked, never one for an id merely found in the key, nor one deleted on purpose.
    """
    image_id = claimed_api_id(obj, None, settings)
    logger.warning("source object is gone", extra={"bucket": obj.bucket, "key": obj.key})
    current = metadata.get(image_id) if image_id else None
    if not is_api_upload(current, obj) or (current or {}).get("status") == "deleted":
        image_id = None
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
