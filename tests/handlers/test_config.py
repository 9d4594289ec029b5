"""Settings.from_env: required variables per function, defaults, one error for all problems."""

from __future__ import annotations

import re

import pytest

from handlers.config import ConfigError, Settings, normalise_prefix
from imgproc import DEFAULT_MAX_PIXELS


def test_every_missing_variable_in_one_message() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({}, role="resize")
    assert "METADATA_TABLE" in str(raised.value)
    assert "PROCESSED_BUCKET" in str(raised.value)

    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"PROCESSED_BUCKET": "p"}, role="api")
    assert "METADATA_TABLE, UPLOADS_BUCKET" in str(raised.value)


def test_malformed_tunables_reported_with_missing_ones() -> None:
    env = {"MAX_DIMENSION": "big", "UPLOAD_URL_EXPIRES_S": "-3", "S3_ADDRESSING_STYLE": "odd"}

    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env, role="resize")

    message = str(raised.value)
    for name in ("METADATA_TABLE", "PROCESSED_BUCKET", "MAX_DIMENSION", "UPLOAD_URL_EXPIRES_S"):
        assert name in message
    assert "S3_ADDRESSING_STYLE" in message


def test_defaults_match_the_contract() -> None:
    settings = Settings.from_env({"METADATA_TABLE": "t", "PROCESSED_BUCKET": "p"}, role="resize")

    assert settings.metadata_table == "t"
    assert settings.processed_bucket == "p"
    assert settings.uploads_bucket is None
    assert settings.max_dim_px == 500
    assert settings.max_pixels == DEFAULT_MAX_PIXELS
    assert settings.max_object_bytes == 52_428_800
    assert settings.api_max_body_bytes == 4_500_000
    assert settings.upload_max_bytes == 20_971_520
    assert settings.upload_url_expires_s == 300
    assert settings.download_url_expires_s == 900
    assert settings.cors_allow_origins == ()
    assert settings.uploads_prefix == "uploads/"
    assert settings.processed_prefix == ""
    assert settings.public_s3_endpoint_url is None
    assert settings.metrics_namespace == "ImagePipeline"


def test_values_are_parsed() -> None:
    env = {
        "METADATA_TABLE": " t ",
        "UPLOADS_BUCKET": "u",
        "MAX_DIMENSION": "256",
        "CORS_ALLOW_ORIGINS": "https://a.example, https://b.example,",
        "PROCESSED_PREFIX": "/out//thumbs",
        "UPLOADS_PREFIX": "",
        "PUBLIC_S3_ENDPOINT_URL": "http://localhost:4566",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Custom",
    }

    settings = Settings.from_env(env, role="api")

    assert settings.metadata_table == "t"
    assert settings.max_dim_px == 256
    assert settings.cors_allow_origins == ("https://a.example", "https://b.example")
    assert settings.processed_prefix == "out/thumbs/"
    assert settings.uploads_prefix == ""
    assert settings.public_s3_endpoint_url == "http://localhost:4566"
    assert settings.region == "eu-west-1"
    assert settings.metrics_namespace == "Custom"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", ""), ("processed", "processed/"), ("a/b/", "a/b/"), ("//a//b", "a/b/"), ("/", "")],
)
def test_normalise_prefix(raw: str, expected: str) -> None:
    assert normalise_prefix(raw) == expected


BASE = {"METADATA_TABLE": "t", "PROCESSED_BUCKET": "p"}


def _set(env: dict[str, str]) -> str:
    from handlers.config import ResizeSettings

    return ResizeSettings.from_env({**BASE, **env}).rendition_set().spec()


def test_renditions_default_is_the_single_rendition_sized_by_max_dimension() -> None:
    assert _set({}) == "default:500:auto"
    assert _set({"MAX_DIMENSION": "800"}) == "default:800:auto"
    assert _set({"RENDITIONS": "web", "MAX_DIMENSION": "400"}) == (
        "default:400:auto, w320:320:avif, w320:320:webp, w320:320:auto, "
        "w400:400:avif, w400:400:webp, w400:400:auto"
    )
    assert _set({"RENDITIONS": "web-large", "MAX_DIMENSION": "400"}).startswith(
        "default:400:auto, w320:320:avif, w320:320:webp, w320:320:auto, w640:640:avif"
    )


def test_a_spec_without_default_gets_it_first() -> None:
    assert _set({"RENDITIONS": "thumb:200:webp:q=70, 1600:avif"}) == (
        "default:500:auto, thumb:200:webp:quality=70, w1600:1600:avif"
    )
    assert _set({"RENDITIONS": "default:500:webp, t:100"}) == "default:500:webp, t:100:auto"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RENDITIONS": "w1:1:gif"}, "RENDITIONS='w1:1:gif' is invalid: rendition w1: expected"),
        ({"RENDITIONS": "t:100, default:500"}, "the default rendition must come first"),
        ({"RENDITIONS": "default:400"}, "the default rendition is MAX_DIMENSION px: expected 500"),
        ({"MAX_DIMENSION": "20000"}, "expected a size of 1..16383 px, got 20000"),
    ],
)
def test_bad_rendition_sets_fail_at_cold_start(env: dict[str, str], message: str) -> None:
    from handlers.config import ResizeSettings

    with pytest.raises(ConfigError, match=re.escape(message)):
        ResizeSettings.from_env({**BASE, **env})
