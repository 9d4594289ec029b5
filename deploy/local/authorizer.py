"""The local stand-in for API Gateway's authorizers (``AUTH_MODE`` jwt and iam).

On AWS (deploy/aws/template.yaml, ``AuthMode``) API Gateway checks the caller before the
function runs and passes what it vouched for in ``requestContext``; :mod:`handlers.auth`
reads it. Locally the HTTP front calls an :data:`Authorize` hook for every request but the
CORS preflight (OPTIONS, unauthenticated on AWS too) and answers refusals itself, in the
shape the template's ``DEFAULT_4XX`` gateway response gives them:
``{"error": {"code": "<response type>", "message": "<API Gateway's message>"}}``.

- :class:`DevIssuer` + :func:`jwt_authorizer` (``jwt``): a development token issuer made at
  start (an HS256 key of 32 random bytes, never written anywhere) whose tokens the runner
  prints in its banner; like a Cognito user pool authorizer it wants
  ``Authorization: <token>`` (a ``Bearer`` prefix is accepted too) and answers 401
  ``UNAUTHORIZED`` "Unauthorized" for a missing, malformed, forged (bad signature),
  wrong-issuer or wrong-audience token and "The incoming token has expired" for an expired
  one. The token's claims reach the function as ``requestContext.authorizer.claims``, every
  value a string, as API Gateway passes them.
- :func:`iam_authorizer` (``iam``): wants a SigV4 ``Authorization`` header (403
  ``MISSING_AUTHENTICATION_TOKEN`` "Missing Authentication Token" without one, as AWS_IAM
  answers) and fills ``requestContext.identity`` with the access key as the caller and
  ``arn:aws:iam::123456789012:user/<access key id>`` as ``userArn``. The signature is NOT
  verified locally (that needs the secret key): a stand-in for wiring and ownership, not a
  security boundary.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

LOCAL_ACCOUNT = "123456789012"
DEV_ISSUER = "https://local-dev-issuer.invalid"
DEV_AUDIENCE = "image-pipeline-local"
DEV_TOKEN_TTL_S = 12 * 3600
SIGV4 = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=([A-Z0-9]{16,128})/", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Refusal:
    """What the gateway answers instead of calling the function: status, type, message."""

    status: int
    code: str
    message: str


Authorize = Callable[[Mapping[str, str]], "dict[str, Any] | Refusal"]
"""Request headers (names lower-cased) -> what to merge into ``requestContext``, or a
:class:`Refusal`."""

UNAUTHORIZED = Refusal(401, "UNAUTHORIZED", "Unauthorized")
EXPIRED = Refusal(401, "UNAUTHORIZED", "The incoming token has expired")
MISSING_AUTHENTICATION_TOKEN = Refusal(
    403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"
)


@dataclass(frozen=True)
class DevIssuer:
    """Mints and checks HS256 ID tokens for local users (key made when constructed).

    Attributes:
        issuer, audience: the ``iss`` and ``aud`` a token must carry (a Cognito ID token's
            ``aud`` is the app client id).
    """

    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def mint(self, subject: str, *, ttl_s: int = DEV_TOKEN_TTL_S, **claims: Any) -> str:
        """A signed ID token for ``subject`` valid ``ttl_s`` seconds; ``claims`` override."""
        now = int(time.time())
        payload = {
            "sub": subject,
            "iss": self.issuer,
            "aud": self.audience,
            "token_use": "id",
            "cognito:username": subject,
            "iat": now,
            "exp": now + ttl_s,
            **claims,
        }
        return jwt.encode(payload, self.key, algorithm="HS256")

    def verify(self, token: str) -> dict[str, Any] | Refusal:
        """The token's claims, or the gateway's refusal."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key,
                algorithms=["HS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            return EXPIRED
        except jwt.PyJWTError:
            return UNAUTHORIZED
        return claims


def jwt_authorizer(issuer: DevIssuer) -> Authorize:
    """A Cognito-user-pool-like authorizer trusting ``issuer``'s tokens."""

    def authorize(headers: Mapping[str, str]) -> dict[str, Any] | Refusal:
        raw = (headers.get("authorization") or "").strip()
        if raw[:7].lower() == "bearer ":
            raw = raw[7:].strip()
        if not raw:
            return UNAUTHORIZED
        claims = issuer.verify(raw)
        if isinstance(claims, Refusal):
            return claims
        return {"authorizer": {"claims": {k: str(v) for k, v in claims.items()}}}

    return authorize


def iam_authorizer(headers: Mapping[str, str]) -> dict[str, Any] | Refusal:
    """An AWS_IAM-like authorizer: the SigV4 access key names the caller (not verified)."""
    match = SIGV4.match((headers.get("authorization") or "").strip())
    if not match:
        return MISSING_AUTHENTICATION_TOKEN
    access_key = match.group(1)
    return {
        "identity": {
            "accountId": LOCAL_ACCOUNT,
            "caller": access_key,
            "accessKey": access_key,
            "user": access_key,
            "userArn": f"arn:aws:iam::{LOCAL_ACCOUNT}:user/{access_key}",
        }
    }


def dev_sigv4_header(access_key: str, region: str = "us-east-1") -> str:
    """An ``Authorization`` value shaped like SigV4 for ``access_key`` (local use only: its
    signature is a placeholder, which :func:`iam_authorizer` does not check)."""
    day = time.strftime("%Y%m%d", time.gmtime())
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{day}/{region}/execute-api/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}"
    )


def authorizer_for(mode: str, issuer: DevIssuer | None = None) -> Authorize | None:
    """The hook for ``AUTH_MODE`` ``mode`` (``None`` for ``none``)."""
    if mode == "jwt":
        return jwt_authorizer(issuer or DevIssuer())
    if mode == "iam":
        return iam_authorizer
    return None


def merge_context(event: dict[str, Any], granted: Mapping[str, Any]) -> None:
    """Put what the authorizer vouched for into ``event["requestContext"]`` (in place)."""
    context = event.setdefault("requestContext", {})
    for name, value in granted.items():
        if isinstance(value, Mapping) and isinstance(context.get(name), dict):
            context[name].update(value)
        else:
            context[name] = dict(value) if isinstance(value, Mapping) else value
