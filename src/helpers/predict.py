"""``python -m helpers.predict MODEL FOLDER --output DIR``: see :mod:`helpers.tools.predict`."""

import sys

from helpers.tools.predict import main, predict_folder

__all__ = ["main", "predict_folder"]

if __name__ == "__main__":
    sys.exit(main())
