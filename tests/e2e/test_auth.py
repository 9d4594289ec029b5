"""Issue 12 over real HTTP: the local front as API Gateway's authorizer, ownership, quotas.

``jwt_pipeline``: ``deploy.local --auth-mode jwt`` with a small daily quota
(``DAILY_UPLOAD_COUNT=3``); its ready line carries dev ID tokens for alice, bob and carol.
The authorizer's refusals are also checked against a front with a stand-in handler and a
:class:`~deploy.local.authorizer.DevIssuer` of the test's own (expired and wrong-audience
tokens need its key).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from deploy.local.authorizer import DevIssuer, iam_authorizer, jwt_authorizer
from deploy.local.http_front import ApiFront
from tests.e2e.conftest import local_pipeline, quadrant_jpeg, wait_until

QUOTA = 3
UNAUTHORIZED = {"error": {"code": "UNAUTHORIZED", "message": "Unauthorized"}}


@pytest.fixture(scope="module")
def jwt_pipeline() -> Iterator[dict[str, Any]]:
    yield from local_pipeline(
        ["--auth-mode", "jwt"], {"DAILY_UPLOAD_COUNT": str(QUOTA)}, "local-pipeline-jwt.log"
    )


def calls(handler_calls: list[dict[str, Any]]) -> Any:
    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        handler_calls.append(event)
        return {"statusCode": 200, "headers": {}, "body": "{}"}

    return handler


@pytest.fixture()
def issuer_front() -> Iterator[tuple[str, DevIssuer, list[dict[str, Any]]]]:
    issuer = DevIssuer()
    seen: list[dict[str, Any]] = []
    front = ApiFront(
        calls(seen),
        port=0,
        cors_allow_origins=("http://page.test",),
        authorize=jwt_authorizer(issuer),
    )
    yield front.start(), issuer, seen
    front.stop()


def forge(token: str, **changes: Any) -> str:
    """``token`` with its payload changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    raw = json.dumps(claims, separators=(",", ":")).encode()
    return ".".join([header, base64.urlsafe_b64encode(raw).decode().rstrip("="), signature])


def test_the_front_refuses_what_a_cognito_authorizer_refuses(
    issuer_front: tuple[str, DevIssuer, list[dict[str, Any]]],
) -> None:
    url, issuer, seen = issuer_front
    other = DevIssuer()  # another key: a forged signature
    refused = {
        "no token": None,
        "empty": "",
        "not a JWT": "hello",
        "expired": issuer.mint("alice", ttl_s=-10),
        "wrong audience": issuer.mint("alice", aud="someone-else"),
        "wrong issuer": issuer.mint("alice", iss="https://evil.example"),
        "forged signature": other.mint("alice"),
        "payload changed": forge(issuer.mint("alice"), sub="bob"),
        "alg none": forge(issuer.mint("alice")).rsplit(".", 1)[0] + ".",
    }
    for what, token in refused.items():
        headers = {"Origin": "http://page.test"}
        if token is not None:
            headers["Authorization"] = token
        response = requests.get(f"{url}/images", headers=headers, timeout=5)
        assert response.status_code == 401, what
        expected = dict(UNAUTHORIZED)
        if what == "expired":
            expected = {
                "error": {"code": "UNAUTHORIZED", "message": "The incoming token has expired"}
            }
        assert response.json() == expected, what
        # a browser can read the refusal: the API's CORS headers, as the gateway responses
        assert response.headers["Access-Control-Allow-Origin"] == "http://page.test", what
    assert seen == []  # the function never ran

    good = requests.get(
        f"{url}/images", headers={"Authorization": f"Bearer {issuer.mint('alice')}"}, timeout=5
    )
    assert good.status_code == 200
    (event,) = seen
    claims = event["requestContext"]["authorizer"]["claims"]
    assert claims["sub"] == "alice" and isinstance(claims["exp"], str)  # strings, as on AWS
    # the CORS preflight is never authenticated
    preflight = requests.options(f"{url}/images", timeout=5)
    assert preflight.status_code == 200 and len(seen) == 2


def test_iam_mode_wants_a_sigv4_header_and_names_the_caller() -> None:
    assert iam_authorizer({}) == iam_authorizer({"authorization": "Bearer x"})
    refusal = iam_authorizer({})
    assert (refusal.status, refusal.code) == (403, "MISSING_AUTHENTICATION_TOKEN")  # type: ignore[union-attr]
    granted = iam_authorizer(
        {"authorization": "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE123456789/20250101/..."}
    )
    assert granted["identity"]["userArn"] == "arn:aws:iam::123456789012:user/AKIAEXAMPLE123456789"  # type: ignore[index]


