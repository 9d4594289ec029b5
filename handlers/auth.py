"""Who is calling the API: the owner an upload is recorded under, by authentication mode.

API Gateway authenticates; the function only reads what the gateway vouched for in the
proxy event's ``requestContext`` (``AUTH_MODE``, :data:`handlers.config.AUTH_MODES`):

=======  ===============================================  ===================================
mode     who checks                                       owner
=======  ===============================================  ===================================
``none`` nobody (local use, demos; the deploy tool        :data:`ANONYMOUS`; every caller sees
         refuses it on AWS without ``--public``)          every image, as before issue 12
``jwt``  a Cognito user pool authorizer (REST APIs have   ``requestContext.authorizer.claims
         no native JWT authorizer for other OIDC          .sub`` (the user's subject)
         issuers; that would take a Lambda authorizer)
``iam``  AWS_IAM (SigV4-signed requests)                  ``requestContext.identity.userArn``,
                                                          else ``.caller``
=======  ===============================================  ===================================

The local HTTP front plays the authorizer (deploy/local/authorizer.py) and fills the same
fields. In ``jwt``/``iam`` mode a request without them is answered 401 (API Gateway never
sends one; the function refuses rather than guesses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.errors import ApiError

ANONYMOUS = "anonymous"
"""The owner of every API upload in ``none`` mode."""


class Unauthorized(ApiError):
    """No authenticated caller in a mode that needs one (401)."""

    status = 401
    code = "unauthorized"


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller.

    Attributes:
        owner: the id recorded as an item's ``owner`` (a Cognito ``sub``, an IAM ARN, or
            :data:`ANONYMOUS`).
        sees_all: ``none`` mode: no ownership checks, the listing shows every image.
    """

    owner: str
    sees_all: bool = False

    def may_see(self, item: Mapping[str, Any]) -> bool:
        """True when this caller may read (or delete) ``item``; others get a 404."""
        return self.sees_all or item.get("owner") == self.owner


def caller_of(request_context: Mapping[str, Any] | None, mode: str) -> Caller:
    """The caller of a proxy event with ``request_context``, under authentication ``mode``.

    Raises:
        Unauthorized: ``jwt`` without ``authorizer.claims.sub``, ``iam`` without an identity.
    """
    if mode == "none":
        return Caller(ANONYMOUS, sees_all=True)
    context = request_context or {}
    if mode == "jwt":
        claims = (context.get("authorizer") or {}).get("claims") or {}
        subject = claims.get("sub") if isinstance(claims, Mapping) else None
        if isinstance(subject, str) and subject:
            return Caller(subject)
    elif mode == "iam":
        identity = context.get("identity") or {}
        principal = identity.get("userArn") or identity.get("caller")
        if isinstance(principal, str) and principal:
            return Caller(principal)
    raise Unauthorized("Unauthorized")
