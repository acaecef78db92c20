"""Classical baselines: histogram-of-oriented-gradients features and a support vector machine.

The filler paper's prior work compared its CNN with HOG features + SVM. We compute HOG with
scikit-image and fit scikit-learn's SVC (RBF kernel, features standardised) on the same splits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers.core.checks import check_ndim, check_positive_int


def hog_features(images: Any, *, orientations: int = 9, pixels_per_cell: int = 8, cells_per_block: int = 2) -> np.ndarray:
    """HOG descriptor of every ``(H, W)`` image in ``images`` ``(N, H, W)``: float32 ``(N, D)``.

    Example:
        >>> hog_features(np.zeros((2, 32, 32), np.float32)).shape
        (2, 324)
    """
    from skimage.feature import hog

    x = np.asarray(images, np.float32)
    check_ndim(x, "images", 3, "(N, H, W)")
    ppc = check_positive_int(pixels_per_cell, "pixels_per_cell")
    cpb = check_positive_int(cells_per_block, "cells_per_block")
    if min(x.shape[1:]) < ppc * cpb:
        raise ValueError(f"images of {x.shape[1:]} are smaller than one HOG block ({ppc * cpb} px)")
    return np.stack([hog(im, orientations=check_positive_int(orientations, "orientations"),
                         pixels_per_cell=(ppc, ppc), cells_per_block=(cpb, cpb), feature_vector=True)
                     for im in x]).astype(np.float32)


def hog_svm(train: tuple[Any, Any], test: tuple[Any, Any], *, C: float = 10.0, seed: int = 0,
            **hog_kwargs: Any) -> dict[str, Any]:
    """Fit HOG + SVM on ``train`` and score it on ``test``.

    Returns:
        ``accuracy``, ``predictions`` (int64) and ``correct_per_class`` (counts, the paper's format).
    """
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    (x_tr, y_tr), (x_te, y_te) = train, test
    y_tr, y_te = np.asarray(y_tr), np.asarray(y_te)
    if len(x_tr) != len(y_tr) or len(x_te) != len(y_te):
        raise ValueError("images and labels must have the same length in train and in test")
    model = make_pipeline(StandardScaler(), SVC(C=C, kernel="rbf", random_state=seed))
    model.fit(hog_features(x_tr, **hog_kwargs), y_tr)
    pred = model.predict(hog_features(x_te, **hog_kwargs)).astype(np.int64)
    from helpers.papers.filler_classification.study import correct_per_class

    classes = np.unique(np.concatenate([y_tr, y_te]))
    counts = correct_per_class(y_te, pred, int(classes.max()) + 1)
    return {"accuracy": float((pred == y_te).mean()), "predictions": pred,
            "correct_per_class": {int(c): counts[c] for c in classes}}
