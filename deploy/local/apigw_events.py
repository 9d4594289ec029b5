"""API Gateway REST API (Lambda proxy integration) shapes for the local HTTP front.

- :func:`build_event`: the proxy event API Gateway sends for one HTTP request
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html):
  bodies of a binary media type base64-encoded with ``isBase64Encoded: true``, other bodies
  as text, no body ``null``; routes as the REST API in deploy/aws/template.yaml (``/`` and one
  greedy ``/{proxy+}`` resource).
- :func:`parse_response`: a handler's ``{"statusCode", "headers", "multiValueHeaders",
  "body", "isBase64Encoded"}`` reply read as API Gateway reads it.
- :func:`error_response`, :func:`too_large_response`: answers the front gives itself, in the
  project's error shape ``{"error": {"code", "message"}}`` (Contract 3) with the API's CORS
  headers (``handlers.http.cors_headers``), as the template's gateway responses do on AWS.
- :class:`UploadLimits`: the API's ``POST /images`` limit and its one message, the same
  words whichever layer (the front's own checks or the handler) refuses the body.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handlers.http import cors_headers

BINARY_MEDIA_TYPES = ("multipart/form-data", "image/*", "application/octet-stream")
"""Bodies of these types reach the function base64-encoded and byte-exact. The one Python
declaration: the HTTP front and compose's REST API use it, and deploy/aws/template.yaml's
``RestApi.BinaryMediaTypes`` must list the same (tests/deploy/test_template.py checks)."""
STAGE = "local"
TOO_LARGE_CODE = "too_large"  # the engine's reason code, as the API's own 413 (DESIGN.md)
UPLOADS_PATH = "/images"  # the one route whose too-big bodies have the presigned way round


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """What ``POST /images`` accepts, in bytes, as the API function is configured.

    Attributes:
        images_max_bytes: the image in a ``POST /images`` body (``API_MAX_BODY_BYTES``,
            handlers/config.py; default 4,500,000 = the README's 4.5 MB).
        uploads_max_bytes: a presigned ``POST /uploads`` upload (``UPLOAD_MAX_BYTES``;
            default 20 MiB).
        framing_bytes: what a multipart body may carry around the image (boundaries, part
            headers), as the handler allows (``handlers.api.MULTIPART_SLACK_BYTES``).

    The defaults are the handlers' defaults (tests/deploy/test_upload_limits.py checks);
    the runner and the standalone front pass the configured values (:meth:`from_settings`).
    """

    images_max_bytes: int = 4_500_000
    uploads_max_bytes: int = 20_971_520
    framing_bytes: int = 64 * 1024

    @classmethod
    def from_settings(cls, settings: Any) -> UploadLimits:
        """The limits of a ``handlers.config.Settings`` (its ``api_max_body_bytes`` and
        ``upload_max_bytes``)."""
        return cls(
            images_max_bytes=int(settings.api_max_body_bytes),
            uploads_max_bytes=int(settings.upload_max_bytes),
        )

    @property
    def body_max_bytes(self) -> int:
        """The largest ``POST /images`` body passed to the function: image plus framing."""
        return self.images_max_bytes + self.framing_bytes

    def message(self) -> str:
        """The one message for a too-big ``POST /images``, word for word the handler's
        (``PayloadTooLarge`` in handlers/api.py), whoever refuses the body."""
        return (
            f"POST /images accepts images of at most {self.images_max_bytes} bytes; request "
            f"a presigned upload with POST /uploads for files up to {self.uploads_max_bytes} "
            "bytes"
        )


def match_route(path: str) -> tuple[str, dict[str, str] | None]:
    """Map a request path to its API Gateway ``resource`` and ``pathParameters``.

    Mirrors the REST API in ``deploy/aws/template.yaml``: the root resource ``/`` and one
    greedy ``/{proxy+}`` resource, so ``/images/abc`` arrives exactly as on AWS:
    ``("/{proxy+}", {"proxy": "images/abc"})``. Parameter values are percent-decoded.
    """
    segments = [urllib.parse.unquote(s) for s in path.strip("/").split("/")] if path != "/" else []
    if not segments:
        return "/", None
    return "/{proxy+}", {"proxy": "/".join(segments)}


def is_binary(content_type: str | None, binary_media_types: tuple[str, ...]) -> bool:
    """Whether API Gateway would base64-encode a body of ``content_type``."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return any(fnmatch.fnmatchcase(media_type, pattern) for pattern in binary_media_types)


def build_event(
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    host: str,
    port: int,
    binary_media_types: tuple[str, ...] = BINARY_MEDIA_TYPES,
    stage: str = STAGE,
) -> dict[str, Any]:
    """The API Gateway REST proxy event for one request.

    Args:
        method: HTTP method; target: the request target (path and query string);
        headers: as received, in order, names as sent; body: raw request body bytes;
        source_ip: the client's address; host, port: where this front listens.
    """
    split = urllib.parse.urlsplit(target)
    path = urllib.parse.unquote(split.path) or "/"
    resource, path_parameters = match_route(split.path or "/")
    multi_query: dict[str, list[str]] = {}
    for name, value in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    all_headers = [
        *headers,
        ("X-Forwarded-For", source_ip),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", "http"),
    ]
    multi_headers: dict[str, list[str]] = {}
    for name, value in all_headers:
        multi_headers.setdefault(name, []).append(value)
    lower = {name.lower(): values[-1] for name, values in multi_headers.items()}
    binary = is_binary(lower.get("content-type"), binary_media_types)
    if not body:
        event_body = None
    elif binary:
        event_body = base64.b64encode(body).decode("ascii")
    else:
        event_body = body.decode("utf-8", errors="replace")
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": host.split(".")[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": lower.get("user-agent"),
                "user": None,
            },
            "domainName": host,
            "apiId": "local",
        },
        "body": event_body,
        "isBase64Encoded": bool(event_body) and binary,
    }


