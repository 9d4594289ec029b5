"""What the resize function does with one created object: the rules, as pure functions.

:mod:`handlers.pipeline` gathers the facts (the event, the object's head: the headers of the
GET that reads it, the current item) and acts; the functions here only decide, in three
steps, each needing one more fact:

=========================  =============================================  ===============
step                       when                                            decision
=========================  =============================================  ===============
:func:`screen` (event)     the key lies where renditions are written       skip recursion
                           a zero-byte key ending in ``/`` (S3 console      skip
                           "Create folder")                                 folder_marker
:func:`identify` (+ HEAD)  the key now holds another version/ETag than     skip superseded
                           the event names (the newer one has its own
                           event, so the newest version's rendition wins)
                           the object carries ``generated-by:              skip recursion
                           image-pipeline`` metadata
                           otherwise                                       the revision
:func:`decide` (+ item)    an API image id whose pending item was not      skip not_issued
                           issued for this key and upload token
                           (:func:`is_issued_upload`)
                           the item holds a final outcome for this         skip duplicate
                           revision
                           the item describes a revision with a later      skip superseded
                           event time
                           HEAD ContentLength > ``MAX_OBJECT_BYTES``       reject too_large
                           otherwise                                       process
=========================  =============================================  ===============

The same duplicate/superseded rule (:func:`handlers.item.refusal`) guards the outcome
write itself, so a race between two deliveries still yields one outcome per revision.

Image id: ``image-id`` object metadata, else ``{UPLOADS_PREFIX}{image_id}/`` in the key
(API uploads, trusted only in ``UPLOADS_BUCKET`` when it is set, so an object elsewhere
cannot take over an item), else :func:`handlers.keys.direct_image_id` of bucket and key:
one item per direct key, as there is one rendition per key. An API id counts only for the
object the API issued it for (:func:`is_issued_upload`): anything else claiming one is
skipped (``not_issued``) and never creates an item.

Removals, give-ups and vanished sources (no object left to HEAD) find their item with
:func:`item_id_of`: the API's item when the API issued it for this bucket and key
(:func:`is_api_upload`), else the direct upload's; :func:`decide_removal` orders a removal
against the upload the item describes. :func:`made_from` tells a rendition of a source by
its own metadata.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from handlers.config import ResizeSettings
from handlers.events import ObjectCreated, ObjectRemoved
from handlers.item import DELETED_REVISION, Origin, SourceRevision, normalise_sequencer, refusal
from handlers.keys import direct_image_id, image_id_from_upload_key, is_image_id, metadata_safe
from handlers.ports import ObjectHead
from imgproc import ImageRejected
from imgproc.errors import TOO_LARGE

MARKER_KEY = "generated-by"
MARKER_VALUE = "image-pipeline"

SkipReason = Literal[
    "recursion",
    "duplicate",
    "superseded",
    "source_missing",
    "folder_marker",
    "not_issued",
    "retention",
]
TOKEN_METADATA = "upload-token"  # handlers.uploads writes it; the pending item holds it


@dataclass(frozen=True, slots=True)
class Skip:
    """Leave the object alone; ``image_id`` when one was determined."""

    reason: SkipReason
    image_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    """Record ``rejection`` for ``source`` without reading the object."""

    source: SourceRevision
    rejection: ImageRejected


@dataclass(frozen=True, slots=True)
class Process:
    """Read ``source``, make its rendition, record the outcome."""

    source: SourceRevision


Decision = Skip | Reject | Process


def screen(obj: ObjectCreated, settings: ResizeSettings) -> Skip | None:
    """Skip decided from the event alone (before any request), or ``None`` to go on."""
    if is_own_output(obj.bucket, obj.key, settings):
        return Skip("recursion")
    if obj.key.endswith("/") and obj.size_bytes == 0:
        return Skip("folder_marker")
    return None


def identify(
    obj: ObjectCreated, head: ObjectHead, settings: ResizeSettings
) -> Skip | SourceRevision:
    """The revision the event is about, given the object's HEAD; or why to skip it."""
    if is_superseded(obj, head):
        return Skip("superseded")
    if head.metadata.get(MARKER_KEY) == MARKER_VALUE:
        return Skip("recursion")
    image_id, origin = image_id_of(obj, head, settings)
    return SourceRevision(
        image_id=image_id,
        origin=origin,
        bucket=obj.bucket,
        key=obj.key,
        revision=head.version_id or head.etag,
        etag=head.etag,
        version_id=head.version_id,
        event_time=obj.event_time,
        size_bytes=head.size_bytes,
        upload_token=head.metadata.get(TOKEN_METADATA),
        sequencer=normalise_sequencer(obj.sequencer),
        reprocess=obj.reprocess,
    )


