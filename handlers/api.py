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
- ``GET /images/{image_id}``: the item, plus ``download_url`` once processed and a ``url``
  in each entry of its ``renditions`` (404 unknown,
  and 404 for a pending upload past its ``expires_at`` that TTL has not deleted yet).
- ``GET /images?limit=&cursor=``: newest first (``by_uploaded_at`` index), ``limit``
  default 20; a non-integer ``limit`` is a 400, an integer outside 1-100 is clamped to
  that range. Expired pending uploads are left out, so a page may hold fewer than
  ``limit`` items while ``next_cursor`` is set; ``next_cursor`` is opaque (400 when
  tampered with).

Who calls (``AUTH_MODE``, :mod:`handlers.auth`): in ``jwt`` and ``iam`` mode every upload
records the caller as ``owner``, ``GET /images`` lists the caller's images only and
``GET /images/{image_id}`` answers 404 for anyone else's; in ``none`` mode (the default)
everything is ``anonymous`` and visible to all, as before. Uploads count against the
owner's daily quota (:mod:`handlers.quota`): 429 with ``Retry-After``, nothing stored.
Items are shown as a public view (:func:`handlers.images.public_view`).

This module maps HTTP to the use cases (:mod:`handlers.uploads` for the two uploads,
:mod:`handlers.images` for the reads) and back. Every answer carries CORS headers;
OPTIONS on a known route is a 204 preflight; unknown paths are 404, other methods 405.
Errors are ``{"error": {"code", "message"}}``; unexpected exceptions are logged and
answered 500 without details.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from handlers import bootstrap, images, uploads
from handlers.auth import Caller, caller_of
from handlers.bootstrap import Deps
from handlers.config import ApiSettings
from handlers.errors import (
    ApiError,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    TransientError,
    UnsupportedMediaType,
)
from handlers.http import Request, cors_headers, error_response, json_response, preflight_response
from handlers.multipart import MultipartError, PartTooLarge, file_field, is_multipart
from handlers.observability import MetricUnit, flush_metrics, logger, metrics
from handlers.sniff import CONTENT_TYPES

MULTIPART_SLACK_BYTES = 64 * 1024  # form boundaries and part headers around the image
DEFAULT_PAGE = 20
MAX_PAGE = 100

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
        # HEAD is GET without the body, which the transport drops (API Gateway's ANY method
        # passes HEAD through to the function, RFC 9110 section 9.3.2).
        route = methods.get("GET" if request.method == "HEAD" else request.method)
        if route is None:
            allowed = (*methods, "OPTIONS")
            msg = f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}"
            raise MethodNotAllowed(msg, allowed=allowed)
        return route(request, deps, match.groupdict())
    msg = f"no route for {request.path}"
    raise NotFound(msg)


def create_image(request: Request, deps: Deps[ApiSettings], _: dict[str, str]) -> dict[str, Any]:
    """POST /images: the image is the body or its multipart field ``file``; answers 202."""
    limit = deps.settings.api_max_body_bytes
    if request.approx_body_bytes > limit + MULTIPART_SLACK_BYTES:
        raise uploads.too_large(deps.settings)
    content_type = request.header("content-type") or ""
    filename = request.query.get("filename") or ""
    if is_multipart(content_type):
        try:
            part = file_field(request.body(), content_type, max_bytes=limit)
        except PartTooLarge as e:
            raise uploads.too_large(deps.settings) from e
        except MultipartError as e:
            raise BadRequest(str(e)) from e
        data, filename = part.data, part.filename or filename
    else:
        data = request.body()
    stored = uploads.store_image(
        data,
        filename=filename,
        request_type=content_type,
        deps=deps,
        owner=caller(request, deps).owner,
    )
    status_url = f"/images/{stored.image_id}"
    body = {
        "image_id": stored.image_id,
        "status": "pending",
        "status_url": status_url,
        "filename": stored.filename,
        "size_bytes": stored.size_bytes,
    }
    return json_response(202, body, headers={"Location": status_url})


def create_upload(request: Request, deps: Deps[ApiSettings], _: dict[str, str]) -> dict[str, Any]:
    """POST /uploads: JSON ``{"filename", "content_type", "size_bytes"}`` (all optional); 201."""
    owner = caller(request, deps).owner
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
        if content_type not in CONTENT_TYPES:
            msg = f"content_type must be one of {', '.join(sorted(CONTENT_TYPES))}"
            raise UnsupportedMediaType(msg)
    if size_bytes is not None and (
        isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes <= 0
    ):
        raise BadRequest("size_bytes must be a positive integer")
    grant = uploads.grant_upload(
        filename=filename,
        content_type=content_type,
        size_bytes=size_bytes,
        deps=deps,
        owner=owner,
    )
    status_url = f"/images/{grant.image_id}"
    body = {
        "image_id": grant.image_id,
        "status": "pending",
        "status_url": status_url,
        "upload": {"method": "POST", "url": grant.url, "fields": grant.fields},
        "key": grant.key,
        "max_size_bytes": size_bytes or deps.settings.upload_max_bytes,
        "expires_in_s": deps.settings.upload_url_expires_s,
    }
    return json_response(201, body, headers={"Location": status_url})


def get_image(request: Request, deps: Deps[ApiSettings], params: dict[str, str]) -> dict[str, Any]:
    """GET /images/{image_id}: the item, and a download URL once processed."""
    return json_response(200, images.find_image(params["image_id"], deps, caller(request, deps)))


def list_images(request: Request, deps: Deps[ApiSettings], _: dict[str, str]) -> dict[str, Any]:
    """GET /images?limit=&cursor=: one page, newest first, with ``next_cursor``.

    ``limit``: 400 when not an integer; clamped to 1-100 otherwise.
    """
    raw_limit = request.query.get("limit", str(DEFAULT_PAGE))
    try:
        limit = min(max(int(raw_limit), 1), MAX_PAGE)
    except ValueError as e:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_PAGE}, got {raw_limit!r}") from e
    cursor = request.query.get("cursor")
    return json_response(200, images.recent_images(limit, cursor, deps, caller(request, deps)))


def caller(request: Request, deps: Deps[ApiSettings]) -> Caller:
    """Who sent ``request`` (:func:`handlers.auth.caller_of` under ``AUTH_MODE``).

    Raises:
        Unauthorized: ``jwt``/``iam`` mode without what the authorizer fills in.
    """
    return caller_of(request.context, deps.settings.auth_mode)


ROUTES: list[tuple[re.Pattern[str], dict[str, Route]]] = [
    (re.compile(r"^/images$"), {"GET": list_images, "POST": create_image}),
    (re.compile(r"^/images/(?P<image_id>[^/]+)$"), {"GET": get_image}),
    (re.compile(r"^/uploads$"), {"POST": create_upload}),
]
