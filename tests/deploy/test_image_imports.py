"""The modules the container image runs import only what requirements.txt installs.

The image holds imgproc/, handlers/ and deploy/ but only the runtime requirements
(no moto, rich, requests, pytest...): compose runs deploy.local.dispatcher, deploy.local.http_front
and deploy.local.compose_init from it, Lambda runs the two handlers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_IN_IMAGE = (
    "moto",
    "rich",
    "requests",
    "pytest",
    "pyvips",
    "playwright",
    "testcontainers",
    "blurhash",  # a test tool only: imgproc.placeholders encodes BlurHash itself
)
IMAGE_ENTRY_MODULES = (
    "handlers.resize",
    "handlers.api",
    "deploy.local.dispatcher",
    "deploy.local.http_front",
    "deploy.local.compose_init",
    "deploy.local.lambda_service.cli",
)


def test_image_entry_modules_need_nothing_outside_requirements() -> None:
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in NOT_IN_IMAGE)
    imports = "; ".join(f"importlib.import_module({m!r})" for m in IMAGE_ENTRY_MODULES)
    code = f"import importlib, sys; {blocked}; {imports}; print('ok')"

    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_requirements_pin_what_the_entry_modules_use() -> None:
    pinned = {
        line.split("==", 1)[0].strip().lower()
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    }
    assert {
        "pillow",
        "pillow-heif",
        "boto3",
        "aws-lambda-powertools",
        "python-multipart",
        "awslambdaric",
    } <= pinned
    assert not pinned & set(NOT_IN_IMAGE)