def decide(
    source: SourceRevision,
    item: Mapping[str, Any] | None,
    settings: ResizeSettings,
    pipeline_version: str | None = None,
) -> Decision:
    """Skip, reject or process ``source``, given its current ``item`` (``None``: no item).

    ``pipeline_version``: the running one (:mod:`handlers.versions`); a final outcome of the
    same revision made by another version is redone (a reprocess), never one of this one.
    """
    if source.origin == "api" and not is_issued_upload(source, item):
        return Skip("not_issued", source.image_id)
    late = refusal(
        item,
        source.revision,
        source.event_time,
        sequencer=source.sequencer,
        pipeline_version=pipeline_version,
    )
    if late is not None:
        return Skip(late, source.image_id)
    if source.size_bytes > settings.max_object_bytes:
        msg = f"expected at most {settings.max_object_bytes} bytes, got {source.size_bytes}"
        return Reject(source, ImageRejected(TOO_LARGE, msg))
    return Process(source)


def is_issued_upload(source: SourceRevision, item: Mapping[str, Any] | None) -> bool:
    """True when ``source`` is the object the API issued ``item`` for (issue 12).

    An API image id (from ``image-id`` metadata or an ``uploads/<id>/`` key) completes
    only an item the API created, and only with the exact key it issued and the secret
    ``upload_token`` the object carries as ``upload-token`` metadata (POST /images writes
    it; POST /uploads binds it in the presigned POST's policy). Anything else that can write
    to the uploads bucket cannot take over another image's item or orphan its rendition.
    Items issued before tokens existed (no ``upload_token``) need the exact key only.
    """
    if not item or item.get("origin") != "api" or item.get("source_key") != source.key:
        return False
    expected = item.get("upload_token")
    if expected is None:
        return True
    given = source.upload_token or ""
    return isinstance(expected, str) and hmac.compare_digest(expected.encode(), given.encode())


def decide_removal(
    removed: ObjectRemoved, image_id: str, item: Mapping[str, Any] | None
) -> Skip | None:
    """Whether a removal event takes the source's renditions (``None``) or why not.

    - ``superseded``: the item describes an upload that came after the removal (its
      sequencer, else its event time, is later: :func:`handlers.item.refusal`), or the
      event permanently deleted one version of a versioned key while the item describes
      another one (that version and its renditions stay);
    - ``duplicate``: the item is ``deleted`` by this removal already (its renditions were
      removed before it was marked).

    No item at all: the renditions are looked for all the same (none is left behind);
    no item is created.
    """
    if item is None:
        return None
    described = item.get("source_version_id")
    if (
        removed.kind == "delete"
        and removed.version_id
        and described
        and described != removed.version_id
        and item.get("status") != "deleted"
    ):
        return Skip("superseded", image_id)
    late = refusal(
        item,
        DELETED_REVISION,
        removed.event_time,
        sequencer=normalise_sequencer(removed.sequencer),
    )
    return Skip(late, image_id) if late else None


def is_own_output(bucket: str, key: str, settings: ResizeSettings) -> bool:
    """True when ``bucket``/``key`` lies where renditions are written."""
    return bucket == settings.processed_bucket and key.startswith(settings.processed_prefix)


