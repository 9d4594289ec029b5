"""``python -m imgproc``: the command line (see :mod:`imgproc.cli`)."""

from __future__ import annotations

from imgproc.cli import main

raise SystemExit(main())
