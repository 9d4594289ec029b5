"""The init step of ``docker compose up``: create the pipeline's resources in LocalStack.

Two wirings (see docker-compose.yml and the README):

``storage`` (default; LocalStack's free edition)
    Buckets, table, queue + DLQ and the S3 -> SQS notification, made by
    :func:`deploy.local.resources.ensure_resources`, the same code the embedded runner uses.
    The functions then run as containers of the project image, exactly as Lambda runs
    them (its ENTRYPOINT, the handler as command), behind the local Lambda service
    (``python -m deploy.local.lambda_service``: Runtime API per function, the SQS event
    source mapping with ReportBatchItemFailures, the API Gateway front). LocalStack's own
    Lambda is not used: container-image functions need a paid edition. ``worker`` is the
    old name of this mode and still accepted.

``lambda`` (``--mode lambda``; LocalStack with an auth token that includes container images)
    The same storage, then both functions from the project image (PackageType Image,
    ImageConfig.Command per function, as in deploy/aws/template.yaml), waited for until
    Active; then the SQS event source mapping with ReportBatchItemFailures; only then the
    S3 -> SQS notification; and a REST API with the template's binary media types,
    ``{proxy+}`` and root ``ANY`` routes to the API function.

Configuration comes from the environment, as for the handlers: ``UPLOADS_BUCKET``,
``PROCESSED_BUCKET``, ``METADATA_TABLE``, ``QUEUE_NAME`` (default ``image-pipeline-resize``),
``AWS_ENDPOINT_URL`` (LocalStack), ``AWS_REGION``. On success it prints one JSON line with
the names and URLs it made, and exits 0; AWS CLI commands to try it from the host go to
stderr (the compose log), with LocalStack's dummy credentials inline, since a user without
an AWS config would otherwise get "Unable to locate credentials".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import boto3

from deploy.local import resources
from deploy.local.apigw_events import BINARY_MEDIA_TYPES as API_BINARY_MEDIA_TYPES

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "image-pipeline-resize"
# The REST API's binary media types as API Gateway's CreateRestApi takes them (a list);
# declared once in deploy/local/apigw_events.py (tests/deploy: the template's list equals it).
BINARY_MEDIA_TYPES = list(API_BINARY_MEDIA_TYPES)
# Function settings mirrored from deploy/aws/template.yaml (tests/deploy checks they agree).
FUNCTIONS = {
    "resize": {"command": "handlers.resize.handler", "memory_mb": 1024, "timeout_s": 60},
    "api": {"command": "handlers.api.handler", "memory_mb": 512, "timeout_s": 29},
}
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def wait_for_endpoint(
    endpoint_url: str, *, timeout_s: float = 120.0, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Wait until LocalStack answers its health check (``/_localstack/health``).

    Raises:
        TimeoutError: no answer within ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    url = endpoint_url.rstrip("/") + "/_localstack/health"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() >= deadline:
            msg = f"no answer from {url} after {timeout_s:.0f} s: is LocalStack running?"
            raise TimeoutError(msg)
        sleep(1.0)


def storage(
    env: Mapping[str, str], *, endpoint_url: str | None, region: str
) -> resources.PipelineResources:
    """Buckets, table, queue + DLQ and the S3 -> SQS notification (the storage wiring)."""
    return resources.ensure_resources(
        uploads_bucket=env["UPLOADS_BUCKET"],
        processed_bucket=env["PROCESSED_BUCKET"],
        table=env["METADATA_TABLE"],
        queue=env.get("QUEUE_NAME") or DEFAULT_QUEUE,
        region=region,
        endpoint_url=endpoint_url,
        visibility_timeout_s=360,
    )


def function_environment(env: Mapping[str, str], name: str) -> dict[str, str]:
    """The environment of function ``name``: the handlers' variables from ``env``."""
    keep = (
        "METADATA_TABLE",
        "UPLOADS_BUCKET",
        "PROCESSED_BUCKET",
        "MAX_DIMENSION",
        "RENDITIONS",
        "CORS_ALLOW_ORIGINS",
        "AUTH_MODE",
        "QUOTA_TABLE",
        "DAILY_UPLOAD_COUNT",
        "DAILY_UPLOAD_BYTES",
        "PUBLIC_S3_ENDPOINT_URL",
        "S3_ADDRESSING_STYLE",
    )
    variables = {k: env[k] for k in keep if env.get(k)}
    variables["POWERTOOLS_SERVICE_NAME"] = name
    return variables


