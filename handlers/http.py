"""API Gateway REST proxy plumbing: the request view, JSON responses, CORS, error mapping.

Event and response shapes: https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from handlers.errors import ApiError, BadRequest, MethodNotAllowed

DEFAULT_ALLOW_HEADERS = "Content-Type,Authorization,X-Amz-Date,X-Api-Key,X-Amz-Security-Token"
PREFLIGHT_MAX_AGE_S = 600


@dataclass(frozen=True, slots=True)
class Request:
    """What a route needs from a proxy event.

    Attributes:
        method: upper-case HTTP method.
        path: resource path without the stage (``/images/abc``), no trailing slash.
        headers: header names lower-cased.
        query: single-value query parameters.
        raw_body: the body as sent (base64 text when ``is_base64``).
        is_base64: API Gateway base64-encoded the body (binary media types).
        context: the event's ``requestContext`` (what the authorizer vouched for:
            ``authorizer.claims``, ``identity``); see :mod:`handlers.auth`.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    raw_body: str
    is_base64: bool
    context: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Request:
        """Read a REST API proxy event (``headers``/``queryStringParameters`` may be null)."""
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        for k, values in (event.get("multiValueHeaders") or {}).items():
            if values and str(k).lower() not in headers:
                headers[str(k).lower()] = str(values[-1])
        path = str(event.get("path") or "/")
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        return cls(
            method=str(event.get("httpMethod") or "GET").upper(),
            path=path,
            headers=headers,
            query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
            raw_body=event.get("body") or "",
            is_base64=bool(event.get("isBase64Encoded")),
            context=event.get("requestContext") or {},
        )

    def header(self, name: str) -> str | None:
        """A header value by case-insensitive name."""
        return self.headers.get(name.lower())

    @property
    def approx_body_bytes(self) -> int:
        """Size of the decoded body in bytes, estimated without decoding it."""
        if self.is_base64:
            return len(self.raw_body) * 3 // 4
        return len(self.raw_body.encode("utf-8"))

    def body(self) -> bytes:
        """The decoded body bytes.

        Raises:
            BadRequest: the body claims base64 but is not.
        """
        if not self.is_base64:
            return self.raw_body.encode("utf-8")
        try:
            return base64.b64decode(self.raw_body, validate=True)
        except (binascii.Error, ValueError) as e:
            msg = "the body is marked base64-encoded but is not valid base64"
            raise BadRequest(msg) from e

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object; ``{}`` for an empty body.

        Raises:
            BadRequest: not JSON, or not an object.
        """
        raw = self.body()
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError as e:
            msg = f"the body is not valid JSON: {e}"
            raise BadRequest(msg) from e
        if not isinstance(value, dict):
            msg = f"expected a JSON object, got {type(value).__name__}"
            raise BadRequest(msg)
        return value


def json_response(
    status: int, payload: Any, *, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A proxy integration response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(payload, ensure_ascii=False, default=str),
        "isBase64Encoded": False,
    }


def error_response(error: ApiError) -> dict[str, Any]:
    """``{"error": {"code", "message"}}`` with the error's status (the one mapping point)."""
    headers = {}
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(error.allowed)
    if error.status == 503:
        headers["Retry-After"] = "1"
    retry_after_s = getattr(error, "retry_after_s", None)
    if isinstance(retry_after_s, int):
        headers["Retry-After"] = str(retry_after_s)
    return json_response(
        error.status, {"error": {"code": error.code, "message": error.message}}, headers=headers
    )


def cors_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """CORS headers for a response to a request from ``origin``.

    ``*`` in ``allowed`` allows any origin (answered ``*``); otherwise a listed origin is
    echoed back with ``Vary: Origin`` and an unlisted one gets no allow header.
    """
    headers = {"Access-Control-Expose-Headers": "Location"}
    if "*" in allowed:
        headers["Access-Control-Allow-Origin"] = "*"
        return headers
    headers["Vary"] = "Origin"
    if origin and origin in allowed:
        headers["Access-Control-Allow-Origin"] = origin
    return headers


def preflight_response(request: Request, methods: tuple[str, ...]) -> dict[str, Any]:
    """204 answer to an OPTIONS preflight for a route serving ``methods``.

    ``Access-Control-Allow-Headers`` is always the fixed allow-list
    (:data:`DEFAULT_ALLOW_HEADERS`), never the request's ``Access-Control-Request-Headers``
    echoed back: a browser refuses the actual request when it needs a header not listed.
    """
    return {
        "statusCode": 204,
        "headers": {
            "Access-Control-Allow-Methods": ",".join((*methods, "OPTIONS")),
            "Access-Control-Allow-Headers": DEFAULT_ALLOW_HEADERS,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
        },
        "body": "",
        "isBase64Encoded": False,
    }
