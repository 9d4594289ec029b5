"""The pipeline on one machine: the embedded runner and docker compose's services.

- ``runner``: ``python -m deploy.local`` (DESIGN.md Contract 4), the embedded pipeline.
- ``emulator``, ``resources``: the in-process AWS emulator and what the pipeline needs in it.
- ``dispatcher`` (the SQS event source), ``http_front`` + ``apigw_events`` (API Gateway),
  ``lambda_context``: how the handlers are invoked locally; ``standalone``: the set-up the
  first two share when compose runs them on their own.
- ``journey``, ``batch``: what a person sees: one log line per step, the batch client.
- ``compose_init``: creates the same resources in LocalStack for docker compose.
"""
