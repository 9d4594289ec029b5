"""Suite-wide settings: keep tests hermetic (no real AWS credentials, no network)."""

from __future__ import annotations

import os

# Never let a test reach a real AWS account, whatever the developer's shell holds.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def pytest_report_header() -> list[str]:
    """Say at the top of the run whether the container tests can run, and if not why."""
    from tests.container import lab

    reason = lab.why_unavailable()
    if reason:
        return [f"container tests: skipped: {reason}"]
    how = f"podman through {lab.lab_scripts()}" if lab.engine() == "podman" else "docker"
    return [f"container tests: {how}, {lab.IMAGE}"]
