"""Shared test fixtures; every test runs on the CPU with matplotlib's Agg backend."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

# Before any test module imports Keras/TensorFlow: see helpers._load_triton_before_tensorflow.
import helpers  # noqa: E402,F401


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
