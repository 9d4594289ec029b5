"""The two ports the pipeline and the API use, the value a HEAD returns, and an object whose
GET has answered (:class:`OpenedObject`).

Adapters: :class:`handlers.s3_store.S3ObjectStore` and
:class:`handlers.dynamo_store.DynamoMetadataStore`; in-memory fakes for tests and
benchmarks in :mod:`handlers.memory_store`. ``tests/handlers/test_store_contract.py`` runs
one suite against both kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from handlers.item import ImageItem
from imgproc import ImageRejected
from imgproc.errors import TOO_LARGE


@dataclass(frozen=True, slots=True)
class ObjectHead:
    """What a HEAD tells about an object.

    Attributes:
        size_bytes: ContentLength.
        etag: ETag without quotes.
        version_id: VersionId, or ``None`` in an unversioned bucket.
        content_type: ContentType as stored.
        metadata: user metadata (keys lowercase, without ``x-amz-meta-``).
    """

    size_bytes: int
    etag: str
    version_id: str | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


def _nothing_to_close() -> None:
    return None


@dataclass(slots=True)
class OpenedObject:
    """An object whose GET has answered: what a HEAD would tell (``head``, from the GET's
    own headers), and its body, not read yet (:meth:`read`). One request gives both, and
    the body is the version the head describes. Close it (or use ``with``) in every case:
    an unread body is dropped with its connection (a skip costs one request, as a HEAD did).

    Built by :meth:`ObjectStore.open`; ``read_body(n)`` reads at most ``n`` bytes of the
    body, ``close_body()`` releases it.
    """

    head: ObjectHead
    read_body: Callable[[int], bytes]
    close_body: Callable[[], None] = _nothing_to_close

    def read(self, max_bytes: int) -> bytes:
        """The body, never more than ``max_bytes`` + 1 bytes read.

        Raises:
            ImageRejected: ``too_large`` when the object is bigger than ``max_bytes``: from
                its ContentLength before any byte is read, or from the body itself.
            TransientError: the connection dropped mid-body.
        """
        if self.head.size_bytes > max_bytes:
            msg = f"expected at most {max_bytes} bytes, got {self.head.size_bytes}"
            raise ImageRejected(TOO_LARGE, msg)
        data = self.read_body(max_bytes + 1)
        if len(data) > max_bytes:
            msg = f"expected at most {max_bytes} bytes, the object is bigger"
            raise ImageRejected(TOO_LARGE, msg)
        return data

    def close(self) -> None:
        """Release the body (an unread rest is dropped, with its connection)."""
        self.close_body()

    def __enter__(self) -> OpenedObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ObjectStore(Protocol):
    """Object storage (S3)."""

    def head(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectHead:
        """Raises ObjectMissing, TransientError."""
        ...

    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> OpenedObject:
        """GET the object (optionally one version): its head now, its body when read.

        Raises ObjectMissing, TransientError.
        """
        ...

    def get(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        if_match: str | None = None,
        max_bytes: int,
    ) -> bytes:
        """Raises ObjectMissing, PreconditionFailed, ImageRejected(too_large), TransientError."""
        ...

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
        """Raises TransientError."""
        ...

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object (a delete marker in a versioned bucket); absent is fine.

        Raises TransientError.
        """
        ...

    def list_keys(self, bucket: str, prefix: str, *, max_keys: int = 1000) -> list[str]:
        """Keys starting with ``prefix``, in S3's (UTF-8 binary) order, at most ``max_keys``.

        Raises TransientError.
        """
        ...

    def presign_get(self, bucket: str, key: str, *, expires_s: int) -> str:
        """A time-limited GET URL."""
        ...

    def presign_post(
        self,
        bucket: str,
        key: str,
        *,
        fields: Mapping[str, str],
        conditions: list[Any],
        expires_s: int,
    ) -> dict[str, Any]:
        """``{"url": str, "fields": dict}`` for a browser form POST."""
        ...


class MetadataStore(Protocol):
    """The image metadata table (DynamoDB)."""

    def get(self, image_id: str) -> ImageItem | None:
        """The item with plain Python values (ints, not Decimals), or ``None``."""
        ...

    def create_pending(self, item: Mapping[str, Any]) -> None:
        """Write a new ``pending`` item.

        Raises:
            handlers.errors.ItemExists: an item with this ``image_id`` exists.
            handlers.errors.TransientError: throttling, timeout, 5xx.
        """
        ...

    def record(
        self,
        image_id: str,
        revision: str,
        fields: Mapping[str, Any],
        *,
        remove: tuple[str, ...] = (),
        keep_if_present: Mapping[str, Any] | None = None,
    ) -> bool:
        """Upsert an outcome for source ``revision``; True when written.

        ``None`` values in ``fields`` and the names in ``remove`` (unless ``fields`` sets
        them) remove the attribute; ``expires_at`` is always removed; ``keep_if_present``
        values are set only where the item lacks them. The item gets ``source_revision``
        = ``revision`` and ``listing``; it is created when missing. Refused (False) when
        :func:`handlers.item.refusal` says so for ``revision`` and ``fields``'
        ``source_event_time``.
        """
        ...

    def list_recent(
        self,
        *,
        limit: int,
        start_key: Mapping[str, Any] | None = None,
        owner: str | None = None,
    ) -> tuple[list[ImageItem], dict[str, Any] | None]:
        """Newest ``uploaded_at`` first; returns ``(items, last_evaluated_key or None)``.

        ``start_key``: a previous page's last key (``image_id``, ``listing`` or ``owner``,
        ``uploaded_at``); only items with an ``uploaded_at`` are listed; ``owner``: only
        that owner's items.
        """
        ...
