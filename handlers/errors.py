"""Errors of the adapters, in one hierarchy.

- :class:`TransientError`: a fault that may pass (throttling, timeouts, 5xx). The resize
  function lets it propagate so Lambda retries (or reports the SQS record as failed);
  the API answers 503.
- :class:`ObjectMissing`: the S3 object (or version) does not exist; permanent.
- :class:`ItemExists`: ``MetadataStore.create_pending`` found the image id taken.
- :class:`ApiError` and subclasses: client errors of the API, each with its HTTP
  ``status`` and ``code`` as class attributes, mapped to a response at one boundary
  (``handlers.http.error_response``). Where the API refuses an image for a reason the
  engine also knows (413, 415) it uses the engine's reason code (``too_large``,
  ``unsupported_format``), so one code means one thing in API errors and in the table.

The permanent image error is the engine's :class:`imgproc.ImageRejected`.
"""

from __future__ import annotations

import botocore.exceptions

from imgproc.errors import TOO_LARGE, UNSUPPORTED_FORMAT

# Error codes from S3 / DynamoDB that mean "try again later".
TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


class TransientError(Exception):
    """A retryable fault in a dependency.

    Attributes:
        operation: what was attempted, e.g. ``"s3.get_object"``.
        code: the AWS error code or exception class name.
    """

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation} failed ({code}): {message}")
        self.operation = operation
        self.code = code


class ObjectMissing(Exception):
    """The S3 object or version does not exist (deleted, or never written)."""


class PreconditionFailed(Exception):
    """A conditional S3 read found a different object version than expected."""


class ItemExists(Exception):
    """``MetadataStore.create_pending`` found an item with the same ``image_id``."""


def is_transient_client_error(error: botocore.exceptions.ClientError) -> bool:
    """True when ``error`` is throttling, a timeout or a 5xx answer."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code in TRANSIENT_CODES or status >= 500 or status == 429


TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    botocore.exceptions.ConnectionError,  # includes connect/read timeouts, endpoint down
    botocore.exceptions.HTTPClientError,
    botocore.exceptions.IncompleteReadError,
    botocore.exceptions.ResponseStreamingError,
)


def transient_from(operation: str, error: Exception) -> TransientError:
    """Wrap ``error`` (a ClientError or transport error) as a :class:`TransientError`."""
    if isinstance(error, botocore.exceptions.ClientError):
        code = str(error.response.get("Error", {}).get("Code", "")) or "ClientError"
    else:
        code = type(error).__name__
    return TransientError(operation, code, str(error))


class ApiError(Exception):
    """An error answered to an API client as ``{"error": {"code", "message"}}``."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(ApiError):
    """Malformed request: bad JSON, bad cursor, bad parameter (400)."""

    status = 400
    code = "bad_request"


class NotFound(ApiError):
    """Unknown route or image (404)."""

    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    """Known route, method not served (405); ``allowed`` feeds the ``Allow`` header."""

    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


class Conflict(ApiError):
    """The request cannot be done in the resource's current state (409)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    """Body bigger than the limit of the route (413); code ``too_large`` as the engine's."""

    status = 413
    code = TOO_LARGE


class UnsupportedMediaType(ApiError):
    """Not an image we accept (415); code ``unsupported_format`` as the engine's."""

    status = 415
    code = UNSUPPORTED_FORMAT


class ServiceUnavailable(ApiError):
    """A dependency is throttling or down; retry later (503)."""

    status = 503
    code = "service_unavailable"
