"""Composition root: settings, boto3 clients and stores, built once per container.

Nothing is built at import time. The first invocation reads ``os.environ`` (see
:mod:`handlers.config`), creates the clients with an explicit botocore ``Config``
(standard retry mode, connect/read timeouts) and keeps them for warm invocations.
Endpoints come from the SDK's own ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL_DYNAMODB`` variables; only presigned URLs may use a separate public
endpoint (``PUBLIC_S3_ENDPOINT_URL``).

Tests and the local runner call :func:`reset` after changing the environment.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from handlers.config import Role, Settings
from handlers.dynamo_store import DynamoMetadataStore
from handlers.observability import set_namespace
from handlers.ports import MetadataStore, ObjectStore
from handlers.s3_store import S3ObjectStore


@dataclass(frozen=True, slots=True)
class Deps:
    """Everything a handler needs: settings and the two stores (typed by their ports).

    :func:`build` fills them with :class:`S3ObjectStore` and
    :class:`DynamoMetadataStore`; tests may pass any implementation of the ports.
    """

    settings: Settings
    objects: ObjectStore
    metadata: MetadataStore


_lock = threading.Lock()
_deps: dict[str, Deps] = {}


def get_deps(role: Role) -> Deps:
    """The container's dependencies for ``role`` (``"resize"`` or ``"api"``), built once.

    Raises:
        handlers.config.ConfigError: when required variables are missing.
    """
    deps = _deps.get(role)
    if deps is None:
        with _lock:
            deps = _deps.get(role)
            if deps is None:
                deps = build(Settings.from_env(os.environ, role=role))
                _deps[role] = deps
    return deps


def build(settings: Settings) -> Deps:
    """Create the clients and stores for ``settings``."""
    set_namespace(settings.metrics_namespace)
    session = boto3.session.Session(region_name=settings.region)
    s3 = session.client("s3", config=_config(settings, s3=True))
    presign = s3
    if settings.public_s3_endpoint_url:
        presign = session.client(
            "s3", endpoint_url=settings.public_s3_endpoint_url, config=_config(settings, s3=True)
        )
    dynamodb = session.client("dynamodb", config=_config(settings))
    return Deps(
        settings=settings,
        objects=S3ObjectStore(s3, presign),
        metadata=DynamoMetadataStore(dynamodb, settings.metadata_table),
    )


def reset() -> None:
    """Forget the built dependencies (after the environment changed)."""
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