def upload(api: str, token: str, data: bytes) -> requests.Response:
    return requests.post(
        f"{api}/images",
        files={"file": ("photo.jpg", data, "image/jpeg")},
        headers={"Authorization": token},
        timeout=10,
    )


def final(api: str, token: str, image_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        item = requests.get(
            f"{api}/images/{image_id}", headers={"Authorization": token}, timeout=5
        ).json()
        return item if item.get("status") in ("processed", "rejected", "failed") else None

    result: dict[str, Any] = wait_until(check, 30)
    return result


def test_jwt_pipeline_needs_a_token_and_shows_each_user_only_their_images(
    jwt_pipeline: dict[str, Any],
) -> None:
    api, tokens = jwt_pipeline["api_url"], jwt_pipeline["tokens"]
    assert jwt_pipeline["auth_mode"] == "jwt" and set(tokens) == {"alice", "bob", "carol"}
    alice, bob = tokens["alice"], tokens["bob"]

    anonymous = requests.post(
        f"{api}/images", files={"file": ("a.jpg", quadrant_jpeg((64, 64)), "image/jpeg")}, timeout=5
    )
    assert (anonymous.status_code, anonymous.json()) == (401, UNAUTHORIZED)
    forged = requests.get(
        f"{api}/images", headers={"Authorization": forge(alice, sub="bob")}, timeout=5
    )
    assert (forged.status_code, forged.json()) == (401, UNAUTHORIZED)

    created = {}
    for name, token in (("alice", alice), ("bob", bob)):
        response = upload(api, token, quadrant_jpeg((800, 600)))
        assert response.status_code == 202, response.text
        created[name] = response.json()["image_id"]
    for name, token in (("alice", alice), ("bob", bob)):
        item = final(api, token, created[name])
        assert item["status"] == "processed" and item["download_url"]
        assert "owner" not in item and "source_bucket" not in item  # the public view

    def listed(token: str) -> set[str]:
        response = requests.get(f"{api}/images", headers={"Authorization": token}, timeout=5)
        assert response.status_code == 200
        return {i["image_id"] for i in response.json()["items"]}

    assert created["alice"] in listed(alice) and created["bob"] not in listed(alice)
    assert created["bob"] in listed(bob) and created["alice"] not in listed(bob)
    for token, other in ((alice, created["bob"]), (bob, created["alice"])):
        response = requests.get(
            f"{api}/images/{other}", headers={"Authorization": token}, timeout=5
        )
        # 404 exactly as for an id that does not exist: no download URL, no confirmation
        unknown = requests.get(
            f"{api}/images/{'0' * 32}", headers={"Authorization": token}, timeout=5
        )
        assert (response.status_code, unknown.status_code) == (404, 404)
        assert response.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"
        assert "download_url" not in response.text
    # presigned uploads are bound to their owner as well
    grant = requests.post(
        f"{api}/uploads",
        json={"filename": "big.jpg", "content_type": "image/jpeg", "size_bytes": 1000},
        headers={"Authorization": alice},
        timeout=5,
    ).json()
    assert grant["upload"]["fields"]["x-amz-meta-owner"] == "alice"
    assert grant["max_size_bytes"] == 1000
    assert grant["image_id"] in listed(alice) and grant["image_id"] not in listed(bob)


def test_quota_exceeded_is_429_with_retry_after_and_stores_nothing(
    jwt_pipeline: dict[str, Any],
) -> None:
    api, carol = jwt_pipeline["api_url"], jwt_pipeline["tokens"]["carol"]
    s3 = boto3.client(
        "s3", endpoint_url=jwt_pipeline["endpoint_url"], region_name=jwt_pipeline["region"]
    )
    data = quadrant_jpeg((64, 64))
    statuses = [upload(api, carol, data).status_code for _ in range(QUOTA)]
    assert statuses == [202] * QUOTA

    def stored() -> tuple[int, int]:
        listing = requests.get(f"{api}/images", headers={"Authorization": carol}, timeout=5)
        objects = s3.list_objects_v2(Bucket=jwt_pipeline["uploads_bucket"]).get("KeyCount", 0)
        return len(listing.json()["items"]), objects

    before = stored()
    refused = upload(api, carol, data)
    grant = requests.post(f"{api}/uploads", json={}, headers={"Authorization": carol}, timeout=5)

    for response in (refused, grant):
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "quota_exceeded"
        retry_after = int(response.headers["Retry-After"])
        midnight = 86_400 - int(time.time()) % 86_400
        assert 1 <= retry_after <= midnight + 1  # the next UTC midnight
    assert stored() == before  # no item, no object
    # another owner is not affected
    assert upload(api, jwt_pipeline["tokens"]["bob"], data).status_code == 202
