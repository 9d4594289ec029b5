"""Deploy the pipeline to AWS: one image in ECR, one CloudFormation stack.

Usage::

    python -m deploy.aws deploy            # build, push, create/update the stack, update functions
    python -m deploy.aws update-functions  # build, push, point both functions at the new digest
    python -m deploy.aws plan              # what deploy would change (a change set preview)
    python -m deploy.aws destroy --yes     # empty the buckets, delete the stack
    python -m deploy.aws deploy --dry-run  # print the steps; no AWS or Docker calls
    python -m deploy.aws COMMAND --help    # the options of one command

Options every command takes (before or after the command name): ``--dry-run``,
``--region`` (default: the AWS CLI's), ``--profile``, ``--stack-name`` (default
image-pipeline). deploy and plan: ``--image-tag`` (default: the git commit SHA; tags are
immutable), ``--arch x86_64|arm64``, ``--max-dimension``, ``--cors-allow-origins``,
``--parameter KEY=VALUE``; deploy and update-functions also ``--pillow-simd``; destroy
``--yes`` and ``--delete-repository``.

Stack parameters are checked against deploy/template.yaml (names, MinValue, MaxValue,
AllowedValues, AllowedPattern, MinLength, MaxLength) before any Docker or AWS call.

The steps are plain functions over boto3 clients and a Docker port
(:class:`deploy.docker_cli.ImageBuilder`), so tests run them against moto and a fake
builder; :func:`main` is the only place that builds real clients.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError, NoCredentialsError, WaiterError

from deploy.docker_cli import DockerCli, ImageBuilder

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = Path(__file__).resolve().parent / "template.yaml"
TEMPLATE_BODY_MAX_BYTES = 51_200  # CloudFormation's limit for an inline TemplateBody
CAPABILITIES = ["CAPABILITY_IAM"]  # the template makes two roles, unnamed
PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # ECR image tag rule
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
FUNCTIONS = ("ResizeFunction", "ApiFunction")  # logical ids in the template

Say = Callable[[str], None]


class DeployError(RuntimeError):
    """A deploy step failed; the message says which and what to do."""


class UsageError(DeployError):
    """The command line asks for something the tool or the template refuses (exit 2)."""


@dataclass(frozen=True, slots=True)
class Options:
    """Everything a command needs, resolved from the command line."""

    stack_name: str = "image-pipeline"
    region: str | None = None
    name_prefix: str | None = None  # default: the stack name
    repository: str | None = None  # default: the name prefix
    image_tag: str | None = None  # default: the git commit SHA
    architecture: str = "x86_64"
    pillow_simd: bool = False
    max_dimension: int | None = None  # None: the stack's current value (template default)
    cors_allow_origins: str | None = None  # None: likewise
    extra_parameters: Mapping[str, str] = field(default_factory=dict)
    template_path: Path = TEMPLATE_PATH
    project_root: Path = PROJECT_ROOT

    @property
    def prefix(self) -> str:
        """The template's NamePrefix."""
        return self.name_prefix or self.stack_name

    @property
    def repository_name(self) -> str:
        """The ECR repository name."""
        return self.repository or self.prefix

    @property
    def platform(self) -> str:
        """The docker --platform for :attr:`architecture`."""
        return PLATFORMS[self.architecture]

    def parameters(self, image_uri: str) -> dict[str, str]:
        """The stack parameters for ``image_uri`` (REPO@sha256:...).

        Settings left unset are left out: an update keeps the stack's current value
        (see :func:`create_change_set`), a new stack gets the template default.
        """
        optional = {"MaxDimension": self.max_dimension, "CorsAllowOrigins": self.cors_allow_origins}
        return {
            "ImageUri": image_uri,
            "NamePrefix": self.prefix,
            "Architecture": self.architecture,
            **{name: str(value) for name, value in optional.items() if value is not None},
            **self.extra_parameters,
        }


# ------------------------------------------------------------------------- image tag


