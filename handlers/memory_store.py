"""In-memory implementations of the two ports: fakes for tests and the pipeline benchmark.

They behave as the AWS adapters do where the handlers can tell (the contract suite,
``tests/handlers/test_store_contract.py``, runs the same cases against both): the same
errors, the same conditional outcome write (:func:`handlers.item.refusal`), the same
listing order and pages. What they leave out: IAM, eventual consistency, DynamoDB's number
conversion (values are kept as given) and real presigned URLs (``memory://`` ones).
Thread-safe; nothing is shared between instances.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from handlers.errors import ItemExists, ObjectMissing, PreconditionFailed
from handlers.item import (
    EVENT_TIME,
    LISTING,
    PIPELINE_VERSION,
    REVISION,
    SEQUENCER,
    TTL_ATTRIBUTE,
    ImageItem,
    refusal,
)
from handlers.ports import ObjectHead, OpenedObject
from imgproc import ImageRejected
from imgproc.errors import TOO_LARGE


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object version: bytes, ETag (MD5 hex), version id, type, metadata, caching."""

    data: bytes
    etag: str
    version_id: str | None
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)
    cache_control: str | None = None


class MemoryObjectStore:
    """Buckets of objects in a dict; a bucket made ``versioned`` keeps every version.

    Args:
        buckets: bucket names to create (unversioned).
    """

    def __init__(self, *buckets: str) -> None:
        self._lock = threading.Lock()
        self._versions: dict[tuple[str, str], list[StoredObject]] = {}
        self._buckets: dict[str, bool] = dict.fromkeys(buckets, False)
        self._version_ids = itertools.count(1)

    def create_bucket(self, bucket: str, *, versioned: bool = False) -> None:
        """Make ``bucket`` (``versioned``: every put adds a version with its own id)."""
        with self._lock:
            self._buckets[bucket] = versioned

    def keys(self, bucket: str) -> list[str]:
        """The keys in ``bucket``, sorted."""
        with self._lock:
            return sorted(k for (b, k) in self._versions if b == bucket)

    def delete(self, bucket: str, key: str) -> None:
        """Remove the key and all its versions (a no-op when absent)."""
        with self._lock:
            self._versions.pop((bucket, key), None)

    def list_keys(self, bucket: str, prefix: str, *, max_keys: int = 1000) -> list[str]:
        """Keys of ``bucket`` starting with ``prefix``, in UTF-8 binary order, at most
        ``max_keys``."""
        with self._lock:
            found = [k for (b, k) in self._versions if b == bucket and k.startswith(prefix)]
        return sorted(found, key=lambda k: k.encode("utf-8"))[:max_keys]

    def head(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectHead:
        """What a HEAD tells. Raises ObjectMissing."""
        return _head(self._find(bucket, key, version_id))

    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> OpenedObject:
        """The head and the bytes of one stored version. Raises ObjectMissing."""
        stored = self._find(bucket, key, version_id)
        return OpenedObject(_head(stored), lambda max_bytes: stored.data[:max_bytes])

    def get(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        if_match: str | None = None,
        max_bytes: int,
    ) -> bytes:
        """The bytes. Raises ObjectMissing, PreconditionFailed, ImageRejected(too_large)."""
        stored = self._find(bucket, key, version_id)
        if if_match is not None and if_match != stored.etag:
            raise PreconditionFailed(f"memory://{bucket}/{key} changed since the HEAD")
        if len(stored.data) > max_bytes:
            msg = f"expected at most {max_bytes} bytes, the object is bigger"
            raise ImageRejected(TOO_LARGE, msg)
        return stored.data

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        cache_control: str | None = None,
    ) -> None:
        """Store ``data`` (a new version in a versioned bucket, else replacing the key)."""
        with self._lock:
            versioned = self._bucket(bucket)
            stored = StoredObject(
                data=bytes(data),
                etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                version_id=f"v{next(self._version_ids)}" if versioned else None,
                content_type=content_type,
                metadata={k.lower(): v for k, v in metadata.items()},
                cache_control=cache_control,
            )
            versions = self._versions.setdefault((bucket, key), [])
            if not versioned:
                versions.clear()
            versions.append(stored)

    def presign_get(self, bucket: str, key: str, *, expires_s: int) -> str:
        """A ``memory://`` URL naming the object (nothing serves it)."""
        return f"memory://{bucket}/{quote(key)}?expires_s={expires_s}"

    def presign_post(
        self,
        bucket: str,
        key: str,
        *,
        fields: Mapping[str, str],
        conditions: list[Any],
        expires_s: int,
    ) -> dict[str, Any]:
        """``{"url": "memory://bucket", "fields": {...fields, "key": key}}``."""
        return {"url": f"memory://{bucket}", "fields": {**fields, "key": key}}

    def _bucket(self, bucket: str) -> bool:
        if bucket not in self._buckets:
            msg = f"no bucket {bucket!r}; create it first"
            raise KeyError(msg)
        return self._buckets[bucket]

    def _find(self, bucket: str, key: str, version_id: str | None) -> StoredObject:
        with self._lock:
            self._bucket(bucket)
            versions = self._versions.get((bucket, key), [])
            if version_id is None and versions:
                return versions[-1]
            for stored in versions:
                if stored.version_id == version_id:
                    return stored
        raise ObjectMissing(f"memory://{bucket}/{key} does not exist")


