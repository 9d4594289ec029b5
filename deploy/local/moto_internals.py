"""The moto version whose internals deploy/local/moto_sqs.py and moto_dynamodb.py patch, and
the check they make before patching.

Those modules replace methods of moto's classes (not its public API), so they are written
against one minor version: pyproject.toml pins ``moto>=5.2,<5.3`` to match. A moto without
the names they patch would otherwise fail later and far away (an ``AttributeError`` in the
middle of a request); :func:`require` fails first, naming the supported version.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

SUPPORTED_MOTO = "5.2"  # pyproject.toml: moto[...]>=5.2,<5.3
SUPPORTED_RANGE = ">=5.2,<5.3"


class MotoInternalsMissing(RuntimeError):
    """The installed moto lacks names a patch module replaces or relies on."""


def installed_moto_version() -> str:
    """moto's ``__version__``, or ``"unknown"``."""
    import moto

    return str(getattr(moto, "__version__", "unknown"))


def missing_names(root: ModuleType, paths: Iterable[str]) -> list[str]:
    """The dotted ``paths`` (``"Class.method"``, ``"function"``) not found under ``root``,
    each as ``"root.module.Class.method"``; empty when all are there."""
    missing = []
    for path in paths:
        owner: object = root
        for part in path.split("."):
            if not hasattr(owner, part):
                missing.append(f"{root.__name__}.{path}")
                break
            owner = getattr(owner, part)
    return missing


def require(patcher: str, needed: Iterable[tuple[ModuleType, Iterable[str]]]) -> None:
    """Check that moto has every name ``patcher`` patches; return quietly when it does.

    ``needed``: (moto module, dotted names under it) pairs.

    Raises:
        MotoInternalsMissing: any name is missing; the message lists them, the installed
            moto version and the supported one.
    """
    missing = [name for root, paths in needed for name in missing_names(root, paths)]
    if missing:
        msg = (
            f"{patcher} patches moto {SUPPORTED_MOTO} internals, but the installed moto "
            f"{installed_moto_version()} lacks {', '.join(missing)}: install "
            f"'moto[server,s3,sqs,dynamodb]{SUPPORTED_RANGE}' (the range pyproject.toml pins)"
        )
        raise MotoInternalsMissing(msg)