def git_image_tag(root: Path, *, now: datetime | None = None) -> str:
    """The immutable image tag for the work tree at ``root``: its commit SHA.

    A tree with uncommitted changes gets ``SHA-dirty-YYYYMMDDTHHMMSSZ`` so the tag never
    names code that differs from the commit.

    Raises:
        DeployError: not a git work tree, or no commit yet.
    """
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            msg = (f"cannot name the image after a git commit ({done.stderr.strip()}); "
                   "commit first or pass --image-tag")
            raise DeployError(msg)
        return done.stdout.strip()

    sha = git("rev-parse", "--verify", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no"):
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        return f"{sha}-dirty-{stamp}"
    return sha


def check_tag(tag: str) -> str:
    """Return ``tag`` if ECR accepts it; raise :class:`UsageError` otherwise."""
    if not TAG_PATTERN.match(tag):
        msg = f"image tag {tag!r} is not valid for ECR (letters, digits, _ . -; max 128)"
        raise UsageError(msg)
    return tag


# ------------------------------------------------------------------------- parameters

# Parameters the tool fills itself, and the option that sets each (never --parameter).
TOOL_PARAMETERS = {
    "ImageUri": "the deploy tool (the pushed image's digest)",
    "NamePrefix": "--name-prefix (default: the stack name)",
    "Architecture": "--arch",
    "MaxDimension": "--max-dimension",
    "CorsAllowOrigins": "--cors-allow-origins",
}
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
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
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
        errors.append(f"--stack-name {opts.stack_name!r}: a stack name is letters, digits "
                      "and hyphens, starts with a letter, at most 128 characters")
    for name in opts.extra_parameters:
        if name in TOOL_PARAMETERS:
            errors.append(f"--parameter {name}: set by {TOOL_PARAMETERS[name]}, "
                          "not --parameter")
        elif name not in specs:
            valid = ", ".join(sorted(n for n in specs if n not in TOOL_PARAMETERS))
            errors.append(f"--parameter {name}: {where} has no such parameter; "
                          f"--parameter takes {valid or '(none)'}")
    shown = {
        "NamePrefix": (f"--name-prefix {opts.prefix}" if opts.name_prefix else
                       f"--stack-name {opts.prefix} (the NamePrefix unless --name-prefix)"),
        "Architecture": f"--arch {opts.architecture}",
        "MaxDimension": f"--max-dimension {opts.max_dimension}",
        "CorsAllowOrigins": f"--cors-allow-origins {opts.cors_allow_origins}",
    }
    for name, value in opts.parameters("").items():
        if name == "ImageUri" or name not in specs:
            continue
        for problem in parameter_problems(name, value, specs[name]):
            option = shown.get(name, f"--parameter {name}={value}")
            errors.append(f"{option}: {where} parameter {name} {problem}")
    if errors:
        raise UsageError("\n".join(errors))


# ------------------------------------------------------------------------- ECR + Docker


def ensure_repository(ecr: Any, name: str, *, say: Say = print) -> str:
    """Create the ECR repository ``name`` (immutable tags, scan on push) unless it exists.

    Returns:
        The repository URI (``ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME``).
    """
    try:
        repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ClientError as e:
        if e.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise
        repo = ecr.create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration={"encryptionType": "AES256"},
        )["repository"]
        say(f"created ECR repository {repo['repositoryUri']} (immutable tags)")
    return str(repo["repositoryUri"])


def image_digest(ecr: Any, repository: str, tag: str) -> str | None:
    """The digest (``sha256:...``) of ``repository:tag`` in ECR, or ``None``."""
    try:
        images = ecr.describe_images(repositoryName=repository,
                                     imageIds=[{"imageTag": tag}])["imageDetails"]
    except ClientError as e:
        if e.response["Error"]["Code"] in ("ImageNotFoundException",
                                           "RepositoryNotFoundException"):
            return None
        raise
    return str(images[0]["imageDigest"]) if images else None


