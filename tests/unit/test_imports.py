"""The core stays pure: no AWS SDK, no handlers, no environment variables."""

from __future__ import annotations

import ast
from pathlib import Path

import imgproc

FORBIDDEN_MODULES = ("boto3", "botocore", "handlers", "deploy")
PACKAGE_DIR = Path(imgproc.__file__).parent


def imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def environ_uses(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
            lines.append(node.lineno)
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in ("environ", "getenv", "putenv") for alias in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_imgproc_imports_no_aws_or_handlers() -> None:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) >= 5
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for module in imported_modules(tree):
            root = module.split(".")[0]
            assert root not in FORBIDDEN_MODULES, f"{path.name} imports {module}"


def test_imgproc_reads_no_environment() -> None:
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        assert not environ_uses(tree), f"{path.name} touches os.environ at {environ_uses(tree)}"


def test_import_walker_catches_offenders() -> None:
    bad = ast.parse("import boto3\nfrom botocore.config import Config\nimport os\nos.environ['X']")
    assert {"boto3", "botocore.config"} <= imported_modules(bad)
    assert environ_uses(bad)
