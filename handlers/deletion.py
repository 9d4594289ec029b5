"""A removed source takes its renditions with it: ``ObjectRemoved:*`` and ``LifecycleExpiration:*``.

The resize function handles removal events of the uploads bucket too (same queue, same
image: a third function would need its own queue, DLQ, alarm and role for a few lines of
work; the resize role only gets delete rights under the processed prefix). For one
:class:`handlers.events.ObjectRemoved` (:func:`remove_source`):

1. the item: the API upload's when the API issued the key (as for creation,
   :func:`handlers.decision.item_id_of`), else the direct upload's;
2. :func:`handlers.decision.decide_removal`: a removal older than the upload the item
   describes (S3 sequencer, else event time), or the permanent deletion of another version
   of a versioned key, is skipped (``superseded``); a removal already recorded is a
   ``duplicate``;
3. every rendition of the source is deleted (:mod:`handlers.removal`; renditions made
   from a later upload, by their ``source-sequencer`` metadata, are kept);
4. only then the item is marked ``deleted`` (``deleted_at``; rendition fields removed;
   ``expires_at`` = now + ``DELETED_ITEM_TTL_DAYS`` for DynamoDB's TTL, none when 0),
   with the removal's sequencer and event time, by the usual conditional write: an
   upload recorded meanwhile wins. An item never points at a missing rendition for longer
   than between steps 3 and 4; a failure in 3 or 4 raises, and the retry finishes both.

Retention: with ``EXPIRY_KEEPS_RENDITIONS`` (the template sets it when its own
``UploadsRetentionDays`` rule expires originals, to drop full-size photos with their camera
metadata), a ``LifecycleExpiration:*`` event is skipped (``retention``): the renditions and
the item stay. Without it, an expiration deletes as any removal does.

Source without an item: its renditions are looked for and deleted all the same; no item
is created. A later event of the deleted upload is a no-op: the object is gone (HEAD 404,
nothing recorded for a deleted item) or the key holds a newer upload; a new upload of the
same key is processed as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from handlers import item
from handlers.config import ResizeSettings
from handlers.decision import claimed_api_id, decide_removal, is_own_output, item_id_of
from handlers.events import ObjectRemoved
from handlers.item import DELETED_REVISION, utc_now
from handlers.observability import logger
from handlers.pipeline import Outcome
from handlers.ports import MetadataStore, ObjectStore
from handlers.removal import remove_renditions


def remove_source(
    removed: ObjectRemoved,
    *,
    settings: ResizeSettings,
    objects: ObjectStore,
    metadata: MetadataStore,
    now: Callable[[], str] = utc_now,
    clock: Callable[[], float] = time.time,
) -> Outcome:
    """Delete the renditions of a removed source and mark its item ``deleted``.

    Returns:
        ``deleted`` (``processed_key``: the first removed rendition, ``reason``: how many),
        or ``skipped`` with ``recursion``, ``superseded`` or ``duplicate``.

    Raises:
        TransientError: S3 or DynamoDB busy (retry the event: both steps are idempotent).
    """
    started = time.perf_counter()
    if is_own_output(removed.bucket, removed.key, settings):
        return Outcome("skipped", reason="recursion")
    if removed.lifecycle and settings.expiry_keeps_renditions:
        logger.info("original expired by a retention rule; its renditions and item stay")
        return Outcome("skipped", reason="retention")
    claimed = claimed_api_id(removed, None, settings)
    api_item = metadata.get(claimed) if claimed else None
    image_id, _ = item_id_of(removed, None, settings, api_item)
    logger.append_keys(image_id=image_id)
    current = api_item if image_id == claimed else metadata.get(image_id)
    skip = decide_removal(removed, image_id, current)
    if skip is not None:
        return Outcome("skipped", image_id=image_id, reason=skip.reason)
    deleted = remove_renditions(
        removed.bucket,
        removed.key,
        settings=settings,
        objects=objects,
        before_sequencer=item.normalise_sequencer(removed.sequencer),
    )
    if current is not None:
        fields = item.deleted_fields(
            now=now(),
            event_time=removed.event_time,
            sequencer=removed.sequencer,
            expires_at=item.deleted_expiry(settings.deleted_item_ttl_days, clock()),
        )
        written = metadata.record(
            image_id,
            DELETED_REVISION,
            fields,
            remove=item.RENDITION_FIELDS + item.ERROR_FIELDS,
        )
        if not written:
            logger.warning("an upload was recorded while its renditions were being removed")
            return Outcome("skipped", image_id=image_id, reason="superseded")
    return Outcome(
        "deleted",
        image_id=image_id if current is not None else None,
        reason=f"{len(deleted)} rendition(s) removed",
        processed_key=deleted[0] if deleted else None,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
