"""argparse value types for the local runners' flags: a bad value is a usage error (exit 2,
argparse's message naming the flag) before anything starts."""

from __future__ import annotations

import argparse
from collections.abc import Callable

MAX_PORT = 65535


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers ``low..high`` (no upper bound when ``None``).

    The returned callable raises ``argparse.ArgumentTypeError`` with a message such as
    ``expected an integer from 1 to 10, got '11'``.
    """
    wanted = f"from {low} to {high}" if high is not None else f"of at least {low}"

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            msg = f"expected an integer {wanted}, got {raw!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def positive_float(raw: str) -> float:
    """An argparse ``type`` accepting a number above 0 (seconds, typically)."""
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        msg = f"expected a positive number, got {raw!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


positive_int = int_range(1)
port_number = int_range(0, MAX_PORT)
