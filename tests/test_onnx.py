"""`multitrack export BUNDLE --onnx`: the full-window forward and the one-frame rollout step in
ONNX Runtime equal torch's within the stated float32 tolerances (a 500-frame rollout with the
same random draws gives the same frames), int8 within its looser one, and the sha256 beside
each file refuses a changed one; `generate --runtime onnx` samples through it."""

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
from multitrack.features.frames import timeline_frames
from multitrack.model.inputs import history
from multitrack.model.transformer import MultitrackTransformer, Prediction
from multitrack.sample.codec import FrameTensors
from multitrack.sample.rollout import _TorchDecoding, rollout
from multitrack.sample.runtime import load_model
from multitrack.timeline.xmeml import read_xmeml
from multitrack.train.bundle import load_bundle, write_bundle
from multitrack.train.module import DataInfo

if os.environ.get("CI") != "true":  # CI installs the onnx extra: there the test must run
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")

from multitrack.sample.onnx_step import OnnxStep  # noqa: E402 - after the skip
from multitrack.train.onnx_export import (  # noqa: E402
    FP32_TOLERANCE,
    INT8_PROBABILITY_TOLERANCE,
    ROLLOUT_VALUES_TOLERANCE,
    OnnxWindow,
    example_inputs,
)
from test_generate import write_prompt  # noqa: E402 - a 120-frame two-angle prompt at 25 fps

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


def random_prompt(frames: int, batch: int = 2, seed: int = 0) -> FrameTensors:
    inputs_seed = torch.Generator().manual_seed(seed)
    active = (torch.rand(batch, frames, 3, generator=inputs_seed) > 0.4).float()
    asset = torch.randint(1, 5, (batch, frames, 3), generator=inputs_seed) * active.long()
    values = torch.randn(batch, frames, 3, 7, generator=inputs_seed) * active.unsqueeze(-1)
    return FrameTensors(active, asset, values)


@pytest.mark.parametrize("decoder", ["cache", "stepper"])
def test_a_500_frame_onnx_rollout_equals_torchs_with_the_same_draws(exported, decoder):
    """The prompt is longer than the window (its history counts), the cache ring wraps 40 times;
    the same draws give the same tracks and assets, values within ROLLOUT_VALUES_TOLERANCE."""
    bundle_dir, onnx_dir = exported
    model, step = load_bundle(bundle_dir).model, OnnxStep(onnx_dir)
    prompt = random_prompt(2 * WINDOW + 3)
    expected = rollout(model, prompt, 500, generator=torch.Generator().manual_seed(1), decoder=decoder)
    got = rollout(step, prompt, 500, generator=torch.Generator().manual_seed(1))
    assert torch.equal(got.active, expected.active) and torch.equal(got.asset, expected.asset)
    torch.testing.assert_close(got.values, expected.values, **ROLLOUT_VALUES_TOLERANCE)
    shown = got.active.argmax(-1) + got.active.amax(-1)  # (B, 500): which track, if any, is on
    assert (shown[:, 1:] != shown[:, :-1]).sum() > 20  # a rollout that cuts, not a still frame


def test_the_int8_step_is_within_its_looser_tolerance_of_torch_over_a_rollout(exported):
    """Fed a torch rollout's frames, the int8 step's probabilities (of each track on, each asset,
    the track on top) stay within INT8_PROBABILITY_TOLERANCE of the torch model's at every frame."""
    bundle_dir, onnx_dir = exported
    model = load_bundle(bundle_dir).model
    prompt = random_prompt(WINDOW + 5, seed=3)
    frames = rollout(model, prompt, 200, generator=torch.Generator().manual_seed(2), layout_memory=False)
    start = prompt.frames - WINDOW
    told = history(prompt.active[:, : start + 1])
    context = prompt.span(start, prompt.frames)
    worst = 0.0
    with torch.inference_mode():
        quantized, reference = OnnxStep(onnx_dir, int8=True).decoding(2, told), _TorchDecoding(model, "cache", 2, told)
        pairs = [(quantized.start(context), reference.start(context))]
        pairs += [(quantized.advance(frames.frame(t)), reference.advance(frames.frame(t))) for t in range(199)]
    for ours, theirs in pairs:
        worst = max(worst, _largest_probability_difference(ours, theirs))
    assert 0 < worst < INT8_PROBABILITY_TOLERANCE  # not the float model under another name


def _largest_probability_difference(ours: Prediction, theirs: Prediction) -> float:
    return max(
        float((mine.sigmoid() - other.sigmoid()).abs().max())
        if kind == "sigmoid"
        else float((mine.softmax(-1) - other.softmax(-1)).abs().max())
        for mine, other, kind in (
            (ours.active_logits, theirs.active_logits, "sigmoid"),
            (ours.asset_logits, theirs.asset_logits, "softmax"),
            (ours.visible_logits, theirs.visible_logits, "softmax"),
        )
    )


def test_generate_runtime_onnx_writes_the_torch_runtimes_timeline(exported, tmp_path):
    _, onnx_dir = exported
    write_prompt(tmp_path / "prompt.xml")
    for runtime in ("torch", "onnx"):
        out = tmp_path / f"{runtime}.xml"
        arguments = ["--prompt", str(tmp_path / "prompt.xml"), "--seconds", "3", "--runtime", runtime, "-o", str(out)]
        assert main(["generate", str(onnx_dir), *arguments]) == 0
    by_torch, by_onnx = (timeline_frames(read_xmeml(tmp_path / f"{r}.xml")[0], 3) for r in ("torch", "onnx"))
    assert by_onnx.frame_count == by_torch.frame_count == 120 + 75
    np.testing.assert_array_equal(by_onnx.active, by_torch.active)
    np.testing.assert_array_equal(by_onnx.asset, by_torch.asset)
    np.testing.assert_allclose(by_onnx.values, by_torch.values, atol=1e-3)
    assert load_model(onnx_dir, "onnx-int8").model.max_tracks == 3


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
    for key in ("window", "window_int8", "step", "step_int8"):
        described = meta["onnx"][key]
        assert described["sha256"] == file_sha256(onnx_dir / described["file"])
        assert described["inputs"]["asset"] == "int64"
    assert meta["onnx"]["window"]["max_length"] == WINDOW
    assert meta["onnx"]["step"]["cache"] == {"layers": 2, "heads": 4, "slots": WINDOW, "head_size": 8}
    step_inputs = meta["onnx"]["step"]["inputs"]
    assert step_inputs["since_on_top"] == "int64" and step_inputs["same_key"] == "bool"
    assert {f"next_{name}" for name in step_inputs if name not in ("active", "asset", "values")} <= set(
        meta["onnx"]["step"]["outputs"]
    )  # every carried input comes back out


def test_an_altered_onnx_file_is_refused(exported, tmp_path):
    _, onnx_dir = exported
    altered = tmp_path / "altered"
    shutil.copytree(onnx_dir, altered)
    for name, int8, kind in (
        ("window.onnx", False, OnnxWindow),
        ("window.int8.onnx", True, OnnxWindow),
        ("step.onnx", False, OnnxStep),
        ("step.int8.onnx", True, OnnxStep),
    ):
        path = altered / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(BundleError, match=f"{name}: sha256 does not match bundle.json"):
            kind(altered, int8=int8)
        path.unlink()
        with pytest.raises(BundleError, match=f"{name}: missing"):
            kind(altered, int8=int8)
