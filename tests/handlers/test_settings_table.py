"""Settings declared once: the role classes, the table and REQUIRED all come from one place."""

from __future__ import annotations

import subprocess
import sys

import pytest

from handlers import config
from handlers.config import REQUIRED, ApiSettings, ConfigError, ResizeSettings, variables_table


def test_each_role_requires_its_buckets() -> None:
    resize = ResizeSettings.from_env({"METADATA_TABLE": "t", "PROCESSED_BUCKET": "p"})
    api = ApiSettings.from_env({"METADATA_TABLE": "t", "UPLOADS_BUCKET": "u"})

    assert (resize.processed_bucket, resize.uploads_bucket) == ("p", None)
    assert api.uploads_bucket == "u" and not hasattr(api, "processed_bucket")
    with pytest.raises(ConfigError, match=r"missing required environment variables: UPLOADS_B"):
        ApiSettings.from_env({"METADATA_TABLE": "t", "PROCESSED_BUCKET": "p"})
    assert REQUIRED == {
        "resize": ("METADATA_TABLE", "PROCESSED_BUCKET"),
        "api": ("METADATA_TABLE", "UPLOADS_BUCKET"),
        "any": ("METADATA_TABLE",),
    }


def test_the_table_shows_every_variable_with_its_default_and_unit() -> None:
    rows = {line.split()[0]: line for line in variables_table().splitlines()[2:]}

    assert len(rows) == 26
    assert rows["MAX_DIMENSION"].split()[1:4] == ["500", "pixels", "both"]
    assert rows["RENDITIONS"].split()[1:3] == ["default", "resize"]
    assert rows["UPLOAD_URL_EXPIRES_S"].split()[1:4] == ["300", "seconds", "both"]
    assert "(required)" in rows["METADATA_TABLE"]
    assert "(required by api)" in rows["UPLOADS_BUCKET"]
    assert "resize" in rows["PROCESSED_BUCKET"].split()
    assert "(else AWS_DEFAULT_REGION)" in rows["AWS_REGION"]
    assert config.__doc__ is not None and "    MAX_OBJECT_BYTES" in config.__doc__


def test_python_m_handlers_config_prints_the_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "handlers.config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == variables_table()
