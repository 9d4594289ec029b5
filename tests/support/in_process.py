"""The embedded pipeline in this process, without the runner: the pipeline's resources in a
running emulator (fresh names), the real resize handler behind the SQS dispatcher, and a
way to redeploy the function with another longest side (:meth:`InProcessPipeline.rewire`).

Used by tests/e2e/test_reprocess_local.py and benchmarks/reprocess.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from deploy.local.dispatcher import SqsDispatcher
from deploy.local.resources import PipelineResources, ensure_resources
from handlers import bootstrap, resize
from handlers.config import ResizeSettings

REGION = "us-east-1"


@dataclass(frozen=True)
class InProcessPipeline:
    """Where the pipeline is (``endpoint_url``, ``resources``) and clients for it."""

    endpoint_url: str
    resources: PipelineResources
    s3: Any
    sqs: Any
    dynamodb: Any

    def rewire(self, *, max_dim: int) -> ResizeSettings:
        """Install the resize function's dependencies with ``max_dim`` (pixels, longest
        side), as a redeploy with a new ``MAX_DIMENSION`` would; the settings used."""
        settings = ResizeSettings(
            metadata_table=self.resources.table,
            processed_bucket=self.resources.processed_bucket,
            uploads_bucket=self.resources.uploads_bucket,
            region=REGION,
            max_dim_px=max_dim,
        )
        access = bootstrap.AwsAccess(self.endpoint_url, access_key_id="x", secret_access_key="x")
        bootstrap.install("resize", bootstrap.build(settings, access))
        return settings


@contextmanager
def in_process_pipeline(
    endpoint_url: str, *, workers: int = 1, max_dim: int = 500, visibility_timeout_s: int = 30
) -> Iterator[InProcessPipeline]:
    """The pipeline on the emulator at ``endpoint_url``: resources with fresh names, the
    resize function installed with ``max_dim``, ``workers`` dispatcher pollers (1 s long
    polls). Afterwards the pollers stop and the function's dependencies are reset."""
    suffix = uuid.uuid4().hex[:8]
    resources = ensure_resources(
        uploads_bucket=f"up-{suffix}",
        processed_bucket=f"out-{suffix}",
        table=f"meta-{suffix}",
        queue=f"events-{suffix}",
        region=REGION,
        endpoint_url=endpoint_url,
        visibility_timeout_s=visibility_timeout_s,
    )
    s3, sqs, dynamodb = (
        boto3.client(name, endpoint_url=endpoint_url, region_name=REGION)
        for name in ("s3", "sqs", "dynamodb")
    )
    pipeline = InProcessPipeline(endpoint_url, resources, s3, sqs, dynamodb)
    pipeline.rewire(max_dim=max_dim)
    dispatcher = SqsDispatcher(resources.queue_url, resize.handler, sqs=sqs, wait_time_s=1)
    dispatcher.start(workers)
    try:
        yield pipeline
    finally:
        dispatcher.stop()
        bootstrap.reset()
