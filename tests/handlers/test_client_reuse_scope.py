"""The handler tests' shared boto3 clients (conftest ``_reuse_boto3_clients``) stay in
tests/handlers: a deploy test run after them in the same process still gets its own clients.

Regression guard for a test-order defect: the patch was session-scoped, so after any handler
test ``boto3.client`` kept returning cached clients, and the deploy tests that record calls
on their own client (dry-run coverage) or session (compose lambda wiring) saw other calls or
none.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# One handler test (it installs the patch and caches S3/DynamoDB/SQS clients), then the
# deploy tests that broke: the dry-run scenarios, and compose_init's file (its earlier tests
# made the S3 client the lambda wiring test then got instead of one from its own session).
IN_ORDER = [
    "tests/handlers/test_bootstrap.py::test_installed_deps_serve_the_handler_without_any_environment",
    "tests/deploy/test_aws_cli.py::test_dry_run_lists_every_change_the_real_run_makes",
    "tests/deploy/test_compose_init.py",
]


def test_deploy_tests_pass_after_handler_tests_in_one_process() -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *IN_ORDER],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )

    # 0: every test ran and passed (a node id that no longer exists is 4, none collected 5)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
