"""The image check the Dockerfile runs (deploy/image_check.py), here on the test venv:
it finds every codec, fails loudly when one is missing, and the botocore models the
Dockerfile keeps are exactly the services the image's code creates clients for."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from deploy import image_check
from tests.deploy.conftest import PROJECT_ROOT

IMAGE_CODE = ("imgproc", "handlers", "deploy/local")
"""What the Dockerfile copies and runs (.dockerignore leaves deploy/aws out)."""


def test_every_codec_is_found_and_every_format_resizes() -> None:
    assert image_check.missing_codecs() == []
    assert image_check.round_trip_failures() == []


def test_a_missing_codec_fails_the_check_by_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import features

    real_check = features.check
    monkeypatch.setattr(features, "check", lambda name: name != "libtiff" and real_check(name))

    assert image_check.main([]) == 1

    err = capsys.readouterr().err
    assert "missing codec: TIFF compression (libtiff) [libtiff]" in err
    assert "FAILED" in err


def test_an_unknown_feature_name_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """An older Pillow raises ValueError for a feature it does not know (e.g. avif)."""
    from PIL import features

    def check(name: str) -> bool:
        if name == "avif":
            raise ValueError("Unknown feature 'avif'")
        return True

    monkeypatch.setattr(features, "check", check)

    assert image_check.missing_codecs() == ["AVIF (libavif) [avif]"]


def test_a_rejected_round_trip_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = dict(image_check.ENCODERS, PNG=lambda image: b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    monkeypatch.setattr(image_check, "ENCODERS", broken)

    failures = image_check.round_trip_failures()

    assert len(failures) == 1
    assert failures[0].startswith("PNG: the engine rejected it as ")


def test_warm_imports_the_entry_modules_and_builds_every_client(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert image_check.main(["--warm"]) == 0

    out = capsys.readouterr().out
    assert "8 formats resized" in out
    assert f"{len(image_check.AWS_SERVICES)} clients warmed" in out


def dockerfile_botocore_services() -> set[str]:
    text = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    match = re.search(r'^ARG BOTOCORE_SERVICES="([^"]*)"', text, re.M)
    assert match, "no ARG BOTOCORE_SERVICES in the Dockerfile"
    return set(shlex.split(match.group(1)))


def services_named_in(folders: tuple[str, ...]) -> dict[str, set[str]]:
    """``{service: {files}}`` for every ``client("service"`` call in ``folders``."""
    found: dict[str, set[str]] = {}
    pattern = re.compile(r"""client\(\s*["']([a-z0-9-]+)["']""")
    for folder in folders:
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            for service in pattern.findall(path.read_text(encoding="utf-8")):
                found.setdefault(service, set()).add(str(path.relative_to(PROJECT_ROOT)))
    return found


def test_the_image_keeps_the_models_of_every_service_its_code_uses() -> None:
    kept = dockerfile_botocore_services()
    used = services_named_in(IMAGE_CODE)

    assert kept == set(image_check.AWS_SERVICES)
    assert {"s3", "dynamodb", "sqs"} <= set(used)
    assert {s: files for s, files in used.items() if s not in kept} == {}


def test_deploy_aws_stays_out_of_the_image() -> None:
    """The deploy tool runs on the developer's machine; its clients need no models here."""
    ignored = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "deploy/aws" in ignored
    assert Path(PROJECT_ROOT / "deploy" / "aws").is_dir()
