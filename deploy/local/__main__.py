"""``python -m deploy.local``: the embedded pipeline (see :mod:`deploy.local.runner`)."""

import sys

from deploy.local.runner import main

sys.exit(main())
