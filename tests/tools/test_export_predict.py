"""Exported models (helpers.tools.export) and the folder predictor (python -m helpers.predict).

The exported files are loaded in a fresh interpreter that imports only torch or Keras (and then the
loader, which must not pull in the course's models or training code), and must give the in-process
model's predictions.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.tools.export import export_keras, export_torch, load_exported, read_metadata, sidecar_path
from helpers.tools.predict import DegeneratePredictionWarning, main, predict_folder, save_images

ROOT = Path(__file__).resolve().parents[2]
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
# Modules a reader's process must never load just to use an exported model.
COURSE_CODE = ("helpers.models", "helpers.training", "helpers.papers.grain_boundary_unet.training", "helpers.data", "helpers.papers.grain_boundary_unet.measure",
               "helpers.papers.pspnet_augmentation.experiments", "helpers.tools.predict")


def _fresh(script: str, *args, timeout: int = 300) -> None:
    """Run ``script`` in a new interpreter (CPU only) with ``args`` as sys.argv[1:]."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=args[0] if args else None)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _conv1x1(cin, weights, bias):
    """A 1x1 convolution with fixed weights: a model whose output is known pixel by pixel."""
    conv = torch.nn.Conv2d(cin, len(bias), 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(weights, dtype=torch.float32).view(len(bias), cin, 1, 1))
        conv.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return conv


def _threshold_model():
    """One output, sigmoid(20 (x - 0.5)): foreground exactly where the grey value is above 0.5."""
    return _conv1x1(1, [20.0], [-10.0])


def _tercile_model():
    """Three classes by grey value: below 0.3, between, above 0.7 (no 8- or 16-bit value on a border)."""
    return _conv1x1(1, [0.0, 10.0, 20.0], [0.0, -3.0, -10.0])


# ------------------------------------------------------------------------------------ fresh processes


def test_torch_export_loads_in_a_fresh_process_and_predicts_the_same(tmp_path):
    from helpers.models import dcn

    torch.manual_seed(0)
    model = dcn(1, 1, width=4)
    model.train()
    # A few training-mode passes give the batch norms statistics that are not the initial ones.
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(4, 1, 32, 32))
    x = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    path = export_torch(model, tmp_path / "dcn", example_input=x[:2], normalisation={"mean": 0.3, "std": 0.2},
                        class_names=["background", "membrane"], measurement="class_areas", extra={"note": "test"})
    assert model.training, "export must not change the caller's model"
    model.eval()
    with torch.no_grad():
        want = torch.sigmoid(model((x - 0.3) / 0.2)).numpy()
    meta = json.loads(sidecar_path(path).read_text())
    assert path.name == "dcn.pt2" and meta["framework"] == "torch.export" and meta["task"] == "segmentation"
    assert meta["input"] == {**meta["input"], "channels": 1, "height": 32, "width": 32, "layout": "NCHW"}
    assert meta["normalisation"]["mean"] == [0.3] and meta["normalisation"]["std"] == [0.2]
    assert meta["extra"] == {"note": "test"} and meta["activation"] == "sigmoid" and meta["course_version"]
    np.save(tmp_path / "x.npy", x.numpy())
    _fresh(f"""
        import sys, numpy as np, torch
        folder = sys.argv[1]
        x = np.load(folder + "/x.npy")
        model = torch.export.load(folder + "/dcn.pt2").module()   # torch alone: what a reader does
        with torch.no_grad():
            np.save(folder + "/raw.npy", model(torch.from_numpy(x)).numpy())
        assert not any(m == "helpers" or m.startswith("helpers.") for m in sys.modules)
        from helpers.tools.export import load_exported
        p = load_exported(folder + "/dcn.pt2")
        np.save(folder + "/loader.npy", p.predict(x.transpose(0, 2, 3, 1)))
        loaded = [m for m in sys.modules if m.startswith({COURSE_CODE!r})]
        assert not loaded and "keras" not in sys.modules, loaded
        """, tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "raw.npy"), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "loader.npy"), want.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-6)


