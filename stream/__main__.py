"""``python -m stream``: the same entry point as the ``stream`` command."""

import sys

from stream.cli import main

sys.exit(main())
