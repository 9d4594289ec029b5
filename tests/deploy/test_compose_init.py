"""The compose init step (deploy/local/compose_init.py) against moto: both wirings make what
docker-compose.yml and docker-compose.lambda.yml rely on."""

from __future__ import annotations

import json
import re

import pytest

from deploy.local import compose_init
from tests.deploy.conftest import PROJECT_ROOT, client

# An AWS CLI command line: `aws` followed by an option or a service name.
AWS_CLI = re.compile(r"(?:^|[\s`'\"])aws\s+(?:--|s3|s3api|sqs|dynamodb|lambda|apigateway|logs)")
INLINE_CREDENTIALS = re.compile(
    r"AWS_ACCESS_KEY_ID=\S+ AWS_SECRET_ACCESS_KEY=\S+ (?:AWS_DEFAULT_REGION=\S+ )?aws "
)


def aws_cli_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if AWS_CLI.search(line)]


ENV = {
    "UPLOADS_BUCKET": "image-pipeline-uploads",
    "PROCESSED_BUCKET": "image-pipeline-processed",
    "METADATA_TABLE": "image-pipeline-metadata",
    "QUEUE_NAME": "image-pipeline-resize",
    "AWS_REGION": "us-east-1",
    "MAX_DIMENSION": "400",
    "S3_ADDRESSING_STYLE": "path",
}


def test_storage_mode_makes_storage_queue_and_notification(
    moto: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert compose_init.main(["--mode", "storage"], environ=ENV) == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["mode"] == "storage"
    assert summary["queue_url"].endswith("/image-pipeline-resize")
    sqs = client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=summary["queue_url"], AttributeNames=["All"])[
        "Attributes"
    ]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":image-pipeline-resize-dlq")
    assert attributes["VisibilityTimeout"] == "360"
    notification = client("s3").get_bucket_notification_configuration(
        Bucket="image-pipeline-uploads"
    )
    assert [q["QueueArn"].rsplit(":", 1)[1] for q in notification["QueueConfigurations"]] == [
        "image-pipeline-resize"
    ]
    table = client("dynamodb").describe_table(TableName="image-pipeline-metadata")["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by_uploaded_at"


def test_init_prints_aws_cli_hints_with_inline_credentials(
    moto: None, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**ENV, "PUBLIC_S3_ENDPOINT_URL": "http://localhost:4566"}
    assert compose_init.main(["--mode", "worker"], environ=env) == 0

    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1  # stdout stays one JSON line
    hints = aws_cli_lines(err)
    assert len(hints) == 3
    for hint in hints:
        assert INLINE_CREDENTIALS.search(hint), hint
        assert "--endpoint-url http://localhost:4566 " in hint
    assert "s3 cp photo.jpg s3://image-pipeline-uploads/photo.jpg" in hints[0]
    assert "s3://image-pipeline-processed" in hints[1]
    assert "--table-name image-pipeline-metadata" in hints[2]


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.lambda.yml", "Dockerfile"])
def test_aws_cli_examples_in_compose_files_carry_credentials(name: str) -> None:
    """A user without an AWS config gets "Unable to locate credentials" otherwise."""
    lines = aws_cli_lines((PROJECT_ROOT / name).read_text(encoding="utf-8"))
    missing = [line for line in lines if not INLINE_CREDENTIALS.search(line)]
    assert missing == []
    if name == "docker-compose.yml":
        assert len(lines) >= 3  # the file shows how to try it


def test_missing_variables_fail_with_their_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert compose_init.main([], environ={"AWS_REGION": "us-east-1"}) == 1
    assert "UPLOADS_BUCKET, PROCESSED_BUCKET, METADATA_TABLE" in capsys.readouterr().err


def test_lambda_mode_orders_functions_trigger_notification_and_api(moto: None) -> None:
    calls: list[str] = []
    params_of: dict[str, dict[str, object]] = {}

    def record(event_name: str, params: dict[str, object], **_: object) -> None:
        operation = event_name.split(".", 2)[2]
        calls.append(operation)
        params_of[operation] = params

    import boto3

    session = boto3.session.Session(region_name="us-east-1")
    session.events.register("provide-client-params.*.*", record)
    summary = compose_init.lambda_wiring(
        ENV,
        endpoint_url=None,
        region="us-east-1",
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/image-pipeline:local",
        prefix="image-pipeline",
        session=session,
    )

    lambda_ = client("lambda")
    resize = lambda_.get_function(FunctionName="image-pipeline-resize")
    assert resize["Configuration"]["PackageType"] == "Image"
    assert resize["Configuration"]["ImageConfigResponse"]["ImageConfig"]["Command"] == [
        "handlers.resize.handler"
    ]
    assert resize["Configuration"]["Environment"]["Variables"]["MAX_DIMENSION"] == "400"
    (mapping,) = lambda_.list_event_source_mappings(FunctionName="image-pipeline-resize")[
        "EventSourceMappings"
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    api_id = summary["api_url"].split("/restapis/")[1].split("/")[0]
    assert client("apigateway").get_rest_api(restApiId=api_id)["name"] == "image-pipeline-api"
    # as on AWS (moto drops binaryMediaTypes on create, so check the request)
    assert params_of["CreateRestApi"]["binaryMediaTypes"] == compose_init.BINARY_MEDIA_TYPES
    # both functions were Active before the trigger, the trigger before the notification
    active_waits = [i for i, c in enumerate(calls) if c == "GetFunction"]
    trigger = calls.index("CreateEventSourceMapping")
    notify = calls.index("PutBucketNotificationConfiguration")
    assert max(active_waits[:2]) < trigger < notify < calls.index("CreateRestApi")

    # running it again changes nothing and makes no duplicates
    compose_init.lambda_wiring(
        ENV,
        endpoint_url=None,
        region="us-east-1",
        image_uri="x/image-pipeline:local",
        prefix="image-pipeline",
        session=session,
    )
    assert len(client("apigateway").get_rest_apis()["items"]) == 1
    assert len(lambda_.list_event_source_mappings()["EventSourceMappings"]) == 1