def test_torchscript_export_of_a_model_returning_a_tuple(tmp_path):
    from helpers.models import GroupedUNet

    torch.manual_seed(0)
    model = GroupedUNet(1, 3, base=4, depth=2, group_channels=2, return_features=True).eval()
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    path = export_torch(model, tmp_path / "grouped.pt", example_input=x, fmt="torchscript",
                        class_names=["membrane", "mitochondria", "synapse"], measurement="class_areas")
    with torch.no_grad():
        want = torch.softmax(model(x)[0], 1).numpy()
    np.save(tmp_path / "x.npy", x.numpy())
    _fresh(f"""
        import sys, numpy as np, torch
        folder = sys.argv[1]
        x = torch.from_numpy(np.load(folder + "/x.npy"))
        with torch.no_grad():
            np.save(folder + "/raw.npy", torch.jit.load(folder + "/grouped.pt")(x).numpy())
        from helpers.tools.export import load_exported
        p = load_exported(folder + "/grouped.pt")
        assert p.class_names == ["membrane", "mitochondria", "synapse"], p.class_names
        np.save(folder + "/loader.npy", p.predict(x.numpy().transpose(0, 2, 3, 1)))
        assert not [m for m in sys.modules if m.startswith({COURSE_CODE!r})]
        """, tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "raw.npy"), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "loader.npy"), want.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-6)


def test_keras_exports_load_in_a_fresh_process_and_predict_the_same(tmp_path):
    import keras

    from helpers.models.filler_cnn.model import filler_cnn
    from helpers.models.residual_unet import residual_unet

    keras.utils.set_random_seed(0)
    unet = residual_unet((32, 32, 1), depth=2, filters=4)
    cnn = filler_cnn((32, 32, 1), fc_layers=2, filters=4, fc_scale=0.02, num_classes=3)
    x = np.random.default_rng(3).random((3, 32, 32, 1), dtype=np.float32)
    p_unet = export_keras(unet, tmp_path / "unet", class_names=["background", "boundary"], measurement="boundary")
    p_cnn = export_keras(cnn, tmp_path / "cnn.keras", task="classification", normalisation={"mean": 0.4, "std": 0.2},
                         class_names=["M-SBR", "n-SBR", "Rnd"])
    want_unet = keras.ops.convert_to_numpy(unet(x, training=False))
    want_cnn = keras.ops.convert_to_numpy(cnn((x - 0.4) / 0.2, training=False))
    assert p_unet.name == "unet.keras" and sidecar_path(p_unet).is_file()
    meta = json.loads(sidecar_path(p_cnn).read_text())
    assert meta["framework"] == "keras" and meta["task"] == "classification" and meta["input"]["layout"] == "NHWC"
    assert meta["normalisation"]["applied"] == "inside the saved model" and meta["measurement"] is None
    np.save(tmp_path / "x.npy", x)
    _fresh(f"""
        import sys, numpy as np, keras
        folder = sys.argv[1]
        x = np.load(folder + "/x.npy")
        for name in ("unet", "cnn"):   # Keras alone: what a reader does
            model = keras.saving.load_model(folder + f"/{{name}}.keras", compile=False)
            np.save(folder + f"/{{name}}_raw.npy", keras.ops.convert_to_numpy(model(x, training=False)))
        assert not any(m == "helpers" or m.startswith("helpers.") for m in sys.modules)
        from helpers.tools.export import load_exported
        for name in ("unet", "cnn"):
            np.save(folder + f"/{{name}}_loader.npy", load_exported(folder + f"/{{name}}.keras").predict(x))
        loaded = [m for m in sys.modules if m.startswith({COURSE_CODE!r})]
        assert not loaded and "torch" not in sys.modules, loaded
        """, tmp_path)
    for name, want in (("unet", want_unet), ("cnn", want_cnn)):
        np.testing.assert_allclose(np.load(tmp_path / f"{name}_raw.npy"), want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.load(tmp_path / f"{name}_loader.npy"), want, rtol=1e-5, atol=1e-6)


