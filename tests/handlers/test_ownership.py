"""Issue 12 in the handlers: owners, ownership checks, quotas, upload tokens, public view.

Events are the documented proxy events with the caller set as API Gateway sets it: a
Cognito user pool authorizer's ``requestContext.authorizer.claims`` (jwt), or the SigV4
caller's ``requestContext.identity`` (iam).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from deploy.local.lambda_context import LambdaContext
from handlers import decision, resize
from handlers.item import SourceRevision
from handlers.quota import (
    QUOTA_TABLE_DEFINITION,
    DynamoQuotaStore,
    Limits,
    MemoryQuotaStore,
    TooManyRequests,
    charge,
    seconds_to_midnight,
)
from tests.handlers.conftest import Aws, api_event, jpeg_bytes, load_event
from tests.handlers.test_api import call, multipart_body

ALICE_ARN = "arn:aws:iam::123456789012:user/alice"
BOB_ARN = "arn:aws:sts::123456789012:assumed-role/uploader/bob"


def as_caller(event: dict[str, Any], who: str, mode: str) -> dict[str, Any]:
    """``event`` as API Gateway passes it for caller ``who`` under ``mode``."""
    event = copy.deepcopy(event)
    context = event["requestContext"]
    if mode == "jwt":
        claims = load_event("apigw_list_images_cognito")["requestContext"]["authorizer"]["claims"]
        context["authorizer"] = {"claims": {**claims, "sub": who}}
    else:
        context["identity"].update({"userArn": who, "caller": who.rsplit("/", 1)[-1]})
    return event


@pytest.fixture
def iam(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    monkeypatch.setenv("AUTH_MODE", "iam")
    return aws


def upload(who: str, context: LambdaContext, mode: str = "iam") -> str:
    event = api_event("apigw_post_images_multipart", body=multipart_body(jpeg_bytes((640, 480))))
    status, _, body = call(as_caller(event, who, mode), context)
    assert status == 202, body
    return str(body["image_id"])


def get(image_id: str, who: str, context: LambdaContext, mode: str = "iam") -> tuple[int, Any]:
    event = api_event("apigw_get_image", path=f"/images/{image_id}")
    status, _, body = call(as_caller(event, who, mode), context)
    return status, body


def listing(who: str, context: LambdaContext, mode: str = "iam", **query: str) -> Any:
    event = api_event("apigw_list_images", query={"limit": "20", **query})
    status, _, body = call(as_caller(event, who, mode), context)
    assert status == 200, body
    return body


def process(aws: Aws, image_id: str, context: LambdaContext) -> None:
    item = aws.item(image_id)
    assert item is not None
    head = aws.s3.head_object(Bucket=aws.uploads_bucket, Key=item["source_key"])
    event = load_event("s3_object_created_put")
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = aws.uploads_bucket
    record["object"].update(
        {"key": item["source_key"], "eTag": head["ETag"].strip('"'), "size": head["ContentLength"]}
    )
    record["object"].pop("versionId", None)
    resize.handler(event, context)


def test_iam_callers_own_their_uploads_and_see_only_them(iam: Aws, context: LambdaContext) -> None:
    alices = [upload(ALICE_ARN, context) for _ in range(3)]
    bobs = upload(BOB_ARN, context)

    assert iam.item(alices[0])["owner"] == ALICE_ARN and iam.item(bobs)["owner"] == BOB_ARN
    assert [i["image_id"] for i in listing(ALICE_ARN, context)["items"]] == alices[::-1]
    assert [i["image_id"] for i in listing(BOB_ARN, context)["items"]] == [bobs]
    status, body = get(bobs, ALICE_ARN, context)
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert get(bobs, BOB_ARN, context)[0] == 200
    # pages of one owner, newest first; that owner's cursor is nobody else's
    first = listing(ALICE_ARN, context, limit="2")
    assert [i["image_id"] for i in first["items"]] == alices[:0:-1]
    rest = listing(ALICE_ARN, context, limit="2", cursor=first["next_cursor"])
    assert [i["image_id"] for i in rest["items"]] == alices[:1]
    stolen = as_caller(
        api_event("apigw_list_images", query={"cursor": first["next_cursor"]}), BOB_ARN, "iam"
    )
    status, _, body = call(stolen, context)
    assert (status, body["error"]["code"]) == (400, "bad_cursor")


def test_jwt_caller_is_the_tokens_subject_and_none_sees_everything(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_MODE", "jwt")
    mine = upload("alice-sub", context, mode="jwt")
    status, _, body = call(load_event("apigw_list_images_cognito"), context)
    assert status == 200 and body["items"] == []  # another subject
    assert [i["image_id"] for i in listing("alice-sub", context, "jwt")["items"]] == [mine]
    # API Gateway always passes the claims; without them the function refuses, never guesses
    status, _, body = call(load_event("apigw_list_images"), context)
    assert (status, body["error"]["code"]) == (401, "unauthorized")

    monkeypatch.setenv("AUTH_MODE", "none")
    from handlers import bootstrap

    bootstrap.reset()
    anonymous = upload("ignored", context)
    assert aws.item(anonymous)["owner"] == "anonymous"
    everything = [i["image_id"] for i in listing("ignored", context)["items"]]
    assert everything == [anonymous, mine]  # none: as before issue 12, all images listed
    assert get(mine, "ignored", context)[0] == 200


def test_direct_uploads_under_users_prefix_belong_to_that_owner(
    iam: Aws, context: LambdaContext
) -> None:
    from urllib.parse import quote

    owned = f"users/{quote(ALICE_ARN, safe='')}/2024/cat.jpg"
    resize.handler(iam.put(owned, jpeg_bytes()), context)
    resize.handler(iam.put("elsewhere/dog.jpg", jpeg_bytes()), context)

    listed = listing(ALICE_ARN, context)["items"]
    assert [(i["filename"], i["status"]) for i in listed] == [("cat.jpg", "processed")]
    ownerless = [i for i in iam.items() if i["source_key"] == "elsewhere/dog.jpg"]
    assert len(ownerless) == 1 and "owner" not in ownerless[0]


def test_quota_is_a_conditional_counter_429_with_retry_after_nothing_stored(
    iam: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam.dynamodb.create_table(TableName="test-quota", **QUOTA_TABLE_DEFINITION)
    monkeypatch.setenv("QUOTA_TABLE", "test-quota")
    monkeypatch.setenv("DAILY_UPLOAD_COUNT", "2")
    from handlers import bootstrap

    bootstrap.reset()
    upload(ALICE_ARN, context)
    upload(ALICE_ARN, context)
    items_before, keys_before = len(iam.items()), iam.keys()

    event = api_event("apigw_post_images_multipart", body=multipart_body(jpeg_bytes()))
    status, headers, body = call(as_caller(event, ALICE_ARN, "iam"), context)
    grant_status, grant_headers, _ = call(
        as_caller(load_event("apigw_post_uploads"), ALICE_ARN, "iam"), context
    )

    assert (status, body["error"]["code"], grant_status) == (429, "quota_exceeded", 429)
    assert 1 <= int(headers["Retry-After"]) <= 86_400
    assert 1 <= int(grant_headers["Retry-After"]) <= 86_400
    assert (len(iam.items()), iam.keys()) == (items_before, keys_before)
    upload(BOB_ARN, context)  # another owner's counter


@pytest.mark.parametrize("kind", ["memory", "dynamo"])
def test_quota_stores_agree_on_count_and_bytes(aws: Aws, kind: str) -> None:
    if kind == "dynamo":
        aws.dynamodb.create_table(TableName="q", **QUOTA_TABLE_DEFINITION)
        store: Any = DynamoQuotaStore(aws.dynamodb, "q")
    else:
        store = MemoryQuotaStore()
    limits = Limits(count=3, size_bytes=100)
    results = [store.consume("o#d", size, limits, 0) for size in (40, 40, 30, 10, 20)]
    # 40 + 40 = 80; +30 = 110 refused; +10 = 90 (3rd upload); a 4th upload refused
    assert results == [True, True, False, True, False]
    assert store.consume("other#d", 100, limits, 0) is True
    assert store.consume("big#d", 101, limits, 0) is False
    assert store.consume("free#d", 10**9, Limits(0, 0), 0) is True


def test_charge_names_the_wait_until_utc_midnight() -> None:
    from datetime import UTC, datetime

    store = MemoryQuotaStore()
    now = datetime(2025, 3, 1, 23, 59, 30, tzinfo=UTC)
    charge(store, "o", 1, Limits(1, 0), now=now)
    with pytest.raises(TooManyRequests) as refused:
        charge(store, "o", 1, Limits(1, 0), now=now)
    assert refused.value.retry_after_s == seconds_to_midnight(now) == 30
    charge(store, "o", 1, Limits(1, 0), now=datetime(2025, 3, 2, tzinfo=UTC))  # a new day


def test_an_object_the_api_did_not_issue_never_completes_an_api_item(
    aws: Aws, context: LambdaContext
) -> None:
    """A bucket writer cannot take over another image's item (issue 12's security pass)."""
    victim = upload("x", context)
    process(aws, victim, context)
    before = aws.item(victim)
    assert before["status"] == "processed"
    # 1. another object under the victim's id; 2. the victim's id in metadata elsewhere;
    # 3. the exact key, rewritten without the token; 4. a phantom id the API never issued
    attacks = [
        (f"uploads/{victim}/evil.jpg", {}),
        ("anywhere/evil.jpg", {"image-id": victim}),
        (before["source_key"], {"image-id": victim, "upload-token": "guess"}),
        (f"uploads/{'a' * 32}/phantom.jpg", {}),
    ]
    for key, metadata in attacks:
        resize.handler(aws.put(key, jpeg_bytes((90, 90)), Metadata=metadata), context)
    after = aws.item(victim)
    assert after == before
    assert aws.item("a" * 32) is None
    assert aws.keys(aws.processed_bucket) == [before["processed_key"]]


def test_is_issued_upload_rule() -> None:
    source = SourceRevision(
        image_id="c" * 32,
        origin="api",
        bucket="up",
        key="uploads/k.jpg",
        revision="e",
        etag="e",
        version_id=None,
        event_time=None,
        size_bytes=1,
        upload_token="t1",
    )
    item = {"origin": "api", "source_key": "uploads/k.jpg", "upload_token": "t1"}
    assert decision.is_issued_upload(source, item)
    assert not decision.is_issued_upload(source, None)  # a phantom
    assert not decision.is_issued_upload(source, {**item, "upload_token": "t2"})
    assert not decision.is_issued_upload(source, {**item, "source_key": "uploads/other.jpg"})
    assert not decision.is_issued_upload(source, {**item, "origin": "s3"})
    legacy = {"origin": "api", "source_key": "uploads/k.jpg"}  # issued before tokens
    assert decision.is_issued_upload(source, legacy)


def test_the_api_shows_a_public_view_without_internals(aws: Aws, context: LambdaContext) -> None:
    image_id = upload("x", context)
    process(aws, image_id, context)
    failing = upload("x", context)
    aws.dynamodb.update_item(
        TableName=aws.table,
        Key={"image_id": {"S": failing}},
        UpdateExpression="SET #s = :s, error_reason = :r, error_message = :m",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":s": {"S": "failed"},
            ":r": {"S": "internal_error"},
            ":m": {"S": "unexpected InvalidObjectState; the event will be retried"},
        },
    )
    shown = [get(image_id, "x", context)[1], get(failing, "x", context)[1]]
    shown.append(listing("x", context))
    for body in shown:
        text = json.dumps(body)
        for secret in (
            aws.uploads_bucket + '"',  # the bucket name as a value (download URLs are S3's)
            "source_key",
            "source_bucket",
            "processed_bucket",
            "source_etag",
            "source_version_id",
            "upload_token",
            "owner",
            "InvalidObjectState",
        ):
            assert secret not in text, (secret, text)
    assert (
        shown[1]["error_message"] == "the image could not be processed; it is retried automatically"
    )
    assert aws.item(failing)["error_message"].startswith("unexpected InvalidObjectState")
