"""A Lambda service emulator that speaks the real Runtime API (issue 13).

- :mod:`.runtime_api`: the Runtime API endpoints a function's runtime (awslambdaric) calls;
- :mod:`.invocations`: queued and running invocations, Lambda's error shapes, REPORT lines;
- :mod:`.instances`: function instances as ``python -m awslambdaric HANDLER`` processes;
- :mod:`.function`: one function (config, queue, Runtime API, instances; ``invoke``/``call``);
- :mod:`.sqs_mapping`: the SQS event source mapping through a function;
- :mod:`.cli`: ``python -m deploy.local.lambda_service`` (all of it in one process, plus the
  API front).
"""

from deploy.local.lambda_service.function import FunctionConfig, LambdaFunction
from deploy.local.lambda_service.invocations import FunctionError, InvocationResult

__all__ = ["FunctionConfig", "FunctionError", "InvocationResult", "LambdaFunction"]