def test_a_mixed_precision_keras_model_is_saved_in_float32(tmp_path):
    import keras

    from helpers.models.residual_unet import residual_unet

    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = residual_unet((32, 32, 1), depth=2, filters=4)
        path = export_keras(model, tmp_path / "bf16", measurement="boundary")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.layers[1].dtype_policy.name == "mixed_bfloat16", "the caller's model is left as it was"
    loaded = load_exported(path)
    assert {layer.dtype_policy.name for layer in loaded._model.layers} == {"float32"}
    x = np.random.default_rng(5).random((2, 32, 32, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x), keras.ops.convert_to_numpy(model(x)), atol=0.05)


# ---------------------------------------------------------------------------------- folder prediction


def _image_folder(root: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """Grey 8-bit, 16-bit, RGB, a TIFF, a larger non-square image, and a file that is not an image."""
    import tifffile

    rng = np.random.default_rng(4)
    d = root / "images"
    d.mkdir()
    grey8 = rng.integers(0, 100, (32, 32), dtype=np.uint8)
    grey8[14:17, :] = rng.integers(200, 256, (3, 32))  # a bright band on a dark ground: a boundary to measure
    grey16 = rng.integers(0, 65536, (32, 32), dtype=np.uint16)
    rgb = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    tif = rng.integers(0, 65536, (32, 32), dtype=np.uint16)
    big = rng.integers(0, 256, (40, 56), dtype=np.uint8)
    Image.fromarray(grey8).save(d / "a_grey8.png")
    Image.fromarray(grey16).save(d / "b_grey16.png")
    Image.fromarray(rgb).save(d / "c_rgb.png")
    tifffile.imwrite(d / "d_tiff.tif", tif)
    Image.fromarray(big).save(d / "e_big.png")
    (d / "notes.txt").write_text("not an image")
    from helpers.data.image_io import to_grey

    expected = {"a_grey8": grey8 / 255, "b_grey16": grey16 / 65535, "c_rgb": to_grey(rgb) / 255,
                "d_tiff": tif / 65535}
    return d, expected


def test_cli_segments_a_folder_and_measures_boundaries(tmp_path):
    folder, expected = _image_folder(tmp_path)
    model = export_torch(_threshold_model(), tmp_path / "gb", example_input=(1, 32, 32),
                         class_names=["background", "boundary"], measurement="boundary")
    out = tmp_path / "out"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-m", "helpers.predict", str(model), str(folder), "--output", str(out),
                           "--batch-size", "2", "--pixel-size", "0.5"], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "5 image(s)" in proc.stdout and "WARNING" not in proc.stdout
    assert proc.stdout.splitlines()[0].split() == ["image", "fraction_background", "fraction_boundary",
                                                   "boundary_length_px", "boundary_length_um", "degenerate"]
    rows = {r["image"]: r for r in _read_csv(out / "measurements.csv")}
    assert sorted(rows) == ["a_grey8.png", "b_grey16.png", "c_rgb.png", "d_tiff.tif", "e_big.png"]
    cols = list(next(iter(rows.values())))
    assert cols == ["image", "mask", "height", "width", "fraction_background", "fraction_boundary",
                    "boundary_length_px", "boundary_length_um", "degenerate", "why"]
    for stem, grey in expected.items():  # at the model's size: the mask is exactly grey > 0.5
        mask = np.asarray(Image.open(out / "masks" / f"{stem}.png"))
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
        np.testing.assert_array_equal(mask == 255, grey > 0.5)
        row = next(r for r in rows.values() if r["image"].startswith(stem))
        assert float(row["fraction_boundary"]) == pytest.approx((grey > 0.5).mean())
        assert row["degenerate"] == "False"
    big = np.asarray(Image.open(out / "masks" / "e_big.png"))
    assert big.shape == (40, 56) and set(np.unique(big)) <= {0, 255}
    a = rows["a_grey8.png"]
    assert float(a["boundary_length_px"]) > 25 and float(a["boundary_length_um"]) == pytest.approx(
        0.5 * float(a["boundary_length_px"]))