def registry_credentials(ecr: Any) -> tuple[str, str, str]:
    """``(registry_host, username, password)`` from ECR's authorization token (12 h)."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    registry = re.sub(r"^https?://", "", data["proxyEndpoint"])
    return registry, username, password


def publish_image(ecr: Any, builder: ImageBuilder, opts: Options, tag: str, *,
                  say: Say = print) -> str:
    """Build and push the image as ``REPO:tag`` unless ECR has it already.

    Returns:
        The image URI pinned by digest: ``REPO_URI@sha256:...`` (what the functions run).

    Raises:
        DeployError: the push finished but ECR does not list the tag.
    """
    repo_uri = ensure_repository(ecr, opts.repository_name, say=say)
    digest = image_digest(ecr, opts.repository_name, tag)
    if digest:
        say(f"{repo_uri}:{tag} is in ECR already ({digest}); not rebuilding")
        return f"{repo_uri}@{digest}"
    registry, username, password = registry_credentials(ecr)
    builder.login(registry, username, password)
    local_tag = f"{repo_uri}:{tag}"
    say(f"building {local_tag} for {opts.platform}"
        + (" with Pillow-SIMD" if opts.pillow_simd else ""))
    builder.build(context=opts.project_root, dockerfile=opts.project_root / "Dockerfile",
                  tag=local_tag, platform=opts.platform,
                  build_args={"PILLOW_SIMD": "1" if opts.pillow_simd else "0"})
    say(f"pushing {local_tag}")
    builder.push(local_tag)
    digest = image_digest(ecr, opts.repository_name, tag)
    if not digest:
        msg = f"pushed {local_tag} but ECR does not list it"
        raise DeployError(msg)
    return f"{repo_uri}@{digest}"


# ------------------------------------------------------------------------- CloudFormation


def stack_status(cfn: Any, stack_name: str) -> str | None:
    """The stack's status, or ``None`` when there is no such (live) stack."""
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as e:
        if "does not exist" in e.response["Error"].get("Message", ""):
            return None
        raise
    return str(stacks[0]["StackStatus"]) if stacks else None


def stack_outputs(cfn: Any, stack_name: str) -> dict[str, str]:
    """The stack's outputs as ``{OutputKey: OutputValue}``."""
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def stack_resources(cfn: Any, stack_name: str, resource_type: str) -> dict[str, str]:
    """``{logical id: physical id}`` of the stack's resources of ``resource_type``."""
    found = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            if summary["ResourceType"] == resource_type and summary.get("PhysicalResourceId"):
                found[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    return found


def function_names(cfn: Any, stack_name: str) -> list[str]:
    """The physical names of the stack's resize and API functions.

    Raises:
        DeployError: the stack has no such functions (not this project's stack).
    """
    functions = stack_resources(cfn, stack_name, "AWS::Lambda::Function")
    missing = [logical for logical in FUNCTIONS if logical not in functions]
    if missing:
        msg = f"stack {stack_name} has no {', '.join(missing)}: is it this project's stack?"
        raise DeployError(msg)
    return [functions[logical] for logical in FUNCTIONS]


def failure_events(cfn: Any, stack_name: str, since: datetime) -> list[str]:
    """Lines describing the stack's failed resource events since ``since``, oldest first."""
    try:
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
    except ClientError:
        return []
    lines = [
        f"{e['Timestamp']:%H:%M:%S} {e['LogicalResourceId']} ({e['ResourceType']}) "
        f"{e['ResourceStatus']}: {e.get('ResourceStatusReason', '')}"
        for e in events
        if e["Timestamp"] >= since and e["ResourceStatus"].endswith("_FAILED")
    ]
    return list(reversed(lines))


def _previous_values(cfn: Any, stack_name: str, given: Mapping[str, str]) -> list[dict[str, Any]]:
    """``UsePreviousValue`` for every current stack parameter not given this time.

    Without it CloudFormation falls back to the template default, so a plain ``deploy``
    after ``deploy --parameter UploadsRetentionDays=30`` would quietly undo the 30.
    """
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    current = [p["ParameterKey"] for p in stack.get("Parameters", [])]
    return [{"ParameterKey": k, "UsePreviousValue": True} for k in current if k not in given]


def create_change_set(cfn: Any, stack_name: str, template_body: str,
                      parameters: Mapping[str, str], *, say: Say = print) -> dict[str, Any] | None:
    """Create a change set for the stack and wait until it is ready.

    Returns:
        ``describe_change_set``'s answer plus ``ChangeSetType`` (CREATE or UPDATE), or
        ``None`` when the stack is already so (the empty change set is deleted).

    Raises:
        DeployError: the stack is busy or the change set failed for another reason.
    """
    if len(template_body.encode()) > TEMPLATE_BODY_MAX_BYTES:
        msg = f"template is over {TEMPLATE_BODY_MAX_BYTES} bytes: upload it to S3 instead"
        raise DeployError(msg)
    stack_parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    status = stack_status(cfn, stack_name)
    if status == "ROLLBACK_COMPLETE":
        say(f"stack {stack_name} failed to create earlier (ROLLBACK_COMPLETE); deleting it")
        cfn.delete_stack(StackName=stack_name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack_name)
        status = None
    if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        msg = f"stack {stack_name} is busy ({status}); wait for it to settle and retry"
        raise DeployError(msg)
    change_type = "UPDATE" if status and status != "REVIEW_IN_PROGRESS" else "CREATE"
    name = f"deploy-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    try:
        cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType=change_type,
            TemplateBody=template_body,
            Parameters=stack_parameters + (
                _previous_values(cfn, stack_name, parameters) if change_type == "UPDATE" else []
            ),
            Capabilities=CAPABILITIES,
            Tags=[{"Key": "project", "Value": "image-pipeline"}],
        )
    except ClientError as e:  # some endpoints refuse an empty change set outright
        if any(text in str(e) for text in NO_CHANGES):
            return None
        raise
    with contextlib.suppress(WaiterError):  # a failed change set: the description says why
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=stack_name, ChangeSetName=name,
            WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    described = cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if any(text in reason for text in NO_CHANGES):
            cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
            return None
        msg = f"change set {name} failed: {reason}"
        raise DeployError(msg)
    return {**described, "ChangeSetType": change_type}


