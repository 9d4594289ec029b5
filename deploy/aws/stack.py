"""The CloudFormation stack: change sets, deploy, preview, events, outputs, destroy."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from deploy.aws.errors import DeployError
from deploy.aws.options import Options, Say

TEMPLATE_BODY_MAX_BYTES = 51_200  # CloudFormation's limit for an inline TemplateBody
CAPABILITIES = ["CAPABILITY_IAM"]  # the template makes two roles, unnamed
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


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


def create_change_set(
    cfn: Any,
    stack_name: str,
    template_body: str,
    parameters: Mapping[str, str],
    *,
    say: Say = print,
) -> dict[str, Any] | None:
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
            Parameters=stack_parameters
            + (_previous_values(cfn, stack_name, parameters) if change_type == "UPDATE" else []),
            Capabilities=CAPABILITIES,
            Tags=[{"Key": "project", "Value": "image-pipeline"}],
        )
    except ClientError as e:  # some endpoints refuse an empty change set outright
        if any(text in str(e) for text in NO_CHANGES):
            return None
        raise
    with contextlib.suppress(WaiterError):  # a failed change set: the description says why
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=stack_name, ChangeSetName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
        )
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
        lines.append(
            f"{rc.get('Action')} {rc.get('LogicalResourceId')} ({rc.get('ResourceType')}){replace}"
        )
    return lines


def deploy_stack(
    cfn: Any,
    stack_name: str,
    template_body: str,
    parameters: Mapping[str, str],
    *,
    say: Say = print,
) -> dict[str, str]:
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
        cfn.get_waiter(waiter).wait(
            StackName=stack_name, WaiterConfig={"Delay": 10, "MaxAttempts": 180}
        )
    except WaiterError as e:
        events = "\n".join(failure_events(cfn, stack_name, started)) or "(no failed events)"
        msg = f"stack {stack_name}: {e}\nfailed resources:\n{events}"
        raise DeployError(msg) from e
    return stack_outputs(cfn, stack_name)


def preview_changes(
    cfn: Any,
    stack_name: str,
    template_body: str,
    parameters: Mapping[str, str],
    *,
    say: Say = print,
) -> None:
    """Say what a deploy would change in the stack, then delete the change set again.

    A stack that did not exist before is deleted too: creating the change set made an
    empty REVIEW_IN_PROGRESS stack.

    Raises:
        DeployError: the stack is busy or the change set failed (see :func:`create_change_set`).
    """
    change_set = create_change_set(cfn, stack_name, template_body, parameters, say=say)
    if change_set is None:
        say("no changes")
        return
    for line in describe_changes(change_set):
        say(f"  {line}")
    cfn.delete_change_set(StackName=stack_name, ChangeSetName=change_set["ChangeSetName"])
    if change_set.get("ChangeSetType") == "CREATE":
        cfn.delete_stack(StackName=stack_name)  # the empty REVIEW_IN_PROGRESS stub


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker in ``bucket``; return how many."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    try:
        for page in paginator.paginate(Bucket=bucket):
            keys = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(keys), 1000):
                s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True}
                )
            deleted += len(keys)
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchBucket":
            raise
    return deleted


def destroy(
    cfn: Any, s3: Any, ecr: Any, opts: Options, *, delete_repository: bool, say: Say = print
) -> None:
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
                StackName=opts.stack_name, WaiterConfig={"Delay": 10, "MaxAttempts": 180}
            )
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
