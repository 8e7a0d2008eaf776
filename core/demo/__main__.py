"""``python -m modelboard.demo``: the same as ``modelboard demo``."""

import sys

from modelboard.demo import main

sys.exit(main())
