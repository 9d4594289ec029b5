"""Create the pipeline's storage and event wiring against any AWS endpoint, idempotently.

What it makes, the same shape as on AWS (deploy/aws/template.yaml):

- the uploads and processed S3 buckets (the uploads bucket with a CORS rule so a browser page
  can POST to a presigned upload URL);
- the metadata DynamoDB table, from ``handlers.dynamo_store.TABLE_DEFINITION``, with TTL on
  ``handlers.dynamo_store.TTL_ATTRIBUTE`` (unused upload grants expire);
- an SQS queue with a redrive policy to a dead-letter queue after ``max_receive_count``
  receives, and a queue policy letting S3 (for this bucket only) send to it;
- the uploads bucket's event notification ``s3:ObjectCreated:*`` -> that queue.

Every step first looks at what exists and only changes what differs, so running it twice, or
against a LocalStack or an emulator that already holds the resources, is harmless. The clients
come from boto3 as usual, so ``AWS_ENDPOINT_URL`` (or ``endpoint_url=``) decides where.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from handlers.dynamo_store import TABLE_DEFINITION, TTL_ATTRIBUTE
from handlers.quota import QUOTA_TABLE_DEFINITION

log = logging.getLogger(__name__)

NOTIFICATION_ID = "resize-on-upload"
DLQ_RETENTION_S = 14 * 24 * 3600  # the SQS maximum, so failures wait for a person

CLIENT_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30
)


@dataclass(frozen=True, slots=True)
class PipelineResources:
    """Names, URLs and ARNs of what :func:`ensure_resources` made or found."""

    region: str
    uploads_bucket: str
    processed_bucket: str
    table: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str


def ensure_resources(
    *,
    uploads_bucket: str,
    processed_bucket: str,
    table: str,
    queue: str,
    dlq: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    max_receive_count: int = 3,
    visibility_timeout_s: int = 30,
    session: boto3.session.Session | None = None,
    quota_table: str | None = None,
    upload_cors_origins: tuple[str, ...] = ("*",),
) -> PipelineResources:
    """Make sure the buckets, table, queue (+DLQ) and S3 -> SQS notification exist.

    Args:
        uploads_bucket, processed_bucket: S3 bucket names.
        table: DynamoDB table name (created from ``TABLE_DEFINITION``).
        queue: SQS queue name; ``dlq`` defaults to ``f"{queue}-dlq"``.
        region: defaults to the session's region (``AWS_REGION``/``AWS_DEFAULT_REGION``),
            else us-east-1.
        endpoint_url: an emulator or LocalStack URL; ``None`` lets boto3 decide (it honours
            ``AWS_ENDPOINT_URL`` and the per-service variants).
        max_receive_count: receives of one message before SQS moves it to the DLQ.
        visibility_timeout_s: seconds a received message stays hidden; a failed message
            reappears after it (AWS advises 6x the function timeout).
        quota_table: the per-owner daily upload counters (``handlers.quota``), if any.
        upload_cors_origins: origins allowed to POST presigned uploads to the uploads bucket.

    Returns:
        :class:`PipelineResources` with the queue URLs and ARNs.

    Raises:
        botocore.exceptions.ClientError: a call failed for another reason than "exists".
    """
    session = session or boto3.session.Session()
    region = region or session.region_name or "us-east-1"

    def client(service: Literal["s3", "dynamodb", "sqs"]) -> Any:
        return session.client(
            service, region_name=region, endpoint_url=endpoint_url, config=CLIENT_CONFIG
        )

    s3, dynamodb, sqs = client("s3"), client("dynamodb"), client("sqs")
    for bucket in (uploads_bucket, processed_bucket):
        ensure_bucket(s3, bucket, region)
    ensure_upload_cors(s3, uploads_bucket, upload_cors_origins)
    ensure_table(dynamodb, table)
    if quota_table:
        ensure_table(dynamodb, quota_table, QUOTA_TABLE_DEFINITION)
    dlq_url, dlq_arn = ensure_queue(
        sqs, dlq or f"{queue}-dlq", {"MessageRetentionPeriod": str(DLQ_RETENTION_S)}
    )
    bucket_arn = f"arn:aws:s3:::{uploads_bucket}"
    queue_attributes = {
        "VisibilityTimeout": str(visibility_timeout_s),
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
        ),
    }
    queue_url, queue_arn = ensure_queue(sqs, queue, queue_attributes)
    policy = s3_send_policy(queue_arn, bucket_arn)
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    ensure_notification(s3, uploads_bucket, queue_arn)
    return PipelineResources(
        region=region,
        uploads_bucket=uploads_bucket,
        processed_bucket=processed_bucket,
        table=table,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
    )


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    """Create ``bucket`` unless it exists (us-east-1 takes no LocationConstraint)."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
        log.info("created bucket %s", bucket)
    except ClientError as e:
        if e.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise


