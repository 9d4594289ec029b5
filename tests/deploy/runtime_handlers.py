"""Handlers used only by the Runtime Interface Client tests."""

from __future__ import annotations

from typing import Any


def fail(event: dict[str, Any], context: Any) -> None:
    """Raise, so the client reports a handler error in Lambda's format."""
    expected = event.get("expected", "?")
    msg = f"expected {expected} records, got none"
    raise ValueError(msg)