def describe_changes(change_set: Mapping[str, Any]) -> list[str]:
    """One line per resource change: ``Add ResizeFunction (AWS::Lambda::Function)``."""
    lines = []
    for change in change_set.get("Changes", []):
        rc = change.get("ResourceChange", {})
        replace = " (replacement)" if rc.get("Replacement") == "True" else ""
        lines.append(f"{rc.get('Action')} {rc.get('LogicalResourceId')} "
                     f"({rc.get('ResourceType')}){replace}")
    return lines


def deploy_stack(cfn: Any, stack_name: str, template_body: str,
                 parameters: Mapping[str, str], *, say: Say = print) -> dict[str, str]:
    """Create or update the stack through a change set and wait for it.

    Returns:
        The stack outputs.

    Raises:
        DeployError: the change set or its execution failed; the failed resource events
            are in the message.
    """
    started = datetime.now(UTC)
    change_set = create_change_set(cfn, stack_name, template_body, parameters, say=say)
    if change_set is None:
        say(f"stack {stack_name} is up to date")
        return stack_outputs(cfn, stack_name)
    creating = change_set["ChangeSetType"] == "CREATE"
    for line in describe_changes(change_set):
        say(f"  {line}")
    cfn.execute_change_set(StackName=stack_name, ChangeSetName=change_set["ChangeSetName"])
    waiter = "stack_create_complete" if creating else "stack_update_complete"
    say(f"{'creating' if creating else 'updating'} stack {stack_name} ...")
    try:
        cfn.get_waiter(waiter).wait(StackName=stack_name,
                                    WaiterConfig={"Delay": 10, "MaxAttempts": 180})
    except WaiterError as e:
        events = "\n".join(failure_events(cfn, stack_name, started)) or "(no failed events)"
        msg = f"stack {stack_name}: {e}\nfailed resources:\n{events}"
        raise DeployError(msg) from e
    return stack_outputs(cfn, stack_name)


# ------------------------------------------------------------------------- Lambda


