"""``python -m gameday.cli``: the ``gameday`` command."""

import sys

from gameday.cli.main import main

sys.exit(main())
