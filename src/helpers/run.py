"""``python -m helpers.run``: the course's runner (papermill, profiles, results); see :mod:`helpers.tools.run`."""

import sys

from helpers.tools.run import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