def is_superseded(obj: ObjectCreated, head: ObjectHead) -> bool:
    """True when the key now holds a different version than the event announced."""
    if obj.version_id and head.version_id:
        return obj.version_id != head.version_id
    if obj.etag and head.etag and not obj.version_id:
        return obj.etag != head.etag
    return False


def image_id_of(
    obj: ObjectCreated, head: ObjectHead, settings: ResizeSettings
) -> tuple[str, Origin]:
    """``(image_id, origin)``; origin is ``"api"`` for API uploads, ``"s3"`` otherwise."""
    if _trusts_api_ids(obj.bucket, settings):
        from_metadata = head.metadata.get("image-id")
        if is_image_id(from_metadata):
            return str(from_metadata), "api"
        from_key = image_id_from_upload_key(obj.key, settings.uploads_prefix)
        if from_key:
            return from_key, "api"
    return direct_image_id(obj.bucket, obj.key), "s3"


def item_id_of(
    obj: ObjectCreated | ObjectRemoved,
    head: ObjectHead | None,
    settings: ResizeSettings,
    api_item: Mapping[str, Any] | None,
) -> tuple[str, Origin]:
    """``(image_id, origin)`` of the item an event concerns when there is no object to ask
    (a removal, a give-up, a vanished source): the claimed API id when ``api_item`` (its
    item) is the API's upload of this object (:func:`is_api_upload`), else the direct id."""
    claimed = claimed_api_id(obj, head, settings)
    if claimed and is_api_upload(api_item, obj):
        return claimed, "api"
    return direct_image_id(obj.bucket, obj.key), "s3"


def claimed_api_id(
    obj: ObjectCreated | ObjectRemoved, head: ObjectHead | None, settings: ResizeSettings
) -> str | None:
    """The API image id the object claims: ``image-id`` metadata (from ``head``, when
    known), else the id in an upload key; ``None`` outside the trusted uploads bucket."""
    if not _trusts_api_ids(obj.bucket, settings):
        return None
    from_metadata = head.metadata.get("image-id") if head is not None else None
    if is_image_id(from_metadata):
        return str(from_metadata)
    return image_id_from_upload_key(obj.key, settings.uploads_prefix)


def is_api_upload(item: Mapping[str, Any] | None, obj: ObjectCreated | ObjectRemoved) -> bool:
    """True when ``item`` is the one the API made for this object: origin ``api``, same
    bucket and key (the API writes it, ``pending``, before the object can exist)."""
    return (
        item is not None
        and item.get("origin") == "api"
        and item.get("source_bucket") == obj.bucket
        and item.get("source_key") == obj.key
    )


def made_from(metadata: Mapping[str, str], bucket: str, key: str) -> bool:
    """True when an object's user ``metadata`` says it is a rendition of ``bucket``/``key``.

    Renditions carry ``generated-by: image-pipeline``, ``source-bucket`` and
    ``source-key`` (percent-encoded, cut at 1,024 characters:
    :func:`handlers.keys.metadata_safe`), written by :mod:`handlers.pipeline`.
    """
    return (
        metadata.get(MARKER_KEY) == MARKER_VALUE
        and metadata.get("source-bucket") == bucket
        and metadata.get("source-key") == metadata_safe(key)[0]
    )


def missing_source_id(obj: ObjectCreated, settings: ResizeSettings) -> str | None:
    """The item to mark failed when the source is gone: an API upload's, from its key.

    A direct upload records nothing (``None``): there is no item to tell.
    """
    if not _trusts_api_ids(obj.bucket, settings):
        return None
    return image_id_from_upload_key(obj.key, settings.uploads_prefix)


def _trusts_api_ids(bucket: str, settings: ResizeSettings) -> bool:
    """API image ids count only in the uploads bucket (any bucket when it is unset)."""
    return settings.uploads_bucket in (None, bucket)
