"""Trained models saved so a reader can use them without the course, and loaded back.

A PyTorch model is saved with :func:`torch.export` (a ``.pt2`` file; TorchScript ``.pt`` on request),
a Keras model as a ``.keras`` file. Either way the saved model takes **raw images scaled to [0, 1]**
(8-bit pixels / 255, 16-bit / 65535) and returns **probabilities**: the input normalisation
(e.g. ImageNet's mean and std) and the output activation (sigmoid or softmax) are part of the saved
model, so a reader needs neither the course nor the training code's preprocessing:

.. code-block:: python

    import torch                                   # a PyTorch model (.pt2)
    model = torch.export.load("model.pt2").module()
    probabilities = model(x)                       # x: float32 (N, C, H, W) in [0, 1]

    import keras                                   # a Keras model (.keras)
    model = keras.saving.load_model("model.keras", compile=False)
    probabilities = model(x)                       # x: float32 (N, H, W, C) in [0, 1]

Next to the model, ``<model file>.json`` records what a reader needs to know: the input size and
channels, the normalisation (already applied inside), the task, the class names, which measurement
the paper cares about, and the course version. A ``.pt2``/``.pt`` file also carries the same JSON
inside (``helpers_export.json``), so it still works when the side file is lost.

:func:`load_exported` gives a small predictor over any of these files. Its code path imports only
NumPy and torch or Keras, never the course's models or training code, which is what
``tests/tools/test_export_predict.py`` checks in a fresh process. :mod:`helpers.tools.predict` runs it
over a folder of images.

Example:
    >>> import tempfile, numpy as np, torch
    >>> net = torch.nn.Conv2d(1, 1, 3, padding=1)
    >>> path = export_torch(net, tempfile.mkdtemp() + "/tiny", example_input=torch.rand(2, 1, 16, 16),
    ...                     class_names=["background", "boundary"], measurement="boundary")
    >>> path.name, sidecar_path(path).name
    ('tiny.pt2', 'tiny.pt2.json')
    >>> model = load_exported(path)
    >>> model.predict(np.zeros((3, 16, 16, 1), np.float32)).shape   # probabilities, channels last
    (3, 16, 16, 1)
"""

from helpers.tools.export.keras_export import export_keras
from helpers.tools.export.loader import ExportedModel, load_exported
from helpers.tools.export.metadata import (ACTIVATIONS, EMBEDDED_NAME, FORMAT, FORMAT_VERSION, MEASUREMENTS, TASKS,
                                           TORCH_FORMATS, read_metadata, sidecar_path)
from helpers.tools.export.torch_export import export_torch

__all__ = ["ExportedModel", "export_keras", "export_torch", "load_exported", "read_metadata", "sidecar_path"]
