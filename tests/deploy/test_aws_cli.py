"""The deploy tool's command line: dry runs list every change a real run makes, stack
parameters are checked against deploy/aws/template.yaml before any call, and each command has
its own parser and help."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from deploy.aws import cli as aws
from deploy.aws.parameters import parameter_problems, template_parameters
from tests.deploy.conftest import TEMPLATE_PATH, FakeDocker, client

# ------------------------------------------------------------------------- dry runs

# The dry-run phrase that must announce each call that changes something in AWS or Docker.
STEP_OF = {
    "CreateRepository": "create ECR repository",
    "DeleteRepository": "delete ECR repository",
    "CreateChangeSet": "create a change set",
    "ExecuteChangeSet": "execute the change set",
    "DeleteChangeSet": "delete the change set",
    "DeleteStack": "delete stack",
    "DeleteObjects": "empty every bucket",
    "UpdateFunctionCode": "update both functions",
    "docker:login": "docker login",
    "docker:build": "docker build",
    "docker:push": "docker push",
}
MUTATING = ("Create", "Delete", "Put", "Update", "Execute", "Set", "Tag", "Untag", "Attach")


def recording_clients(calls: list[str]) -> Callable[[str], Any]:
    """``clients`` for :func:`aws.run` that record every API operation they send."""

    def make(service: str) -> Any:
        made = client(service)
        made.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
        return made

    return make


# (earlier commands, not recorded), the recorded command, its tag
SCENARIOS = {
    "deploy-new-stack": ([], "deploy", "sha1"),
    "deploy-no-changes": ([("deploy", "sha1")], "deploy", "sha1"),
    "update-functions": ([("deploy", "sha1")], "update-functions", "sha2"),
    "plan-new-stack": ([], "plan", "sha1"),
    "plan-existing-stack": ([("deploy", "sha1")], "plan", "sha2"),
    "destroy": ([("deploy", "sha1")], "destroy", "unused"),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_dry_run_lists_every_change_the_real_run_makes(
    scenario: str, moto: None, docker: FakeDocker, minimal_template: Path
) -> None:
    before, command, tag = SCENARIOS[scenario]
    opts = aws.Options(stack_name="pipe", template_path=minimal_template)
    for earlier, earlier_tag in before:
        aws.run(earlier, opts, clients=client, builder=docker, tag=earlier_tag, say=lambda _: None)
    docker.calls.clear()
    calls: list[str] = []

    aws.run(
        command,
        opts,
        clients=recording_clients(calls),
        builder=docker,
        tag=tag,
        delete_repository=True,
        say=lambda _: None,
    )

    changes = [c for c in calls if c.startswith(MUTATING)]
    changes += [f"docker:{name}" for name in docker.names()]
    assert changes, "the scenario should change something"
    unknown = sorted({c for c in changes if c not in STEP_OF})
    assert unknown == [], f"add a dry-run step (and a STEP_OF entry) for {unknown}"
    plan = "\n".join(aws.dry_run_plan(command, opts, tag, delete_repository=True))
    missing = sorted({c for c in changes if STEP_OF[c] not in plan})
    assert missing == [], f"{command} --dry-run does not announce {missing}:\n{plan}"


def test_destroy_dry_run_lists_the_repository_deletion_only_when_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there

    assert aws.main(["destroy", "--dry-run", "--delete-repository", "--region", "eu-west-1"]) == 0
    asked = capsys.readouterr().out
    assert aws.main(["destroy", "--dry-run", "--yes", "--region", "eu-west-1"]) == 0
    not_asked = capsys.readouterr().out

    assert "4. delete ECR repository 'image-pipeline' and all its images" in asked
    assert "1. ask for the stack name to confirm (--yes skips this)" in asked
    assert "delete ECR repository" not in not_asked
    assert "ask for the stack name" not in not_asked
    assert "delete stack 'image-pipeline' and wait" in not_asked


def test_plan_leaves_a_failed_stack_alone() -> None:
    """A ROLLBACK_COMPLETE stack: plan says so; only deploy deletes it (its dry run says)."""
    from botocore.stub import Stubber

    cfn = __import__("boto3").client("cloudformation", region_name="us-east-1")
    lines: list[str] = []
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "pipe",
                        "StackStatus": "ROLLBACK_COMPLETE",
                        "CreationTime": "2026-01-01T00:00:00Z",
                    }
                ]
            },
        )
        aws.run(
            "plan",
            aws.Options(stack_name="pipe"),
            clients=lambda service: cfn if service == "cloudformation" else None,
            builder=FakeDocker(),
            tag="t",
            say=lines.append,
        )
        stub.assert_no_pending_responses()  # no delete_stack, no change set
    assert "ROLLBACK_COMPLETE" in lines[0]
    assert "deploy deletes it" in lines[0]
    deploy_plan = aws.dry_run_plan("deploy", aws.Options(stack_name="pipe"), "t")
    assert any("ROLLBACK_COMPLETE" in s and "delete stack" in s for s in deploy_plan)


def test_update_functions_refuses_an_image_for_the_other_architecture(
    moto: None, docker: FakeDocker, minimal_template: Path
) -> None:
    opts = aws.Options(stack_name="pipe", template_path=minimal_template)
    aws.run("deploy", opts, clients=client, builder=docker, tag="sha1", say=lambda _: None)
    docker.calls.clear()

    arm = aws.Options(stack_name="pipe", template_path=minimal_template, architecture="arm64")
    with pytest.raises(aws.DeployError, match=r"runs x86_64 functions.*pass --arch x86_64"):
        aws.run(
            "update-functions", arm, clients=client, builder=docker, tag="sha2", say=lambda _: None
        )
    assert docker.calls == []


# ------------------------------------------------------------------------- parameters


@pytest.fixture
def no_aws_no_docker(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A boto3 session or a Docker login/build/push records itself and fails (asking
    whether a ``docker`` command exists is fine)."""
    touched: list[str] = []

    def refuse(what: str) -> Any:
        def refused(*_: Any, **__: Any) -> None:
            touched.append(what)
            raise AssertionError(f"no Docker or AWS call may happen ({what})")

        return refused

    class NoDocker:
        available = staticmethod(lambda: True)
        login, build, push = refuse("login"), refuse("build"), refuse("push")

    import boto3

    monkeypatch.setattr(aws, "DockerCli", NoDocker)
    monkeypatch.setattr(boto3.session, "Session", refuse("boto3 session"))
    return touched


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--max-dimension", "0"],
            "--max-dimension 0: template.yaml parameter MaxDimension "
            "must be at least 16 (MinValue)",
        ),
        (["--max-dimension", "10001"], "MaxDimension must be at most 10000 (MaxValue)"),
        (
            ["--parameter", "UploadsRetentionDays=-1"],
            "--parameter UploadsRetentionDays=-1: template.yaml parameter UploadsRetentionDays "
            "must be at least 0",
        ),
        (
            ["--parameter", "ResizeReservedConcurrency=lots"],
            "ResizeReservedConcurrency must be a number (Type: Number), got 'lots'",
        ),
        (
            ["--stack-name", "Photos"],
            "--stack-name Photos (the NamePrefix unless --name-prefix)"
            ": template.yaml parameter NamePrefix must match",
        ),
        (["--name-prefix", "a-very-long-name-prefix"], "3-20 characters"),
        (
            ["--stack-name", "my_stack", "--name-prefix", "photos"],
            "--stack-name 'my_stack': a stack name is letters",
        ),
        (
            ["--parameter", "MaxDim=800"],
            "--parameter MaxDim: template.yaml has no such parameter; --parameter takes "
            "AlarmTopicArn, BudgetAmount, CognitoUserPoolArn, DailyUploadBytes",
        ),
        (["--parameter", "ImageUri=x"], "--parameter ImageUri: set by the deploy tool"),
        (["--parameter", "MaxDimension=800"], "--parameter MaxDimension: set by --max-dimension"),
        (["--auth-mode", "none"], "--auth-mode none: refusing to deploy a public API"),
        (["--parameter", "AuthMode=none"], "--parameter AuthMode: set by --auth-mode"),
        (["--parameter", "Renditions=web"], "--parameter Renditions: set by --renditions"),
        (
            ["--renditions", "thumb:200:gif"],
            "--renditions 'thumb:200:gif': rendition thumb: expected a format in auto, jpeg",
        ),
        (
            ["--renditions", "default:400, t:100", "--max-dimension", "500"],
            "--renditions 'default:400, t:100': the default rendition is MAX_DIMENSION px: "
            "expected 500, got 400",
        ),
        (["--renditions", "web;rm"], "parameter Renditions must match ^[A-Za-z0-9_:=, -]+$"),
    ],
)
@pytest.mark.parametrize(
    "command", [["deploy", "--dry-run"], ["deploy"], ["plan"], ["plan", "--dry-run"]]
)
def test_bad_stack_parameters_are_refused_before_any_call(
    command: list[str],
    args: list[str],
    message: str,
    no_aws_no_docker: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = aws.main([*command, "--region", "eu-west-1", "--image-tag", "t", *args])

    out, err = capsys.readouterr()
    assert status == 2
    assert message in err
    assert out == ""  # not even the dry-run plan
    assert no_aws_no_docker == []


def test_a_public_api_needs_public_and_says_why(
    no_aws_no_docker: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    refused = aws.main(["deploy", "--dry-run", "--region", "eu-west-1", "--auth-mode", "none"])
    err = capsys.readouterr().err
    assert refused == 2
    assert "anyone who finds its URL can upload" in err and "--public" in err

    allowed = ["deploy", "--dry-run", "--region", "eu-west-1", "--image-tag", "t"]
    assert aws.main([*allowed, "--auth-mode", "none", "--public"]) == 0
    assert "AuthMode=none" in capsys.readouterr().out
    assert aws.main(allowed) == 0  # the default is jwt, never an open API
    assert "AuthMode=jwt" in capsys.readouterr().out
    assert no_aws_no_docker == []


def test_every_problem_is_reported_at_once(
    no_aws_no_docker: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        aws.main(
            [
                "deploy",
                "--dry-run",
                "--max-dimension",
                "0",
                "--parameter",
                "Nope=1",
                "--parameter",
                "UploadsRetentionDays=x",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "MaxDimension must be at least 16" in err
    assert "--parameter Nope:" in err
    assert "UploadsRetentionDays must be a number" in err


def test_valid_template_parameters_reach_the_plan(
    capsys: pytest.CaptureFixture[str], no_aws_no_docker: list[str]
) -> None:
    status = aws.main(
        [
            "deploy",
            "--dry-run",
            "--image-tag",
            "t",
            "--max-dimension",
            "16",
            "--parameter",
            "UploadsRetentionDays=30",
            "--parameter",
            "ResizeReservedConcurrency=5",
            "--renditions",
            "default:16, thumb:200:webp",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "MaxDimension=16" in out
    assert "Renditions=default:16, thumb:200:webp" in out
    assert "UploadsRetentionDays=30, ResizeReservedConcurrency=5" in out


def test_a_set_the_pillow_simd_image_cannot_encode_is_refused(
    no_aws_no_docker: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = aws.main(["deploy", "--dry-run", "--pillow-simd", "--renditions", "web"])

    assert status == 2
    assert (
        "--renditions 'web': the --pillow-simd image cannot encode avif" in capsys.readouterr().err
    )
    assert aws.main(["deploy", "--dry-run", "--pillow-simd", "--renditions", "300:webp"]) == 0


def test_run_checks_parameters_before_calling_anything(docker: FakeDocker) -> None:
    def clients(service: str) -> Any:
        raise AssertionError(f"{service} client made")

    with pytest.raises(aws.UsageError, match="MaxDimension must be at least 16"):
        aws.run(
            "deploy",
            aws.Options(max_dimension=8),
            clients=clients,
            builder=docker,
            tag="t",
            say=lambda _: None,
        )
    assert docker.calls == []


def test_template_parameters_read_short_tags_like_cfn_lint() -> None:
    ours = template_parameters(TEMPLATE_PATH)
    theirs, matches = decode_str(TEMPLATE_PATH.read_text(encoding="utf-8"))
    assert not matches
    assert ours == theirs["Parameters"]
    assert (ours["MaxDimension"]["MinValue"], ours["MaxDimension"]["MaxValue"]) == (16, 10000)


def test_parameter_problems_covers_cloudformation_constraints() -> None:
    spec = {"Type": "String", "AllowedValues": ["x86_64", "arm64"]}
    assert parameter_problems("Architecture", "sparc", spec) == [
        "must be one of x86_64, arm64 (AllowedValues)"
    ]
    assert parameter_problems("Architecture", "arm64", spec) == []
    lengths = {"Type": "String", "MinLength": 2, "MaxLength": 3}
    assert parameter_problems("P", "a", lengths) == ["must be at least 2 characters (MinLength)"]
    assert parameter_problems("P", "abcd", lengths) == ["must be at most 3 characters (MaxLength)"]
    pattern = {"Type": "String", "AllowedPattern": "[a-z]+", "ConstraintDescription": "lower"}
    assert parameter_problems("P", "abc1", pattern) == [
        "must match [a-z]+ (AllowedPattern); lower"
    ]  # a full match, as CloudFormation


# ------------------------------------------------------------------------- parsers


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = aws.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {"": parser, **action.choices}


def test_every_option_of_every_command_has_help() -> None:
    for name, parser in subparsers().items():
        for action in parser._actions:
            if action.option_strings:
                assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)


def test_destroy_help_shows_only_destroy_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        aws.main(["destroy", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    for flag in ("--yes", "--delete-repository", "--region", "--stack-name", "--dry-run"):
        assert flag in out
    for flag in (
        "--arch",
        "--pillow-simd",
        "--max-dimension",
        "--parameter",
        "--image-tag",
        "--cors-allow-origins",
    ):
        assert flag not in out


def test_options_of_other_commands_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        aws.parse_args(["destroy", "--arch", "arm64"])
    assert done.value.code == 2
    assert "unrecognized arguments: --arch arm64" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, expected",
    [
        # the README's command lines
        (
            ["deploy", "--dry-run", "--region", "eu-west-1"],
            {"command": "deploy", "dry_run": True, "region": "eu-west-1", "arch": "x86_64"},
        ),
        (["deploy", "--region", "eu-west-1"], {"dry_run": False, "region": "eu-west-1"}),
        (["update-functions", "--region", "eu-west-1"], {"command": "update-functions"}),
        (["plan", "--region", "eu-west-1"], {"command": "plan", "region": "eu-west-1"}),
        (
            ["destroy", "--region", "eu-west-1", "--yes"],
            {"command": "destroy", "yes": True, "delete_repository": False},
        ),
        (
            ["destroy", "--region", "eu-west-1", "--yes", "--delete-repository"],
            {"delete_repository": True},
        ),
        (["deploy", "--region", "eu-west-1", "--arch", "arm64"], {"arch": "arm64"}),
        (["deploy", "--pillow-simd"], {"pillow_simd": True}),
        (
            [
                "deploy",
                "--stack-name",
                "photos",
                "--max-dimension",
                "800",
                "--cors-allow-origins",
                "https://a.example",
                "--parameter",
                "UploadsRetentionDays=30",
                "--image-tag",
                "v1",
            ],
            {
                "stack_name": "photos",
                "max_dimension": 800,
                "cors_allow_origins": "https://a.example",
                "parameter": ["UploadsRetentionDays=30"],
                "image_tag": "v1",
            },
        ),
        (
            ["update-functions", "--arch", "arm64", "--image-tag", "v2", "--pillow-simd"],
            {"arch": "arm64", "image_tag": "v2"},
        ),
        # the common options before the command name, and mixed
        (
            ["--region", "eu-west-1", "--dry-run", "deploy"],
            {"region": "eu-west-1", "dry_run": True, "command": "deploy"},
        ),
        (["--stack-name", "photos", "destroy", "--yes"], {"stack_name": "photos", "yes": True}),
        (
            ["--region", "eu-west-1", "plan", "--stack-name", "photos"],
            {"region": "eu-west-1", "stack_name": "photos"},
        ),
    ],
)
def test_command_lines_parse(argv: list[str], expected: dict[str, Any]) -> None:
    args = vars(aws.parse_args(argv))
    assert {key: args[key] for key in expected} == expected
    assert set(aws.ARG_DEFAULTS) <= set(args)  # options_from finds every attribute


@pytest.mark.parametrize(
    "argv",
    [
        ["deploy", "--dry-run", "--region", "eu-west-1"],
        ["update-functions", "--region", "eu-west-1", "--dry-run"],
        ["plan", "--region", "eu-west-1", "--dry-run"],
        ["destroy", "--region", "eu-west-1", "--yes", "--dry-run"],
        [
            "--dry-run",
            "deploy",
            "--region",
            "eu-west-1",
            "--arch",
            "arm64",
            "--max-dimension",
            "800",
            "--cors-allow-origins",
            "https://a.example",
            "--parameter",
            "UploadsRetentionDays=30",
        ],
    ],
)
def test_readme_command_lines_dry_run(
    argv: list[str], no_aws_no_docker: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert aws.main(argv) == 0
    out = capsys.readouterr().out
    command = next(a for a in argv if a in aws.COMMANDS)
    assert out.startswith(f"dry run: {command} (stack image-pipeline, region eu-west-1)")
    assert "\n1. " in out
    assert no_aws_no_docker == []
