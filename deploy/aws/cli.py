"""Deploy the pipeline to AWS: one image in ECR, one CloudFormation stack.

Usage::

    python -m deploy.aws deploy            # build, push, create/update the stack, update functions
    python -m deploy.aws update-functions  # build, push, point both functions at the new digest
    python -m deploy.aws plan              # what deploy would change (a change set preview)
    python -m deploy.aws destroy --yes     # empty the buckets, delete the stack
    python -m deploy.aws deploy --dry-run  # print the steps; no AWS or Docker calls
    python -m deploy.aws reprocess --older # S3 Batch Operations job (deploy.aws.reprocess)
    python -m deploy.aws COMMAND --help    # the options of one command

Options every command takes (before or after the command name): ``--dry-run``,
``--region`` (default: the AWS CLI's), ``--profile``, ``--stack-name`` (default
image-pipeline). deploy and plan: ``--image-tag`` (default: the git commit SHA; tags are
immutable), ``--arch x86_64|arm64``, ``--max-dimension``, ``--cors-allow-origins``,
``--renditions``, ``--parameter KEY=VALUE``; deploy and update-functions also
``--pillow-simd``; destroy ``--yes`` and ``--delete-repository``.

Stack parameters are checked against deploy/aws/template.yaml (names, MinValue, MaxValue,
AllowedValues, AllowedPattern, MinLength, MaxLength) before any Docker or AWS call.

This module is the command line and :func:`run`, which strings the steps together. The
steps are plain functions over boto3 clients and a Docker port
(:class:`deploy.aws.docker_cli.ImageBuilder`), so tests run them against moto and a fake
builder: the image in :mod:`deploy.aws.image`, the stack in :mod:`deploy.aws.stack` and
:mod:`deploy.aws.parameters`, the functions in :mod:`deploy.aws.functions`. :func:`main`
is the only place that builds real clients.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from botocore.exceptions import NoCredentialsError

from deploy.aws.docker_cli import DockerCli, ImageBuilder
from deploy.aws.errors import DeployError, UsageError
from deploy.aws.functions import check_architecture, function_names, update_functions
from deploy.aws.image import check_tag, git_image_tag, planned_image_uri, publish_image
from deploy.aws.options import PLATFORMS, Options, Say
from deploy.aws.parameters import check_parameters
from deploy.aws.stack import deploy_stack, destroy, preview_changes, stack_outputs, stack_status

Service = Literal["cloudformation", "ecr", "lambda", "s3", "sts"]
"""The AWS services the deploy tool calls."""

# ------------------------------------------------------------------------- commands


def dry_run_plan(
    command: str, opts: Options, tag: str, *, delete_repository: bool = False, confirm: bool = False
) -> list[str]:
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
    change_set = (
        f"create a change set for stack {stack!r} from {opts.template_path.name} with {params}"
    )
    functions = [
        f"update both functions ({opts.prefix}-resize, {opts.prefix}-api) to the "
        "digest where they run another image, and wait until they are Active"
    ]
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
        return [
            f"read the function names and Architecture from stack {stack!r} (fails if "
            f"there is no stack, or if it is not {opts.architecture}: see --arch)",
            *image,
            *functions,
        ]
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
        steps.append(
            f"keep ECR repository {opts.repository_name!r} and its images "
            "(--delete-repository deletes them)"
        )
    return steps


def run(
    command: str,
    opts: Options,
    *,
    clients: Callable[[Service], Any],
    builder: ImageBuilder,
    tag: str,
    delete_repository: bool = False,
    say: Say = print,
) -> dict[str, str]:
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
            say(
                f"stack {opts.stack_name} is ROLLBACK_COMPLETE (an earlier create failed): "
                "nothing to preview; deploy deletes it and creates it anew"
            )
            return {}
        uri = planned_image_uri(ecr, clients("sts"), opts, tag, say=say)
        preview_changes(cfn, opts.stack_name, template_body, opts.parameters(uri), say=say)
        return {}
    if command == "update-functions":
        check_architecture(cfn, opts.stack_name, opts.architecture)
        names = function_names(cfn, opts.stack_name)
        image_uri = publish_image(ecr, builder, opts, tag, say=say)
        update_functions(clients("lambda"), names, image_uri, say=say)
        return stack_outputs(cfn, opts.stack_name)
    image_uri = publish_image(ecr, builder, opts, tag, say=say)
    outputs = deploy_stack(cfn, opts.stack_name, template_body, opts.parameters(image_uri), say=say)
    update_functions(clients("lambda"), function_names(cfn, opts.stack_name), image_uri, say=say)
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
    "destroy": "empty the stack's buckets and delete the stack; optionally the ECR repository too",
}
# What each command's namespace holds when the command has no such option.
ARG_DEFAULTS: dict[str, Any] = {
    "dry_run": False,
    "region": None,
    "profile": None,
    "stack_name": "image-pipeline",
    "name_prefix": None,
    "repository": None,
    "image_tag": None,
    "arch": "x86_64",
    "pillow_simd": False,
    "max_dimension": None,
    "cors_allow_origins": None,
    "auth_mode": "jwt",
    "public": False,
    "renditions": None,
    "parameter": [],
    "yes": False,
    "delete_repository": False,
}


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, valid before and after the command name.

    On the subcommand parsers their default is SUPPRESS, so a value given before the
    command name is not overwritten by the subcommand's default.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--dry-run",
        action="store_true",
        default=default(False),
        help="print every step the command would take; no AWS or Docker calls",
    )
    parser.add_argument(
        "--region",
        default=default(None),
        help="AWS region (default: AWS_REGION or the AWS CLI config)",
    )
    parser.add_argument(
        "--profile",
        default=default(None),
        help="AWS CLI profile (default: AWS_PROFILE or the default profile)",
    )
    parser.add_argument(
        "--stack-name",
        default=default("image-pipeline"),
        help="CloudFormation stack name (default: image-pipeline)",
    )


def _add_naming(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name-prefix",
        help="prefix of the stack's resource names and the ECR repository "
        "(default: the stack name)",
    )
    parser.add_argument("--repository", help="ECR repository name (default: the name prefix)")


def _add_image(parser: argparse.ArgumentParser, *, build: bool) -> None:
    parser.add_argument(
        "--image-tag",
        help="immutable image tag (default: the git commit SHA, "
        "SHA-dirty-TIMESTAMP with uncommitted changes)",
    )
    parser.add_argument(
        "--arch",
        choices=sorted(PLATFORMS),
        default="x86_64",
        help="CPU architecture of the image and the functions (default: x86_64; arm64 is Graviton)",
    )
    if build:
        parser.add_argument(
            "--pillow-simd",
            action="store_true",
            help="build the image with Pillow-SIMD (x86_64 only)",
        )


def _add_stack_parameters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-dimension",
        type=int,
        default=None,
        metavar="PX",
        help="longest side of a rendition in pixels (default: the stack's "
        "current value, 500 for a new stack; the template allows 16-10000)",
    )
    parser.add_argument(
        "--cors-allow-origins",
        default=None,
        metavar="ORIGINS",
        help="comma-separated origins allowed to call the API, or * "
        "(default: the stack's current value; none for a new stack: same-origin only)",
    )
    parser.add_argument(
        "--auth-mode",
        choices=("jwt", "iam", "none"),
        default="jwt",
        help="who may call the API: jwt (a Cognito user pool; default), iam (SigV4) or "
        "none (anyone: needs --public)",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="allow --auth-mode none: an API anyone on the internet can upload to and list",
    )
    parser.add_argument(
        "--renditions",
        default=None,
        metavar="SPEC|PRESET",
        help="rendition set of the resize function: a preset (default, web, web-large) or a spec "
        "such as 'thumb:200:webp, 1600:avif' (default: the stack's current value, "
        "default for a new stack)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another template parameter, repeatable: "
        "ResizeReservedConcurrency, AlarmTopicArn, UploadsRetentionDays, CognitoUserPoolArn, "
        "ThrottleRateLimit, UploadRateLimit, DailyUploadCount, BudgetAmount, ...; "
        "one not given keeps the stack's current value",
    )


def build_parser() -> argparse.ArgumentParser:
    """``python -m deploy.aws COMMAND [options]``: one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.aws",
        description="Deploy the image pipeline to AWS.",
        epilog="`python -m deploy.aws COMMAND --help` lists the options of one command; "
        "`python -m deploy.aws reprocess --help` those of reprocess (S3 Batch Operations).",
    )
    _add_common(parser, suppress=False)
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", title="commands"
    )
    for name, text in COMMANDS.items():
        sub = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        _add_common(sub, suppress=True)
        if name in ("deploy", "update-functions", "plan"):
            _add_image(sub, build=name != "plan")
        if name in ("deploy", "plan"):
            _add_stack_parameters(sub)
        _add_naming(sub)
        if name == "destroy":
            sub.add_argument(
                "--yes", action="store_true", help="do not ask for the stack name to confirm"
            )
            sub.add_argument(
                "--delete-repository",
                action="store_true",
                help="also delete the ECR repository and all its images",
            )
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
    return Options(
        stack_name=args.stack_name,
        region=args.region,
        name_prefix=args.name_prefix,
        repository=args.repository,
        image_tag=args.image_tag,
        architecture=args.arch,
        pillow_simd=args.pillow_simd,
        max_dimension=args.max_dimension,
        cors_allow_origins=args.cors_allow_origins,
        auth_mode=args.auth_mode,
        public=args.public,
        renditions=args.renditions,
        extra_parameters=extra,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 ok, 1 failed, 2 usage)."""
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["reprocess"]:  # its own options: deploy.aws.reprocess
        from deploy.aws import reprocess

        return reprocess.main(given[1:])
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
            print(
                f"dry run: {args.command} (stack {opts.stack_name}, region "
                f"{opts.region or 'from the AWS config'}); nothing is called"
            )
            steps = dry_run_plan(
                args.command,
                opts,
                tag,
                delete_repository=args.delete_repository,
                confirm=not args.yes,
            )
            for number, step in enumerate(steps, 1):
                print(f"{number}. {step}")
            if args.command in ("deploy", "update-functions") and not DockerCli().available():
                print("note: no `docker` command on PATH; the real run needs Docker with buildx")
            return 0
        if args.command == "destroy" and not args.yes:
            answer = input(
                f"delete stack {opts.stack_name} and everything in its buckets? "
                "type the stack name: "
            )
            if answer.strip() != opts.stack_name:
                print("not deleted")
                return 1
        import boto3

        session = boto3.session.Session(profile_name=args.profile, region_name=opts.region)
        if not session.region_name:
            msg = "no AWS region: pass --region or set AWS_REGION"
            raise DeployError(msg)

        def client(service: Service) -> Any:
            return session.client(service)

        started = time.monotonic()
        run(
            args.command,
            opts,
            clients=client,
            builder=DockerCli(),
            tag=tag,
            delete_repository=args.delete_repository,
        )
        print(f"{args.command} done in {time.monotonic() - started:.0f} s")
        return 0
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except DeployError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except NoCredentialsError:
        print(
            "error: no AWS credentials: run `aws configure` (or `aws sso login`), or set "
            "AWS_PROFILE / AWS_ACCESS_KEY_ID",
            file=sys.stderr,
        )
        return 1
    except Exception as e:  # botocore's NoCredentialsError, ClientError, DockerError...
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
