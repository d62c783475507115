"""``python -m fastnn``: the command line (see :mod:`fastnn.cli`)."""

import sys

from .cli import main

sys.exit(main())
