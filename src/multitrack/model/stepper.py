"""A trained model's Transformer blocks fused for one-frame steps on a CPU, for rollouts.

A one-frame step through the modules is a few hundred tiny kernels, each costing more to
launch than to run. `Stepper` is built once per rollout from a model (weights do not change
during one) and runs the same maths in fewer of them: the token is one affine map read off
the model's own `embed` by probing it (`TokenMap`), every projection reads its weight in the
layout `addmm` reads fastest for one row (`_one_row_weight`), the heads are one matrix
product, q, k and v are views into one buffer written by the projection and rotated in place,
and the key/value ring (frame p in slot p % window) stores a frame's key and value side by
side so one copy stores both. The heads' maths (`MultitrackTransformer.predict`) and the
derived inputs (`multitrack.model.inputs`) are the model's own. tests/test_transformer.py
holds it equal to `forward`; docs/decisions.md ("rollout: a fused stepper") has what it saves.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from multitrack.model.inputs import VALUE_COUNT, Inputs
from multitrack.model.transformer import Attention, Block, HeadOutputs, MultitrackTransformer, Prediction

ROTATION_TABLE_FRAMES = 1024  # positions of rotary angles computed at once (128 KiB at head size 32)
# how `embed` reads each input, as `TokenMap` assumes: affine in these (B, 1, T[, 7]) inputs, ...
DENSE_INPUTS = ("active", "values", "motion", "since_on_top", "cut_shares")
# ... plus one learned row per track and asset, and one per shot age; no other input
TOKEN_MAP_TOLERANCE = 1e-4  # how far the map may be from `embed` on a random frame


class TokenMap(NamedTuple):
    """`model.embed` of one frame as dense @ weight plus one learned row per track's asset and
    one per shot age (the bias folded into the ages' rows), where dense is the frame's
    `DENSE_INPUTS` flattened. Read off the model by probing `embed` (in float64) with one input
    at a time, so it follows whatever the token does with them; `of` checks the map against
    `embed` on a random frame."""

    weight: torch.Tensor  # (dense width, d_model), the one-row layout
    rows: torch.Tensor  # (T * K + ages, d_model): track t showing class k at t * K + k, then each age
    offsets: torch.Tensor  # (T + 1,): where each track's rows start, then the ages'

    @classmethod
    def of(cls, model: MultitrackTransformer, dtype: torch.dtype) -> TokenMap:
        probe = copy.deepcopy(model).double()
        tracks, classes, ages = model.max_tracks, model.asset_classes, model.rules.last_age + 1
        device = model.inv_freq.device
        base = _zero_inputs(model, 1, torch.float64, device)
        widths = [getattr(base, name)[0, 0].numel() for name in DENSE_INPUTS]
        probes = _zero_inputs(model, sum(widths) + tracks * classes + ages, torch.float64, device)
        row = 0
        for name, width in zip(DENSE_INPUTS, widths, strict=True):
            part = getattr(probes, name).view(len(probes.active), -1)  # (P, width)
            part[row : row + width] = torch.eye(width, dtype=part.dtype, device=device)
            row += width
        dense_rows = row
        for track in range(tracks):
            probes.asset[row : row + classes, 0, track] = torch.arange(classes, device=device)
            row += classes
        probes.shot_age[row:, 0] = torch.arange(ages, device=device)
        with torch.no_grad():
            bias = probe.embed(base)[0, 0]  # (d_model,): every input at zero
            rows = probe.embed(probes)[:, 0] - bias  # (P, d_model): what each input adds
        rows[dense_rows + tracks * classes :] += bias  # each frame has one shot age: its row carries the bias
        token = cls(
            _one_row_weight(rows[:dense_rows].to(dtype).t()),
            rows[dense_rows:].to(dtype),
            torch.arange(tracks + 1, device=device) * classes,
        )
        token._check(model)
        return token

    def __call__(self, inputs: Inputs) -> torch.Tensor:
        """A frame's inputs (B, 1, …) -> its token (B, d_model)."""
        batch = len(inputs.active)
        dense = torch.cat([getattr(inputs, name).reshape(batch, -1) for name in DENSE_INPUTS], 1)  # (B, width)
        index = torch.cat((inputs.asset[:, 0], inputs.shot_age), dim=1) + self.offsets  # (B, T + 1)
        looked_up = F.embedding_bag(index, self.rows, mode="sum")  # (B, d_model)
        return torch.addmm(looked_up, dense.to(self.rows.dtype), self.weight)

    def _check(self, model: MultitrackTransformer) -> None:
        generator = torch.Generator().manual_seed(0)
        frame = _zero_inputs(model, 2, self.rows.dtype, self.rows.device)
        for name in DENSE_INPUTS:
            part = getattr(frame, name)
            part.copy_(torch.rand(part.shape, generator=generator).to(part))
        frame.asset.copy_(torch.randint(model.asset_classes, frame.asset.shape, generator=generator))
        frame.shot_age.copy_(torch.randint(model.rules.last_age + 1, frame.shot_age.shape, generator=generator))
        with torch.no_grad():
            error = (self(frame) - model.embed(frame)[:, 0]).abs().max().item()
        if not error <= TOKEN_MAP_TOLERANCE:
            raise RuntimeError(
                f"the stepper's token map is {error:.2g} from model.embed: embed must be affine in "
                f"{', '.join(DENSE_INPUTS)} plus one row per track's asset and one per shot age"
            )


def _zero_inputs(model: MultitrackTransformer, batch: int, dtype: torch.dtype, device: torch.device) -> Inputs:
    tracks = model.max_tracks
    active = torch.zeros(batch, 1, tracks, dtype=dtype, device=device)
    asset = torch.zeros(batch, 1, tracks, dtype=torch.long, device=device)
    values = torch.zeros(batch, 1, tracks, VALUE_COUNT, dtype=dtype, device=device)
    frame = torch.zeros(batch, 1, dtype=torch.long, device=device)
    return Inputs(active, asset, values, values.clone(), active.clone(), active.clone(), frame, frame.clone())


class LayerWeights(NamedTuple):
    """One block's weights as a step reads them, each projection as (in, out). The qkv outputs
    are reordered head by head, (nh, 3, hs) instead of (3, nh, hs), so a head's key and value
    come out side by side, as a cache slot holds them."""

    ln_attn: tuple[tuple[int, ...], torch.Tensor, torch.Tensor, float]  # shape, weight, bias, eps
    qkv: torch.Tensor  # (d_model, nh * 3 * hs)
    qkv_bias: torch.Tensor
    proj: torch.Tensor  # (d_model, d_model)
    proj_bias: torch.Tensor
    ln_mlp: tuple[tuple[int, ...], torch.Tensor, torch.Tensor, float]
    expand: torch.Tensor  # (d_model, d_ff)
    expand_bias: torch.Tensor
    contract: torch.Tensor  # (d_ff, d_model)
    contract_bias: torch.Tensor

    @classmethod
    def of(cls, block: Block) -> LayerWeights:
        expand, _, contract, _ = block.mlp  # Linear, GELU, Linear, Dropout
        assert isinstance(expand, nn.Linear) and isinstance(contract, nn.Linear)  # as Block builds it
        attn = block.attn
        assert isinstance(attn, Attention)
        by_head = attn.qkv.weight.unflatten(0, (3, attn.n_heads, -1)).transpose(0, 1)  # (nh, 3, hs, d_model)
        return cls(
            _norm_arguments(block.ln_attn),
            _one_row_weight(by_head.flatten(0, 2)),
            attn.qkv.bias.unflatten(0, (3, attn.n_heads, -1)).transpose(0, 1).flatten(),  # (nh * 3 * hs,)
            _one_row_weight(attn.proj.weight),
            attn.proj.bias,
            _norm_arguments(block.ln_mlp),
            _one_row_weight(expand.weight),
            expand.bias,
            _one_row_weight(contract.weight),
            contract.bias,
        )


class Stepper:
    """`model.forward` one frame at a time over a sliding key/value ring of `window_length` frames,
    as `forward(inputs, input_pos)` after `setup_cache` computes it, in eval mode."""

    def __init__(self, model: MultitrackTransformer, batch: int, dtype: torch.dtype = torch.float32):
        config, device = model.config, model.inv_freq.device
        self.model, self.position, self.capacity = model, 0, model.window_length
        self.token = TokenMap.of(model, dtype)
        self.layers = [LayerWeights.of(block) for block in model.blocks if isinstance(block, Block)]
        heads = model.heads_in_order()
        self.head_weight = _one_row_weight(torch.cat([head.weight for head in heads]))  # (d_model, all outputs)
        self.head_bias = torch.cat([head.bias for head in heads])
        self.head_sizes = [head.out_features for head in heads]
        self.ln_out = _norm_arguments(model.ln_out)
        n_heads, head_size = config.n_heads, config.d_model // config.n_heads
        both = [
            torch.zeros(batch, n_heads, self.capacity, 2, head_size, dtype=dtype, device=device) for _ in self.layers
        ]  # per layer (B, nh, S, 2, hs): key and value side by side
        self.keys = [slot[..., 0, :] for slot in both]  # (B, nh, S, hs)
        self.values = [slot[..., 1, :] for slot in both]
        self.slots = [list(slot.unbind(2)) for slot in both]  # S of (B, nh, 2, hs)
        self.qkv = torch.empty(batch, 3 * config.d_model, dtype=dtype, device=device)  # (B, nh * 3 * hs)
        qkv_heads = self.qkv.view(batch, n_heads, 3, head_size)  # (B, nh, 3, hs)
        self.qk_pairs = torch.view_as_complex(qkv_heads[:, :, :2].unflatten(-1, (-1, 2)))  # (B, nh, 2, hs/2)
        self.q, self.kv = qkv_heads[:, :, :1], qkv_heads[:, :, 1:]  # (B, nh, 1, hs), (B, nh, 2, hs)
        self.projected = torch.empty(batch, config.d_model, dtype=dtype, device=device)
        self.hidden = torch.empty(batch, config.d_ff, dtype=dtype, device=device)
        self.complex = torch.complex128 if dtype == torch.float64 else torch.complex64
        self.rotations = torch.empty(0, dtype=self.complex)
        self.rotations_start = 0

    def step(self, inputs: Inputs) -> Prediction:
        """The next frame's inputs (B, 1, …) -> the prediction for the frame after it (B, 1, …).
        Call it under `torch.inference_mode()` (a rollout's runtime): it keeps no graph."""
        x = self.token(inputs)  # (B, d_model)
        rotation = self._rotation()
        slot = self.position % self.capacity
        for layer, weights in enumerate(self.layers):
            torch.addmm(weights.qkv_bias, torch.layer_norm(x, *weights.ln_attn), weights.qkv, out=self.qkv)
            self.qk_pairs.mul_(rotation)  # q and k rotated to the frame's position
            self.slots[layer][slot].copy_(self.kv)
            keys, values = self.keys[layer], self.values[layer]  # (B, nh, S, hs)
            if self.position < self.capacity:  # slots 0..position are filled
                keys, values = keys[:, :, : self.position + 1], values[:, :, : self.position + 1]
            y = F.scaled_dot_product_attention(self.q, keys, values)  # (B, nh, 1, hs): every cached frame
            x += torch.addmm(weights.proj_bias, y.view(x.shape), weights.proj, out=self.projected)
            normed = torch.layer_norm(x, *weights.ln_mlp)
            hidden = torch.addmm(weights.expand_bias, normed, weights.expand, out=self.hidden)  # (B, d_ff)
            x.add_(torch.addmm(weights.contract_bias, F.gelu(hidden), weights.contract))
        self.position += 1
        out = torch.addmm(self.head_bias, torch.layer_norm(x, *self.ln_out), self.head_weight)  # (B, all outputs)
        per_track, *rest = out[:, None].split(self.head_sizes, dim=-1)  # (B, 1, …) each
        per_track = per_track.unflatten(-1, (self.model.max_tracks, self.model.head_width))  # (B, 1, T, 1 + K + 7)
        return self.model.predict(HeadOutputs(per_track, *rest), inputs)

    def _rotation(self) -> torch.Tensor:
        """(hs/2,) complex rotation of the frame at `position`, from a table of ROTATION_TABLE_FRAMES."""
        offset = self.position - self.rotations_start
        if not 0 <= offset < len(self.rotations):
            positions = torch.arange(self.position, self.position + ROTATION_TABLE_FRAMES, dtype=torch.float64)
            angles = torch.outer(positions.to(self.model.inv_freq.device), self.model.inv_freq)
            self.rotations = torch.polar(torch.ones_like(angles), angles).to(self.complex)
            self.rotations_start, offset = self.position, 0
        return self.rotations[offset]


def _one_row_weight(weight: torch.Tensor) -> torch.Tensor:
    """A linear layer's weight (out, in) -> (in, out) for `addmm(bias, x, w)` on one row x: a
    contiguous copy where the layer widens, a transposed view where it narrows, whichever MKL
    reads faster (docs/decisions.md, "model: one-row weight layout")."""
    if weight.shape[1] > weight.shape[0]:
        return weight.t()
    return weight.t().contiguous()


def _norm_arguments(norm: nn.LayerNorm) -> tuple[tuple[int, ...], torch.Tensor, torch.Tensor, float]:
    # `torch.layer_norm(x, *_norm_arguments(norm))` is `norm(x)` without the module call
    return tuple(norm.normalized_shape), norm.weight, norm.bias, norm.eps