def ensure_role(iam: Any, name: str) -> str:
    """The functions' execution role (LocalStack does not enforce its policies); its ARN."""
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        return str(
            iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY)
            )["Role"]["Arn"]
        )


def ensure_function(
    lambda_: Any,
    name: str,
    *,
    image_uri: str,
    role_arn: str,
    spec: Mapping[str, Any],
    variables: Mapping[str, str],
) -> str:
    """Create or update one image function and wait until it is Active; return its ARN."""
    config = {
        "Role": role_arn,
        "MemorySize": spec["memory_mb"],
        "Timeout": spec["timeout_s"],
        "ImageConfig": {"Command": [spec["command"]]},
        "Environment": {"Variables": dict(variables)},
    }
    try:
        lambda_.get_function(FunctionName=name)
        lambda_.update_function_code(FunctionName=name, ImageUri=image_uri)
        lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
        lambda_.update_function_configuration(FunctionName=name, **config)
        lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
    except lambda_.exceptions.ResourceNotFoundException:
        lambda_.create_function(
            FunctionName=name, PackageType="Image", Code={"ImageUri": image_uri}, **config
        )
    lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
    return str(lambda_.get_function(FunctionName=name)["Configuration"]["FunctionArn"])


def ensure_queue_trigger(lambda_: Any, function_name: str, queue_arn: str) -> str:
    """The SQS -> function event source mapping (batch 10, ReportBatchItemFailures)."""
    existing = lambda_.list_event_source_mappings(
        FunctionName=function_name, EventSourceArn=queue_arn
    ).get("EventSourceMappings", [])
    if existing:
        return str(existing[0]["UUID"])
    created = lambda_.create_event_source_mapping(
        FunctionName=function_name,
        EventSourceArn=queue_arn,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    return str(created["UUID"])


def ensure_rest_api(
    apigateway: Any, lambda_: Any, name: str, function_arn: str, region: str
) -> str:
    """A REST API like the template's: binary media types, root + {proxy+} ANY -> function.

    Returns:
        The API id (LocalStack serves it at ``/restapis/{id}/v1/_user_request_/``).
    """
    for api in apigateway.get_rest_apis(limit=500).get("items", []):
        if api["name"] == name:
            return str(api["id"])
    api_id = apigateway.create_rest_api(
        name=name,
        binaryMediaTypes=BINARY_MEDIA_TYPES,
        endpointConfiguration={"types": ["REGIONAL"]},
    )["id"]
    root_id = next(
        r["id"] for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/"
    )
    proxy_id = apigateway.create_resource(restApiId=api_id, parentId=root_id, pathPart="{proxy+}")[
        "id"
    ]
    uri = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    for resource_id in (root_id, proxy_id):
        apigateway.put_method(
            restApiId=api_id, resourceId=resource_id, httpMethod="ANY", authorizationType="NONE"
        )
        apigateway.put_integration(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod="ANY",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=uri,
        )
    apigateway.create_deployment(restApiId=api_id, stageName="v1")
    lambda_.add_permission(
        FunctionName=function_arn,
        StatementId=f"apigateway-{api_id}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
    )
    return str(api_id)


def lambda_wiring(
    env: Mapping[str, str],
    *,
    endpoint_url: str | None,
    region: str,
    image_uri: str,
    prefix: str,
    session: boto3.session.Session | None = None,
) -> dict[str, str]:
    """Storage, functions (Active first), trigger, then notification, then the REST API."""
    session = session or boto3.session.Session()

    def client(service: Literal["s3", "sqs", "lambda", "dynamodb", "iam", "apigateway"]) -> Any:
        return session.client(
            service, region_name=region, endpoint_url=endpoint_url, config=resources.CLIENT_CONFIG
        )

    s3, sqs, lambda_ = client("s3"), client("sqs"), client("lambda")
    uploads = env["UPLOADS_BUCKET"]
    queue = env.get("QUEUE_NAME") or DEFAULT_QUEUE
    for bucket in (uploads, env["PROCESSED_BUCKET"]):
        resources.ensure_bucket(s3, bucket, region)
    resources.ensure_upload_cors(s3, uploads)
    resources.ensure_table(client("dynamodb"), env["METADATA_TABLE"])
    if env.get("QUOTA_TABLE"):  # per-owner daily upload counters (handlers/quota.py)
        from handlers.quota import QUOTA_TABLE_DEFINITION

        resources.ensure_table(client("dynamodb"), env["QUOTA_TABLE"], QUOTA_TABLE_DEFINITION)
    _dlq_url, dlq_arn = resources.ensure_queue(
        sqs, f"{queue}-dlq", {"MessageRetentionPeriod": str(resources.DLQ_RETENTION_S)}
    )
    queue_url, queue_arn = resources.ensure_queue(
        sqs,
        queue,
        {
            "VisibilityTimeout": "360",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )
    role_arn = ensure_role(client("iam"), f"{prefix}-lambda")
    arns = {
        name: ensure_function(
            lambda_,
            f"{prefix}-{name}",
            image_uri=image_uri,
            role_arn=role_arn,
            spec=spec,
            variables=function_environment(env, name),
        )
        for name, spec in FUNCTIONS.items()
    }
    ensure_queue_trigger(lambda_, f"{prefix}-resize", queue_arn)
    policy = resources.s3_send_policy(queue_arn, f"arn:aws:s3:::{uploads}")
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    resources.ensure_notification(s3, uploads, queue_arn)
    api_id = ensure_rest_api(client("apigateway"), lambda_, f"{prefix}-api", arns["api"], region)
    base = (endpoint_url or "").rstrip("/")
    return {
        "mode": "lambda",
        "api_url": f"{base}/restapis/{api_id}/v1/_user_request_",
        "queue_url": queue_url,
        "resize_function": arns["resize"],
        "api_function": arns["api"],
    }


def cli_hints(env: Mapping[str, str], *, region: str) -> list[str]:
    """AWS CLI commands that try the pipeline from the host, credentials inline.

    The endpoint is ``PUBLIC_S3_ENDPOINT_URL`` (how the host reaches LocalStack), else
    ``http://localhost:4566``. LocalStack accepts any key; the CLI refuses to sign without
    one and needs a region, so both are on each command line.
    """
    endpoint = env.get("PUBLIC_S3_ENDPOINT_URL") or "http://localhost:4566"
    aws = (
        f"AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={region} "
        f"aws --endpoint-url {endpoint}"
    )
    return [
        f"{aws} s3 cp photo.jpg s3://{env['UPLOADS_BUCKET']}/photo.jpg",
        f"{aws} s3 ls --recursive s3://{env['PROCESSED_BUCKET']}",
        f"{aws} dynamodb scan --table-name {env['METADATA_TABLE']}",
    ]


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """CLI: create the resources, print one JSON line; 0 ok, 1 failed."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.compose_init",
        description="Create the pipeline's resources in LocalStack.",
    )
    parser.add_argument(
        "--mode",
        choices=["storage", "worker", "lambda"],
        default="storage",
        help="storage: what the compose file's functions need (default; worker: old name); "
        "lambda: also the functions, trigger and REST API in LocalStack (paid edition)",
    )
    parser.add_argument(
        "--image-uri",
        default="image-pipeline:local",
        help="image of the functions in lambda mode (default: %(default)s)",
    )
    parser.add_argument("--prefix", default="image-pipeline", help="function name prefix")
    parser.add_argument(
        "--wait",
        type=float,
        default=120.0,
        help="seconds to wait for LocalStack (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    missing = [
        n for n in ("UPLOADS_BUCKET", "PROCESSED_BUCKET", "METADATA_TABLE") if not env.get(n)
    ]
    if missing:
        print(f"missing environment variables: {', '.join(missing)}", file=sys.stderr)
        return 1
    endpoint_url = env.get("AWS_ENDPOINT_URL")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    try:
        if endpoint_url:
            wait_for_endpoint(endpoint_url, timeout_s=args.wait)
        if args.mode == "lambda":
            summary = lambda_wiring(
                env,
                endpoint_url=endpoint_url,
                region=region,
                image_uri=args.image_uri,
                prefix=args.prefix,
            )
        else:
            made = storage(env, endpoint_url=endpoint_url, region=region)
            summary = {"mode": "storage", "queue_url": made.queue_url, "dlq_url": made.dlq_url}
    except Exception as e:  # boto errors, timeouts: one line for the compose log
        print(f"init failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    summary.update(
        uploads_bucket=env["UPLOADS_BUCKET"],
        processed_bucket=env["PROCESSED_BUCKET"],
        table=env["METADATA_TABLE"],
    )
    print(json.dumps(summary), flush=True)
    for hint in cli_hints(env, region=region):
        print(f"try: {hint}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
