"""Structured logging and EMF metrics (Powertools), shared by both functions.

Logs are JSON lines (service ``image-pipeline`` unless ``POWERTOOLS_SERVICE_NAME`` says
otherwise); per-record keys such as ``image_id`` and ``key`` are added with
``logger.append_keys`` and removed after the record.

Metric names (namespace ``POWERTOOLS_METRICS_NAMESPACE``, default ``ImagePipeline``):

- ``ImagesProcessed``, ``ImagesRejected``, ``ImagesFailed`` (Count)
- ``ImagesSkipped`` (Count; duplicate, recursion-guard and superseded deliveries)
- ``ImagesGivenUp`` (Count; failed on the last receive, item ``failed``/``gave_up``, the
  message on its way to the DLQ), ``MalformedMessages`` (Count; SQS bodies that cannot be
  parsed, acknowledged)
- ``ProcessingTime`` (Milliseconds, one resize from HEAD to item)
- ``BytesIn``, ``BytesOut`` (Bytes, source read and rendition written)
- ``ApiUploads`` (Count, images accepted by POST /images), ``UploadUrlsIssued`` (Count),
  ``ApiErrors`` (Count, 5xx answers)
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from handlers.config import DEFAULT_METRICS_NAMESPACE

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "image-pipeline"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE)

__all__ = ["MetricUnit", "flush_metrics", "logger", "metrics", "set_namespace"]


def set_namespace(namespace: str) -> None:
    """Use ``namespace`` for the metrics (from Settings)."""
    metrics.namespace = namespace


def flush_metrics() -> None:
    """Print the collected metrics as one EMF JSON line; silent when there are none."""
    if not metrics.namespace:
        metrics.namespace = DEFAULT_METRICS_NAMESPACE
    if metrics.provider.metric_set:
        metrics.flush_metrics()
    # With POWERTOOLS_METRICS_DISABLED, Powertools neither prints nor clears them: they would
    # pile up and reach stdout anyway once one metric holds 100 values.
    metrics.clear_metrics()
