"""`multitrack export BUNDLE --onnx`: the full-window forward in ONNX Runtime equals torch's
within the stated float32 tolerance, and the sha256 beside it refuses a changed file."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch

from multitrack.cli import main
from multitrack.config import load_config
from multitrack.data.normalize import NormStats
from multitrack.data.prepared import file_sha256
from multitrack.errors import BundleError
from multitrack.model.transformer import MultitrackTransformer
from multitrack.train.bundle import load_bundle, write_bundle
from multitrack.train.module import DataInfo

if os.environ.get("CI") != "true":  # CI installs the onnx extra: there the test must run
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")

from multitrack.train.onnx_export import (  # noqa: E402 - after the skip
    FP32_TOLERANCE,
    INT8_PROBABILITY_TOLERANCE,
    OnnxWindow,
    example_inputs,
)

WINDOW = 12
STATS = NormStats(np.array([1.0, 0, 0, 0, 0, 0, 0]), np.array([0.2, 0.05, 0.05, 2, 2, 2, 2]))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    overrides = ["model.d_model=32", "model.n_heads=4", "model.n_layers=2", "model.d_ff=64", f"window.length={WINDOW}"]
    config = load_config(None, [*overrides, "data.asset_classes=5"])
    torch.manual_seed(0)
    model = MultitrackTransformer(config.model, 3, 5, WINDOW)
    with torch.no_grad():  # weights far from the zero-initialised heads, so every output is exercised
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)
    bundle = write_bundle(root / "bundle", model, config, DataInfo(3, 5, STATS.to_dict(), "0" * 64), {"epochs": 0})
    assert main(["export", str(bundle), "--onnx", "--quantize", "int8", "-o", str(root / "onnx")]) == 0
    return bundle, root / "onnx"


@pytest.mark.parametrize(("batch", "length"), [(1, 1), (2, 5), (3, WINDOW), (1, WINDOW - 1)])
def test_onnx_fp32_equals_torch_on_random_windows(exported, batch, length):
    bundle_dir, onnx_dir = exported
    model = load_bundle(bundle_dir).model
    window = OnnxWindow(onnx_dir)
    for seed in range(3):
        inputs = example_inputs(model, batch, length, seed=100 * length + seed)
        with torch.no_grad():
            expected = model(inputs)
        got = window(inputs)
        for name, ours, theirs in zip(expected._fields, got, expected, strict=True):
            assert ours is not None and theirs is not None, name
            assert ours.shape == theirs.shape, name
            torch.testing.assert_close(ours, theirs, **FP32_TOLERANCE, msg=lambda m, n=name: f"{n}: {m}")
        assert expected.visible_logits.abs().max() > 1.0  # large enough outputs for a real comparison


def test_onnx_int8_is_within_its_looser_tolerance_of_torch(exported):
    """Quantized, the probabilities (of each track on, each asset, the track on top) stay within
    INT8_PROBABILITY_TOLERANCE of torch's; the file is smaller."""
    bundle_dir, onnx_dir = exported
    model = load_bundle(bundle_dir).model
    window = OnnxWindow(onnx_dir, int8=True)
    assert (onnx_dir / "window.int8.onnx").stat().st_size < (onnx_dir / "window.onnx").stat().st_size
    inputs = example_inputs(model, 3, WINDOW, seed=7)
    with torch.no_grad():
        expected = model(inputs)
    got = window(inputs)
    worst = 0.0
    for ours, theirs in (
        (got.active_logits.sigmoid(), expected.active_logits.sigmoid()),
        (got.asset_logits.softmax(-1), expected.asset_logits.softmax(-1)),
        (got.visible_logits.softmax(-1), expected.visible_logits.softmax(-1)),
    ):
        worst = max(worst, float((ours - theirs).abs().max()))
    assert 0 < worst < INT8_PROBABILITY_TOLERANCE  # not the float model under another name


def test_the_bundle_json_beside_it_holds_the_onnx_files_sha256(exported):
    bundle_dir, onnx_dir = exported
    meta = json.loads((onnx_dir / "bundle.json").read_text())
    original = json.loads((bundle_dir / "bundle.json").read_text())
    assert {key: meta[key] for key in original} == original  # the bundle's own JSON, with an onnx section
    for key in ("window", "window_int8"):
        window = meta["onnx"][key]
        assert window["sha256"] == file_sha256(onnx_dir / window["file"])
        assert window["max_length"] == WINDOW and window["inputs"]["asset"] == "int64"


def test_an_altered_onnx_file_is_refused(exported, tmp_path):
    _, onnx_dir = exported
    altered = tmp_path / "altered"
    shutil.copytree(onnx_dir, altered)
    for name, int8 in (("window.onnx", False), ("window.int8.onnx", True)):
        path = altered / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(BundleError, match=f"{name}: sha256 does not match bundle.json"):
            OnnxWindow(altered, int8=int8)
        path.unlink()
        with pytest.raises(BundleError, match=f"{name}: missing"):
            OnnxWindow(altered, int8=int8)
