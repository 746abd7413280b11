"""Seeing what the model attends to: attention weights captured only when asked
(`MultitrackTransformer.attention`), and the `attention` verb that draws them above the frames."""

from __future__ import annotations

import base64
import re

import matplotlib.image
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from multitrack.cli import main
from multitrack.config import ModelConfig
from multitrack.evaluate.attention import attention_at, first_cuts, read_timeline
from multitrack.model.inputs import Inputs
from multitrack.model.transformer import MultitrackTransformer
from multitrack.train.bundle import load_bundle
from test_generate import make_bundle, write_prompt  # a 2-track bundle, window 16; a 120-frame prompt at 25 fps

TRACKS, CLASSES, LENGTH = 3, 5, 12
SMALL = ModelConfig(d_model=32, n_heads=4, n_layers=2, d_ff=64, dropout=0.0, asset_embed_dim=4, track_embed_dim=4)


def _random_model() -> MultitrackTransformer:
    """Weights large enough that every layer's attention is far from uniform and its heads differ."""
    torch.manual_seed(0)
    model = MultitrackTransformer(SMALL, max_tracks=TRACKS, asset_classes=CLASSES, window_length=LENGTH)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.5)
    return model.eval()


def _inputs(model: MultitrackTransformer, batch: int = 2, length: int = LENGTH, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    active = (torch.rand(batch, length, TRACKS, generator=generator) > 0.4).float()
    asset = torch.randint(1, CLASSES, (batch, length, TRACKS), generator=generator) * active.long()
    values = torch.randn(batch, length, TRACKS, 7, generator=generator) * active.unsqueeze(-1)
    return model.inputs(active, asset, values)


def test_captured_attention_sums_to_one_over_the_visible_frames_and_is_zero_on_later_ones():
    model = _random_model()
    _, weights = model.attention(_inputs(model))
    assert len(weights) == SMALL.n_layers
    future = torch.ones(LENGTH, LENGTH, dtype=torch.bool).triu(1)
    for layer in weights:
        assert layer.shape == (2, SMALL.n_heads, LENGTH, LENGTH)
        torch.testing.assert_close(layer.sum(dim=-1), torch.ones(2, SMALL.n_heads, LENGTH))
        assert torch.all(layer[..., future] == 0)
        assert torch.all(layer[..., ~future] > 0)
        # random weights that attend almost uniformly could not show a wrong mask: these do not
        uniform = 1.0 / torch.arange(1, LENGTH + 1).float()
        assert (layer.amax(dim=-1) - uniform).abs().max() > 0.2


def test_captured_attention_is_the_attention_the_model_used():
    """The explicit softmax gives the same outputs as the fused kernel, within float rounding, and
    a frame's weights do not change with the frames after it."""
    model = _random_model()
    inputs = _inputs(model)
    plain = model(inputs)
    captured, weights = model.attention(inputs)
    for fused, explicit in zip(plain, captured, strict=True):
        torch.testing.assert_close(explicit, fused, rtol=1e-4, atol=1e-5)
    _, shorter = model.attention(Inputs(*(part[:, : LENGTH - 4] for part in inputs)))
    torch.testing.assert_close(shorter[-1], weights[-1][:, :, : LENGTH - 4, : LENGTH - 4])


def test_without_capture_the_forward_pass_is_the_fused_kernel_and_bit_identical(monkeypatch):
    model = _random_model()
    inputs = _inputs(model)
    before = model(inputs)
    calls = []
    fused = F.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls.append(1)
        return fused(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", counting)
    model.attention(inputs)
    assert not calls  # capturing spells the attention out
    after = model(inputs, capture_attention=False)
    assert len(calls) == SMALL.n_layers  # the normal pass keeps the fused kernel
    for first, second in zip(before, after, strict=True):
        assert torch.equal(first, second)
    assert all(block.attn.weights is None for block in model.blocks)  # nothing kept after a capture


def test_attention_through_the_cache_masks_slots_outside_the_window():
    """Captured in a rollout step (`forward(inputs, input_pos)`), a frame's weights cover the
    cached frames of its window only and sum to 1."""
    model = _random_model()
    inputs = _inputs(model, batch=1, length=LENGTH + 5)
    model.setup_cache(1)
    for position in range(LENGTH + 5):
        model(inputs.frame(position), torch.tensor([position]), capture_attention=True)
        weights = model.blocks[0].attn.weights
        assert weights is not None and weights.shape == (1, SMALL.n_heads, 1, LENGTH)
        seen = (weights[0, 0, 0] > 0).sum().item()
        assert seen == min(position + 1, LENGTH)
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(1, SMALL.n_heads, 1))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("attention")
    write_prompt(root / "prompt.xml")  # V1 cuts cam-a / cam-b at frames 30, 55 and 90
    return root, make_bundle(root / "bundle"), make_bundle(root / "half-rate", ["data.fps=12.5"])


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    height, width = matplotlib.image.imread(__import__("io").BytesIO(data), format="png").shape[:2]
    return width, height


@pytest.mark.parametrize("heads", [False, True])
def test_the_verb_writes_a_png_and_a_self_contained_page(files, capsys, heads):
    root, bundle, _ = files
    flags = ["--heads"] if heads else []
    png, page = root / f"cut{heads}.png", root / f"cut{heads}.html"
    for out in (png, page):
        argv = ["attention", str(bundle), "--timeline", str(root / "prompt.xml"), "--frame", "55", *flags]
        assert main([*argv, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "frame 55 (2.20 s at 25 fps), V1 cam-b.mp4 → V1 cam-a.mp4, a cut" in printed
    width, height = _png_size(png.read_bytes())
    assert width > 500 and height > 150
    html = page.read_text()
    inline = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(inline) == 1 and _png_size(base64.b64decode(inline[0])) == (width, height)
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "frame 55" in html and "frames 39..54" in html  # the window of 16 frames before it


def test_the_view_is_the_window_before_the_frame_and_its_weights_sum_to_one(files):
    root, bundle_dir, _ = files
    bundle = load_bundle(bundle_dir)
    timeline = read_timeline(bundle, root / "prompt.xml")
    assert len(timeline.frames) == 120 and timeline.asset_names == ["cam-a.mp4", "cam-b.mp4"]
    assert first_cuts(timeline.frames, 5) == []  # one track: its asset changes, the track on top does not
    for frame, start in ((55, 39), (5, 0), (119, 103)):
        view = attention_at(bundle, timeline, frame)
        assert (view.start, len(view.frames)) == (start, frame - start + 1)
        assert np.array_equal(view.frames.asset, timeline.frames.asset[start : frame + 1])
        for layer in view.weights:
            assert layer.shape == (2, frame - start)
            np.testing.assert_allclose(layer.sum(axis=-1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(view.visible_prob.sum(), 1.0, rtol=1e-5)


def test_the_frame_counts_at_the_models_rate(files, capsys):
    root, _, half_rate = files
    argv = ["attention", str(half_rate), "--timeline", str(root / "prompt.xml"), "-o", str(root / "half.png")]
    assert main([*argv, "--frame", "59"]) == 0  # 120 frames at 25 fps are 60 at 12.5
    capsys.readouterr()
    assert main([*argv, "--frame", "60"]) == 1
    assert "60 frames at 12.5 fps" in capsys.readouterr().err


@pytest.mark.parametrize("frame", [0, 120, -3, 500])
def test_a_frame_out_of_range_is_a_one_line_error_naming_it_and_the_length(files, capsys, frame):
    root, bundle, _ = files
    out = root / f"out_of_range{frame}.png"
    argv = ["attention", str(bundle), "--timeline", str(root / "prompt.xml"), "--frame", str(frame), "-o", str(out)]
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"frame {frame} is out of range" in error
    assert "prompt.xml" in error and "120 frames at 25 fps" in error
    assert not out.exists()


def test_an_output_that_is_neither_png_nor_html_is_refused(files, capsys):
    root, bundle, _ = files
    argv = ["attention", str(bundle), "--timeline", str(root / "prompt.xml"), "--frame", "9", "-o", str(root / "a.svg")]
    assert main(argv) == 1
    assert ".png or .html" in capsys.readouterr().err