def test_carbide_ratio_only_with_carbide_masks(tmp_path):
    folder, _ = _image_folder(tmp_path)
    model = export_torch(_threshold_model(), tmp_path / "gb", example_input=(1, 32, 32), measurement="boundary")
    carbides = tmp_path / "carbides"
    carbides.mkdir()
    for p in sorted(folder.glob("*.*")):
        if p.suffix != ".txt":
            h, w = (40, 56) if p.stem == "e_big" else (32, 32)
            c = np.zeros((h, w), np.uint8)
            c[10:20, : w // 2] = 1
            Image.fromarray(c).save(carbides / f"{p.stem}.png")
    csv_path = predict_folder(model, folder, tmp_path / "out", carbide_masks=carbides)
    rows = _read_csv(csv_path)
    assert all(0.0 <= float(r["carbide_ratio"]) <= 1.0 for r in rows)
    a = next(r for r in rows if r["image"] == "a_grey8.png")
    assert 0.2 < float(a["carbide_ratio"]) < 0.8  # the band is covered on its left half
    (carbides / "c_rgb.png").unlink()
    with pytest.raises(FileNotFoundError, match="c_rgb"):
        predict_folder(model, folder, tmp_path / "out2", carbide_masks=carbides)


def test_class_areas_of_a_three_class_model(tmp_path):
    folder, expected = _image_folder(tmp_path)
    model = export_torch(_tercile_model(), tmp_path / "em", example_input=(1, 32, 32),
                         class_names=["membrane", "cell", "mitochondrion"], measurement="class_areas")
    rows = _read_csv(predict_folder(model, folder, tmp_path / "out", batch_size=3))
    assert [c for c in rows[0] if c.startswith(("fraction_", "area_px_"))] == [
        "fraction_membrane", "fraction_cell", "fraction_mitochondrion",
        "area_px_membrane", "area_px_cell", "area_px_mitochondrion"]
    for stem, grey in expected.items():
        mask = np.asarray(Image.open(tmp_path / "out" / "masks" / f"{stem}.png"))
        np.testing.assert_array_equal(mask, (grey > 0.3).astype(np.uint8) + (grey > 0.7))
        row = next(r for r in rows if r["image"].startswith(stem))
        assert [int(row[f"area_px_{c}"]) for c in ("membrane", "cell", "mitochondrion")] == \
            np.bincount(mask.ravel(), minlength=3).tolist()


def test_lesion_fraction_of_an_rgb_model_with_imagenet_normalisation(tmp_path):
    folder, _ = _image_folder(tmp_path)
    # On normalised input, logit = 20 (mean of the raw channels - 0.5): the normalisation must be inside.
    s, m = np.array(IMAGENET["std"]), np.array(IMAGENET["mean"])
    net = _conv1x1(3, (20 / 3 * s).tolist(), [float(20 / 3 * m.sum() - 10)])
    model = export_torch(net, tmp_path / "leaf", example_input=(3, 32, 32), normalisation=IMAGENET,
                         class_names=["background", "lesion"], measurement="lesion_fraction")
    leaves = tmp_path / "leaves"
    leaves.mkdir()
    for stem, (h, w) in {"a_grey8": (32, 32), "b_grey16": (32, 32), "c_rgb": (32, 32), "d_tiff": (32, 32),
                         "e_big": (40, 56)}.items():
        leaf = np.zeros((h, w), np.uint8)
        leaf[:, : w // 2] = 255
        Image.fromarray(leaf).save(leaves / f"{stem}.png")
    whole = {r["image"]: r for r in _read_csv(predict_folder(model, folder, tmp_path / "out"))}
    of_leaf = {r["image"]: r for r in _read_csv(predict_folder(model, folder, tmp_path / "out2", leaf_masks=leaves))}
    rgb = np.asarray(Image.open(folder / "c_rgb.png")) / 255
    lesion = rgb.mean(-1) > 0.5
    assert float(whole["c_rgb.png"]["lesion_fraction"]) == pytest.approx(lesion.mean())
    assert float(of_leaf["c_rgb.png"]["lesion_fraction"]) == pytest.approx(lesion[:, :16].mean())
    assert whole["c_rgb.png"]["lesion_fraction_of"] == "image" and of_leaf["c_rgb.png"]["lesion_fraction_of"] == "leaf"
    grey = np.asarray(Image.open(folder / "a_grey8.png")) / 255  # a grey file into an RGB model: repeated
    assert float(whole["a_grey8.png"]["lesion_fraction"]) == pytest.approx((grey > 0.5).mean())


def test_classification_writes_predictions(tmp_path):
    d = tmp_path / "slices"
    d.mkdir()
    for name, v in (("dark", 40), ("mid", 128), ("bright", 220)):
        Image.fromarray(np.full((24, 24), v, np.uint8)).save(d / f"{name}.png")
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(1, 3))
    with torch.no_grad():
        net[2].weight.copy_(torch.tensor([[0.0], [10.0], [20.0]]))
        net[2].bias.copy_(torch.tensor([0.0, -10 / 3, -10.0]))
    model = export_torch(net, tmp_path / "cls", example_input=(1, 32, 32), task="classification",
                         class_names=["M-SBR", "n-SBR", "Rnd"])
    csv_path = predict_folder(model, d, tmp_path / "out")
    assert csv_path.name == "predictions.csv" and not (tmp_path / "out" / "masks").exists()
    rows = {r["image"]: r for r in _read_csv(csv_path)}
    assert list(rows["dark.png"]) == ["image", "height", "width", "class", "class_index", "probability",
                                      "p_M_SBR", "p_n_SBR", "p_Rnd", "degenerate", "why"]
    assert [rows[f"{n}.png"]["class"] for n in ("dark", "mid", "bright")] == ["M-SBR", "n-SBR", "Rnd"]
    for r in rows.values():
        assert sum(float(r[f"p_{c}"]) for c in ("M_SBR", "n_SBR", "Rnd")) == pytest.approx(1.0, abs=1e-5)
        assert r["degenerate"] == "False"


def test_a_constant_model_is_flagged_degenerate(tmp_path, capsys):
    folder, _ = _image_folder(tmp_path)
    model = export_torch(_conv1x1(1, [0.0], [0.0]), tmp_path / "flat", example_input=(1, 32, 32),
                         measurement="boundary")
    with pytest.warns(DegeneratePredictionWarning) as record:
        rows = _read_csv(predict_folder(model, folder, tmp_path / "out"))
    messages = [str(w.message) for w in record]
    assert any(m.startswith("DEGENERATE PREDICTION") for m in messages)
    assert any("['foreground'] never predicted" in m for m in messages)
    assert all(r["degenerate"] == "True" for r in rows)
    assert "one class everywhere" in rows[0]["why"] and "same mask for every image" in rows[0]["why"]
    assert float(rows[0]["boundary_length_px"]) == 0.0
    # The CLI still writes the CSV, and says so loudly.
    assert main([str(model), str(folder), "--output", str(tmp_path / "cli")]) == 0
    captured = capsys.readouterr()
    assert "WARNING: DEGENERATE PREDICTION" in captured.out and "'degenerate' column" in captured.out


@pytest.mark.filterwarnings("ignore::helpers.tools.predict.DegeneratePredictionWarning")  # untrained weights
def test_notebook_01_cell_keras_model_test_images_and_carbides(tmp_path):
    import keras

    from helpers.models.residual_unet import residual_unet

    keras.utils.set_random_seed(0)
    model = residual_unet((32, 32, 1), depth=2, filters=4)
    rng = np.random.default_rng(6)
    x_test, carbides = rng.random((3, 32, 32), dtype=np.float32), rng.random((3, 32, 32)) > 0.8
    path = export_keras(model, tmp_path / "model" / "gb.keras", class_names=["grain", "boundary"],
                        measurement="boundary", extra={"test_iou": 0.5})
    csv_path = predict_folder(path, save_images(x_test, tmp_path / "new"), tmp_path / "pred", pixel_size=0.1,
                              carbide_masks=save_images(carbides, tmp_path / "carbides"))
    rows = _read_csv(csv_path)
    assert [r["image"] for r in rows] == ["image_000.png", "image_001.png", "image_002.png"]
    assert {"fraction_grain", "fraction_boundary", "boundary_length_px", "boundary_length_um", "carbide_ratio",
            "carbide_count", "degenerate"} <= set(rows[0])
    want = model(np.round(x_test * 255)[..., None] / 255, training=False).numpy()[..., 0] > 0.5
    for i in range(3):
        mask = np.asarray(Image.open(tmp_path / "pred" / "masks" / f"image_{i:03d}.png"))
        np.testing.assert_array_equal(mask == 255, want[i])


def test_save_images_writes_what_the_predictor_reads(tmp_path):
    from helpers.data.image_io import read_image

    x = np.linspace(0, 1, 2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8)
    save_images(x, tmp_path / "a", bits=16, names=["p", "q"])
    np.testing.assert_allclose(read_image(tmp_path / "a" / "q.png") / 65535, x[1], atol=1 / 65535)
    save_images(x > 0.25, tmp_path / "m")
    assert set(np.unique(read_image(tmp_path / "m" / "image_000.png"))) == {0, 255}
    save_images(np.zeros((1, 4, 4, 3), np.float32), tmp_path / "rgb")
    assert read_image(tmp_path / "rgb" / "image_000.png", grayscale=False).shape == (4, 4, 3)
    for bad, kwargs, match in ((x * 2, {}, r"\[0, 1\]"), (x[0], {}, "shape"), (x, {"bits": 12}, "bits"),
                               (x, {"names": ["a"]}, "names"), (np.zeros((1, 4, 4, 3)), {"bits": 16}, "16-bit RGB"),
                               (np.full((1, 4, 4), 7, np.int64), {}, "0/1 mask")):
        with pytest.raises(ValueError, match=match):
            save_images(bad, tmp_path / "bad", **kwargs)


# -------------------------------------------------------------------------------------------- bad input


def test_metadata_travels_inside_the_torch_file(tmp_path):
    model = export_torch(_threshold_model(), tmp_path / "m", example_input=(1, 16, 16), class_names=["bg", "fg"])
    x = np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)
    want = load_exported(model).predict(x)
    sidecar_path(model).unlink()
    loaded = load_exported(model)
    assert loaded.class_names == ["bg", "fg"]
    np.testing.assert_array_equal(loaded.predict(x), want)
    side = tmp_path / "edited.pt2.json"  # a side file given instead of the model, naming it
    side.write_text(json.dumps({**loaded.metadata, "class_names": ["matrix", "grain boundary"]}))
    assert read_metadata(side)[0] == model and load_exported(side).class_names == ["matrix", "grain boundary"]


