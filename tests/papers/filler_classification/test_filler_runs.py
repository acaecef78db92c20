"""helpers.papers.filler_classification.runs: side-by-side C4Fk runs, degenerate checks, claim inputs."""

import numpy as np
import pytest

from helpers.papers.filler_classification.runs import (FillerRuns, by_seed, claim_sentence, comparison,
                                                       dense_activation_scale, he_dense_init, problems, run_problem,
                                                       slice_correctness)


def test_run_problem_names_constant_and_missing_classes():
    assert "constant" in run_problem([2, 2, 2])
    assert "never predicts class 1" in run_problem([0, 2, 0, 2])
    assert run_problem([0, 1, 2]) is None
    assert "NaN" in run_problem([0, 1, 2], losses=[1.0, float("nan")])


def test_comparison_uses_seeds_from_three_and_slices_below():
    rows = lambda accs, preds: [{"accuracy": a, "predictions": p} for a, p in zip(accs, preds)]  # noqa: E731
    a3, b3 = rows([0.5, 0.6, 0.7], [[0]] * 3), rows([0.8, 0.9, 1.0], [[0]] * 3)
    c = comparison(a3, b3)
    assert c["kind"] == "paired seeds" and np.allclose(c["variant"] - c["baseline"], 0.3)
    a2 = rows([0.5, 0.5], [[0, 0], [0, 1]])
    b2 = rows([1.0, 1.0], [[0, 1], [0, 1]])
    c = comparison(a2, b2, [0, 1])
    assert c["kind"] == "paired images"
    assert c["baseline"].tolist() == [1.0, 0.5] and c["variant"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="same seeds"):
        comparison(a3, a2)
    with pytest.raises(ValueError, match="y_eval"):
        comparison(a2, b2)


def test_slice_correctness_is_the_seed_share_of_right_answers():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    preds = [rng.integers(0, 3, 50) for _ in range(2)]
    got = slice_correctness([{"predictions": p} for p in preds], y)
    expected = [sum(int(p[i] == y[i]) for p in preds) / 2 for i in range(50)]  # a loop, slice by slice
    assert got.tolist() == expected
    with pytest.raises(ValueError, match="49 predictions for 50"):
        slice_correctness([{"predictions": preds[0][:49]}], y)


def test_by_seed_orders_and_refuses_missing_seeds():
    rows = [{"config": {"k": 2, "seed": s}, "accuracy": s} for s in (2, 0, 1)]
    assert [r["accuracy"] for r in by_seed(rows, [0, 1, 2], k=2)] == [0, 1, 2]
    with pytest.raises(ValueError, match="seeds \\[3\\]"):
        by_seed(rows, [3], k=2)
    assert problems(rows) is None


def test_claim_sentence_says_not_tested_and_why():
    c = {"id": "t2", "paper": "p", "paper_value": "-", "ours": None, "unit": "accuracy", "verdict": "not tested",
         "reason": "prediction is constant", "uncertainty": {"kind": "paired seeds", "n": 3, "low": None, "high": None}}
    text = claim_sentence(c)
    assert "not tested" in text and "prediction is constant" in text and "no interval" in text


def test_he_init_keeps_the_signal_through_a_deep_dense_stack():
    import keras

    from helpers.models.filler_cnn import filler_cnn

    x = np.random.default_rng(0).random((32, 16, 16, 1), dtype=np.float32)
    keras.utils.set_random_seed(0)
    glorot = dense_activation_scale(filler_cnn((16, 16, 1), fc_layers=9, filters=4, fc_scale=0.25), x)
    keras.utils.set_random_seed(0)
    m = filler_cnn((16, 16, 1), fc_layers=9, filters=4, fc_scale=0.25)
    assert he_dense_init(m) == 8
    he = dense_activation_scale(m, x)
    g = [v for k, v in glorot.items() if k.startswith("fc")]
    h = [v for k, v in he.items() if k.startswith("fc")]
    assert g[-1] < 0.3 * g[0]          # Glorot behind ReLU: the spread shrinks layer by layer
    assert h[-1] > 0.5 * h[0]          # He keeps it
    assert h[-1] > 3 * g[-1]


def _tiny_runs(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(30) % 3
    x = (rng.random((30, 16, 16)) * 0.2 + y[:, None, None] * 0.3).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    f = {"500": str(tmp_path / "d.npz")}
    return FillerRuns(f, f, epochs=2, batch_size=8, fc_scale=0.02, filters=2)


@pytest.mark.slow
def test_side_by_side_runs_equal_one_after_another(tmp_path):
    from helpers.core.sweeps import cached_sweep

    runs = _tiny_runs(tmp_path)
    configs = [{"field": 500.0, "n_train": 8, "seed": s, "fc_layers": k} for s in (0, 1) for k in (2, 3)]
    one = cached_sweep(configs, runs.run, None, progress=False, workers=1)
    two = cached_sweep(configs, runs.run, None, progress=False, workers=2)
    for a, b in zip(one, two):
        assert a["config"] == b["config"]
        assert a["predictions"] == b["predictions"]
        assert a["accuracy"] == b["accuracy"]
        assert np.allclose(a["loss"], b["loss"], rtol=1e-5, atol=1e-6)
    assert one[0]["predictions"] != one[1]["predictions"] or one[0]["loss"] != one[1]["loss"]  # settings differ


def test_a_run_reports_its_predictions_and_refuses_unknown_fields(tmp_path):
    runs = _tiny_runs(tmp_path)
    r = runs.run(field=500, n_train=4, seed=0, fc_layers=2)
    assert len(r["predictions"]) == 30 and sum(r["correct"]) == round(r["accuracy"] * 30)
    assert (r["problem"] is None) == (run_problem(r["predictions"]) is None)
    with pytest.raises(ValueError, match="no slices for a field of 250"):
        runs.run(field=250, n_train=4, seed=0)
