"""Check stack parameters against deploy/aws/template.yaml before any Docker or AWS call.

The checks are the constraints CloudFormation applies (Type: Number, MinValue, MaxValue,
AllowedValues, AllowedPattern, MinLength, MaxLength), read from the template itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from deploy.aws.errors import UsageError
from deploy.aws.options import Options
from handlers.config import rendition_set_of
from imgproc import SpecError, parse_renditions

# Parameters the tool fills itself, and the option that sets each (never --parameter).
TOOL_PARAMETERS = {
    "ImageUri": "the deploy tool (the pushed image's digest)",
    "NamePrefix": "--name-prefix (default: the stack name)",
    "Architecture": "--arch",
    "MaxDimension": "--max-dimension",
    "CorsAllowOrigins": "--cors-allow-origins",
    "AuthMode": "--auth-mode",
    "Renditions": "--renditions",
}
PILLOW_SIMD_LACKS = ("avif",)  # the Dockerfile builds Pillow-SIMD without libavif
PUBLIC_REFUSAL = (
    "--auth-mode none: refusing to deploy a public API. With AuthMode none anyone who finds "
    "its URL can upload as much as they like (on your bill), and GET /images lists every "
    "image of every user with a working download URL. Use --auth-mode jwt (the default: a "
    "Cognito user pool) or --auth-mode iam (SigV4-signed callers), or pass --public if an "
    "open demo is really what you want."
)
STACK_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")  # CloudFormation's rule


class _TemplateLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short tags (``!Ref``, ``!Sub``, ...)."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    """``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``..."""
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        msg = f"unexpected YAML node {type(node).__name__} after !{suffix}"
        raise yaml.constructor.ConstructorError(None, None, msg, node.start_mark)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _short_tag)


def template_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The ``Parameters`` section of the CloudFormation template at ``path``.

    Returns:
        ``{name: {"Type": ..., "Default": ..., "MinValue": ..., ...}}`` as written.

    Raises:
        UsageError: the file is missing or is not a YAML/JSON template.
    """
    try:
        template = yaml.load(path.read_text(encoding="utf-8"), Loader=_TemplateLoader)
    except (OSError, yaml.YAMLError) as e:
        msg = f"cannot read the template {path}: {e}"
        raise UsageError(msg) from e
    if not isinstance(template, dict):
        msg = f"{path} is not a CloudFormation template"
        raise UsageError(msg)
    return dict(template.get("Parameters") or {})


def parameter_problems(name: str, value: str, spec: Mapping[str, Any]) -> list[str]:
    """What CloudFormation would refuse in ``value`` for parameter ``name`` (``spec``).

    Checks the constraints CloudFormation applies to parameter values: ``Type: Number``,
    ``MinValue``, ``MaxValue``, ``AllowedValues``, ``AllowedPattern`` (a full match),
    ``MinLength``, ``MaxLength``. Returns an empty list when the value passes.
    """
    problems = []
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return [f"must be a number (Type: Number), got {value!r}"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            problems.append(f"must be at least {spec['MinValue']} (MinValue)")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            problems.append(f"must be at most {spec['MaxValue']} (MaxValue)")
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        allowed = ", ".join(str(v) for v in spec["AllowedValues"])
        problems.append(f"must be one of {allowed} (AllowedValues)")
    if "AllowedPattern" in spec and not re.fullmatch(str(spec["AllowedPattern"]), value):
        problems.append(f"must match {spec['AllowedPattern']} (AllowedPattern)")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        problems.append(f"must be at least {spec['MinLength']} characters (MinLength)")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        problems.append(f"must be at most {spec['MaxLength']} characters (MaxLength)")
    if problems and spec.get("ConstraintDescription"):
        problems[-1] += f"; {spec['ConstraintDescription']}"
    return problems


def check_parameters(opts: Options) -> None:
    """Refuse stack parameters the template would refuse, before any Docker or AWS call.

    ``--parameter`` names must be parameters of the template that the tool does not set
    itself (:data:`TOOL_PARAMETERS`); every value the tool would pass (except the image
    URI, known only after the push) must satisfy the template's constraints for it.

    Raises:
        UsageError: every problem found, each naming the option that set the value.
    """
    specs = template_parameters(opts.template_path)
    where = opts.template_path.name
    errors = []
    if not STACK_NAME_PATTERN.match(opts.stack_name):
        errors.append(
            f"--stack-name {opts.stack_name!r}: a stack name is letters, digits "
            "and hyphens, starts with a letter, at most 128 characters"
        )
    if opts.auth_mode == "none" and not opts.public:
        errors.append(PUBLIC_REFUSAL)
    for name in opts.extra_parameters:
        if name in TOOL_PARAMETERS:
            errors.append(f"--parameter {name}: set by {TOOL_PARAMETERS[name]}, not --parameter")
        elif name not in specs:
            valid = ", ".join(sorted(n for n in specs if n not in TOOL_PARAMETERS))
            errors.append(
                f"--parameter {name}: {where} has no such parameter; "
                f"--parameter takes {valid or '(none)'}"
            )
    shown = {
        "NamePrefix": (
            f"--name-prefix {opts.prefix}"
            if opts.name_prefix
            else f"--stack-name {opts.prefix} (the NamePrefix unless --name-prefix)"
        ),
        "Architecture": f"--arch {opts.architecture}",
        "MaxDimension": f"--max-dimension {opts.max_dimension}",
        "CorsAllowOrigins": f"--cors-allow-origins {opts.cors_allow_origins}",
        "AuthMode": f"--auth-mode {opts.auth_mode}",
        "Renditions": f"--renditions {opts.renditions!r}",
    }
    for name, value in opts.parameters("").items():
        if name == "ImageUri" or name not in specs:
            continue
        for problem in parameter_problems(name, value, specs[name]):
            option = shown.get(name, f"--parameter {name}={value}")
            errors.append(f"{option}: {where} parameter {name} {problem}")
    errors += rendition_problems(opts)
    if errors:
        raise UsageError("\n".join(errors))


def rendition_problems(opts: Options) -> list[str]:
    """What the resize function would refuse at cold start in ``--renditions``.

    The spec is parsed (:mod:`imgproc.renditions`); with ``--max-dimension`` also given it
    is checked as the function checks it (:func:`handlers.config.rendition_set_of`);
    with ``--pillow-simd``, formats that image cannot encode are named. Encoders of the
    image are not probed here: the function's cold start does that
    (:func:`handlers.config.resolve_renditions`).
    """
    if opts.renditions is None:
        return []
    option = f"--renditions {opts.renditions!r}"
    try:
        if opts.max_dimension is None:
            renditions = parse_renditions(opts.renditions)
        else:
            renditions = rendition_set_of(opts.renditions, opts.max_dimension)
    except SpecError as e:
        return [f"{option}: {e}"]
    lacking = sorted({r.format for r in renditions} & set(PILLOW_SIMD_LACKS))
    if opts.pillow_simd and lacking:
        return [f"{option}: the --pillow-simd image cannot encode {', '.join(lacking)}"]
    return []
