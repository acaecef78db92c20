"""``python -m helpers.tools.bench``: the benchmark's command line (:func:`helpers.tools.bench.cli.main`)."""

import sys

from helpers.tools.bench.cli import main

sys.exit(main())
