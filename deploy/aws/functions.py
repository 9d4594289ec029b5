"""The stack's two Lambda functions: find them and point them at a new image."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import WaiterError

from deploy.aws.errors import DeployError
from deploy.aws.options import Say
from deploy.aws.stack import stack_resources, stack_status

FUNCTIONS = ("ResizeFunction", "ApiFunction")  # logical ids in the template


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


def check_architecture(cfn: Any, stack_name: str, architecture: str) -> None:
    """Refuse an image of ``architecture`` for a stack whose functions run another one.

    Raises:
        DeployError: there is no such stack, or its Architecture parameter differs.
    """
    if stack_status(cfn, stack_name) is None:
        msg = f"no stack {stack_name}: run `python -m deploy.aws deploy` first"
        raise DeployError(msg)
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    deployed_arch = {
        p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])
    }.get("Architecture")
    if deployed_arch and deployed_arch != architecture:
        msg = (
            f"stack {stack_name} runs {deployed_arch} functions; an "
            f"{architecture} image would not start there: pass --arch "
            f"{deployed_arch} (or deploy with --arch {architecture})"
        )
        raise DeployError(msg)


def update_functions(
    lambda_: Any, function_names: Iterable[str], image_uri: str, *, say: Say = print
) -> dict[str, str]:
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
                FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
            )
            lambda_.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
            )
        except WaiterError as e:
            config = lambda_.get_function_configuration(FunctionName=name)
            msg = (
                f"function {name} is {config.get('State')}/"
                f"{config.get('LastUpdateStatus')}: "
                f"{config.get('LastUpdateStatusReason') or config.get('StateReason') or e}"
            )
            raise DeployError(msg) from e
        code = lambda_.get_function(FunctionName=name)["Code"]
        resolved[name] = str(code.get("ResolvedImageUri") or code.get("ImageUri"))
        say(f"{name} is Active on {resolved[name]}")
    return resolved
