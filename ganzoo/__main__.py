"""`python -m ganzoo` runs the `ganzoo` command."""

import sys

from ganzoo.cli import main

sys.exit(main())
