"""Each paper's own code, one folder per notebook; shared code lives in the layers below
(:mod:`helpers.core`, :mod:`helpers.data`, :mod:`helpers.models`, :mod:`helpers.losses`, ...)."""
