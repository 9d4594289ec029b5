"""Remove every rendition of one source object: its default rendition and a rendition set's.

Used when a source is deleted (``ObjectRemoved:*``, ``LifecycleExpiration:*``) and when
the resize function gives up on a source (:mod:`handlers.give_up`): a rendition never
stays behind when its item no longer points at it.

Finding them: the renditions of source key ``K`` are named from ``K``
(:func:`handlers.keys.rendition_key`: one default rendition whose extension depends on
the output format; a rendition set's ``<name>.<ext>`` objects under a folder named from
``K``). One or two LISTs under :func:`handlers.keys.renditions_listing` find every
candidate; names are narrowed with :func:`handlers.keys.is_rendition_key_of`; then each
candidate is deleted only when its own metadata says it was made from ``K`` in this
bucket (:func:`handlers.decision.made_from`: one HEAD each), so a rendition of another
source that shares the name (``a.png`` and ``a.png.jpg``) or the prefix (``cat.jpg`` and
``cat.jpg2``) is never touched.

Cost per source: 1-2 LIST + one HEAD and one DELETE per rendition.
"""

from __future__ import annotations

from handlers.config import ResizeSettings
from handlers.decision import made_from
from handlers.errors import ObjectMissing
from handlers.keys import is_rendition_key_of, renditions_listing
from handlers.ports import ObjectStore

MAX_LISTED_KEYS = 1000
"""Keys read per listing prefix: far more than one source's renditions."""


def rendition_keys_of(
    bucket: str,
    key: str,
    *,
    settings: ResizeSettings,
    objects: ObjectStore,
    before_sequencer: str | None = None,
) -> list[str]:
    """Keys in the processed bucket holding a rendition of ``bucket``/``key``, sorted.

    ``before_sequencer`` (normalised, :func:`handlers.item.normalise_sequencer`): leave out
    renditions whose ``source-sequencer`` metadata is later (made from an upload after the
    removal being handled).

    Raises:
        TransientError: S3 throttling, timeout, 5xx.
    """
    prefix = settings.processed_prefix
    named: list[str] = []
    for listing in renditions_listing(key, prefix):
        for found in objects.list_keys(
            settings.processed_bucket, listing, max_keys=MAX_LISTED_KEYS
        ):
            if found not in named and is_rendition_key_of(found, key, prefix):
                named.append(found)
    owned: list[str] = []
    for candidate in named:
        try:
            head = objects.head(settings.processed_bucket, candidate)
        except ObjectMissing:
            continue
        if not made_from(head.metadata, bucket, key):
            continue
        made_after = head.metadata.get("source-sequencer")
        if before_sequencer and made_after and made_after > before_sequencer:
            continue
        owned.append(candidate)
    return sorted(owned)


def remove_renditions(
    bucket: str,
    key: str,
    *,
    settings: ResizeSettings,
    objects: ObjectStore,
    before_sequencer: str | None = None,
) -> list[str]:
    """Delete every rendition of ``bucket``/``key``; returns the deleted keys, sorted.

    ``before_sequencer``: as :func:`rendition_keys_of`. Idempotent: a second call finds
    nothing and returns ``[]``.

    Raises:
        TransientError: S3 throttling, timeout, 5xx (renditions deleted so far stay
            deleted; a retry finishes the rest).
    """
    removed = rendition_keys_of(
        bucket, key, settings=settings, objects=objects, before_sequencer=before_sequencer
    )
    for rendition in removed:
        objects.delete(settings.processed_bucket, rendition)
    return removed
