"""``python -m deploy.aws reprocess``: bring stored images up to date with S3 Batch Operations.

    python -m deploy.aws reprocess --all [--dry-run]
    python -m deploy.aws reprocess --prefix photos/2023/
    python -m deploy.aws reprocess --older            # made by another pipeline version
    python -m deploy.aws reprocess --rejected too_large
    options: --stack-name --region --profile --priority N --older-than VERSION
             --seconds-per-image S --concurrency N (for the estimate)

Steps: read the stack's outputs (buckets, table, the resize function's ARN, the operations
bucket, the Batch Operations role); select the targets (:mod:`deploy.reprocess_targets`);
write them as a CSV manifest (``Bucket,Key``, keys URL-encoded, no header row: a header
row fails the job) to ``s3://OPERATIONS/reprocess/manifests/``; create the job
(:func:`job_request`): ``LambdaInvoke`` of the resize function with invocation schema 2.0,
a completion report of every task under ``reprocess/reports/``, the given priority,
``ConfirmationRequired``: the job waits, with its object count, until someone confirms it
(the command to do so is printed). ``--dry-run`` selects and counts, prints the estimate
(:func:`estimate`) and calls nothing that writes.

The resize function answers each task (:mod:`handlers.batch_operations`): a second job over
the same objects finds them made by the current pipeline version and does no work twice.

``--older`` compares with the pipeline version of this checkout (engine source and the
stack's ``MaxDimension``; :mod:`handlers.versions`): deploy first, or name the version
with ``--older-than``.

moto has no S3 Batch Operations: the tests run the selection and manifest against moto
and check the exact ``CreateJob`` request against botocore's own model (a Stubber).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from deploy.aws.stack import stack_outputs
from deploy.reprocess_targets import (
    Selection,
    Target,
    add_selection_arguments,
    manifest_row,
    select_targets,
    selection_from,
)

MANIFEST_PREFIX = "reprocess/manifests/"
REPORT_PREFIX = "reprocess/reports"
MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
REPORT_FORMAT = "Report_CSV_20180820"
REQUIRED_OUTPUTS = (
    "UploadsBucket",
    "MetadataTable",
    "ResizeFunctionArn",
    "OperationsBucket",
    "BatchOperationsRoleArn",
)
DEFAULT_SECONDS_PER_IMAGE = 0.15
"""Per-image time in the resize function for the estimate, seconds: benchmarks/reprocess.py
measured 24 ms of engine CPU for a 6 MP JPEG at 300 px, which is 41 ms at 1,024 MB
(0.58 vCPU), plus about 0.1 s for the S3 and DynamoDB round trips: 0.141 s, rounded up."""
DEFAULT_CONCURRENCY = 1000
"""Concurrent invocations assumed for the estimate: Lambda's default account quota per
Region (a job runs no faster than the function may scale; ResizeReservedConcurrency caps
it lower)."""
RESIZE_MEMORY_MB = 1024  # deploy/aws/template.yaml's ResizeFunction


@dataclass(frozen=True, slots=True)
class Prices:
    """List prices (USD, us-east-1, x86, 2025; check the pricing pages before relying on
    them) of what one reprocessed image costs."""

    batch_job: float = 0.25  # S3 Batch Operations, per job
    batch_per_million_objects: float = 1.00
    lambda_per_million_requests: float = 0.20
    lambda_per_gb_second: float = 0.0000166667
    s3_get_per_thousand: float = 0.0004  # the GET of the original
    s3_put_per_thousand: float = 0.005  # PUT of the rendition
    dynamodb_read_per_million: float = 0.125  # on-demand RRU (two consistent reads)
    dynamodb_write_per_million: float = 0.625  # on-demand WRU (one ~1.5 KB write: 2 WRU)


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a job over ``count`` objects costs (USD, by part) and takes (seconds)."""

    count: int
    cost_usd: dict[str, float]
    duration_s: float

    @property
    def total_usd(self) -> float:
        """The sum of the parts."""
        return sum(self.cost_usd.values())

    def lines(self) -> list[str]:
        """For a person: the total, the parts, the time."""
        parts = ", ".join(f"{name} ${usd:,.2f}" for name, usd in self.cost_usd.items())
        hours = self.duration_s / 3600
        return [
            f"{self.count:,} objects: about ${self.total_usd:,.2f} ({parts})",
            f"about {hours:,.1f} h ({self.duration_s:,.0f} s) at the assumed concurrency",
        ]


