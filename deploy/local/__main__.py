"""``python -m deploy.local``: the embedded pipeline (see :mod:`deploy.local.runner`)."""

import gc
import sys

from deploy.local.runner import main

code = main()
# Everything is stopped. Skip the collector's last pass over the emulator's in-memory state
# at interpreter exit (about 1 s of a prompt stop otherwise); atexit handlers still run.
gc.freeze()
sys.exit(code)
