import json

import numpy as np
import pytest
import torch

from helpers.results import Results, read_results, validate_results


def make():
    return Results("00_getting_started", profile="smoke", data_source="synthetic", seed=3, device="CPU")


def test_write_and_read_roundtrip(tmp_path):
    rec = make()
    rec.metric("miou", np.float32(0.75))
    rec.metric("per_class", torch.tensor([0.5, 1.0]))
    ours = 0.75
    rec.claim("beats_chance", paper="mIoU above chance", paper_value=">0.33", ours=ours, holds=np.bool_(ours > 0.33))
    path = rec.write(tmp_path / "out")
    data = read_results(tmp_path / "out")
    assert path.name == "results.json"
    assert data["metrics"] == {"miou": 0.75, "per_class": [0.5, 1.0]}
    assert data["claims"][0]["holds"] is True
    assert data["seconds"] >= 0 and data["seed"] == 3
    assert not list((tmp_path / "out").glob(".results.*"))  # no temporary file left behind


def test_nan_metric_becomes_null(tmp_path):
    rec = make()
    rec.metric("iou_empty", float("nan"))
    rec.write(tmp_path)
    assert json.loads((tmp_path / "results.json").read_text())["metrics"]["iou_empty"] is None


def test_claim_holds_must_be_bool():
    with pytest.raises(ValueError, match="holds must be a bool computed from measurements"):
        make().claim("x", paper="p", paper_value="+", ours=1.0, holds="yes")


def test_claim_id_replaced_not_duplicated():
    rec = make()
    rec.claim("x", paper="p", paper_value="+", ours=1.0, holds=True)
    rec.claim("x", paper="p", paper_value="+", ours=-1.0, holds=False)
    assert [c["ours"] for c in rec.to_dict()["claims"]] == [-1.0]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("device"), "missing the key 'device'"),
    (lambda d: d.update(profile="auto"), "profile"),
    (lambda d: d.update(data_source="web"), "data_source"),
    (lambda d: d.update(seed="0"), r"results\['seed'\] must be int"),
    (lambda d: d.update(claims=[{"id": "a"}]), r"claims\[0\] is missing the key 'paper'"),
    (lambda d: d.update(claims=[{"id": "a", "paper": "p", "paper_value": "+", "ours": 1, "holds": 1}]), "wrong type"),
])
def test_validate_rejects(mutate, message):
    data = make().to_dict()
    mutate(data)
    with pytest.raises(ValueError, match=message):
        validate_results(data)


def test_constructor_rejects_unresolved_profile():
    with pytest.raises(ValueError, match="profile must be one of"):
        Results("nb", profile="auto", data_source="synthetic", seed=0)


def test_read_results_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        read_results(tmp_path)


def test_results_json_is_readable_by_others(tmp_path):
    import stat

    from helpers.results import Results

    path = Results("x", profile="smoke", data_source="synthetic", seed=0).write(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044
