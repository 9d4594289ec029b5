"""S3 adapter: the only code that calls the S3 API.

Translates ``botocore`` failures into the handlers' errors with ``raise ... from e``:
404s become :class:`ObjectMissing`, 412 :class:`PreconditionFailed`, throttling /
timeouts / 5xx :class:`TransientError`; anything else (AccessDenied, NoSuchBucket...) is a
deployment fault and propagates unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from handlers.errors import (
    MISSING_CODES,
    TRANSPORT_ERRORS,
    ObjectMissing,
    PreconditionFailed,
    is_transient_client_error,
    transient_from,
)
from handlers.ports import ObjectHead, OpenedObject
from imgproc import ImageRejected
from imgproc.errors import TOO_LARGE

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3ObjectStore:
    """Reads and writes objects; signs URLs for clients.

    Args:
        client: a boto3 S3 client used for all requests.
        presign_client: a client used only to sign URLs handed to users (it may carry a
            public endpoint); defaults to ``client``.
    """

    def __init__(self, client: S3Client, presign_client: S3Client | None = None) -> None:
        self.client = client
        self.presign_client = presign_client or client

    def head(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectHead:
        """HEAD the object (optionally one version).

        Raises:
            ObjectMissing: no such key or version.
            TransientError: throttling, timeout, 5xx.
        """
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        with _translated("s3.head_object", bucket, key):
            resp = self.client.head_object(**kwargs)
        return _head_of(resp)

    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> OpenedObject:
        """GET the object (optionally one version); the head from the response's headers,
        the body streamed when read (one request where a HEAD and a GET made two).

        Raises:
            ObjectMissing: no such key or version.
            TransientError: throttling, timeout, 5xx (also when reading the body: a
                connection dropped mid-body).
        """
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        with _translated("s3.get_object", bucket, key):
            resp = self.client.get_object(**kwargs)
        body = resp["Body"]

        def read_body(max_bytes: int) -> bytes:
            with _translated("s3.get_object", bucket, key):
                data: bytes = body.read(max_bytes)
            return data

        return OpenedObject(_head_of(resp), read_body, body.close)

    def get(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        if_match: str | None = None,
        max_bytes: int,
    ) -> bytes:
        """Download the object into memory, never more than ``max_bytes`` + 1 bytes.

        Raises:
            ObjectMissing: no such key or version.
            PreconditionFailed: ``if_match`` (an ETag) no longer matches.
            ImageRejected: ``too_large`` when the body turns out bigger than ``max_bytes``.
            TransientError: throttling, timeout, 5xx, connection dropped mid-body.
        """
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        if if_match:
            kwargs["IfMatch"] = f'"{if_match}"'
        with _translated("s3.get_object", bucket, key):
            resp = self.client.get_object(**kwargs)
            body = resp["Body"]
            try:
                data = body.read(max_bytes + 1)
            finally:
                body.close()
        if len(data) > max_bytes:
            msg = f"expected at most {max_bytes} bytes, the object is bigger"
            raise ImageRejected(TOO_LARGE, msg)
        return data

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
        """Write ``data`` with its Content-Type, Cache-Control and ASCII user metadata.

        Raises:
            TransientError: throttling, timeout, 5xx.
        """
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Body": data,
            "ContentType": content_type,
            "Metadata": dict(metadata),
        }
        if cache_control:
            kwargs["CacheControl"] = cache_control
        with _translated("s3.put_object", bucket, key):
            self.client.put_object(**kwargs)

    def delete(self, bucket: str, key: str) -> None:
        """Delete the object (its current version in a versioned bucket); an absent key is
        no error (S3 answers 204 either way).

        Raises:
            TransientError: throttling, timeout, 5xx.
        """
        with _translated("s3.delete_object", bucket, key):
            self.client.delete_object(Bucket=bucket, Key=key)

    def list_keys(self, bucket: str, prefix: str, *, max_keys: int = 1000) -> list[str]:
        """ListObjectsV2 pages under ``prefix`` until ``max_keys`` keys or the end.

        Raises:
            TransientError: throttling, timeout, 5xx.
        """
        keys: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while len(keys) < max_keys:
            kwargs["MaxKeys"] = min(1000, max_keys - len(keys))
            with _translated("s3.list_objects_v2", bucket, prefix):
                resp = self.client.list_objects_v2(**kwargs)
            keys.extend(obj["Key"] for obj in resp.get("Contents", []))
            if not resp.get("IsTruncated") or not resp.get("NextContinuationToken"):
                break
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]
        return keys[:max_keys]

    def presign_get(self, bucket: str, key: str, *, expires_s: int) -> str:
        """A SigV4 GET URL valid for ``expires_s`` seconds."""
        return self.presign_client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
        )

    def presign_post(
        self,
        bucket: str,
        key: str,
        *,
        fields: Mapping[str, str],
        conditions: list[Any],
        expires_s: int,
    ) -> dict[str, Any]:
        """A SigV4 presigned POST: ``{"url": str, "fields": {...}}``.

        The policy binds ``key`` exactly, plus ``conditions`` (content-length-range,
        Content-Type, metadata...); ``fields`` are the form fields the client must send.
        """
        return self.presign_client.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields=dict(fields),
            Conditions=list(conditions),
            ExpiresIn=expires_s,
        )


def _head_of(resp: Mapping[str, Any]) -> ObjectHead:
    """The :class:`ObjectHead` of a HeadObject or GetObject response."""
    return ObjectHead(
        size_bytes=int(resp.get("ContentLength", 0)),
        etag=str(resp.get("ETag", "")).strip('"'),
        version_id=_real_version(resp.get("VersionId")),
        content_type=resp.get("ContentType"),
        metadata={k.lower(): v for k, v in (resp.get("Metadata") or {}).items()},
    )


def _real_version(version_id: object) -> str | None:
    """``None`` for absent versions and the literal ``"null"`` of unversioned buckets."""
    if not isinstance(version_id, str) or version_id in ("", "null"):
        return None
    return version_id


@contextmanager
def _translated(operation: str, bucket: str, key: str) -> Iterator[None]:
    """Re-raise botocore failures inside the block as the handlers' errors."""
    try:
        yield
    except Exception as e:
        mapped = _translate(operation, bucket, key, e)
        if mapped is e:
            raise
        raise mapped from e


def _translate(operation: str, bucket: str, key: str, error: Exception) -> Exception:
    """Map a botocore failure to the handlers' hierarchy; unknown errors map to themselves."""
    if isinstance(error, botocore.exceptions.ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in MISSING_CODES or status == 404:
            return ObjectMissing(f"s3://{bucket}/{key} does not exist ({operation}: {code})")
        if code == "PreconditionFailed" or status == 412:
            return PreconditionFailed(f"s3://{bucket}/{key} changed since the HEAD")
        if is_transient_client_error(error):
            return transient_from(operation, error)
        return error
    if isinstance(error, TRANSPORT_ERRORS):
        return transient_from(operation, error)
    return error
