"""The API's upload use cases: store a small image, grant a presigned upload for a big one.

Both charge the caller's daily quota first (:func:`handlers.quota.charge`: 429, nothing
stored), then make a new image id, an upload key
``{UPLOADS_PREFIX}{image_id}/{sanitised filename}``, a random upload token and a ``pending``
item (:func:`handlers.item.pending_item`) recording the caller as ``owner`` and the token;
the object is written (or must be posted) with the ``image-id`` and ``upload-token``
metadata. The resize function completes the item only with that exact object
(:func:`handlers.decision.is_issued_upload`). Client errors are
:class:`handlers.errors.ApiError` subclasses (their HTTP status is a class attribute,
answered by :mod:`handlers.api`).
"""

from __future__ import annotations

import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from handlers.auth import ANONYMOUS
from handlers.bootstrap import Deps
from handlers.config import ApiSettings
from handlers.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from handlers.item import failed_fields, pending_item, utc_now
from handlers.keys import metadata_safe, new_image_id, sanitise_filename, upload_key
from handlers.observability import MetricUnit, logger, metrics
from handlers.quota import Limits, charge
from handlers.sniff import EXTENSIONS, sniff_image

PENDING_GRACE_S = 86_400  # a POST /uploads item outlives its upload URL by a day
FORM_URLENCODED = "application/x-www-form-urlencoded"
TOKEN_METADATA = "upload-token"
"""Object metadata holding the secret of the pending item the object may complete."""


def new_upload_token() -> str:
    """A fresh upload token: 32 URL-safe characters (192 random bits)."""
    return secrets.token_urlsafe(24)


