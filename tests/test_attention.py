"""Seeing what the model attends to: attention weights captured only when asked
(`MultitrackTransformer.attention`), and the `attention` verb that draws them above the frames."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from multitrack.config import ModelConfig
from multitrack.model.inputs import Inputs
from multitrack.model.transformer import MultitrackTransformer

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
