import keras
import numpy as np
import pytest

from helpers.papers.filler_classification.baselines import hog_features, hog_svm
from helpers.models.filler_cnn import fc_widths, filler_cnn


@pytest.mark.parametrize("k", range(2, 10))
def test_c4fk_has_four_convolutions_and_k_dense_layers(k):
    m = filler_cnn((32, 32, 1), fc_layers=k, filters=4, fc_scale=0.05)
    assert sum(isinstance(l, keras.layers.Conv2D) for l in m.layers) == 4
    assert sum(isinstance(l, keras.layers.Dense) for l in m.layers) == k
    assert m.output_shape == (None, 3)
    p = np.asarray(m(np.zeros((2, 32, 32, 1), np.float32)))
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)


def test_fig1_is_c4f3():
    assert fc_widths(3) == [1024, 256]  # the paper's Fig. 1: Dense 1024, Dense 256, softmax
    m = filler_cnn((64, 64, 1), fc_layers=3)
    assert [l.filters for l in m.layers if isinstance(l, keras.layers.Conv2D)] == [32, 64, 128, 256]
    assert [l.units for l in m.layers if isinstance(l, keras.layers.Dense)] == [1024, 256, 3]
    widths = fc_widths(9)
    assert widths[0] == 1024 and widths[-1] == 256 and all(a > b for a, b in zip(widths, widths[1:]))


@pytest.mark.parametrize("kwargs, match", [(dict(fc_layers=1), "fc_layers"), (dict(dropout=1.0), "dropout"),
                                           (dict(input_shape=(8, 8, 1)), "input_shape"), (dict(num_classes=1), "num_classes")])
def test_cnn_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        filler_cnn(**{"input_shape": (32, 32, 1), **kwargs})


def test_hog_svm_separates_stripes_by_orientation():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    def make(n, label):
        phase = rng.uniform(0, 6, n)[:, None, None]
        t = (xx if label == 0 else yy)[None] * 0.8 + phase
        return np.sin(t) + rng.normal(0, 0.5, (n, 32, 32))
    x = np.concatenate([make(40, 0), make(40, 1)]).astype(np.float32)
    y = np.repeat([0, 1], 40)
    order = rng.permutation(80)
    x, y = x[order], y[order]
    out = hog_svm((x[:60], y[:60]), (x[60:], y[60:]))
    assert out["accuracy"] > 0.9 and sum(out["correct_per_class"].values()) == int((out["predictions"] == y[60:]).sum())
    with pytest.raises(ValueError, match="smaller than one HOG block"):
        hog_features(np.zeros((1, 8, 8)))
    with pytest.raises(ValueError, match="same length"):
        hog_svm((x[:10], y[:9]), (x[60:], y[60:]))


def test_correct_per_class_and_training(tmp_path):
    from helpers.papers.filler_classification.study import cnn_objective, correct_per_class, train_filler_cnn

    assert correct_per_class([0, 1, 2, 2], [0, 2, 2, 2]) == [1, 0, 2]
    with pytest.raises(ValueError, match="same shape"):
        correct_per_class([0, 1], [0])
    rng = np.random.default_rng(0)
    # Three classes told apart by brightness: a C4F2 must learn them in a few epochs.
    y = rng.integers(0, 3, 90)
    x = (y[:, None, None] / 2.0 + rng.normal(0, 0.1, (90, 16, 16))).astype(np.float32)
    params = {"fc_layers": 2, "filters": 4, "dropout": 0.0, "learning_rate": 3e-3, "batch_size": 16}
    out = train_filler_cnn(params, (x[:60], y[:60]), (x[60:], y[60:]), epochs=15, fc_scale=0.05)
    assert out["accuracy"] > 0.8 and sum(out["correct_per_class"]) == round(out["accuracy"] * 30)
    np.savez(tmp_path / "d.npz", x_train=x[:60], y_train=y[:60], x_val=x[60:], y_val=y[60:], epochs=1, fc_scale=0.05)
    optuna = pytest.importorskip("optuna")
    study = optuna.create_study(direction="maximize")
    study.optimize(cnn_objective(str(tmp_path / "d.npz")), n_trials=1)
    assert 0 <= study.best_value <= 1 and "seconds" in study.trials[0].user_attrs
    with pytest.raises(ValueError, match="npz"):
        cnn_objective(None)
    # With "prune", every epoch's val_accuracy reaches the trial (what the median pruner reads).
    np.savez(tmp_path / "p.npz", x_train=x[:60], y_train=y[:60], x_val=x[60:], y_val=y[60:], epochs=2, fc_scale=0.05,
             prune=True)
    study = optuna.create_study(direction="maximize")
    study.optimize(cnn_objective(str(tmp_path / "p.npz")), n_trials=1)
    assert sorted(study.trials[0].intermediate_values) == [0, 1]


def test_standardising_layer_matches_standardised_input():
    rng = np.random.default_rng(1)
    x = rng.normal(0.3, 0.1, (2, 16, 16, 1)).astype(np.float32)
    keras.utils.set_random_seed(0)
    raw = filler_cnn((16, 16, 1), fc_layers=2, filters=2, fc_scale=0.01)
    keras.utils.set_random_seed(0)
    std = filler_cnn((16, 16, 1), fc_layers=2, filters=2, fc_scale=0.01, input_mean=0.3, input_std=0.1)
    np.testing.assert_allclose(np.asarray(std(x)), np.asarray(raw((x - 0.3) / 0.1)), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="together"):
        filler_cnn((16, 16, 1), input_mean=0.3)