def test_loading_rejects_missing_or_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_exported(tmp_path / "nothing.pt2")
    (tmp_path / "model.keras").write_bytes(b"PK not really")
    with pytest.raises(ValueError, match="no metadata.*model.keras.json"):
        load_exported(tmp_path / "model.keras")
    (tmp_path / "model.keras.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_exported(tmp_path / "model.keras")
    (tmp_path / "model.keras.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not the metadata of an exported model"):
        load_exported(tmp_path / "model.keras")
    (tmp_path / "weights.pth").write_bytes(b"\0")
    with pytest.raises(ValueError, match="not an exported model"):
        load_exported(tmp_path / "weights.pth")
    (tmp_path / "broken.pt2").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot load"):
        load_exported(tmp_path / "broken.pt2")


def test_predictor_rejects_wrong_images(tmp_path):
    model = load_exported(export_torch(_threshold_model(), tmp_path / "m", example_input=(1, 16, 16)))
    with pytest.raises(ValueError, match="channels last"):
        model.predict(np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="16x16"):
        model.predict(np.zeros((2, 20, 16, 1), np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.predict(np.full((1, 16, 16, 1), 255.0, np.float32))
    with pytest.raises(ValueError, match="floats"):
        model.predict(np.zeros((1, 16, 16, 1), np.uint8))


def test_export_rejects_bad_arguments(tmp_path):
    net = _threshold_model()
    ok = dict(example_input=(1, 16, 16))
    with pytest.raises(ValueError, match="needs 2 names"):
        export_torch(net, tmp_path / "m", class_names=["boundary"], **ok)
    with pytest.raises(ValueError, match="task must be"):
        export_torch(net, tmp_path / "m", task="detection", **ok)
    with pytest.raises(ValueError, match="measurement must be"):
        export_torch(net, tmp_path / "m", measurement="porosity", **ok)
    with pytest.raises(ValueError, match="must return \\(N, K\\)"):
        export_torch(net, tmp_path / "m", task="classification", **ok)
    with pytest.raises(ValueError, match="> 0"):
        export_torch(net, tmp_path / "m", normalisation={"mean": 0.5, "std": 0.0}, **ok)
    with pytest.raises(ValueError, match="3 values for a 1-channel"):
        export_torch(net, tmp_path / "m", normalisation=IMAGENET, **ok)
    with pytest.raises(ValueError, match=".pt2 file"):
        export_torch(net, tmp_path / "m.keras", **ok)
    with pytest.raises(ValueError, match="float images"):
        export_torch(net, tmp_path / "m", example_input=torch.zeros(1, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="foreground_class"):
        export_torch(_tercile_model(), tmp_path / "m", measurement="boundary", **ok)
    with pytest.raises(ValueError, match="torch.nn.Module"):
        export_torch("model", tmp_path / "m", **ok)
    with pytest.raises(ValueError, match="needs 2 names"):
        export_torch(net, tmp_path / "sub" / "m", class_names=["a", "b", "c"], **ok)
    assert not list(tmp_path.iterdir()), "a refused export writes nothing"


def test_predict_folder_rejects_bad_input(tmp_path, capsys):
    model = export_torch(_threshold_model(), tmp_path / "m", example_input=(1, 16, 16), measurement="boundary")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        predict_folder(model, tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ValueError, match="no images.*readme.txt"):
        predict_folder(model, empty, tmp_path / "out")
    (empty / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        predict_folder(model, empty, tmp_path / "out")
    (empty / "broken.png").unlink()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(empty / "ok.png")
    for kwargs, match in (({"threshold": 1.5}, "threshold"), ({"batch_size": 0}, "batch_size"),
                          ({"pixel_size": -1.0}, "pixel_size"), ({"leaf_masks": empty}, "lesion_fraction"),
                          ({"carbide_masks": tmp_path / "nope"}, "does not exist")):
        with pytest.raises((ValueError, FileNotFoundError), match=match):
            predict_folder(model, empty, tmp_path / "out", **kwargs)
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "absent.pt2"), str(empty), "--output", str(tmp_path / "out")])
    assert exc.value.code == 2 and "absent.pt2 does not exist" in capsys.readouterr().err
    shutil.copy(model, tmp_path / "copy.keras")
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "copy.keras"), str(empty), "--output", str(tmp_path / "out")])
    assert exc.value.code == 2 and "no metadata" in capsys.readouterr().err
