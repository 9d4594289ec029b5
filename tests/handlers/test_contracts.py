"""Shared contracts of the adapters: reason codes, ports, the port's errors."""

from __future__ import annotations

import typing

import pytest

from handlers import bootstrap
from handlers.bootstrap import Deps
from handlers.dynamo_store import DynamoMetadataStore
from handlers.errors import ItemExists, PayloadTooLarge, UnsupportedMediaType
from handlers.ports import MetadataStore, ObjectStore
from imgproc import REASONS
from tests.handlers.conftest import Aws


def test_api_image_errors_use_the_engine_reason_codes() -> None:
    # DESIGN.md: the same codes appear in the API's errors and in the metadata table.
    assert (PayloadTooLarge.status, PayloadTooLarge.code) == (413, "too_large")
    assert (UnsupportedMediaType.status, UnsupportedMediaType.code) == (415, "unsupported_format")
    assert {PayloadTooLarge.code, UnsupportedMediaType.code} <= REASONS


def test_deps_are_typed_by_the_ports() -> None:
    hints = typing.get_type_hints(Deps)
    assert (hints["objects"], hints["metadata"]) == (ObjectStore, MetadataStore)


def test_create_pending_twice_raises_the_ports_item_exists(aws: Aws) -> None:
    store = bootstrap.get_deps("api").metadata
    assert isinstance(store, DynamoMetadataStore)
    item = {"image_id": "b" * 32, "status": "pending", "uploaded_at": "2024-01-01T00:00:00.000Z"}
    store.create_pending(item)

    with pytest.raises(ItemExists):
        store.create_pending({**item, "status": "processed"})
    assert aws.item("b" * 32)["status"] == "pending"
