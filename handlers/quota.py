"""Per-owner daily upload limits: a conditional counter per owner and UTC day.

Every upload the API accepts (``POST /images``) or grants (``POST /uploads``) first
consumes one upload and its bytes from the caller's counter for the current UTC day
(``DAILY_UPLOAD_COUNT``, ``DAILY_UPLOAD_BYTES``; a grant counts the size the client
announced, else ``UPLOAD_MAX_BYTES``, the most its presigned POST accepts). The
increment is one conditional DynamoDB ``UpdateItem`` (``ADD`` under a condition that the
new totals stay within the limits), so concurrent requests cannot overshoot. Refused, the
API answers 429 with ``Retry-After`` (seconds until the next UTC midnight) and stores
nothing.

Table (``QUOTA_TABLE``; unset: no limits): partition key ``counter`` (S,
``{owner}#{YYYY-MM-DD}``), attributes ``uploads`` and ``upload_bytes`` (N), and
``expires_at`` (epoch seconds, two days later: TTL removes old counters). Mirrored by
:data:`QUOTA_TABLE_DEFINITION`, deploy/local/resources.py and deploy/aws/template.yaml.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import botocore.exceptions

from handlers.errors import TRANSPORT_ERRORS, ApiError, is_transient_client_error, transient_from

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNTER_TTL_S = 2 * 86_400
QUOTA_TABLE_DEFINITION: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "counter", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "counter", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


class TooManyRequests(ApiError):
    """The caller's daily upload quota is used up (429, with ``Retry-After``)."""

    status = 429
    code = "quota_exceeded"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Limits:
    """Per owner per UTC day; 0 means no limit. ``count``: uploads; ``size_bytes``: bytes."""

    count: int
    size_bytes: int

    @property
    def unlimited(self) -> bool:
        """True when neither limit is set."""
        return self.count == 0 and self.size_bytes == 0


class QuotaStore(Protocol):
    """The counters (DynamoDB; an in-memory fake for tests)."""

    def consume(self, counter: str, size_bytes: int, limits: Limits, expires_at: int) -> bool:
        """Add one upload of ``size_bytes`` to ``counter`` unless that would pass ``limits``.

        Returns True when added, False when refused (nothing changed).

        Raises:
            handlers.errors.TransientError: throttling, timeout, 5xx.
        """
        ...


def counter_key(owner: str, now: datetime) -> str:
    """``{owner}#{YYYY-MM-DD}`` of the UTC day of ``now``."""
    return f"{owner}#{now.astimezone(UTC):%Y-%m-%d}"


def seconds_to_midnight(now: datetime) -> int:
    """Whole seconds (at least 1) until the next UTC midnight: the ``Retry-After`` value."""
    now = now.astimezone(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds() + 0.999))


def charge(
    store: QuotaStore | None,
    owner: str,
    size_bytes: int,
    limits: Limits,
    *,
    now: datetime | None = None,
) -> None:
    """Consume one upload of ``size_bytes`` from ``owner``'s counter of today.

    A no-op without a store or without limits.

    Raises:
        TooManyRequests: the upload would pass a limit (nothing counted).
        handlers.errors.TransientError: the table is busy.
    """
    if store is None or limits.unlimited:
        return
    now = now or datetime.now(UTC)
    expires_at = int(now.timestamp()) + COUNTER_TTL_S
    if store.consume(counter_key(owner, now), size_bytes, limits, expires_at):
        return
    msg = (
        f"daily upload limit reached ({limits.count or 'no limit on'} uploads, "
        f"{limits.size_bytes or 'no limit on'} bytes per day); try again after 00:00 UTC"
    )
    raise TooManyRequests(msg, retry_after_s=seconds_to_midnight(now))


class DynamoQuotaStore:
    """Counters in a DynamoDB table (:data:`QUOTA_TABLE_DEFINITION`)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def consume(self, counter: str, size_bytes: int, limits: Limits, expires_at: int) -> bool:
        """One conditional ``UpdateItem``: ADD 1 and the bytes if the totals stay in limits."""
        values: dict[str, Any] = {
            ":one": {"N": "1"},
            ":bytes": {"N": str(size_bytes)},
            ":exp": {"N": str(expires_at)},
        }
        checks = []
        if limits.count:
            values[":max_before"] = {"N": str(limits.count - 1)}
            checks.append("(attribute_not_exists(uploads) OR uploads <= :max_before)")
        if limits.size_bytes:
            if size_bytes > limits.size_bytes:
                return False
            values[":bytes_before"] = {"N": str(limits.size_bytes - size_bytes)}
            checks.append("(attribute_not_exists(upload_bytes) OR upload_bytes <= :bytes_before)")
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"counter": {"S": counter}},
                UpdateExpression="ADD uploads :one, upload_bytes :bytes SET expires_at = :exp",
                ConditionExpression=" AND ".join(checks),
                ExpressionAttributeValues=values,
            )
        except botocore.exceptions.ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code == "ConditionalCheckFailedException":
                return False
            if is_transient_client_error(e):
                raise transient_from("dynamodb.update_item", e) from e
            raise
        except TRANSPORT_ERRORS as e:
            raise transient_from("dynamodb.update_item", e) from e
        return True


class MemoryQuotaStore:
    """Counters in a dict, with the DynamoDB store's rule (tests, benchmarks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, tuple[int, int]] = {}

    def consume(self, counter: str, size_bytes: int, limits: Limits, expires_at: int) -> bool:
        """Add one upload of ``size_bytes`` unless a limit would be passed."""
        with self._lock:
            uploads, total = self.counters.get(counter, (0, 0))
            if limits.count and uploads + 1 > limits.count:
                return False
            if limits.size_bytes and total + size_bytes > limits.size_bytes:
                return False
            self.counters[counter] = (uploads + 1, total + size_bytes)
            return True
