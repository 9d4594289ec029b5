"""The HTTP front states the API's own ``POST /images`` limits, word for word.

:class:`deploy.local.apigw_events.UploadLimits` defaults to the handlers' defaults, and its
framing allowance is the handler's, so the front refuses exactly the bodies the handler
would (tests/e2e/test_pipeline.py checks the words against the running handler).
"""

from __future__ import annotations

from deploy.local.apigw_events import UploadLimits
from handlers import api
from handlers.config import Settings

REQUIRED = {"UPLOADS_BUCKET": "u", "PROCESSED_BUCKET": "p", "METADATA_TABLE": "t"}


def test_defaults_are_the_handlers_defaults() -> None:
    settings = Settings.from_env(REQUIRED, role="api")
    assert UploadLimits.from_settings(settings) == UploadLimits()
    assert UploadLimits().framing_bytes == api.MULTIPART_SLACK_BYTES


def test_configured_limits_reach_the_message() -> None:
    environ = {**REQUIRED, "API_MAX_BODY_BYTES": "1000000", "UPLOAD_MAX_BYTES": "9000000"}
    limits = UploadLimits.from_settings(Settings.from_env(environ, role="api"))
    assert limits.body_max_bytes == 1_000_000 + 64 * 1024
    assert limits.message() == (
        "POST /images accepts images of at most 1000000 bytes; request a presigned upload "
        "with POST /uploads for files up to 9000000 bytes"
    )
