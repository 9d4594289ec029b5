"""deploy/aws/openapi.yaml: a valid OpenAPI 3 description of the handler's actual API.

- statically: its paths and methods are exactly the handler's routes (``handlers.api.ROUTES``
  plus the OPTIONS preflight), every error status the function can answer is described,
  and it declares the security schemes of the template's AuthMode;
- dynamically: schemathesis generates requests for every operation (positive and negative
  data, a bounded number of examples) against a local pipeline of its own
  (``AUTH_MODE=none``, no quota, so nothing else is disturbed) and checks every answer:
  no 5xx, the status is documented, the content type and body match the description. The
  figures (requests sent, answers by status) go to ``test-artifacts/openapi-fuzz.json``.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from handlers import api, errors
from handlers.auth import Unauthorized
from handlers.quota import TooManyRequests
from tests.e2e.conftest import ARTIFACTS, local_pipeline

SPEC_PATH = Path(__file__).resolve().parents[2] / "deploy" / "aws" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
EXAMPLES_PER_OPERATION = 40  # per generation mode: about 600 requests, ~20 s on 2 cores


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def route_template(pattern: re.Pattern[str]) -> str:
    """``^/images/(?P<image_id>[^/]+)$`` -> ``/images/{image_id}``."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern.pattern).strip("^$")


def test_the_description_is_valid_openapi_3(spec: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_paths_and_methods_are_the_handlers_routes(spec: dict[str, Any]) -> None:
    described = {
        (path, method.upper())
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }
    served = {
        (route_template(pattern), method)
        for pattern, routes in api.ROUTES
        for method in (*routes, "OPTIONS")
    }
    assert described == served


def test_every_error_the_function_answers_is_described(spec: dict[str, Any]) -> None:
    def subclasses(cls: type) -> set[type]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(c) for c in found)) if found else set()

    statuses = {c.status for c in subclasses(errors.ApiError)} | {500}
    assert {Unauthorized.status, TooManyRequests.status} <= statuses
    documented: set[int] = set()
    for item in spec["paths"].values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for code in operation["responses"]:
                if code.endswith("XX"):
                    documented |= set(range(int(code[0]) * 100, int(code[0]) * 100 + 100))
                else:
                    documented.add(int(code))
    assert statuses - {405} <= documented  # 405: only for methods the description lacks
    schemes = spec["components"]["securitySchemes"]
    assert schemes["cognitoUserPool"]["x-amazon-apigateway-authtype"] == "cognito_user_pools"
    assert schemes["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    for path, item in spec["paths"].items():
        assert item["options"]["security"] == [], path  # preflights are never authenticated


@pytest.fixture(scope="module")
def fuzz_pipeline() -> Iterator[dict[str, Any]]:
    yield from local_pipeline(
        ["--auth-mode", "none"], {"DAILY_UPLOAD_COUNT": "0"}, "local-pipeline-fuzz.log"
    )


def test_fuzzing_the_local_api_finds_no_server_error_and_no_schema_violation(
    fuzz_pipeline: dict[str, Any],
) -> None:
    import hypothesis
    import requests
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_path(SPEC_PATH)
    base_url = fuzz_pipeline["api_url"]
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @hypothesis.settings(
                    max_examples=EXAMPLES_PER_OPERATION,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                    suppress_health_check=list(hypothesis.HealthCheck),
                )
                @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
                def run(case: Any) -> None:
                    response = case.call(base_url=base_url, session=session, timeout=15)
                    statuses[response.status_code] += 1
                    try:
                        case.validate_response(response, checks=checks)
                    except Exception as error:  # keep going: count every violation
                        failures.append(f"{case.method} {case.path}: {error}"[:2000])

                try:
                    run()
                except hypothesis.errors.Unsatisfiable:
                    # no invalid request exists (OPTIONS: nothing to get wrong)
                    assert mode == GenerationMode.NEGATIVE, operation.label
    elapsed_s = time.monotonic() - started
    figures = {
        "requests": sum(statuses.values()),
        "by_status": dict(sorted(statuses.items())),
        "server_errors": sum(n for code, n in statuses.items() if code >= 500),
        "violations": len(failures),
        "elapsed_s": round(elapsed_s, 1),
        "examples_per_operation_and_mode": EXAMPLES_PER_OPERATION,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "openapi-fuzz.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    assert failures == [], "\n\n".join(failures[:5])
    assert figures["server_errors"] == 0
    assert figures["requests"] >= 200
