"""moto's per-request dispatch, with its two pure lookups remembered.

Why: for every request, moto 5.2's ``BaseResponse.call_action`` lists the methods of the
service's response class (``method_names_from_class``: ``inspect.getmembers`` over a few
hundred members) to tell whether the action has a handler, and converts the action name to
snake case with a character loop (``camelcase_to_underscores``). Both answers depend only
on their argument (a class, an action name), and the embedded pipeline makes about ten
requests per image: measured 0.3-0.4 ms of each ``SendMessage``/``ReceiveMessage``/
``DeleteMessageBatch`` (about 1 ms per call in all).

What :func:`install` changes (once per process; the embedded emulator calls it when it
starts, deploy/local/emulator.py): ``moto.core.responses`` looks both up through a cache.
The method list of a class is read only for membership there; the classes do not change
while the emulator runs (moto defines their methods at import).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.core import responses

from deploy.local import moto_internals

NAMES_KEPT = 1024
MOTO_NAMES = ("method_names_from_class", "camelcase_to_underscores")  # in moto.core.responses

_install_lock = threading.Lock()
_installed: dict[str, Any] = {}  # what was replaced, by name (empty: not yet)


def install() -> None:
    """Put the caches in. Idempotent; process-wide (moto's modules are).

    Raises:
        moto_internals.MotoInternalsMissing: ``moto.core.responses`` lacks one of
            :data:`MOTO_NAMES`; nothing is changed.
    """
    moto_internals.require("deploy/local/moto_core.py", [(responses, MOTO_NAMES)])
    with _install_lock:
        if _installed:
            return
        for name in MOTO_NAMES:
            original = getattr(responses, name)
            _installed[name] = original
            setattr(responses, name, functools.lru_cache(maxsize=NAMES_KEPT)(original))


def installed() -> bool:
    """Whether :func:`install` ran in this process."""
    return bool(_installed)
