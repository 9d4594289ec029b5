"""Every command the Dockerfile, the compose files and the template run names code that
imports and is callable, and the image's inputs are pinned and hashed."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
from typing import Any

import pytest
import yaml
from cfnlint.decode import decode_str

from tests.deploy.conftest import PROJECT_ROOT, TEMPLATE_PATH

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
COMPOSE_FILES = [PROJECT_ROOT / "docker-compose.yml", PROJECT_ROOT / "docker-compose.lambda.yml"]
RIC = ["python", "-m", "awslambdaric"]


def dockerfile_instruction(name: str) -> list[str]:
    """The exec-form (JSON) argument of the last ``name`` instruction of the final stage."""
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    found = [line for line in lines if line.startswith(f"{name} ")]
    assert found, f"no {name} in the Dockerfile"
    return json.loads(found[-1][len(name) + 1 :])


def as_argv(value: Any) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def compose_commands() -> list[tuple[str, list[str], list[str]]]:
    """``(where, entrypoint, command)`` for every service that runs the project image
    (no ``entrypoint``: the image's own, awslambdaric)."""
    found = []
    base_entrypoints: dict[str, list[str]] = {}
    for path in COMPOSE_FILES:
        services = yaml.safe_load(path.read_text(encoding="utf-8"))["services"]
        for name, service in services.items():
            if "localstack" in str(service.get("image", "")):
                continue
            entrypoint = (
                as_argv(service.get("entrypoint"))
                or base_entrypoints.get(name)
                or dockerfile_instruction("ENTRYPOINT")
            )
            base_entrypoints.setdefault(name, entrypoint)
            if "command" in service:
                found.append((f"{path.name}:{name}", entrypoint, as_argv(service["command"])))
    return found


def template_commands() -> list[tuple[str, list[str]]]:
    template, _ = decode_str(TEMPLATE_PATH.read_text(encoding="utf-8"))
    return [
        (name, list(r["Properties"]["ImageConfig"]["Command"]))
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
    ]


def resolve_handler(dotted: str) -> Any:
    module_name, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def check_module_main(module_name: str) -> None:
    """``python -m module`` works: the module imports and has a callable ``main`` (a
    package: a ``__main__`` module beside a ``cli`` module with ``main``)."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__path__"):
        assert importlib.util.find_spec(f"{module_name}.__main__"), f"{module_name}: no __main__"
        module = importlib.import_module(f"{module_name}.cli")
    assert callable(getattr(module, "main", None)), f"{module_name} has no main()"


def run_target(entrypoint: list[str], command: list[str]) -> tuple[str, str]:
    """``("handler", dotted)`` or ``("module", name)`` for an entrypoint + command."""
    argv = [*entrypoint, *command]
    if argv[:3] == RIC:
        return "handler", argv[3]
    assert argv[:2] == ["python", "-m"], f"unexpected command {argv}"
    return "module", argv[2]


def test_dockerfile_runs_the_resize_handler_through_the_runtime_interface_client() -> None:
    assert dockerfile_instruction("ENTRYPOINT") == RIC
    assert dockerfile_instruction("CMD") == ["handlers.resize.handler"]
    assert callable(resolve_handler("handlers.resize.handler"))


def test_dockerfile_is_multi_stage_hashed_and_non_root() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert "--require-hashes" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert "ARG PILLOW_SIMD=0" in text


@pytest.mark.parametrize("where, entrypoint, command", compose_commands())
def test_compose_commands_name_code_that_imports(
    where: str, entrypoint: list[str], command: list[str]
) -> None:
    kind, target = run_target(entrypoint, command)
    if kind == "handler":
        assert callable(resolve_handler(target)), where
        return
    check_module_main(target)
    if "--handler" in command:
        assert callable(resolve_handler(command[command.index("--handler") + 1])), where


def test_compose_runs_the_functions_as_the_template_does() -> None:
    """``resize`` and ``api`` keep the image's entry point; their command is the template's
    ImageConfig.Command; the Lambda service and init run modules of the same image."""
    targets = {where: run_target(e, c) for where, e, c in compose_commands()}
    services = yaml.safe_load(COMPOSE_FILES[0].read_text(encoding="utf-8"))["services"]
    template = dict(template_commands())

    assert targets["docker-compose.yml:init"] == ("module", "deploy.local.compose_init")
    assert targets["docker-compose.yml:lambda"] == ("module", "deploy.local.lambda_service")
    for name, function in (("resize", "ResizeFunction"), ("api", "ApiFunction")):
        assert "entrypoint" not in services[name], name
        assert as_argv(services[name]["command"]) == template[function], name
        assert services[name]["image"] == services["init"]["image"], name


@pytest.mark.parametrize("function, command", template_commands())
def test_template_commands_name_callable_handlers(function: str, command: list[str]) -> None:
    assert len(command) == 1, function
    assert callable(resolve_handler(command[0])), function


def requirement_lines(name: str) -> dict[str, list[str]]:
    """``{package: [hashes]}`` of a pip-compile'd requirements file."""
    text = (PROJECT_ROOT / name).read_text(encoding="utf-8").replace("\\\n", " ")
    packages = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = line.split()
        assert "==" in spec, f"{name}: {spec} is not pinned"
        packages[spec.split("==")[0].lower()] = [o for o in options if o.startswith("--hash")]
    return packages


def test_image_requirements_are_pinned_hashed_and_lean() -> None:
    packages = requirement_lines("requirements.txt")
    assert {
        "pillow",
        "pillow-heif",
        "boto3",
        "aws-lambda-powertools",
        "python-multipart",
        "awslambdaric",
    } <= set(packages)
    assert all(hashes for hashes in packages.values())
    assert not {"moto", "rich", "pytest", "cfn-lint", "pyvips", "blurhash"} & set(packages)
    simd = requirement_lines("requirements-simd.txt")
    assert list(simd) == ["pillow-simd"] and simd["pillow-simd"]
    assert all(requirement_lines("requirements-build.txt").values())
    zlib_ng = requirement_lines("requirements-zlib-ng.txt")  # its sdist: the image's libz.so.1
    assert list(zlib_ng) == ["zlib-ng"] and zlib_ng["zlib-ng"]


def compose_flag_values(command: list[str], flag: str) -> dict[str, str]:
    """``{NAME: VALUE}`` of every ``flag NAME=VALUE`` pair in a command line."""
    pairs = [command[i + 1] for i, word in enumerate(command[:-1]) if word == flag]
    return dict(pair.split("=", 1) for pair in pairs)


def template_function(name: str) -> dict[str, Any]:
    template, _ = decode_str(TEMPLATE_PATH.read_text(encoding="utf-8"))
    return dict(template["Resources"][name]["Properties"])


@pytest.mark.parametrize(
    "service, function", [("resize", "ResizeFunction"), ("api", "ApiFunction")]
)
def test_compose_functions_get_their_runtime_api_memory_and_timeout(
    service: str, function: str
) -> None:
    """Each function container talks to its own Runtime API on the lambda service, with the
    template's memory size and timeout, under Lambda's constraints (read-only root, /tmp in
    memory) and an init that passes SIGTERM on."""
    services = yaml.safe_load(COMPOSE_FILES[0].read_text(encoding="utf-8"))["services"]
    lambda_command = as_argv(services["lambda"]["command"])
    properties = template_function(function)
    container = services[service]

    runtime_api = compose_flag_values(lambda_command, "--runtime-api")[service]
    assert (
        container["environment"]["AWS_LAMBDA_RUNTIME_API"] == "lambda:" + runtime_api.split(":")[1]
    )
    assert service in as_argv(services["lambda"]["command"])  # --external NAME
    assert float(compose_flag_values(lambda_command, "--timeout")[service]) == properties["Timeout"]
    assert int(compose_flag_values(lambda_command, "--memory")[service]) == properties["MemorySize"]
    assert container["mem_limit"] == f"{properties['MemorySize']}m"
    assert container["environment"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(
        properties["MemorySize"]
    )
    assert container["read_only"] is True
    assert container["tmpfs"] == ["/tmp"]
    assert container["init"] is True
    assert container["depends_on"] == {"lambda": {"condition": "service_healthy"}}


def test_compose_sqs_mapping_polls_the_queue_init_makes() -> None:
    services = yaml.safe_load(COMPOSE_FILES[0].read_text(encoding="utf-8"))["services"]
    queue_url = compose_flag_values(as_argv(services["lambda"]["command"]), "--sqs")["resize"]
    assert queue_url.endswith("/" + services["init"]["environment"]["QUEUE_NAME"])
    assert "--api" in as_argv(services["lambda"]["command"])
    assert services["lambda"]["ports"] == ["127.0.0.1:8080:8080"]


def test_localstack_image_and_tag_are_settable() -> None:
    text = COMPOSE_FILES[0].read_text(encoding="utf-8")
    assert "image: ${LOCALSTACK_IMAGE:-localstack/localstack}:${LOCALSTACK_TAG:-4.14.0}" in text