class MemoryMetadataStore:
    """The image items in a dict, with the DynamoDB store's write rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}

    def items(self) -> list[ImageItem]:
        """Every item (copies), in no particular order."""
        with self._lock:
            return [_copy(item) for item in self._items.values()]

    def get(self, image_id: str) -> ImageItem | None:
        """A copy of the item, or ``None``."""
        with self._lock:
            item = self._items.get(image_id)
            return _copy(item) if item is not None else None

    def create_pending(self, item: Mapping[str, Any]) -> None:
        """Add a new item (``listing`` added, ``None`` values left out). Raises ItemExists."""
        image_id = item["image_id"]
        with self._lock:
            if image_id in self._items:
                raise ItemExists(image_id)
            values = {k: copy.deepcopy(v) for k, v in item.items() if v is not None}
            self._items[image_id] = {**values, "listing": LISTING}

    def record(
        self,
        image_id: str,
        revision: str,
        fields: Mapping[str, Any],
        *,
        remove: tuple[str, ...] = (),
        keep_if_present: Mapping[str, Any] | None = None,
    ) -> bool:
        """Upsert an outcome for ``revision`` unless :func:`handlers.item.refusal` forbids it."""
        with self._lock:
            existing = self._items.get(image_id)
            refused = refusal(
                existing,
                revision,
                fields.get(EVENT_TIME),
                sequencer=fields.get(SEQUENCER),
                pipeline_version=fields.get(PIPELINE_VERSION),
            )
            if refused is not None:
                return False
            item = dict(existing or {"image_id": image_id})
            for name in (*remove, TTL_ATTRIBUTE):
                if fields.get(name) is None:
                    item.pop(name, None)
            for name, value in fields.items():
                if name in ("image_id", REVISION, "listing"):
                    continue
                if value is None:
                    item.pop(name, None)
                else:
                    item[name] = copy.deepcopy(value)
            for name, value in (keep_if_present or {}).items():
                if value is not None and name not in fields:
                    item.setdefault(name, copy.deepcopy(value))
            item[REVISION] = revision
            item["listing"] = LISTING
            self._items[image_id] = item
            return True

    def list_recent(
        self,
        *,
        limit: int,
        start_key: Mapping[str, Any] | None = None,
        owner: str | None = None,
    ) -> tuple[list[ImageItem], dict[str, Any] | None]:
        """Newest ``uploaded_at`` first, ``limit`` per page, as the DynamoDB index pages.

        The last key is returned whenever a page is full (DynamoDB's ``Limit`` does the
        same), so the page after it may be empty. ``owner``: only that owner's items
        (the ``by_owner`` index, whose keys hold ``owner`` instead of ``listing``).
        """
        partition = "listing" if owner is None else "owner"
        with self._lock:
            listed = [
                i
                for i in self._items.values()
                if "uploaded_at" in i and partition in i and (owner is None or i["owner"] == owner)
            ]
            listed.sort(key=lambda i: (i["uploaded_at"], i["image_id"]), reverse=True)
            if start_key is not None:
                after = (start_key["uploaded_at"], start_key["image_id"])
                listed = [i for i in listed if (i["uploaded_at"], i["image_id"]) < after]
            page = listed[:limit]
            items = [_copy(item) for item in page]
        last = None
        if len(page) == limit:
            tail = page[-1]
            last = {k: tail[k] for k in ("image_id", partition, "uploaded_at")}
        return items, last


def _head(stored: StoredObject) -> ObjectHead:
    """What a HEAD of ``stored`` tells."""
    return ObjectHead(
        size_bytes=len(stored.data),
        etag=stored.etag,
        version_id=stored.version_id,
        content_type=stored.content_type,
        metadata=dict(stored.metadata),
    )


def _copy(item: dict[str, Any]) -> ImageItem:
    copied: ImageItem = copy.deepcopy(item)  # type: ignore[assignment]
    return copied
