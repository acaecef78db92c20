import json

import numpy as np
import pytest
import torch

from helpers.core.results import Results, read_results, validate_results


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

    from helpers.core.results import Results

    path = Results("x", profile="smoke", data_source="synthetic", seed=0).write(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044


# --------------------------------------------------------------------------- measured claims

SKIP = dict(paper="IoU gain with skip at depth>=3", quote="Fig. 8: residual connections help the deeper U-Nets",
            paper_value="+", unit="IoU (fraction)", kind="paired seeds",
            baseline=np.array([0.70, 0.72, 0.71]), variant=torch.tensor([0.74, 0.75, 0.76]))


def measured():
    rec = make()
    rec.measured_claim("fig8_residual_helps_when_deep", headline=True, **SKIP)
    return rec


def test_measured_claim_writes_valid_json_that_roundtrips(tmp_path):
    rec = measured()
    rec.claim("old_style", paper="p", paper_value="+", ours=1.0, holds=True)    # old claims still work
    rec.measured_claim("augment_helps", paper="augmentation raises IoU", quote="Sec. 4.2: augmentation helps",
                       paper_value="+", unit="IoU (fraction)", kind="paired images", source="course",
                       baseline=[0.5, 0.6, 0.55, 0.7], variant=[0.5, 0.61, 0.54, 0.7], n_boot=500)
    rec.measured_claim("const", paper="p", quote="Tab. 1", paper_value="-", unit="IoU", kind="seeds",
                       effects=[0.1, 0.2], degenerate_reason="prediction is constant (every value is 0)",
                       data_source="real")
    path = rec.write(tmp_path)
    data = read_results(tmp_path)
    assert data == json.loads(path.read_text())
    assert data["claims"] == rec.to_dict()["claims"]
    fig8, old, course, const = data["claims"]
    assert fig8["verdict"] == "reproduced" and fig8["holds"] is True and fig8["headline"] is True
    assert fig8["data_source"] == "synthetic" and fig8["uncertainty"]["kind"] == "paired seeds"
    assert fig8["uncertainty"]["n"] == 3 and fig8["uncertainty"]["low"] < 0.04 < fig8["uncertainty"]["high"]
    assert "verdict" not in old
    assert course["source"] == "course" and course["verdict"] == "within noise" and course["holds"] is False
    assert const["verdict"] == "not tested" and const["data_source"] == "real"
    assert const["uncertainty"]["low"] is None and const["reason"].startswith("prediction is constant")


def test_measured_claim_replaces_same_id():
    rec = measured()
    rec.measured_claim("fig8_residual_helps_when_deep", **dict(SKIP, variant=[0.60, 0.61, 0.62]))
    (c,) = rec.to_dict()["claims"]
    assert c["verdict"] == "contradicted" and c["headline"] is False


def test_measured_claim_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="lengths 3 and 2"):
        make().measured_claim("x", **dict(SKIP, variant=[0.1, 0.2]))


def _broken(**change):
    data = measured().to_dict()
    claim = data["claims"][0]
    for key, value in change.items():
        where, key = (claim["uncertainty"], key[2:]) if key.startswith("u_") else (claim, key)
        if value is KeyError:
            where.pop(key)
        else:
            where[key] = value
    return data


@pytest.mark.parametrize("change, message", [
    (dict(holds=False), "holds must equal verdict == 'reproduced'"),
    (dict(verdict="within noise"), "holds must equal verdict"),
    (dict(verdict="confirmed"), r"\['verdict'\] must be one of"),
    (dict(u_low=0.07, u_high=0.01), "low <= high"),
    (dict(u_low=None), "both be finite numbers"),
    (dict(u_n=KeyError), "missing the key 'n'"),
    (dict(u_n=-1), "n'\\] must be an integer >= 0"),
    (dict(u_kind=""), "kind'\\] must be a non-empty string"),
    (dict(uncertainty=None), "must be a dict with kind, n, low, high"),
    (dict(unit=KeyError), r"\['unit'\] must be a non-empty string"),
    (dict(quote=""), r"\['quote'\] must be a non-empty string"),
    (dict(data_source=KeyError), r"\['data_source'\] must be a non-empty string"),
    (dict(source="ours"), r"\['source'\] must be one of"),
    (dict(source="course"), "cannot be the paper's headline"),
    (dict(direction="-"), "does not follow from ours"),
    (dict(direction="up"), r"\['direction'\] must be one of"),
    (dict(ours=None), "needs a measured number"),
    (dict(verdict="not tested", holds=False), "must say why in 'reason'"),
])
def test_validate_rejects_inconsistent_measured_claims(change, message):
    with pytest.raises(ValueError, match=message):
        validate_results(_broken(**change))


def test_validate_rejects_interval_missing_for_a_tested_verdict():
    with pytest.raises(ValueError, match="needs an interval"):
        validate_results(_broken(u_low=None, u_high=None))


def test_validate_accepts_not_tested_without_interval():
    data = _broken(verdict="not tested", holds=False, reason="one seed", u_low=None, u_high=None)
    assert validate_results(data) is data