def update_functions(lambda_: Any, function_names: Iterable[str], image_uri: str, *,
                     say: Say = print) -> dict[str, str]:
    """Point each function at ``image_uri`` (REPO@sha256:...) and wait until it is Active.

    Functions already on that image are only waited for.

    Returns:
        ``{function_name: resolved image URI}`` as Lambda reports it afterwards.

    Raises:
        DeployError: an update failed or a function did not become Active.
    """
    names = list(function_names)
    for name in names:
        current = lambda_.get_function(FunctionName=name)["Code"].get("ImageUri")
        if current != image_uri:
            say(f"updating {name} -> {image_uri}")
            lambda_.update_function_code(FunctionName=name, ImageUri=image_uri)
    resolved = {}
    for name in names:
        try:
            lambda_.get_waiter("function_updated_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
            lambda_.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
        except WaiterError as e:
            config = lambda_.get_function_configuration(FunctionName=name)
            msg = (f"function {name} is {config.get('State')}/"
                   f"{config.get('LastUpdateStatus')}: "
                   f"{config.get('LastUpdateStatusReason') or config.get('StateReason') or e}")
            raise DeployError(msg) from e
        code = lambda_.get_function(FunctionName=name)["Code"]
        resolved[name] = str(code.get("ResolvedImageUri") or code.get("ImageUri"))
        say(f"{name} is Active on {resolved[name]}")
    return resolved


# ------------------------------------------------------------------------- teardown


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker in ``bucket``; return how many."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    try:
        for page in paginator.paginate(Bucket=bucket):
            keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for start in range(0, len(keys), 1000):
                s3.delete_objects(Bucket=bucket,
                                  Delete={"Objects": keys[start:start + 1000], "Quiet": True})
            deleted += len(keys)
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchBucket":
            raise
    return deleted


def destroy(cfn: Any, s3: Any, ecr: Any, opts: Options, *, delete_repository: bool,
            say: Say = print) -> None:
    """Empty the stack's buckets, delete the stack and wait; optionally the ECR repository.

    Raises:
        DeployError: the stack did not delete; the failed events are in the message.
    """
    if stack_status(cfn, opts.stack_name) is None:
        say(f"no stack {opts.stack_name} in this region")
    else:
        for bucket in stack_resources(cfn, opts.stack_name, "AWS::S3::Bucket").values():
            count = empty_bucket(s3, bucket)
            say(f"emptied {bucket} ({count} objects)")
        started = datetime.now(UTC)
        cfn.delete_stack(StackName=opts.stack_name)
        say(f"deleting stack {opts.stack_name} ...")
        try:
            cfn.get_waiter("stack_delete_complete").wait(
                StackName=opts.stack_name, WaiterConfig={"Delay": 10, "MaxAttempts": 180})
        except WaiterError as e:
            events = "\n".join(failure_events(cfn, opts.stack_name, started))
            msg = f"stack {opts.stack_name} did not delete: {e}\n{events}"
            raise DeployError(msg) from e
        say(f"stack {opts.stack_name} deleted")
    if delete_repository:
        try:
            ecr.delete_repository(repositoryName=opts.repository_name, force=True)
            say(f"deleted ECR repository {opts.repository_name} and its images")
        except ClientError as e:
            if e.response["Error"]["Code"] != "RepositoryNotFoundException":
                raise


# ------------------------------------------------------------------------- commands


def dry_run_plan(command: str, opts: Options, tag: str, *, delete_repository: bool = False,
                 confirm: bool = False) -> list[str]:
    """Every step ``command`` would take, in order, without calling AWS or Docker.

    Each call that creates, changes or deletes something in the real run (see :func:`run`)
    has its step here, conditional ones saying when they happen.

    Args:
        delete_repository: destroy also deletes the ECR repository (``--delete-repository``).
        confirm: destroy asks for the stack name first (no ``--yes``).
    """
    stack = opts.stack_name
    repo = f"ACCOUNT.dkr.ecr.{opts.region or 'REGION'}.amazonaws.com/{opts.repository_name}"
    image = [
        f"create ECR repository {opts.repository_name!r} (immutable tags, scan on push) "
        "unless it exists",
        f"skip the build if {repo}:{tag} exists, else: docker login (ECR token), "
        f"docker build --platform {opts.platform} "
        f"--build-arg PILLOW_SIMD={'1' if opts.pillow_simd else '0'} -t {repo}:{tag} ., "
        "docker push",
        "read the pushed image's digest from ECR",
    ]
    params = ", ".join(f"{k}={v}" for k, v in opts.parameters(f"{repo}@sha256:...").items())
    change_set = (f"create a change set for stack {stack!r} "
                  f"from {opts.template_path.name} with {params}")
    functions = [f"update both functions ({opts.prefix}-resize, {opts.prefix}-api) to the "
                 "digest where they run another image, and wait until they are Active"]
    if command == "deploy":
        return [
            *image,
            f"if stack {stack!r} is ROLLBACK_COMPLETE (an earlier create failed), "
            "delete stack and wait",
            f"{change_set}; if it has no changes, delete the change set and keep the stack",
            "execute the change set and wait (show the failed resource events if it fails)",
            *functions,
            "print the stack outputs (ApiUrl, buckets, table)",
        ]
    if command == "update-functions":
        return [f"read the function names and Architecture from stack {stack!r} (fails if "
                f"there is no stack, or if it is not {opts.architecture}: see --arch)",
                *image, *functions]
    if command == "plan":
        return [
            f"look up image {opts.repository_name}:{tag} in ECR (nothing is built)",
            "read the account id (STS)",
            f"if stack {stack!r} is ROLLBACK_COMPLETE, say so and stop (deploy replaces it)",
            f"{change_set}; list its changes",
            f"delete the change set; if stack {stack!r} did not exist before, also delete "
            f"stack {stack!r} (the empty REVIEW_IN_PROGRESS stack made for the change set)",
        ]
    steps = ["ask for the stack name to confirm (--yes skips this)"] if confirm else []
    steps += [
        f"if stack {stack!r} exists: empty every bucket of it (all object versions and "
        "delete markers)",
        f"delete stack {stack!r} and wait (show the failed resource events if it fails)",
    ]
    if delete_repository:
        steps.append(f"delete ECR repository {opts.repository_name!r} and all its images")
    else:
        steps.append(f"keep ECR repository {opts.repository_name!r} and its images "
                     "(--delete-repository deletes them)")
    return steps


def run(command: str, opts: Options, *, clients: Callable[[str], Any],
        builder: ImageBuilder, tag: str, delete_repository: bool = False,
        say: Say = print) -> dict[str, str]:
    """Run ``command`` (deploy, update-functions, plan, destroy) with real effects.

    Args:
        clients: ``service name -> boto3 client`` (already bound to the region).
        builder: the Docker port.
        tag: the image tag to build or reuse.

    Returns:
        The stack outputs (empty for destroy and plan).

    Raises:
        UsageError: deploy or plan with stack parameters the template refuses (checked
            before any call).
        DeployError: a step failed.
    """
    if command in ("deploy", "plan"):
        check_parameters(opts)
    ecr, cfn = clients("ecr"), clients("cloudformation")
    template_body = opts.template_path.read_text(encoding="utf-8")
    if command == "destroy":
        destroy(cfn, clients("s3"), ecr, opts, delete_repository=delete_repository, say=say)
        return {}
    if command == "plan":
        if stack_status(cfn, opts.stack_name) == "ROLLBACK_COMPLETE":
            say(f"stack {opts.stack_name} is ROLLBACK_COMPLETE (an earlier create failed): "
                "nothing to preview; deploy deletes it and creates it anew")
            return {}
        digest = image_digest(ecr, opts.repository_name, tag)
        say(f"image {opts.repository_name}:{tag}: "
            + (f"in ECR ({digest})" if digest else "not built yet; deploy will build it"))
        account = clients("sts").get_caller_identity()["Account"]
        region = opts.region or ecr.meta.region_name
        uri = (f"{account}.dkr.ecr.{region}.amazonaws.com/{opts.repository_name}"
               f"@{digest or 'sha256:' + '0' * 64}")
        change_set = create_change_set(cfn, opts.stack_name, template_body,
                                       opts.parameters(uri), say=say)
        if change_set is None:
            say("no changes")
            return {}
        for line in describe_changes(change_set):
            say(f"  {line}")
        cfn.delete_change_set(StackName=opts.stack_name,
                              ChangeSetName=change_set["ChangeSetName"])
        if change_set.get("ChangeSetType") == "CREATE":
            cfn.delete_stack(StackName=opts.stack_name)  # the empty REVIEW_IN_PROGRESS stub
        return {}
    if command == "update-functions":
        if stack_status(cfn, opts.stack_name) is None:
            msg = f"no stack {opts.stack_name}: run `python -m deploy.aws deploy` first"
            raise DeployError(msg)
        stack = cfn.describe_stacks(StackName=opts.stack_name)["Stacks"][0]
        deployed_arch = {p["ParameterKey"]: p.get("ParameterValue")
                         for p in stack.get("Parameters", [])}.get("Architecture")
        if deployed_arch and deployed_arch != opts.architecture:
            msg = (f"stack {opts.stack_name} runs {deployed_arch} functions; an "
                   f"{opts.architecture} image would not start there: pass --arch "
                   f"{deployed_arch} (or deploy with --arch {opts.architecture})")
            raise DeployError(msg)
        names = function_names(cfn, opts.stack_name)
        image_uri = publish_image(ecr, builder, opts, tag, say=say)
        update_functions(clients("lambda"), names, image_uri, say=say)
        return stack_outputs(cfn, opts.stack_name)
    image_uri = publish_image(ecr, builder, opts, tag, say=say)
    outputs = deploy_stack(cfn, opts.stack_name, template_body, opts.parameters(image_uri),
                           say=say)
    update_functions(clients("lambda"), function_names(cfn, opts.stack_name), image_uri,
                     say=say)
    for key, value in outputs.items():
        say(f"{key}: {value}")
    return outputs


COMMANDS = {
    "deploy": "build and push the image, create or update the stack through a change set, "
              "point both functions at the new image, print the stack outputs",
    "update-functions": "build and push the image, point the stack's two functions at it "
                        "(the stack itself is not changed)",
    "plan": "preview what deploy would change in the stack (a change set, created and "
            "deleted again); builds nothing",
    "destroy": "empty the stack's buckets and delete the stack; optionally the ECR "
               "repository too",
}
# What each command's namespace holds when the command has no such option.
ARG_DEFAULTS: dict[str, Any] = {
    "dry_run": False, "region": None, "profile": None, "stack_name": "image-pipeline",
    "name_prefix": None, "repository": None, "image_tag": None, "arch": "x86_64",
    "pillow_simd": False, "max_dimension": None, "cors_allow_origins": None, "parameter": [],
    "yes": False, "delete_repository": False,
}


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, valid before and after the command name.

    On the subcommand parsers their default is SUPPRESS, so a value given before the
    command name is not overwritten by the subcommand's default.
    """
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--dry-run", action="store_true", default=default(False),
                        help="print every step the command would take; no AWS or Docker "
                             "calls")
    parser.add_argument("--region", default=default(None),
                        help="AWS region (default: AWS_REGION or the AWS CLI config)")
    parser.add_argument("--profile", default=default(None),
                        help="AWS CLI profile (default: AWS_PROFILE or the default profile)")
    parser.add_argument("--stack-name", default=default("image-pipeline"),
                        help="CloudFormation stack name (default: image-pipeline)")


def _add_naming(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name-prefix",
                        help="prefix of the stack's resource names and the ECR repository "
                             "(default: the stack name)")
    parser.add_argument("--repository",
                        help="ECR repository name (default: the name prefix)")


def _add_image(parser: argparse.ArgumentParser, *, build: bool) -> None:
    parser.add_argument("--image-tag",
                        help="immutable image tag (default: the git commit SHA, "
                             "SHA-dirty-TIMESTAMP with uncommitted changes)")
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="x86_64",
                        help="CPU architecture of the image and the functions "
                             "(default: x86_64; arm64 is Graviton)")
    if build:
        parser.add_argument("--pillow-simd", action="store_true",
                            help="build the image with Pillow-SIMD (x86_64 only)")


def _add_stack_parameters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-dimension", type=int, default=None, metavar="PX",
                        help="longest side of a rendition in pixels (default: the stack's "
                             "current value, 500 for a new stack; the template allows 16-10000)")
    parser.add_argument("--cors-allow-origins", default=None, metavar="ORIGINS",
                        help="comma-separated origins allowed to call the API, or * "
                             "(default: the stack's current value, * for a new stack)")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="another template parameter, repeatable: "
                             "ResizeReservedConcurrency, AlarmTopicArn, UploadsRetentionDays; "
                             "one not given keeps the stack's current value")


def build_parser() -> argparse.ArgumentParser:
    """``python -m deploy.aws COMMAND [options]``: one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.aws", description="Deploy the image pipeline to AWS.",
        epilog="`python -m deploy.aws COMMAND --help` lists the options of one command.")
    _add_common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     title="commands")
    for name, text in COMMANDS.items():
        sub = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        _add_common(sub, suppress=True)
        if name in ("deploy", "update-functions", "plan"):
            _add_image(sub, build=name != "plan")
        if name in ("deploy", "plan"):
            _add_stack_parameters(sub)
        _add_naming(sub)
        if name == "destroy":
            sub.add_argument("--yes", action="store_true",
                             help="do not ask for the stack name to confirm")
            sub.add_argument("--delete-repository", action="store_true",
                             help="also delete the ECR repository and all its images")
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring); every attribute of ARG_DEFAULTS set."""
    args = build_parser().parse_args(argv)
    for name, value in ARG_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, list(value) if isinstance(value, list) else value)
    return args


def options_from(args: argparse.Namespace) -> Options:
    """:class:`Options` from parsed arguments.

    Raises:
        UsageError: a malformed ``--parameter`` or ``--pillow-simd`` with arm64.
    """
    extra = {}
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep or not key:
            msg = f"--parameter expects KEY=VALUE, got {item!r}"
            raise UsageError(msg)
        extra[key] = value
    if args.pillow_simd and args.arch != "x86_64":
        msg = "--pillow-simd needs --arch x86_64 (Pillow-SIMD has SSE4/AVX2 code only)"
        raise UsageError(msg)
    return Options(stack_name=args.stack_name, region=args.region,
                   name_prefix=args.name_prefix, repository=args.repository,
                   image_tag=args.image_tag, architecture=args.arch,
                   pillow_simd=args.pillow_simd, max_dimension=args.max_dimension,
                   cors_allow_origins=args.cors_allow_origins, extra_parameters=extra)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 ok, 1 failed, 2 usage)."""
    args = parse_args(argv)
    try:
        opts = options_from(args)
        if args.command in ("deploy", "plan"):
            check_parameters(opts)
        if opts.image_tag:
            tag = check_tag(opts.image_tag)
        elif args.dry_run:
            try:
                tag = git_image_tag(opts.project_root)
            except DeployError as e:
                print(f"note: {e}", file=sys.stderr)
                tag = "GIT_SHA"
        else:
            tag = git_image_tag(opts.project_root)
        if args.dry_run:
            print(f"dry run: {args.command} (stack {opts.stack_name}, region "
                  f"{opts.region or 'from the AWS config'}); nothing is called")
            steps = dry_run_plan(args.command, opts, tag,
                                 delete_repository=args.delete_repository,
                                 confirm=not args.yes)
            for number, step in enumerate(steps, 1):
                print(f"{number}. {step}")
            if args.command in ("deploy", "update-functions") and not DockerCli().available():
                print("note: no `docker` command on PATH; the real run needs Docker with buildx")
            return 0
        if args.command == "destroy" and not args.yes:
            answer = input(f"delete stack {opts.stack_name} and everything in its buckets? "
                           "type the stack name: ")
            if answer.strip() != opts.stack_name:
                print("not deleted")
                return 1
        import boto3

        session = boto3.session.Session(profile_name=args.profile, region_name=opts.region)
        if not session.region_name:
            msg = "no AWS region: pass --region or set AWS_REGION"
            raise DeployError(msg)
        started = time.monotonic()
        run(args.command, opts, clients=session.client, builder=DockerCli(), tag=tag,
            delete_repository=args.delete_repository)
        print(f"{args.command} done in {time.monotonic() - started:.0f} s")
        return 0
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except DeployError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except NoCredentialsError:
        print("error: no AWS credentials: run `aws configure` (or `aws sso login`), or set "
              "AWS_PROFILE / AWS_ACCESS_KEY_ID", file=sys.stderr)
        return 1
    except Exception as e:  # botocore's NoCredentialsError, ClientError, DockerError...
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
