"""The composition root: built from the environment once, or installed explicitly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handlers import bootstrap, resize
from handlers.config import ApiSettings, ResizeSettings
from handlers.memory_store import MemoryMetadataStore, MemoryObjectStore
from tests.handlers.conftest import LambdaContext, jpeg_bytes, s3_event


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    bootstrap.reset()
    yield
    bootstrap.reset()


def test_installed_deps_serve_the_handler_without_any_environment(
    monkeypatch: pytest.MonkeyPatch, context: LambdaContext
) -> None:
    for name in ("METADATA_TABLE", "PROCESSED_BUCKET", "UPLOADS_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    objects, metadata = MemoryObjectStore("up", "out"), MemoryMetadataStore()
    settings = ResizeSettings(metadata_table="t", processed_bucket="out", max_dim_px=100)
    bootstrap.install("resize", bootstrap.Deps(settings, objects, metadata))
    data = jpeg_bytes((400, 200))
    objects.put("up", "a.jpg", data, content_type="image/jpeg", metadata={})

    etag = objects.head("up", "a.jpg").etag
    result = resize.handler(s3_event("up", "a.jpg", etag=etag, size_bytes=len(data)), context)

    assert [(o["status"], o["processed_key"]) for o in result["outcomes"]] == [
        ("processed", "a.jpg")
    ]
    (item,) = metadata.items()
    assert (item["processed_width"], item["processed_height"]) == (100, 50)


def test_install_refuses_another_roles_settings() -> None:
    api_settings = ApiSettings(metadata_table="t", uploads_bucket="up")
    deps = bootstrap.Deps(api_settings, MemoryObjectStore(), MemoryMetadataStore())

    with pytest.raises(TypeError, match="expected ResizeSettings"):
        bootstrap.install("resize", deps)


def test_build_uses_the_explicit_endpoint_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # loses to the explicit one
    settings = ApiSettings(metadata_table="t", uploads_bucket="up", region="eu-west-1")
    access = bootstrap.AwsAccess(
        endpoint_url="http://127.0.0.1:4566", access_key_id="AKIDEXAMPLE", secret_access_key="s"
    )

    deps = bootstrap.build(settings, access)

    s3 = deps.objects.client  # type: ignore[attr-defined]
    dynamodb = deps.metadata.client  # type: ignore[attr-defined]
    assert s3.meta.endpoint_url == dynamodb.meta.endpoint_url == "http://127.0.0.1:4566"
    assert s3.meta.region_name == "eu-west-1"
    assert s3._request_signer._credentials.access_key == "AKIDEXAMPLE"