@dataclass(frozen=True, slots=True)
class ProxyResponse:
    """A handler reply ready to write: status, header pairs (repeats allowed), body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def parse_response(reply: Any) -> ProxyResponse:
    """Read a Lambda proxy reply the way API Gateway does.

    ``headers`` and ``multiValueHeaders`` are merged (both kept); a base64 body is decoded.

    Raises:
        ValueError: the reply is not a valid proxy response (API Gateway answers 502).
    """
    if not isinstance(reply, dict) or not isinstance(reply.get("statusCode"), int):
        msg = f"expected a dict with an int statusCode, got {type(reply).__name__}"
        raise ValueError(msg)
    pairs: list[tuple[str, str]] = []
    multi = reply.get("multiValueHeaders") or {}
    for name, value in (reply.get("headers") or {}).items():
        if name not in multi:
            pairs.append((name, str(value)))
    for name, values in multi.items():
        pairs.extend((name, str(v)) for v in values)
    body = reply.get("body") or ""
    if reply.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, TypeError) as e:
            msg = "isBase64Encoded is true but the body is not base64"
            raise ValueError(msg) from e
    else:
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return ProxyResponse(reply["statusCode"], pairs, data)


def cors_header_pairs(origin: str | None, allow_origins: tuple[str, ...]) -> list[tuple[str, str]]:
    """The API's CORS headers (``handlers.http.cors_headers``) for a request from ``origin``,
    as header pairs."""
    return list(cors_headers(origin, allow_origins).items())


def error_response(
    status: int, code: str, message: str, *, cors: list[tuple[str, str]] | None = None
) -> ProxyResponse:
    """``status`` with ``{"error": {"code", "message"}}`` (Contract 3) and ``cors`` headers."""
    payload = {"error": {"code": code, "message": message}}
    headers = [("Content-Type", "application/json"), *(cors or [])]
    return ProxyResponse(status, headers, json.dumps(payload).encode())


def is_upload(method: str, path: str) -> bool:
    """``POST /images`` (a trailing slash too), the route with the presigned way round."""
    return method == "POST" and path.rstrip("/") == UPLOADS_PATH


def too_large_response(
    method: str,
    path: str,
    size_bytes: int,
    limit_bytes: int,
    *,
    limits: UploadLimits | None = None,
    what: str = "",
    cors: list[tuple[str, str]] | None = None,
) -> ProxyResponse:
    """413 ``{"error": {"code": "too_large", "message"}}``.

    For ``POST /images`` the message is :meth:`UploadLimits.message` (``limits``, default
    :class:`UploadLimits`), whichever limit was hit: one limit, one message. For other
    routes it names the size and the limit (``what`` qualifies the size, e.g. the Lambda
    event size).
    """
    if is_upload(method, path):
        return error_response(413, TOO_LARGE_CODE, (limits or UploadLimits()).message(), cors=cors)
    message = (
        f"request body too large for {method} {path} ({size_bytes} bytes{what}, "
        f"the limit is {limit_bytes} bytes)"
    )
    return error_response(413, TOO_LARGE_CODE, message, cors=cors)
