"""DynamoDB adapter for the metadata table: the only code that calls the DynamoDB API.

Table layout (shared contract; the CloudFormation template mirrors it):

- partition key ``image_id`` (S);
- GSI ``by_uploaded_at``: partition key ``listing`` (S, the constant ``"images"`` on every
  item), sort key ``uploaded_at`` (S, ISO 8601 UTC), projection ALL, for the newest-first
  listing without a Scan. One listing partition keeps the query simple; it serves well
  up to roughly a thousand writes per second, beyond which the listing key would be
  sharded.
- GSI ``by_owner``: partition key ``owner`` (S, the caller that uploaded through the API,
  or ``users/<owner>/`` of a direct key), sort key ``uploaded_at``, projection ALL: one
  owner's images newest first (``AUTH_MODE`` jwt or iam). Sparse: items without an owner
  (direct uploads outside ``users/``) are not in it.

Time to live: pending items made by ``POST /uploads`` carry ``expires_at`` (epoch
seconds, :data:`TTL_ATTRIBUTE`); DynamoDB deletes such items some time (up to a few
days) after that moment when the table's TTL is enabled (:data:`TTL_SPECIFICATION`; the
template enables it, a local runner calls ``update_time_to_live`` with it). Every outcome
write REMOVEs the attribute, so only uploads that never arrived expire.

Idempotency and ordering: every outcome write is conditional, the condition expression
stating :func:`handlers.item.refusal` (the contract suite,
``tests/handlers/test_store_contract.py``, runs both on the same cases). It is refused when
the item already holds this ``source_revision`` (the object's version id, or its ETag in an
unversioned bucket) in a final state, neither pending nor failed: a duplicate delivery. It
is also refused when the item describes another revision whose ``source_event_time`` (the
S3 event time of that revision) is later than the one being written: a late outcome of an
older upload of the same key never replaces a newer one.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import botocore.exceptions
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from handlers.errors import (
    TRANSPORT_ERRORS,
    ItemExists,
    is_transient_client_error,
    transient_from,
)
from handlers.item import EVENT_TIME, LISTING, OPEN_STATUSES, REVISION, TTL_ATTRIBUTE, ImageItem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["LISTING", "TABLE_DEFINITION", "TTL_ATTRIBUTE", "TTL_SPECIFICATION"]

INDEX_NAME = "by_uploaded_at"
OWNER_INDEX_NAME = "by_owner"
TTL_SPECIFICATION: dict[str, Any] = {"Enabled": True, "AttributeName": TTL_ATTRIBUTE}

TABLE_DEFINITION: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "image_id", "KeyType": "HASH"}],
    "AttributeDefinitions": [
        {"AttributeName": "image_id", "AttributeType": "S"},
        {"AttributeName": "listing", "AttributeType": "S"},
        {"AttributeName": "uploaded_at", "AttributeType": "S"},
        {"AttributeName": "owner", "AttributeType": "S"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": INDEX_NAME,
            "KeySchema": [
                {"AttributeName": "listing", "KeyType": "HASH"},
                {"AttributeName": "uploaded_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": OWNER_INDEX_NAME,
            "KeySchema": [
                {"AttributeName": "owner", "KeyType": "HASH"},
                {"AttributeName": "uploaded_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ],
    "BillingMode": "PAY_PER_REQUEST",
}

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DynamoMetadataStore:
    """Image metadata items in one table.

    Args:
        client: a boto3 DynamoDB client.
        table_name: the metadata table (``METADATA_TABLE``).
    """

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def get(self, image_id: str) -> ImageItem | None:
        """The item (strongly consistent read) with plain Python values, or ``None``.

        Raises:
            TransientError: throttling, timeout, 5xx.
        """
        resp = self._call(
            "get_item",
            TableName=self.table_name,
            Key={"image_id": {"S": image_id}},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return _as_item(from_dynamo(item)) if item else None

    def create_pending(self, item: Mapping[str, Any]) -> None:
        """Write a new item (``listing`` is added); it must not exist yet.

        Raises:
            ItemExists: an item with this ``image_id`` already exists.
            TransientError: throttling, timeout, 5xx.
        """
        full = {**item, "listing": LISTING}
        try:
            self._call(
                "put_item",
                TableName=self.table_name,
                Item=to_dynamo(full),
                ConditionExpression="attribute_not_exists(image_id)",
            )
        except botocore.exceptions.ClientError as e:
            if _code(e) == "ConditionalCheckFailedException":
                raise ItemExists(item["image_id"]) from e
            raise

    def record(
        self,
        image_id: str,
        revision: str,
        fields: Mapping[str, Any],
        *,
        remove: tuple[str, ...] = (),
        keep_if_present: Mapping[str, Any] | None = None,
    ) -> bool:
        """Create or update the item with an outcome for source ``revision``.

        Args:
            image_id: the item.
            revision: the source object's version id or ETag; stored as ``source_revision``.
            fields: attributes to SET; a ``None`` value REMOVEs the attribute (it describes
                an earlier revision). ``source_event_time`` (ISO 8601 UTC), when given,
                orders revisions (see the module docstring).
            remove: attributes to REMOVE (stale fields of an earlier outcome);
                ``expires_at`` is always removed.
            keep_if_present: attributes SET only when the item lacks them
                (``uploaded_at``, ``filename`` of an API upload's pending item).

        Returns:
            True when written; False when refused: the item already holds a final outcome
            (processed or rejected) for this revision (a duplicate delivery), or it
            describes a revision with a later ``source_event_time`` (superseded).

        Raises:
            TransientError: throttling, timeout, 5xx.
        """
        names: dict[str, str] = {"#status": "status", "#rev": REVISION}
        values: dict[str, Any] = {":rev": revision, ":listing": LISTING}
        sets = ["#rev = :rev", "listing = :listing"]
        removals = [n for n in (*remove, TTL_ATTRIBUTE) if fields.get(n) is None]
        for i, (name, value) in enumerate(fields.items()):
            if name in ("image_id", REVISION, "listing"):
                continue
            if value is None:
                removals.append(name)
                continue
            names[f"#f{i}"] = name
            values[f":f{i}"] = value
            sets.append(f"#f{i} = :f{i}")
        for i, (name, value) in enumerate((keep_if_present or {}).items()):
            if value is None or name in fields:
                continue
            names[f"#k{i}"] = name
            values[f":k{i}"] = value
            sets.append(f"#k{i} = if_not_exists(#k{i}, :k{i})")
        expression = "SET " + ", ".join(sets)
        removals = list(dict.fromkeys(removals))
        if removals:
            for i, name in enumerate(removals):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removals)))
        # handlers.item.refusal, stated as what may be written:
        open_states = []
        for i, status in enumerate(OPEN_STATUSES):
            values[f":open{i}"] = status
            open_states.append(f":open{i}")
        other_revision = "#rev <> :rev"
        if fields.get(EVENT_TIME) is not None:
            names["#order"] = EVENT_TIME
            values[":order"] = fields[EVENT_TIME]
            other_revision = "(#rev <> :rev AND (attribute_not_exists(#order) OR #order <= :order))"
        condition = (
            "attribute_not_exists(image_id) OR attribute_not_exists(#rev)"
            f" OR (#rev = :rev AND #status IN ({', '.join(open_states)}))"
            f" OR {other_revision}"
        )
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key={"image_id": {"S": image_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    k: _serializer.serialize(_to_decimal(v)) for k, v in values.items()
                },
            )
        except botocore.exceptions.ClientError as e:
            if _code(e) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def list_recent(
        self,
        *,
        limit: int,
        start_key: Mapping[str, Any] | None = None,
        owner: str | None = None,
    ) -> tuple[list[ImageItem], dict[str, Any] | None]:
        """Items newest first through the ``by_uploaded_at`` index (``by_owner`` for ``owner``).

        Args:
            limit: page size (1-100).
            start_key: the previous page's last key (plain values), or ``None``.
            owner: only this owner's items.

        Returns:
            ``(items, last_key)``; ``last_key`` (plain values) is ``None`` on the last page.

        Raises:
            TransientError: throttling, timeout, 5xx.
        """
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": "listing = :listing",
            "ExpressionAttributeValues": {":listing": {"S": LISTING}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if owner is not None:
            kwargs["IndexName"] = OWNER_INDEX_NAME
            kwargs["KeyConditionExpression"] = "#owner = :owner"
            kwargs["ExpressionAttributeNames"] = {"#owner": "owner"}
            kwargs["ExpressionAttributeValues"] = {":owner": {"S": owner}}
        if start_key:
            kwargs["ExclusiveStartKey"] = to_dynamo(start_key)
        resp = self._call("query", **kwargs)
        items = [_as_item(from_dynamo(i)) for i in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return items, (from_dynamo(last) if last else None)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**kwargs)
            return response
        except botocore.exceptions.ClientError as e:
            if is_transient_client_error(e):
                raise transient_from(f"dynamodb.{operation}", e) from e
            raise
        except TRANSPORT_ERRORS as e:
            raise transient_from(f"dynamodb.{operation}", e) from e


def to_dynamo(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values -> DynamoDB attribute values (``None`` values are left out)."""
    return {k: _serializer.serialize(_to_decimal(v)) for k, v in item.items() if v is not None}


def from_dynamo(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values -> plain values (Decimals become int or float)."""
    return {k: plain(_deserializer.deserialize(v)) for k, v in item.items()}


def plain(value: Any) -> Any:
    """Recursively turn Decimals into int (integral) or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [plain(v) for v in value]
    return value


def _as_item(values: dict[str, Any]) -> ImageItem:
    """A stored item, typed as what this project writes (no runtime check)."""
    return cast(ImageItem, values)


def _to_decimal(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