def limits_of(settings: ApiSettings) -> Limits:
    """The daily per-owner limits of ``settings``."""
    return Limits(count=settings.daily_upload_count, size_bytes=settings.daily_upload_bytes)


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An image accepted by ``POST /images``: its id, display file name and size in bytes."""

    image_id: str
    filename: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """A presigned POST bound to a new image id: ``url`` + form ``fields``, the object key."""

    image_id: str
    key: str
    url: str
    fields: dict[str, Any]


def too_large(settings: ApiSettings) -> PayloadTooLarge:
    """The 413 for a ``POST /images`` body over ``API_MAX_BODY_BYTES``, pointing to uploads."""
    return PayloadTooLarge(
        f"POST /images accepts images of at most {settings.api_max_body_bytes} bytes; request "
        f"a presigned upload with POST /uploads for files up to {settings.upload_max_bytes} bytes"
    )


def store_image(
    data: bytes,
    *,
    filename: str,
    request_type: str,
    deps: Deps[ApiSettings],
    owner: str = ANONYMOUS,
) -> StoredImage:
    """Store ``data`` as a new upload and write its pending item (``POST /images``).

    Args:
        data: the image bytes.
        filename: the client's file name (may be empty).
        request_type: the request's Content-Type, to explain a form-encoded body.
        deps: the API's stores and settings.
        owner: the caller (:class:`handlers.auth.Caller` ``.owner``).

    Raises:
        TooManyRequests: the owner's daily quota is used up (nothing stored).
        PayloadTooLarge: more than ``API_MAX_BODY_BYTES``.
        BadRequest: ``empty`` body.
        UnsupportedMediaType: the bytes do not start like an accepted image.
        TransientError: a store is busy; a pending item whose original could not be stored
            is marked ``failed`` (``upload_failed``) first.
    """
    settings = deps.settings
    if len(data) > settings.api_max_body_bytes:
        raise too_large(settings)
    if not data:
        msg = "the request body is empty; send the image bytes or a multipart field 'file'"
        raise BadRequest(msg, code="empty")
    sniffed = sniff_image(data)
    if sniffed is None:
        raise UnsupportedMediaType(_not_an_image(request_type))
    charge(deps.quota, owner, len(data), limits_of(settings))

    image_id = new_image_id()
    token = new_upload_token()
    logger.append_keys(image_id=image_id)
    key = upload_key(
        settings.uploads_prefix, image_id, sanitise_filename(filename, extension=sniffed.extension)
    )
    shown_name = display_name(filename) or key.rsplit("/", 1)[-1]
    deps.metadata.create_pending(
        pending_item(
            image_id=image_id,
            filename=shown_name,
            bucket=settings.uploads_bucket,
            key=key,
            content_type=sniffed.content_type,
            uploaded_at=utc_now(),
            size_bytes=len(data),
            owner=owner,
            upload_token=token,
        )
    )
    try:
        deps.objects.put(
            settings.uploads_bucket,
            key,
            data,
            content_type=sniffed.content_type,
            metadata={
                "image-id": image_id,
                TOKEN_METADATA: token,
                "original-filename": metadata_safe(shown_name)[0],
            },
        )
    except Exception:
        _abandon(deps, image_id)
        raise
    metrics.add_metric(name="ApiUploads", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ApiUploadBytes", unit=MetricUnit.Bytes, value=len(data))
    return StoredImage(image_id=image_id, filename=shown_name, size_bytes=len(data))


def grant_upload(
    *,
    filename: str,
    content_type: str | None,
    size_bytes: int | None,
    deps: Deps[ApiSettings],
    owner: str = ANONYMOUS,
) -> UploadGrant:
    """A presigned POST for a new image id, and its pending item (``POST /uploads``).

    The policy binds the key exactly, 1 to ``size_bytes`` (else ``UPLOAD_MAX_BYTES``)
    bytes, the ``image-id``, ``upload-token`` and ``owner`` (percent-encoded) metadata and
    the Content-Type (``content_type``, else any ``image/``); the quota is charged that
    many bytes. The pending item
    carries ``expires_at`` (the URL's expiry plus :data:`PENDING_GRACE_S`), the table's TTL
    attribute, removed when an outcome is recorded: an upload that never arrives expires.

    Args:
        filename: the client's file name (may be empty).
        content_type: an accepted image MIME type (lower case), or ``None``.
        size_bytes: the announced size, or ``None``.
        deps: the API's stores and settings.
        owner: the caller (:class:`handlers.auth.Caller` ``.owner``).

    Raises:
        TooManyRequests: the owner's daily quota is used up (nothing granted).
        PayloadTooLarge: ``size_bytes`` over ``UPLOAD_MAX_BYTES``.
        TransientError: a store is busy.
    """
    settings = deps.settings
    if size_bytes is not None and size_bytes > settings.upload_max_bytes:
        msg = f"uploads are limited to {settings.upload_max_bytes} bytes, got {size_bytes}"
        raise PayloadTooLarge(msg)
    max_bytes = size_bytes or settings.upload_max_bytes
    charge(deps.quota, owner, max_bytes, limits_of(settings))

    image_id = new_image_id()
    token = new_upload_token()
    logger.append_keys(image_id=image_id)
    extension = EXTENSIONS.get(content_type or "")
    key = upload_key(
        settings.uploads_prefix, image_id, sanitise_filename(filename, extension=extension)
    )
    fields = {
        "x-amz-meta-image-id": image_id,
        f"x-amz-meta-{TOKEN_METADATA}": token,
        "x-amz-meta-owner": quote(owner, safe=""),
    }
    conditions: list[Any] = [
        ["content-length-range", 1, max_bytes],
        *({name: value} for name, value in fields.items()),
    ]
    if content_type:
        fields["Content-Type"] = content_type
        conditions.append({"Content-Type": content_type})
    else:
        conditions.append(["starts-with", "$Content-Type", "image/"])
    deps.metadata.create_pending(
        pending_item(
            image_id=image_id,
            filename=display_name(filename) or key.rsplit("/", 1)[-1],
            bucket=settings.uploads_bucket,
            key=key,
            content_type=content_type,
            uploaded_at=utc_now(),
            expires_at=int(time.time()) + settings.upload_url_expires_s + PENDING_GRACE_S,
            owner=owner,
            upload_token=token,
        )
    )
    upload = deps.objects.presign_post(
        settings.uploads_bucket,
        key,
        fields=fields,
        conditions=conditions,
        expires_s=settings.upload_url_expires_s,
    )
    metrics.add_metric(name="UploadUrlsIssued", unit=MetricUnit.Count, value=1)
    return UploadGrant(image_id=image_id, key=key, url=upload["url"], fields=upload["fields"])


def display_name(filename: str) -> str:
    """The client's file name for the item: NFC, last path segment, printable, <= 255 chars."""
    name = unicodedata.normalize("NFC", filename)
    name = re.split(r"[/\\]", name)[-1]
    return "".join(c for c in name if c.isprintable())[:255].strip()


def _not_an_image(request_type: str) -> str:
    """The 415 message; a form-encoded request gets told how to send binary data."""
    msg = "expected an image (JPEG, PNG, GIF, WebP, TIFF, BMP, HEIC or AVIF)"
    if request_type.split(";", 1)[0].strip().lower() == FORM_URLENCODED:
        # API Gateway passes form bodies as text, which mangles binary data.
        return (
            f"{msg}; the request says Content-Type {FORM_URLENCODED} (curl's default "
            "for --data-binary): send the image's own type, e.g. "
            "-H 'Content-Type: image/jpeg', or a multipart field with -F file=@photo.jpg"
        )
    return f"{msg}; the body does not start like one"


def _abandon(deps: Deps[ApiSettings], image_id: str) -> None:
    """Mark a pending item failed when its original could not be stored (best effort)."""
    message = "the image could not be stored; upload it again"
    fields = failed_fields("upload_failed", message, now=utc_now(), stamp="updated_at")
    try:
        deps.metadata.record(image_id, "none", fields)
    except Exception:
        logger.exception("could not mark the abandoned upload failed")
