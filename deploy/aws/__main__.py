"""``python -m deploy.aws``: the deploy tool (see :mod:`deploy.aws.cli`)."""

import sys

from deploy.aws.cli import main

sys.exit(main())