def estimate(
    count: int,
    *,
    seconds_per_image: float = DEFAULT_SECONDS_PER_IMAGE,
    memory_mb: int = RESIZE_MEMORY_MB,
    concurrency: int = DEFAULT_CONCURRENCY,
    prices: Prices | None = None,
) -> Estimate:
    """Cost and duration of reprocessing ``count`` objects (one job, one invocation each).

    Per image: one Lambda request of ``seconds_per_image`` at ``memory_mb``, a GET of the
    original (its headers serve as the HEAD did), a PUT of the rendition, two consistent
    reads and one write of the item; duration ``count * seconds_per_image / concurrency``.
    """
    p = prices or Prices()
    gb_seconds = count * seconds_per_image * memory_mb / 1024
    cost = {
        "batch operations": p.batch_job + count / 1e6 * p.batch_per_million_objects,
        "lambda": count / 1e6 * p.lambda_per_million_requests + gb_seconds * p.lambda_per_gb_second,
        "s3 requests": count / 1000 * p.s3_get_per_thousand + count / 1000 * p.s3_put_per_thousand,
        "dynamodb": count * 2 / 1e6 * p.dynamodb_read_per_million
        + count * 2 / 1e6 * p.dynamodb_write_per_million,
    }
    return Estimate(count, cost, count * seconds_per_image / max(1, concurrency))


def write_manifest(targets: Iterable[Target], out: IO[bytes]) -> int:
    """Write the CSV manifest of ``targets`` to ``out``; returns the row count."""
    count = 0
    for target in targets:
        out.write(manifest_row(target).encode("utf-8"))
        count += 1
    return count


def job_request(
    *,
    function_arn: str,
    role_arn: str,
    operations_bucket: str,
    manifest_key: str,
    manifest_etag: str,
    priority: int,
    description: str,
    token: str,
) -> dict[str, Any]:
    """The ``s3control.create_job`` keyword arguments of a reprocess job.

    The account is the function's (its ARN's fifth field).
    """
    account_id = function_arn.split(":")[4]
    return {
        "AccountId": account_id,
        "ConfirmationRequired": True,
        "Operation": {
            "LambdaInvoke": {
                "FunctionArn": function_arn,
                "InvocationSchemaVersion": "2.0",
                "UserArguments": {"purpose": "reprocess"},
            }
        },
        "Report": {
            "Bucket": f"arn:aws:s3:::{operations_bucket}",
            "Prefix": REPORT_PREFIX,
            "Format": REPORT_FORMAT,
            "Enabled": True,
            "ReportScope": "AllTasks",
        },
        "ClientRequestToken": token,
        "Manifest": {
            "Spec": {"Format": MANIFEST_FORMAT, "Fields": ["Bucket", "Key"]},
            "Location": {
                "ObjectArn": f"arn:aws:s3:::{operations_bucket}/{manifest_key}",
                "ETag": manifest_etag,
            },
        },
        "Description": description[:256],
        "Priority": priority,
        "RoleArn": role_arn,
    }


