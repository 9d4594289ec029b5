"""``python -m deploy.local.lambda_service`` (see :mod:`deploy.local.lambda_service.cli`)."""

import sys

from deploy.local.lambda_service.cli import main

sys.exit(main())
