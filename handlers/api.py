"""Lambda entry point of the upload API (API Gateway REST API, proxy integration).

Routes (DESIGN.md, Contract 3):

- ``POST /images``: image in the body (raw, base64 when ``isBase64Encoded``) or as the
  one multipart field ``file`` (400 when absent, repeated or the form is cut); at most
  ``API_MAX_BODY_BYTES`` (413 beyond, pointing to ``POST /uploads``), magic bytes
  checked (415 for non-images). Stores the original at
  ``{UPLOADS_PREFIX}{image_id}/{sanitised filename}`` with metadata ``image-id``, writes a
  ``pending`` item, answers 202 ``{"image_id", "status", "status_url"}``.
- ``POST /uploads``: optional JSON ``{"filename", "content_type", "size_bytes"}`` (the
  type matched case-insensitively, 415 when not an accepted image type); answers
  201 with a presigned POST (``upload.url`` + ``upload.fields``) bound to a new image id,
  its key, a content-length-range, a Content-Type and the ``image-id`` metadata. Its
  ``pending`` item carries ``expires_at`` (epoch seconds: URL expiry + 1 day), the table's
  TTL attribute, removed when any outcome is recorded: an upload that never arrives
  expires instead of staying pending forever.
- ``GET /images/{image_id}``: the item, plus ``download_url`` once processed (404 unknown,
  and 404 for a pending upload past its ``expires_at`` that TTL has not deleted yet).
- ``GET /images?limit=&cursor=``: newest first (``by_uploaded_at`` index), ``limit``
  default 20; a non-integer ``limit`` is a 400, an integer outside 1-100 is clamped to
  that range. Expired pending uploads are left out, so a page may hold fewer than
  ``limit`` items while ``next_cursor`` is set; ``next_cursor`` is opaque (400 when
  tampered with).

Every answer carries CORS headers; OPTIONS on a known route is a 204 preflight; unknown
paths are 404, other methods 405. Errors are ``{"error": {"code", "message"}}``;
unexpected exceptions are logged and answered 500 without details.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from handlers import bootstrap
from handlers.bootstrap import Deps
from handlers.config import ApiSettings
from handlers.cursor import decode_cursor, encode_cursor
from handlers.dynamo_store import TTL_ATTRIBUTE
from handlers.errors import (
    ApiError,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TransientError,
    UnsupportedMediaType,
)
from handlers.http import Request, cors_headers, error_response, json_response, preflight_response
from handlers.keys import is_image_id, metadata_safe, new_image_id, sanitise_filename, upload_key
from handlers.multipart import MultipartError, PartTooLarge, file_field, is_multipart
from handlers.observability import MetricUnit, flush_metrics, logger, metrics
from handlers.pipeline import utc_now
from handlers.sniff import CONTENT_TYPES, EXTENSIONS, sniff_image

MULTIPART_SLACK_BYTES = 64 * 1024  # form boundaries and part headers around the image
DEFAULT_PAGE = 20
MAX_PAGE = 100
PENDING_GRACE_S = 86_400  # a POST /uploads item outlives its upload URL by a day
_HIDDEN = ("listing", "source_revision", TTL_ATTRIBUTE)
FORM_URLENCODED = "application/x-www-form-urlencoded"

Route = Callable[[Request, Deps[ApiSettings], dict[str, str]], dict[str, Any]]


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway proxy event; never raises."""
    started = time.perf_counter()
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))
    allowed_origins: tuple[str, ...] = ("*",)
    request = Request(method="?", path="?", headers={}, query={}, raw_body="", is_base64=False)
    try:
        request = Request.from_event(event)
        deps = bootstrap.get_deps("api")
        allowed_origins = deps.settings.cors_allow_origins
        response = dispatch(request, deps)
    except ApiError as error:
        response = error_response(error)
    except TransientError as error:
        logger.warning("dependency unavailable", extra={"error": str(error)})
        response = error_response(ServiceUnavailable("a dependency is busy; try again shortly"))
    except Exception:
        logger.exception("unhandled error")
        response = error_response(ApiError("internal error"))
    if response["statusCode"] >= 500:
        metrics.add_metric(name="ApiErrors", unit=MetricUnit.Count, value=1)
    response["headers"].update(cors_headers(request.header("origin"), allowed_origins))
    logger.info(
        "request served",
        extra={
            "method": request.method,
            "path": request.path,
            "status": response["statusCode"],
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    logger.remove_keys(["image_id"])
    flush_metrics()
    return response


def dispatch(request: Request, deps: Deps[ApiSettings]) -> dict[str, Any]:
    """Route ``request``: preflight, 404, 405 or the route's answer."""
    for pattern, methods in ROUTES:
        match = pattern.match(request.path)
        if not match:
            continue
        if request.method == "OPTIONS":
            return preflight_response(request, tuple(methods))
        route = methods.get(request.method)
        if route is None:
            allowed = (*methods, "OPTIONS")
            msg = f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}"
            raise MethodNotAllowed(msg, allowed=allowed)
        return route(request, deps, match.groupdict())
    msg = f"no route for {request.path}"
    raise NotFound(msg)


def create_image(request: Request, deps: Deps[ApiSettings], _: dict[str, str]) -> dict[str, Any]:
    """POST /images: store a small upload, write the pending item, answer 202."""
    settings = deps.settings
    limit = settings.api_max_body_bytes
    too_large = PayloadTooLarge(
        f"POST /images accepts images of at most {limit} bytes; request a presigned "
        f"upload with POST /uploads for files up to {settings.upload_max_bytes} bytes"
    )
    if request.approx_body_bytes > limit + MULTIPART_SLACK_BYTES:
        raise too_large
    content_type = request.header("content-type") or ""
    filename = request.query.get("filename") or ""
    if is_multipart(content_type):
        try:
            part = file_field(request.body(), content_type, max_bytes=limit)
        except PartTooLarge as e:
            raise too_large from e
        except MultipartError as e:
            raise BadRequest(str(e)) from e
        data, filename = part.data, part.filename or filename
    else:
        data = request.body()
    if len(data) > limit:
        raise too_large
    if not data:
        msg = "the request body is empty; send the image bytes or a multipart field 'file'"
        raise BadRequest(msg, code="empty")
    sniffed = sniff_image(data)
    if sniffed is None:
        msg = "expected an image (JPEG, PNG, GIF, WebP, TIFF, BMP, HEIC or AVIF)"
        if content_type.split(";", 1)[0].strip().lower() == FORM_URLENCODED:
            # API Gateway passes form bodies as text, which mangles binary data.
            msg = (
                f"{msg}; the request says Content-Type {FORM_URLENCODED} (curl's default "
                "for --data-binary): send the image's own type, e.g. "
                "-H 'Content-Type: image/jpeg', or a multipart field with -F file=@photo.jpg"
            )
            raise UnsupportedMediaType(msg)
        raise UnsupportedMediaType(f"{msg}; the body does not start like one")

    image_id = new_image_id()
    logger.append_keys(image_id=image_id)
    key = upload_key(
        settings.uploads_prefix, image_id, sanitise_filename(filename, extension=sniffed.extension)
    )
    original_name = _display_name(filename) or key.rsplit("/", 1)[-1]
    bucket = deps.settings.uploads_bucket
    deps.metadata.create_pending(
        {
            "image_id": image_id,
            "status": "pending",
            "origin": "api",
            "filename": original_name,
            "source_bucket": bucket,
            "source_key": key,
            "original_size_bytes": len(data),
            "original_content_type": sniffed.content_type,
            "uploaded_at": utc_now(),
        }
    )
    try:
        deps.objects.put(
            bucket,
            key,
            data,
            content_type=sniffed.content_type,
            metadata={"image-id": image_id, "original-filename": metadata_safe(original_name)[0]},
        )
    except Exception:
        _abandon(deps, image_id)
        raise
    metrics.add_metric(name="ApiUploads", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ApiUploadBytes", unit=MetricUnit.Bytes, value=len(data))
    status_url = f"/images/{image_id}"
    body = {
        "image_id": image_id,
        "status": "pending",
        "status_url": status_url,
        "filename": original_name,
        "size_bytes": len(data),
    }
    return json_response(202, body, headers={"Location": status_url})


def create_upload(request: Request, deps: Deps[ApiSettings], _: dict[str, str]) -> dict[str, Any]:
    """POST /uploads: a presigned POST bound to a new image id, and its pending item."""
    settings = deps.settings
    spec = request.json_body()
    filename = spec.get("filename") or ""
    content_type = spec.get("content_type")
    size_bytes = spec.get("size_bytes")
    if not isinstance(filename, str):
        raise BadRequest("filename must be a string")
    if content_type is not None and not isinstance(content_type, str):
        raise BadRequest("content_type must be a string such as image/jpeg")
    if content_type is not None:
        content_type = content_type.strip().lower()  # MIME types are case-insensitive
    if content_type is not None and content_type not in CONTENT_TYPES:
        msg = f"content_type must be one of {', '.join(sorted(CONTENT_TYPES))}"
        raise UnsupportedMediaType(msg)
    if size_bytes is not None:
        if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes <= 0:
            raise BadRequest("size_bytes must be a positive integer")
        if size_bytes > settings.upload_max_bytes:
            msg = f"uploads are limited to {settings.upload_max_bytes} bytes, got {size_bytes}"
            raise PayloadTooLarge(msg)

    image_id = new_image_id()
    logger.append_keys(image_id=image_id)
    extension = EXTENSIONS.get(content_type or "")
    key = upload_key(
        settings.uploads_prefix, image_id, sanitise_filename(filename, extension=extension)
    )
    fields = {"x-amz-meta-image-id": image_id}
    conditions: list[Any] = [
        ["content-length-range", 1, settings.upload_max_bytes],
        {"x-amz-meta-image-id": image_id},
    ]
    if content_type:
        fields["Content-Type"] = content_type
        conditions.append({"Content-Type": content_type})
    else:
        conditions.append(["starts-with", "$Content-Type", "image/"])
    bucket = deps.settings.uploads_bucket
    deps.metadata.create_pending(
        {
            "image_id": image_id,
            "status": "pending",
            "origin": "api",
            "filename": _display_name(filename) or key.rsplit("/", 1)[-1],
            "source_bucket": bucket,
            "source_key": key,
            "original_content_type": content_type,
            "uploaded_at": utc_now(),
            TTL_ATTRIBUTE: int(time.time()) + settings.upload_url_expires_s + PENDING_GRACE_S,
        }
    )
    upload = deps.objects.presign_post(
        bucket,
        key,
        fields=fields,
        conditions=conditions,
        expires_s=settings.upload_url_expires_s,
    )
    metrics.add_metric(name="UploadUrlsIssued", unit=MetricUnit.Count, value=1)
    status_url = f"/images/{image_id}"
    body = {
        "image_id": image_id,
        "status": "pending",
        "status_url": status_url,
        "upload": {"method": "POST", "url": upload["url"], "fields": upload["fields"]},
        "key": key,
        "max_size_bytes": settings.upload_max_bytes,
        "expires_in_s": settings.upload_url_expires_s,
    }
    return json_response(201, body, headers={"Location": status_url})


def get_image(request: Request, deps: Deps[ApiSettings], params: dict[str, str]) -> dict[str, Any]:
    """GET /images/{image_id}: the item, and a download URL once processed."""
    image_id = params["image_id"]
    item = deps.metadata.get(image_id) if is_image_id(image_id) else None
    if item is None or _expired(item, time.time()):
        raise NotFound(f"no image with id {image_id!r}")
    logger.append_keys(image_id=image_id)
    return json_response(200, _public(item, deps))


def list_images(request: Request, deps: Deps[ApiSettings], _: dict[str, str]) -> dict[str, Any]:
    """GET /images: one page, newest first, with ``next_cursor`` (``None`` at the end).

    ``limit``: 400 when not an integer; clamped to 1-100 otherwise. Expired pending
    uploads (``expires_at`` in the past, not yet deleted by TTL) are left out.
    """
    raw_limit = request.query.get("limit", str(DEFAULT_PAGE))
    try:
        limit = min(max(int(raw_limit), 1), MAX_PAGE)
    except ValueError as e:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_PAGE}, got {raw_limit!r}") from e
    cursor = request.query.get("cursor")
    start_key = decode_cursor(cursor) if cursor else None
    items, last_key = deps.metadata.list_recent(limit=limit, start_key=start_key)
    now_s = time.time()
    body = {
        "items": [_public(item, deps) for item in items if not _expired(item, now_s)],
        "next_cursor": encode_cursor(last_key) if last_key else None,
    }
    return json_response(200, body)


def _public(item: dict[str, Any], deps: Deps[ApiSettings]) -> dict[str, Any]:
    """The item as the API shows it: internals hidden, download URL when processed."""
    out = {k: v for k, v in item.items() if k not in _HIDDEN}
    out["status_url"] = f"/images/{item['image_id']}"
    if item.get("status") == "processed" and item.get("processed_key"):
        expires_s = deps.settings.download_url_expires_s
        out["download_url"] = deps.objects.presign_get(
            item["processed_bucket"], item["processed_key"], expires_s=expires_s
        )
        out["download_expires_in_s"] = expires_s
    return out


def _expired(item: Mapping[str, Any], now_s: float) -> bool:
    """True for a pending upload past its ``expires_at`` (TTL deletes it within days)."""
    expires_at = item.get(TTL_ATTRIBUTE)
    return (
        item.get("status") == "pending"
        and isinstance(expires_at, int | float)
        and expires_at < now_s
    )


def _abandon(deps: Deps[ApiSettings], image_id: str) -> None:
    """Mark a pending item failed when its original could not be stored (best effort)."""
    fields = {
        "status": "failed",
        "error_reason": "upload_failed",
        "error_message": "the image could not be stored; upload it again",
        "updated_at": utc_now(),
    }
    try:
        deps.metadata.record(image_id, "none", fields)
    except Exception:
        logger.exception("could not mark the abandoned upload failed")


def _display_name(filename: str) -> str:
    """The client's file name for the item: NFC, last path segment, printable, <= 255 chars."""
    name = unicodedata.normalize("NFC", filename)
    name = re.split(r"[/\\]", name)[-1]
    return "".join(c for c in name if c.isprintable())[:255].strip()


ROUTES: list[tuple[re.Pattern[str], dict[str, Route]]] = [
    (re.compile(r"^/images$"), {"GET": list_images, "POST": create_image}),
    (re.compile(r"^/images/(?P<image_id>[^/]+)$"), {"GET": get_image}),
    (re.compile(r"^/uploads$"), {"POST": create_upload}),
]
