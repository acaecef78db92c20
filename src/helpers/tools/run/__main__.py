"""``python -m helpers.tools.run``: the same command line as ``python -m helpers.run``."""

import sys

from helpers.tools.run.cli import main

if __name__ == "__main__":
    sys.exit(main())
