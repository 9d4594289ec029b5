"""The deploy tool's errors: a failed step (exit 1) and a refused command line (exit 2)."""

from __future__ import annotations


class DeployError(RuntimeError):
    """A deploy step failed; the message says which and what to do."""


class UsageError(DeployError):
    """The command line asks for something the tool or the template refuses (exit 2)."""
