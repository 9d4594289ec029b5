"""Pending items of POST /uploads expire (DynamoDB TTL) unless an outcome arrives."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from handlers import api, resize
from handlers.dynamo_store import TABLE_DEFINITION, TTL_ATTRIBUTE, TTL_SPECIFICATION
from tests.handlers.conftest import Aws, LambdaContext, api_event, jpeg_bytes, load_event, s3_event


def call(event: dict[str, Any], context: LambdaContext) -> tuple[int, Any]:
    response = api.handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def _expire(aws: Aws, image_id: str, expires_at: int) -> None:
    aws.dynamodb.update_item(
        TableName=aws.table,
        Key={"image_id": {"S": image_id}},
        UpdateExpression="SET #ttl = :t",
        ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
        ExpressionAttributeValues={":t": {"N": str(expires_at)}},
    )


def test_ttl_attribute_is_the_one_the_table_enables(aws: Aws) -> None:
    assert TTL_ATTRIBUTE == "expires_at"
    assert TTL_SPECIFICATION == {"Enabled": True, "AttributeName": "expires_at"}
    assert "TimeToLiveSpecification" not in TABLE_DEFINITION  # a separate API call
    aws.dynamodb.update_time_to_live(TableName=aws.table, TimeToLiveSpecification=TTL_SPECIFICATION)
    described = aws.dynamodb.describe_time_to_live(TableName=aws.table)
    assert described["TimeToLiveDescription"]["AttributeName"] == TTL_ATTRIBUTE


def test_post_uploads_item_expires_a_day_after_its_url(aws: Aws, context: LambdaContext) -> None:
    before = int(time.time())
    status, body = call(load_event("apigw_post_uploads"), context)
    after = int(time.time())

    assert status == 201
    item = aws.item(body["image_id"])
    assert item["status"] == "pending"
    expires_at = item[TTL_ATTRIBUTE]
    assert isinstance(expires_at, int)  # a number in seconds, as TTL requires
    assert before + 300 + 86_400 <= expires_at <= after + 300 + 86_400
    raw = aws.dynamodb.get_item(TableName=aws.table, Key={"image_id": {"S": body["image_id"]}})
    assert "N" in raw["Item"][TTL_ATTRIBUTE]
    status, shown = call(api_event("apigw_get_image", path=body["status_url"]), context)
    assert status == 200 and TTL_ATTRIBUTE not in shown


def test_post_images_item_never_expires(aws: Aws, context: LambdaContext) -> None:
    _, body = call(api_event("apigw_post_images_binary", body=jpeg_bytes()), context)

    assert TTL_ATTRIBUTE not in aws.item(body["image_id"])


def test_outcome_removes_the_expiry(aws: Aws, context: LambdaContext) -> None:
    _, body = call(load_event("apigw_post_uploads"), context)
    fields = body["upload"]["fields"]
    form = requests.post(
        body["upload"]["url"], data=fields, files={"file": ("x.jpg", jpeg_bytes())}, timeout=10
    )
    assert form.status_code in (200, 201, 204)
    head = aws.s3.head_object(Bucket=aws.uploads_bucket, Key=fields["key"])

    resize.handler(
        s3_event(aws.uploads_bucket, fields["key"], etag=head["ETag"].strip('"')), context
    )

    item = aws.item(body["image_id"])
    assert item["status"] == "processed"
    assert TTL_ATTRIBUTE not in item


def test_rejection_and_failure_also_remove_the_expiry(aws: Aws, context: LambdaContext) -> None:
    _, body = call(load_event("apigw_post_uploads"), context)
    key = body["key"]
    token = body["upload"]["fields"]["x-amz-meta-upload-token"]
    resp = aws.s3.put_object(
        Bucket=aws.uploads_bucket,
        Key=key,
        Body=b"not an image" * 9,
        Metadata={"upload-token": token},
    )

    resize.handler(s3_event(aws.uploads_bucket, key, etag=resp["ETag"].strip('"')), context)

    item = aws.item(body["image_id"])
    assert (item["status"], item["error_reason"]) == ("rejected", "unsupported_format")
    assert TTL_ATTRIBUTE not in item


def test_expired_pending_upload_is_hidden_until_ttl_deletes_it(
    aws: Aws, context: LambdaContext
) -> None:
    _, expired = call(load_event("apigw_post_uploads"), context)
    _, live = call(load_event("apigw_post_uploads"), context)
    _expire(aws, expired["image_id"], int(time.time()) - 1)

    status, listing = call(api_event("apigw_list_images", query={}), context)
    get_status, error = call(api_event("apigw_get_image", path=expired["status_url"]), context)
    live_status, _ = call(api_event("apigw_get_image", path=live["status_url"]), context)

    assert status == 200
    assert [i["image_id"] for i in listing["items"]] == [live["image_id"]]
    assert get_status == 404 and error["error"]["code"] == "not_found"
    assert live_status == 200
    assert aws.item(expired["image_id"]) is not None  # still stored: only TTL deletes
