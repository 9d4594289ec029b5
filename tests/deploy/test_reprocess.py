"""``python -m deploy.aws reprocess`` against moto; ``CreateJob`` (which moto lacks) checked
against botocore's own model with a Stubber, so the request is one S3 Control accepts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.stub import Stubber

from deploy.aws import cli
from deploy.aws.reprocess import (
    Estimate,
    estimate,
    job_request,
    reprocess,
)
from deploy.reprocess_targets import Selection, Target, is_selected, manifest_row
from handlers.dynamo_store import TABLE_DEFINITION, to_dynamo
from tests.deploy.conftest import ACCOUNT, REGION, client

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:image-pipeline-resize"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/image-pipeline-BatchOperationsRole"
OUTPUTS = {
    "UploadsBucket": "uploads",
    "MetadataTable": "meta",
    "ResizeFunctionArn": FUNCTION_ARN,
    "OperationsBucket": "operations",
    "BatchOperationsRoleArn": ROLE_ARN,
}
KEYS = ["a/one.jpg", "a/two, with comma.png", "b/caf\u00e9 cr\u00e8me.jpg", "b/line\nbreak.jpg"]
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def stored(moto: None) -> dict[str, Any]:
    """The uploads and operations buckets with four objects and a folder marker; the table
    with an item per object (two made by an older pipeline version, one rejected)."""
    s3, dynamodb = client("s3"), client("dynamodb")
    for bucket in ("uploads", "operations"):
        s3.create_bucket(Bucket=bucket)
    for key in KEYS:
        s3.put_object(Bucket="uploads", Key=key, Body=b"x")
    s3.put_object(Bucket="uploads", Key="a/", Body=b"")  # console folder: never a target
    dynamodb.create_table(TableName="meta", **TABLE_DEFINITION)
    items = [
        {"status": "processed", "pipeline_version": "new"},
        {"status": "processed", "pipeline_version": "old"},
        {"status": "rejected", "error_reason": "too_large", "pipeline_version": "old"},
        {"status": "deleted", "pipeline_version": "old"},
    ]
    for n, (key, fields) in enumerate(zip(KEYS, items, strict=True)):
        item = {"image_id": f"{n:032x}", "source_bucket": "uploads", "source_key": key, **fields}
        dynamodb.put_item(TableName="meta", Item=to_dynamo(item))
    return {"s3": s3, "dynamodb": dynamodb}


def run(
    stored: dict[str, Any], selection: Selection, *, expect_job: bool = True, **kwargs: Any
) -> tuple[str | None, list]:
    s3control = client("s3control")
    said: list[str] = []
    with Stubber(s3control) as stub:
        if expect_job:
            stub.add_response("create_job", {"JobId": "job-1"})
        job = reprocess(
            selection,
            outputs=OUTPUTS,
            s3=stored["s3"],
            dynamodb=stored["dynamodb"],
            s3control=s3control,
            say=said.append,
            now=lambda: NOW,
            **kwargs,
        )
        stub.assert_no_pending_responses()
    return job, said


def manifests(stored: dict[str, Any]) -> list[list[str]]:
    listed = stored["s3"].list_objects_v2(Bucket="operations", Prefix="reprocess/manifests/")
    out = []
    for obj in listed.get("Contents", []):
        body = stored["s3"].get_object(Bucket="operations", Key=obj["Key"])["Body"].read().decode()
        out.append([f"{row[0]},{unquote(row[1])}" for row in csv.reader(io.StringIO(body))])
    return out


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (Selection("all"), KEYS),
        (Selection("prefix", prefix="b/"), KEYS[2:]),
        (Selection("older", version="new"), KEYS[1:3]),  # not the deleted one
        (Selection("older", version="new", prefix="a/"), KEYS[1:2]),
        (Selection("rejected", reason="too_large"), KEYS[2:3]),
    ],
    ids=["all", "prefix", "older", "older_prefix", "rejected"],
)
def test_selection_becomes_a_manifest_without_header_and_with_encoded_keys(
    stored: dict[str, Any], selection: Selection, expected: list[str]
) -> None:
    job, said = run(stored, selection)

    assert job == "job-1"
    (rows,) = manifests(stored)
    assert sorted(rows) == sorted(f"uploads,{key}" for key in expected)
    assert any(line.startswith(f"{len(expected):,} objects: about $") for line in said)
    assert any("update-job-status" in line and "job-1" in line for line in said)


def test_manifest_rows_are_url_encoded_one_line_each() -> None:
    row = manifest_row(Target("up", "b/line\nbreak, caf\u00e9.jpg"))

    assert row == "up,b/line%0Abreak%2C%20caf%C3%A9.jpg\n"


def test_the_create_job_request_is_what_s3_control_accepts(stored: dict[str, Any]) -> None:
    s3control = client("s3control")
    request = job_request(
        function_arn=FUNCTION_ARN,
        role_arn=ROLE_ARN,
        operations_bucket="operations",
        manifest_key="reprocess/manifests/m.csv",
        manifest_etag="0123abcd",
        priority=42,
        description="reprocess every object (4 objects)",
        token="t" * 32,
    )

    with Stubber(s3control) as stub:  # validates against botocore's CreateJob model
        stub.add_response("create_job", {"JobId": "job-9"}, expected_params=request)
        assert s3control.create_job(**request)["JobId"] == "job-9"

    assert request["AccountId"] == ACCOUNT
    assert request["ConfirmationRequired"] is True
    assert request["Priority"] == 42
    invoke = request["Operation"]["LambdaInvoke"]
    assert (invoke["FunctionArn"], invoke["InvocationSchemaVersion"]) == (FUNCTION_ARN, "2.0")
    assert request["Manifest"]["Spec"] == {
        "Format": "S3BatchOperations_CSV_20180820",
        "Fields": ["Bucket", "Key"],
    }
    assert (
        request["Manifest"]["Location"]["ObjectArn"]
        == "arn:aws:s3:::operations/reprocess/manifests/m.csv"
    )
    assert request["Report"] == {
        "Bucket": "arn:aws:s3:::operations",
        "Prefix": "reprocess/reports",
        "Format": "Report_CSV_20180820",
        "Enabled": True,
        "ReportScope": "AllTasks",
    }


def test_the_job_request_names_the_manifest_just_written(stored: dict[str, Any]) -> None:
    s3control = client("s3control")
    with Stubber(s3control) as stub:
        stub.add_response("create_job", {"JobId": "job-2"})
        reprocess(
            Selection("all"),
            outputs=OUTPUTS,
            s3=stored["s3"],
            dynamodb=stored["dynamodb"],
            s3control=s3control,
            say=lambda _: None,
            now=lambda: NOW,
        )
        stub.assert_no_pending_responses()
    (key,) = [
        o["Key"]
        for o in stored["s3"].list_objects_v2(Bucket="operations", Prefix="reprocess/")["Contents"]
    ]
    assert key.startswith("reprocess/manifests/20250102T030405Z-") and key.endswith(".csv")


def test_dry_run_counts_and_estimates_and_writes_nothing(stored: dict[str, Any]) -> None:
    job, said = run(stored, Selection("all"), expect_job=False, dry_run=True)

    assert job is None
    assert manifests(stored) == []
    assert said[1].startswith("4 objects: about $")
    assert said[-1] == "dry run: no manifest written, no job created"


def test_nothing_selected_creates_no_job(stored: dict[str, Any]) -> None:
    job, said = run(stored, Selection("rejected", reason="corrupt"), expect_job=False)

    assert job is None and manifests(stored) == [] and said[-1] == "nothing to do"


def test_a_stack_without_the_new_outputs_is_told_to_deploy_first(stored: dict[str, Any]) -> None:
    with pytest.raises(LookupError, match="deploy this version first"):
        reprocess(
            Selection("all"),
            outputs={"UploadsBucket": "up"},
            s3=stored["s3"],
            dynamodb=stored["dynamodb"],
            s3control=None,
        )


def test_ten_million_objects_on_paper() -> None:
    paper = estimate(10_000_000, seconds_per_image=0.35, concurrency=1000)

    assert isinstance(paper, Estimate)
    assert paper.duration_s == pytest.approx(3500)  # under an hour at 1,000 at a time
    assert paper.cost_usd["lambda"] == pytest.approx(2 + 58.33, abs=0.01)
    assert paper.cost_usd["batch operations"] == pytest.approx(10.25)
    assert paper.cost_usd["s3 requests"] == pytest.approx(4 + 50)  # one GET, one PUT each
    assert paper.cost_usd["dynamodb"] == pytest.approx(2.5 + 12.5)
    assert 135 < paper.total_usd < 140


def test_is_selected_never_picks_deleted_or_pending_items() -> None:
    older = Selection("older", version="v2")
    base = {"source_bucket": "up", "source_key": "k.jpg", "pipeline_version": "v1"}

    assert is_selected({**base, "status": "processed"}, older)
    assert not is_selected({**base, "status": "deleted"}, older)
    assert not is_selected({**base, "status": "pending"}, older)
    assert not is_selected({**base, "status": "processed", "pipeline_version": "v2"}, older)


def test_the_deploy_tool_hands_reprocess_its_own_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["reprocess", "--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--older" in out and "--rejected REASON" in out and "--dry-run" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--all"], Selection("all")),
        (["--prefix", "photos/"], Selection("prefix", prefix="photos/")),
        (["--older"], Selection("older", version="v-now")),
        (["--older-than", "v1", "--prefix", "a/"], Selection("older", prefix="a/", version="v1")),
        (["--rejected", "too_large"], Selection("rejected", reason="too_large")),
    ],
)
def test_the_selection_flags(argv: list[str], expected: Selection) -> None:
    from deploy.aws.reprocess import build_parser
    from deploy.reprocess_targets import selection_from

    args = build_parser().parse_args(argv)

    assert selection_from(args, version=lambda: "v-now") == expected


@pytest.mark.parametrize("argv", [[], ["--all", "--prefix", "a/"], ["--all", "--older"]])
def test_a_missing_or_contradictory_selection_is_a_usage_error(argv: list[str]) -> None:
    from deploy.aws import reprocess as aws_reprocess

    with pytest.raises(SystemExit) as exited:
        aws_reprocess.main(["--dry-run", *argv] if argv else ["--dry-run"])

    assert exited.value.code == 2
