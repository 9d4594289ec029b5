"""The moto patches (deploy/local/moto_sqs.py, moto_dynamodb.py) are written for one moto
minor version: pyproject.toml pins it, and a moto without the names they patch fails at
install with a message naming the supported version, changing nothing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import moto
import pytest
from moto.dynamodb.parsing import validators
from moto.sqs import models as sqs_models

from deploy.local import moto_core, moto_dynamodb, moto_internals, moto_sqs

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _moto_requirement() -> str:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (requirement,) = [d for d in dependencies if d.startswith("moto")]
    return str(requirement)


def test_pyproject_pins_the_moto_minor_version_the_patches_are_written_for() -> None:
    assert _moto_requirement() == f"moto[server,s3,sqs,dynamodb]{moto_internals.SUPPORTED_RANGE}"
    assert moto.__version__.startswith(f"{moto_internals.SUPPORTED_MOTO}.")


def test_the_installed_moto_has_every_name_the_patches_use() -> None:
    assert moto_internals.missing_names(sqs_models, moto_sqs.MOTO_NAMES) == []
    for root, paths in moto_dynamodb.MOTO_NAMES:
        assert moto_internals.missing_names(root, paths) == []
    assert moto_internals.missing_names(moto_core.responses, moto_core.MOTO_NAMES) == []


def test_missing_names_reports_each_absent_dotted_name_under_its_module() -> None:
    assert moto_internals.missing_names(
        sqs_models, ["SQSBackend.get_queue", "SQSBackend.no_such", "NoSuchClass.method"]
    ) == [
        "moto.sqs.models.SQSBackend.no_such",
        "moto.sqs.models.NoSuchClass.method",
    ]


def test_sqs_patch_refuses_a_moto_without_the_method_it_replaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(moto_sqs, "_installed", {})  # as in a process that has not installed
    monkeypatch.delattr(sqs_models.SQSBackend, "receive_message")
    queue_class = sqs_models.Queue

    with pytest.raises(moto_internals.MotoInternalsMissing) as raised:
        moto_sqs.install()

    message = str(raised.value)
    assert "deploy/local/moto_sqs.py patches moto 5.2 internals" in message
    assert f"installed moto {moto.__version__} lacks" in message
    assert "moto.sqs.models.SQSBackend.receive_message" in message
    assert "moto[server,s3,sqs,dynamodb]>=5.2,<5.3" in message
    assert moto_sqs._installed == {}  # nothing recorded as replaced ...
    assert sqs_models.Queue is queue_class  # ... and nothing replaced


def test_dynamodb_patch_refuses_a_moto_without_the_class_it_patches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(moto_dynamodb, "_installed", {})
    monkeypatch.delattr(validators, "OverlappingPathsValidator")
    traverse = validators.ActionCountValidator.__dict__.get("traverse")

    with pytest.raises(moto_internals.MotoInternalsMissing, match=r"moto 5\.2 internals") as raised:
        moto_dynamodb.install()

    assert "moto.dynamodb.parsing.validators.OverlappingPathsValidator.traverse" in str(
        raised.value
    )
    assert moto_dynamodb._installed == {}
    assert validators.ActionCountValidator.__dict__.get("traverse") is traverse


def test_the_emulator_refuses_to_start_on_another_moto_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deploy.local.emulator import Emulator, EmulatorError

    def missing() -> None:
        raise moto_internals.MotoInternalsMissing("installed moto 9.9 lacks moto.sqs.models.X")

    monkeypatch.setattr(moto_sqs, "install", missing)

    with pytest.raises(EmulatorError, match=r"installed moto 9\.9 lacks moto\.sqs\.models\.X"):
        Emulator(port=0).start()