def reprocess(
    selection: Selection,
    *,
    outputs: Mapping[str, str],
    s3: Any,
    dynamodb: Any,
    s3control: Any,
    priority: int = 10,
    dry_run: bool = False,
    seconds_per_image: float = DEFAULT_SECONDS_PER_IMAGE,
    concurrency: int = DEFAULT_CONCURRENCY,
    say: Callable[[str], None] = print,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> str | None:
    """Select, write the manifest, create the job; the job id (``None``: dry run, or
    nothing selected).

    Raises:
        LookupError: the stack lacks an output this needs (deployed before reprocess existed).
    """
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        msg = f"the stack has no {', '.join(missing)} output: deploy this version first"
        raise LookupError(msg)
    targets = select_targets(
        selection,
        s3=s3,
        dynamodb=dynamodb,
        uploads_bucket=outputs["UploadsBucket"],
        table=outputs["MetadataTable"],
    )
    say(f"selecting {selection.describe()}")
    with tempfile.TemporaryFile() as manifest:
        count = write_manifest(targets, manifest)
        for line in estimate(
            count, seconds_per_image=seconds_per_image, concurrency=concurrency
        ).lines():
            say(line)
        if dry_run or count == 0:
            say("dry run: no manifest written, no job created" if dry_run else "nothing to do")
            return None
        token = uuid.uuid4().hex
        manifest_key = f"{MANIFEST_PREFIX}{now():%Y%m%dT%H%M%SZ}-{token[:8]}.csv"
        manifest.seek(0)
        s3.upload_fileobj(manifest, outputs["OperationsBucket"], manifest_key)
    etag = s3.head_object(Bucket=outputs["OperationsBucket"], Key=manifest_key)["ETag"]
    request = job_request(
        function_arn=outputs["ResizeFunctionArn"],
        role_arn=outputs["BatchOperationsRoleArn"],
        operations_bucket=outputs["OperationsBucket"],
        manifest_key=manifest_key,
        manifest_etag=etag.strip('"'),
        priority=priority,
        description=f"reprocess {selection.describe()} ({count} objects)",
        token=token,
    )
    job_id = str(s3control.create_job(**request)["JobId"])
    say(f"manifest s3://{outputs['OperationsBucket']}/{manifest_key} ({count} objects)")
    say(
        f"job {job_id} created and waiting for confirmation; once you have checked it, run:\n"
        f"  aws s3control update-job-status --account-id {request['AccountId']} "
        f"--job-id {job_id} --requested-job-status Ready\n"
        f"its report goes to s3://{outputs['OperationsBucket']}/{REPORT_PREFIX}/"
    )
    return job_id


def current_version(max_dimension: int) -> str:
    """The pipeline version this checkout deploys with ``MaxDimension`` = ``max_dimension``."""
    from handlers.config import ResizeSettings
    from handlers.versions import pipeline_version

    return pipeline_version(
        ResizeSettings(metadata_table="-", processed_bucket="-", max_dim_px=max_dimension)
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m deploy.aws reprocess``."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.aws reprocess",
        description="Reprocess stored images with an S3 Batch Operations job.",
    )
    add_selection_arguments(parser)
    parser.add_argument("--stack-name", default="image-pipeline")
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--priority", type=int, default=10, help="job priority (default 10)")
    parser.add_argument("--dry-run", action="store_true", help="count and estimate only")
    parser.add_argument(
        "--seconds-per-image",
        type=float,
        default=DEFAULT_SECONDS_PER_IMAGE,
        help="estimate: resize time per image (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="estimate: concurrent invocations (default %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; 0 done, 1 failed, 2 usage error."""
    parser = build_parser()
    if argv is not None and not argv:
        argv = ["--help"]
    args = parser.parse_args(argv)
    try:
        selection_from(args, version=lambda: "")  # checked before any call
    except ValueError as e:
        parser.error(str(e))
    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    cfn = session.client("cloudformation")
    try:
        outputs = stack_outputs(cfn, args.stack_name)

        def version() -> str:
            stacks = cfn.describe_stacks(StackName=args.stack_name)["Stacks"]
            parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stacks[0]["Parameters"]}
            found = current_version(int(parameters.get("MaxDimension", "500")))
            print(f"current pipeline version (this checkout and the stack's settings): {found}")
            return found

        reprocess(
            selection_from(args, version=version),
            outputs=outputs,
            s3=session.client("s3"),
            dynamodb=session.client("dynamodb"),
            s3control=session.client("s3control"),
            priority=args.priority,
            dry_run=args.dry_run,
            seconds_per_image=args.seconds_per_image,
            concurrency=args.concurrency,
        )
        return 0
    except Exception as e:  # botocore errors, a missing stack or output
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
