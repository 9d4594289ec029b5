"""The pipeline's two functions as awslambdaric processes, for ``python -m deploy.local
--functions process``: the image's commands without the container, each instance a process
with its own Runtime API (so no lock between invocations: each process has its own
Powertools logger, and resize work uses every core).

Timeouts and memory sizes are the template's (deploy/aws/template.yaml): resize 60 s,
1024 MB; api 29 s, 512 MB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deploy.local.lambda_service.function import FunctionConfig, LambdaFunction

HANDLERS = {"resize": "handlers.resize.handler", "api": "handlers.api.handler"}
TIMEOUT_S = {"resize": 60.0, "api": 29.0}
MEMORY_MB = {"resize": 1024, "api": 512}


def start_functions(
    environ: Mapping[str, str], *, region: str, instances: Mapping[str, int]
) -> dict[str, LambdaFunction]:
    """Start ``instances[name]`` processes of each function with ``environ`` (a copy is
    taken now); returns the started functions by name (stop each when done)."""
    functions: dict[str, LambdaFunction] = {}
    for name, handler in HANDLERS.items():
        config = FunctionConfig(
            name=name,
            handler=handler,
            instances=instances[name],
            timeout_s=TIMEOUT_S[name],
            memory_mb=MEMORY_MB[name],
            environ=dict(environ),
            region=region,
        )
        functions[name] = LambdaFunction(config)
        functions[name].start()
    return functions


def as_handler(function: LambdaFunction) -> Any:
    """``function`` as a ``handler(event, context)`` for the in-process dispatcher: the
    response, or :class:`~deploy.local.lambda_service.FunctionError` (the context is the
    instance's own, made by its runtime)."""

    def handler(event: dict[str, Any], _context: Any) -> Any:
        return function.call(event)

    return handler