def ensure_upload_cors(s3: Any, bucket: str, origins: tuple[str, ...] = ("*",)) -> None:
    """Let browsers POST to presigned upload URLs of ``bucket`` from ``origins``."""
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": list(origins),
                    "AllowedMethods": ["POST"],
                    "AllowedHeaders": ["content-type"],
                    "ExposeHeaders": ["ETag", "Location"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )


def ensure_table(
    dynamodb: Any, table: str, definition: Mapping[str, Any] = TABLE_DEFINITION
) -> None:
    """Create ``table`` from ``definition`` (the metadata table's by default) unless it
    exists; wait until ACTIVE; TTL on (:func:`ensure_ttl`)."""
    try:
        dynamodb.describe_table(TableName=table)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        try:
            dynamodb.create_table(TableName=table, **definition)
            log.info("created table %s", table)
        except ClientError as e2:
            if e2.response["Error"]["Code"] != "ResourceInUseException":
                raise
        dynamodb.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    ensure_ttl(dynamodb, table)


def ensure_ttl(dynamodb: Any, table: str) -> None:
    """Turn on DynamoDB TTL on ``TTL_ATTRIBUTE`` (``handlers.dynamo_store``): pending items of
    ``POST /uploads`` grants nobody used expire. Harmless when it is on already."""
    current = dynamodb.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
    if (
        current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        and current.get("AttributeName") == TTL_ATTRIBUTE
    ):
        return
    try:
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
        log.info("table %s: TTL on %s", table, TTL_ATTRIBUTE)
    except ClientError as e:  # "TimeToLive is already enabled", e.g. set by another run
        if "already enabled" not in str(e.response.get("Error", {}).get("Message", "")):
            raise


def ensure_queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    """Create queue ``name`` with ``attributes``, or bring an existing one to them.

    Returns:
        ``(queue_url, queue_arn)``.
    """
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    except ClientError as e:
        if e.response["Error"]["Code"] not in (
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        ):
            raise
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        log.info("created queue %s", name)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def s3_send_policy(queue_arn: str, bucket_arn: str) -> dict[str, Any]:
    """The SQS queue policy that lets S3 deliver ``bucket_arn``'s events to ``queue_arn``
    (as deploy/aws/template.yaml's ResizeQueuePolicy: that bucket, this account only)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowS3UploadEvents",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": bucket_arn},
                    "StringEquals": {"aws:SourceAccount": queue_arn.split(":")[4]},
                },
            }
        ],
    }


def ensure_notification(s3: Any, bucket: str, queue_arn: str) -> None:
    """Send ``bucket``'s ``s3:ObjectCreated:*`` events to ``queue_arn``.

    Left alone when already so: S3 (and moto) post an ``s3:TestEvent`` to the queue each
    time the configuration is written.
    """
    wanted = {"Id": NOTIFICATION_ID, "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    for existing in current.get("QueueConfigurations", []):
        if (
            existing.get("QueueArn") == queue_arn
            and existing.get("Events") == wanted["Events"]
            and not existing.get("Filter")
        ):
            return
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [wanted]},
    )
    log.info("bucket %s: ObjectCreated:* -> %s", bucket, queue_arn)
