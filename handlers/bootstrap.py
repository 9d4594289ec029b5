"""Composition root: settings, boto3 clients and stores, built once per container.

Nothing is built at import time. In Lambda (and the container image), the first invocation
of a function calls :func:`get_deps`, which reads ``os.environ`` (see
:mod:`handlers.config`), creates the clients with an explicit botocore ``Config``
(standard retry mode, connect/read timeouts) and keeps them for warm invocations. Endpoints
come from the SDK's own ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL_DYNAMODB`` variables; only presigned URLs may use a separate public
endpoint (``PUBLIC_S3_ENDPOINT_URL``).

A host process that runs the handlers itself (the local runner) wires them explicitly
instead: it builds settings, calls :func:`build` with an :class:`AwsAccess` (endpoint and
credentials) and :func:`install`\\ s the result for each role; nothing is read from or
written to the environment. Tests call :func:`reset` after changing the environment.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, overload

import boto3
from botocore.config import Config

from handlers.config import ApiSettings, ResizeSettings, Settings
from handlers.dynamo_store import DynamoMetadataStore
from handlers.observability import set_namespace
from handlers.ports import MetadataStore, ObjectStore
from handlers.quota import DynamoQuotaStore, QuotaStore
from handlers.s3_store import S3ObjectStore

FunctionRole = Literal["resize", "api"]
S = TypeVar("S", bound=Settings)
ROLE_SETTINGS: dict[FunctionRole, type[Settings]] = {"resize": ResizeSettings, "api": ApiSettings}


@dataclass(frozen=True, slots=True)
class Deps(Generic[S]):
    """Everything a handler needs: its settings and the two stores (typed by their ports).

    :func:`build` fills them with :class:`S3ObjectStore` and :class:`DynamoMetadataStore`;
    tests may pass any implementation of the ports (:mod:`handlers.memory_store`).
    """

    settings: S
    objects: ObjectStore
    metadata: MetadataStore
    quota: QuotaStore | None = None
    """Per-owner daily upload counters (API only; ``None``: no quota, ``QUOTA_TABLE`` unset)."""


@dataclass(frozen=True, slots=True)
class AwsAccess:
    """Where the clients connect and as whom; ``None`` leaves it to the SDK's own chain.

    Attributes:
        endpoint_url: one endpoint for S3 and DynamoDB (an emulator, LocalStack); wins over
            the ``AWS_ENDPOINT_URL*`` variables.
        access_key_id, secret_access_key, session_token: explicit credentials (an emulator
            takes any); win over the environment, profiles and instance roles.
    """

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None


_lock = threading.Lock()
_deps: dict[FunctionRole, Deps[Any]] = {}


@overload
def get_deps(role: Literal["resize"]) -> Deps[ResizeSettings]: ...
@overload
def get_deps(role: Literal["api"]) -> Deps[ApiSettings]: ...
def get_deps(role: FunctionRole) -> Deps[Any]:
    """The container's dependencies for ``role``: installed, or built once from ``os.environ``.

    Raises:
        handlers.config.ConfigError: when required variables are missing or malformed.
    """
    deps = _deps.get(role)
    if deps is None:
        with _lock:
            deps = _deps.get(role)
            if deps is None:
                deps = build(ROLE_SETTINGS[role].from_env(os.environ))
                _deps[role] = deps
    return deps


def install(role: FunctionRole, deps: Deps[Any]) -> None:
    """Use ``deps`` for ``role`` from now on (a host process wiring the handlers itself).

    Raises:
        TypeError: ``deps.settings`` is not the role's settings class.
    """
    expected = ROLE_SETTINGS[role]
    if not isinstance(deps.settings, expected):
        msg = f"expected {expected.__name__} for role {role!r}, got {type(deps.settings).__name__}"
        raise TypeError(msg)
    with _lock:
        _deps[role] = deps


def build(settings: S, access: AwsAccess | None = None) -> Deps[S]:
    """Create the clients and stores for ``settings``; ``access``: explicit endpoint, keys."""
    access = access or AwsAccess()
    set_namespace(settings.metrics_namespace)
    session = boto3.session.Session(
        region_name=settings.region,
        aws_access_key_id=access.access_key_id,
        aws_secret_access_key=access.secret_access_key,
        aws_session_token=access.session_token,
    )
    s3_config = _config(settings, s3=True)
    s3 = session.client("s3", endpoint_url=access.endpoint_url, config=s3_config)
    presign = s3
    if settings.public_s3_endpoint_url:
        presign = session.client(
            "s3", endpoint_url=settings.public_s3_endpoint_url, config=s3_config
        )
    dynamodb = session.client(
        "dynamodb", endpoint_url=access.endpoint_url, config=_config(settings)
    )
    quota_table = settings.quota_table if isinstance(settings, ApiSettings) else None
    return Deps(
        settings=settings,
        objects=S3ObjectStore(s3, presign),
        metadata=DynamoMetadataStore(dynamodb, settings.metadata_table),
        quota=DynamoQuotaStore(dynamodb, quota_table) if quota_table else None,
    )


def reset() -> None:
    """Forget the built and installed dependencies (after the environment changed)."""
    with _lock:
        _deps.clear()


def _config(settings: Settings, *, s3: bool = False) -> Config:
    extra: dict[str, Any] = {}
    if s3:
        extra["signature_version"] = "s3v4"
        extra["s3"] = {"addressing_style": settings.s3_addressing_style}
    return Config(
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        **extra,
    )
