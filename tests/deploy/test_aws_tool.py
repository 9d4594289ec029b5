"""The deploy tool's ECR, CloudFormation and Lambda steps against moto (Stubber where moto
cannot fail the way AWS does), with Docker faked at its port."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.stub import Stubber

from deploy.aws import cli as aws
from deploy.aws.functions import update_functions
from deploy.aws.image import ensure_repository, git_image_tag, image_digest, publish_image
from deploy.aws.options import PROJECT_ROOT
from deploy.aws.stack import create_change_set, deploy_stack, stack_status
from tests.deploy.conftest import ACCOUNT, REGION, TEMPLATE_PATH, FakeDocker, client

REPO_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/image-pipeline"
DIGEST_1 = "sha256:" + "1" * 64
DIGEST_2 = "sha256:" + "2" * 64


def say_into(lines: list[str]):
    return lines.append


# ------------------------------------------------------------------------- ECR


def test_ensure_repository_creates_an_immutable_scanned_repository_once(moto: None) -> None:
    ecr = client("ecr")
    uri = ensure_repository(ecr, "image-pipeline", say=lambda _: None)
    again = ensure_repository(ecr, "image-pipeline", say=lambda _: None)

    repos = ecr.describe_repositories()["repositories"]
    assert uri == again == REPO_URI
    assert len(repos) == 1
    assert repos[0]["imageTagMutability"] == "IMMUTABLE"
    assert repos[0]["imageScanningConfiguration"] == {"scanOnPush": True}


def test_publish_image_builds_pushes_and_returns_the_digest_uri(
    moto: None, docker: FakeDocker
) -> None:
    ecr = client("ecr")
    opts = aws.Options(architecture="arm64")

    image_uri = publish_image(ecr, docker, opts, "abc123", say=lambda _: None)

    assert docker.names() == ["login", "build", "push"]
    registry, username, has_password = docker.calls[0][1]
    assert registry == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    assert (username, has_password) == ("AWS", True)
    build = docker.calls[1][1]
    assert build["tag"] == f"{REPO_URI}:abc123"
    assert build["platform"] == "linux/arm64"
    assert build["build_args"] == {"PILLOW_SIMD": "0"}
    assert build["dockerfile"] == PROJECT_ROOT / "Dockerfile"
    digest = image_digest(ecr, "image-pipeline", "abc123")
    assert digest and digest.startswith("sha256:")
    assert image_uri == f"{REPO_URI}@{digest}"


def test_publish_image_reuses_a_tag_already_in_ecr(moto: None, docker: FakeDocker) -> None:
    ecr = client("ecr")
    opts = aws.Options(pillow_simd=True)
    first = publish_image(ecr, docker, opts, "abc123", say=lambda _: None)
    assert docker.calls[1][1]["build_args"] == {"PILLOW_SIMD": "1"}

    docker.calls.clear()
    second = publish_image(ecr, docker, opts, "abc123", say=lambda _: None)

    assert second == first
    assert docker.calls == []


def test_image_digest_is_none_for_unknown_tag_or_repository(moto: None) -> None:
    ecr = client("ecr")
    assert image_digest(ecr, "no-such-repo", "x") is None
    ensure_repository(ecr, "image-pipeline", say=lambda _: None)
    assert image_digest(ecr, "image-pipeline", "x") is None


# ------------------------------------------------------------------------- CloudFormation


def test_deploy_stack_creates_then_reports_no_changes_then_updates(moto: None) -> None:
    """The full template through change sets: CREATE, an empty change set, UPDATE."""
    cfn = client("cloudformation")
    body = TEMPLATE_PATH.read_text(encoding="utf-8")
    opts = aws.Options()
    lines: list[str] = []

    deploy_stack(
        cfn, "image-pipeline", body, opts.parameters(f"{REPO_URI}@{DIGEST_1}"), say=say_into(lines)
    )
    assert stack_status(cfn, "image-pipeline") == "CREATE_COMPLETE"
    assert "  Add ResizeFunction (AWS::Lambda::Function)" in lines
    assert "creating stack image-pipeline ..." in lines

    # what the template made, as moto renders it
    uploads = f"image-pipeline-uploads-{ACCOUNT}-{REGION}"
    buckets = {b["Name"] for b in client("s3").list_buckets()["Buckets"]}
    assert buckets == {uploads, f"image-pipeline-processed-{ACCOUNT}-{REGION}"}
    table = client("dynamodb").describe_table(TableName="image-pipeline-metadata")["Table"]
    indexes = [i["IndexName"] for i in table["GlobalSecondaryIndexes"]]
    assert indexes == ["by_uploaded_at", "by_owner"]
    resize = client("lambda").get_function_configuration(FunctionName="image-pipeline-resize")
    assert (resize["MemorySize"], resize["Timeout"]) == (1024, 60)
    mappings = client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert [m["FunctionResponseTypes"] for m in mappings] == [["ReportBatchItemFailures"]]

    lines.clear()
    deploy_stack(
        cfn, "image-pipeline", body, opts.parameters(f"{REPO_URI}@{DIGEST_1}"), say=say_into(lines)
    )
    assert lines == ["stack image-pipeline is up to date"]
    left = cfn.list_change_sets(StackName="image-pipeline")["Summaries"]
    assert [c["ExecutionStatus"] for c in left] == ["EXECUTE_COMPLETE"]  # the empty one went

    lines.clear()
    deploy_stack(
        cfn, "image-pipeline", body, opts.parameters(f"{REPO_URI}@{DIGEST_2}"), say=say_into(lines)
    )
    assert stack_status(cfn, "image-pipeline") == "UPDATE_COMPLETE"
    assert "updating stack image-pipeline ..." in lines
    params = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName="image-pipeline")["Stacks"][0]["Parameters"]
    }
    assert params["ImageUri"] == f"{REPO_URI}@{DIGEST_2}"


def test_redeploy_keeps_parameters_not_given_again(moto: None) -> None:
    """A plain deploy after one with settings must not reset them to template defaults."""
    cfn = client("cloudformation")
    body = TEMPLATE_PATH.read_text(encoding="utf-8")
    first = aws.Options(max_dimension=800, extra_parameters={"UploadsRetentionDays": "30"})
    deploy_stack(
        cfn, "image-pipeline", body, first.parameters(f"{REPO_URI}@{DIGEST_1}"), say=say_into([])
    )

    plain = aws.Options()
    deploy_stack(
        cfn, "image-pipeline", body, plain.parameters(f"{REPO_URI}@{DIGEST_2}"), say=say_into([])
    )

    params = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName="image-pipeline")["Stacks"][0]["Parameters"]
    }
    assert params["ImageUri"] == f"{REPO_URI}@{DIGEST_2}"
    assert (params["MaxDimension"], params["UploadsRetentionDays"]) == ("800", "30")


def test_deploy_stack_failure_shows_the_failed_resource_events() -> None:
    """CloudFormation rolls back: the error names the failed resources and reasons."""
    cfn = __import__("boto3").client("cloudformation", region_name=REGION)
    now = datetime.now(UTC) + timedelta(minutes=1)
    stack = "image-pipeline"
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "describe_stacks", "ValidationError", f"Stack with id {stack} does not exist"
        )
        stub.add_response("create_change_set", {"Id": "arn:cs", "StackId": "arn:stack"})
        stub.add_response(
            "describe_change_set", {"Status": "CREATE_COMPLETE", "ChangeSetName": "cs"}
        )
        stub.add_response(
            "describe_change_set",
            {
                "Status": "CREATE_COMPLETE",
                "ChangeSetName": "cs",
                "Changes": [
                    {
                        "Type": "Resource",
                        "ResourceChange": {
                            "Action": "Add",
                            "LogicalResourceId": "ResizeFunction",
                            "ResourceType": "AWS::Lambda::Function",
                        },
                    }
                ],
            },
        )
        stub.add_response("execute_change_set", {})
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {"StackName": stack, "StackStatus": "ROLLBACK_COMPLETE", "CreationTime": now}
                ]
            },
        )
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    {
                        "StackId": "arn:stack",
                        "EventId": "2",
                        "StackName": stack,
                        "Timestamp": now,
                        "LogicalResourceId": stack,
                        "ResourceType": "AWS::CloudFormation::Stack",
                        "ResourceStatus": "ROLLBACK_COMPLETE",
                    },
                    {
                        "StackId": "arn:stack",
                        "EventId": "1",
                        "StackName": stack,
                        "Timestamp": now,
                        "LogicalResourceId": "ResizeFunction",
                        "ResourceType": "AWS::Lambda::Function",
                        "ResourceStatus": "CREATE_FAILED",
                        "ResourceStatusReason": "Source image ... does not exist",
                    },
                ]
            },
        )
        with pytest.raises(aws.DeployError) as caught:
            deploy_stack(cfn, stack, "Resources: {}", {"ImageUri": "x"}, say=lambda _: None)
        stub.assert_no_pending_responses()
    message = str(caught.value)
    assert "ResizeFunction (AWS::Lambda::Function) CREATE_FAILED: Source image" in message
    assert "ROLLBACK_COMPLETE: " not in message  # only failures are listed


def test_busy_stack_is_refused() -> None:
    cfn = __import__("boto3").client("cloudformation", region_name=REGION)
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "s",
                        "StackStatus": "UPDATE_IN_PROGRESS",
                        "CreationTime": datetime.now(UTC),
                    }
                ]
            },
        )
        with pytest.raises(aws.DeployError, match="busy"):
            create_change_set(cfn, "s", "Resources: {}", {}, say=lambda _: None)


# ------------------------------------------------------------------------- Lambda


def _image_function(name: str, image_uri: str) -> None:
    role = client("iam").create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}',
    )["Role"]["Arn"]
    client("lambda").create_function(
        FunctionName=name,
        PackageType="Image",
        Code={"ImageUri": image_uri},
        Role=role,
        ImageConfig={"Command": [f"handlers.{name}.handler"]},
    )


def test_update_functions_points_each_function_at_the_digest_and_waits(moto: None) -> None:
    lambda_ = client("lambda")
    _image_function("resize", f"{REPO_URI}@{DIGEST_1}")
    _image_function("api", f"{REPO_URI}@{DIGEST_2}")
    updated: list[str] = []
    lambda_.meta.events.register(
        "provide-client-params.lambda.UpdateFunctionCode",
        lambda params, **_: updated.append(params["FunctionName"]),
    )

    update_functions(lambda_, ["resize", "api"], f"{REPO_URI}@{DIGEST_2}", say=lambda _: None)

    assert updated == ["resize"]  # api was on that image already
    for name in ("resize", "api"):
        fn = lambda_.get_function(FunctionName=name)
        assert fn["Code"]["ImageUri"] == f"{REPO_URI}@{DIGEST_2}"
        assert fn["Configuration"]["State"] == "Active"
        assert fn["Configuration"]["LastUpdateStatus"] == "Successful"


def test_update_functions_reports_a_failed_update() -> None:
    """The update is accepted, then Lambda fails it (e.g. the image is for another arch)."""
    lambda_ = __import__("boto3").client("lambda", region_name=REGION)
    uri = f"{REPO_URI}@{DIGEST_2}"
    with Stubber(lambda_) as stub:
        stub.add_response("get_function", {"Code": {"ImageUri": f"{REPO_URI}@{DIGEST_1}"}})
        stub.add_response(
            "update_function_code",
            {"FunctionName": "resize"},
            {"FunctionName": "resize", "ImageUri": uri},
        )
        stub.add_response("get_function", {"Configuration": {"LastUpdateStatus": "Failed"}})
        stub.add_response(
            "get_function_configuration",
            {
                "State": "Active",
                "LastUpdateStatus": "Failed",
                "LastUpdateStatusReason": "image manifest media type is not supported",
            },
        )
        with pytest.raises(aws.DeployError, match="Active/Failed: image manifest"):
            update_functions(lambda_, ["resize"], uri, say=lambda _: None)
        stub.assert_no_pending_responses()


# ------------------------------------------------------------------------- commands


def test_deploy_then_update_functions_then_destroy(
    moto: None, docker: FakeDocker, minimal_template: Path
) -> None:
    opts = aws.Options(stack_name="pipe", template_path=minimal_template)
    lines: list[str] = []

    outputs = aws.run(
        "deploy", opts, clients=client, builder=docker, tag="sha1", say=say_into(lines)
    )

    digest_1 = image_digest(client("ecr"), "pipe", "sha1")
    assert isinstance(outputs, dict)  # moto leaves outputs of change-set stacks empty
    assert "creating stack pipe ..." in lines
    for name in ("pipe-resize", "pipe-api"):
        code = client("lambda").get_function(FunctionName=name)["Code"]
        assert code["ImageUri"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/pipe@{digest_1}"

    docker.calls.clear()
    aws.run(
        "update-functions", opts, clients=client, builder=docker, tag="sha2", say=lambda _: None
    )
    digest_2 = image_digest(client("ecr"), "pipe", "sha2")
    assert digest_2 and digest_2 != digest_1
    assert docker.names() == ["login", "build", "push"]
    for name in ("pipe-resize", "pipe-api"):
        code = client("lambda").get_function(FunctionName=name)["Code"]
        assert code["ImageUri"].endswith(f"/pipe@{digest_2}")

    s3 = client("s3")
    for i in range(3):
        s3.put_object(Bucket="pipe-uploads", Key=f"uploads/{i}.jpg", Body=b"x")
    s3.put_object(Bucket="pipe-processed", Key="a.jpg", Body=b"x")
    lines.clear()
    aws.run(
        "destroy",
        opts,
        clients=client,
        builder=docker,
        tag="unused",
        delete_repository=True,
        say=say_into(lines),
    )

    assert stack_status(client("cloudformation"), "pipe") is None
    assert "emptied pipe-uploads (3 objects)" in lines
    assert client("ecr").describe_repositories()["repositories"] == []


def test_update_functions_without_a_stack_says_to_deploy_first(
    moto: None, docker: FakeDocker
) -> None:
    with pytest.raises(aws.DeployError, match="no stack image-pipeline: run"):
        aws.run(
            "update-functions",
            aws.Options(),
            clients=client,
            builder=docker,
            tag="t",
            say=lambda _: None,
        )
    assert docker.calls == []


def test_plan_previews_changes_and_leaves_nothing_behind(
    moto: None, docker: FakeDocker, minimal_template: Path
) -> None:
    opts = aws.Options(stack_name="pipe", template_path=minimal_template)
    lines: list[str] = []
    aws.run("plan", opts, clients=client, builder=docker, tag="sha1", say=say_into(lines))

    assert "image pipe:sha1: not built yet; deploy will build it" in lines
    assert "  Add ResizeFunction (AWS::Lambda::Function)" in lines
    assert stack_status(client("cloudformation"), "pipe") is None
    assert docker.calls == []


# ------------------------------------------------------------------------- CLI


def test_dry_run_prints_the_steps_without_aws_or_docker(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class NoDocker:
        """Only answers whether docker exists; building or pushing would fail the test."""

        def available(self) -> bool:
            return False

    monkeypatch.setattr(aws, "DockerCli", NoDocker)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there

    status = aws.main(
        ["deploy", "--dry-run", "--image-tag", "abc", "--region", "eu-west-1", "--arch", "arm64"]
    )

    out = capsys.readouterr().out
    assert status == 0
    assert "dry run: deploy (stack image-pipeline, region eu-west-1)" in out
    assert "docker build --platform linux/arm64" in out
    assert "ACCOUNT.dkr.ecr.eu-west-1.amazonaws.com/image-pipeline:abc" in out
    assert "Architecture=arm64" in out
    assert "note: no `docker` command on PATH" in out
    assert out.count("\n") == 10  # header, 8 steps, the docker note


@pytest.mark.parametrize(
    "argv, message",
    [
        (["deploy", "--image-tag", "bad tag"], "not valid for ECR"),
        (["deploy", "--pillow-simd", "--arch", "arm64", "--dry-run"], "needs --arch x86_64"),
        (["deploy", "--parameter", "oops", "--dry-run"], "KEY=VALUE"),
    ],
)
def test_cli_rejects_bad_options(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert aws.main(argv) == 2  # a usage error
    assert message in capsys.readouterr().err


def test_git_image_tag_is_the_commit_sha_and_marks_a_dirty_tree(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(tmp_path), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    with pytest.raises(aws.DeployError, match="commit first"):
        git_image_tag(tmp_path)
    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    sha = git("rev-parse", "HEAD")

    assert git_image_tag(tmp_path) == sha
    (tmp_path / "a.txt").write_text("2")
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert git_image_tag(tmp_path, now=stamp) == f"{sha}-dirty-20260102T030405Z"
