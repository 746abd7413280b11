"""The causal multi-track Transformer: one token per frame, next-frame heads (DESIGN.md §3).

Each frame's T tracks are described by `active`, an embedded `asset` id, the 7 normalised
geometry values, their steady move, the frames since the track was on top, the share of
this timeline's cuts from the track on top that went to it (both counted over the whole
timeline) and a learned embedding of the track's layer (V1 is the bottom layer); the shot's
age is added to the frame. Track vectors are concatenated and projected to one `d_model`
token per frame, so a window of L frames is L tokens. Causal self-attention with rotary
positions reads frames 0..t and the heads at t predict frame t+1: per track an `active`
logit, K `asset` logits, whether its steady move goes on, whether its values change beyond
that and, if they do, the 7 values' change; which track is on top (the chance of a change,
and which track given one).

Rotary positions make attention depend only on the distance between frames, so a rollout
can keep a key/value cache of the last `window_length` frames and drop the oldest keys
as it slides (`step`), like the windows the model was trained on, except that the cached
frames' inputs (steady moves, shot age, frames since on top) remember context from before
the window that a fresh window would not see.

B = batch, L = frames, T = tracks, K = asset classes, V = 7 values, nh = heads,
hs = head size, S = cached frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import nn

from multitrack.config import ModelConfig
from multitrack.features.vocabulary import SINCE_ON_TOP_MAX

VALUE_COUNT = 7  # scale, pos_x, pos_y, crop_left/right/top/bottom (DESIGN.md §2)
ROTARY_BASE = 10_000.0
SHOT_AGE_FEATURES = 2  # log-scaled and linear frames since the last cut
ROTATION_TABLE_FRAMES = 1024  # positions of rotary angles `step` computes at once (128 KiB at head size 32)
# Next frames mostly repeat the current one (DESIGN.md §3), so the heads start from the
# current frame: a learned bonus for "stays as it is" on the active, asset and visible-track
# logits and a residual on the values. The Transformer then only has to learn what changes,
# and when. The bonus starts where "stays" has this probability:
COPY_INIT_PROBABILITY = 0.98
MOVE_INIT_PROBABILITY = 0.9  # an untrained model's chance that a steady move goes on
# an untrained model's chance that a track's values change beyond its carried move: the
# value head's change is used where a change is likelier than not, so at first nowhere
CHANGE_INIT_PROBABILITY = 0.05
# Keyframed geometry moves in straight lines between keyframes (../shared/docs/xmeml.md: linear
# interpolation), so "keeps moving as it moved" is the next frame's best first guess for a
# track in motion, as "stays as it is" is for a still one. A move is steady when the last two
# steps go the same way and neither is more than this many times the other (a timeline
# resampled from 25 to 10 fps steps 2, 3, 2, 3 source frames); a jump (a box that moves at
# once) is not steady and is not carried on.
STEADY_STEP_RATIO = 3.0
MOTION_INPUT_GAIN = 10.0  # per-frame moves are small in normalised units: scaled up as inputs
# Out of training, value changes the head predicts below this (normalised units) are its
# noise, and are dropped: a still frame stays exactly still, and in a rollout, where each
# frame's steady move is measured on the frames the model itself made, noise cannot build
# up into a drift that speeds itself up. It sits above that noise and below the first step
# of a slow push-in, which must get through for the move to start (docs/decisions.md,
# "model: value deadband").
RESIDUAL_DEADBAND = 0.003
# Frames since each track was on top count up to this many windows, then read "long ago".
# They are counted over the whole timeline (prepared data, rollout prompts), not only the
# window: the angle an editor showed least recently can be last on top long before the cut
# (docs/decisions.md, "model: history from the timeline's start").
RECENCY_CAP_WINDOWS = 8
RECENCY_LEANS = 2  # the recency head's outputs: towards the least recent track, towards the usual next


class Prediction(NamedTuple):
    """What the model says about the next frame(s).

    `visible_logits` score which track is the topmost active one (the one on screen) in the
    next frame: class 0 is "none", class j is track j-1 (V1 = 1). The per-track `active`
    logits are independent of each other; this head carries what they cannot, such as
    "if the close-up goes off, the wide comes on" (DESIGN.md §3: which track comes next).
    """

    active_logits: torch.Tensor  # (B, L, T) or (B, T) from `step`
    asset_logits: torch.Tensor  # (B, L, T, K) or (B, T, K)
    values: torch.Tensor  # (B, L, T, 7) or (B, T, 7), normalised: the likeliest next values
    visible_logits: torch.Tensor  # (B, L, T + 1) or (B, T + 1)
    # each track's steady move (B, L, T, 7) or (B, T, 7), and the logit that it goes on into
    # the next frame (B, L, T) or (B, T): `values` carry the move on where that is likelier
    # than not; a rollout draws it (`sample_frame`). From `step`, `motion` is a buffer a later
    # step overwrites: use it before the next step.
    motion: torch.Tensor | None = None
    move_logits: torch.Tensor | None = None
    # the logit (B, L, T) or (B, T) that a track's values change beyond its carried move, and the
    # change (B, L, T, 7) or (B, T, 7) the value head gives if they do: `values` hold it where
    # a change is likelier than not; a rollout draws it
    change_logits: torch.Tensor | None = None
    residual: torch.Tensor | None = None


@dataclass
class KVCache:
    """Rotated keys and values of the last `max_frames` frames, per layer, for `step`.

    Each layer has `max_frames` slots written in turn (frame p goes to slot p % max_frames), so
    once the window is full a new frame overwrites the oldest in place instead of every frame
    being copied along. The order of the slots does not matter: a key is stored already rotated
    to its own frame's position, and the newest frame attends to every cached frame without a
    mask, a sum over keys. A slot holds a frame's key and value side by side, so one copy
    stores both. Buffers, and the rest of what a step carries to the next (the last frames'
    inputs, the shot age), are allocated by the first `step`.
    """

    max_frames: int
    position: int = 0  # absolute index of the next frame
    keys: list[torch.Tensor] = field(default_factory=list)  # per layer (B, nh, max_frames, hs)
    values: list[torch.Tensor] = field(default_factory=list)  # per layer (B, nh, max_frames, hs)
    slots: list[list[torch.Tensor]] = field(default_factory=list)  # per layer, per slot (B, nh, 2, hs): key, value
    rotations: torch.Tensor | None = None  # (ROTATION_TABLE_FRAMES, hs/2) complex, from rotations_start
    rotations_start: int = 0
    scratch: StepScratch | None = None

    @property
    def frames(self) -> int:
        return min(self.position, self.max_frames)

    @property
    def slot(self) -> int:
        """Where the frame at `position` goes."""
        return self.position % self.max_frames


class LayerWeights(NamedTuple):
    """One block's weights as `Block.step` reads them: each projection's weight as (in, out),
    laid out as `addmm` reads it fastest for one row of input (`_one_row_weight`). The qkv
    projection's outputs are reordered head by head, (nh, 3, hs) instead of (3, nh, hs), so a
    head's key and value come out side by side, as a cache slot holds them."""

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
        by_head = attn.qkv.weight.unflatten(0, (3, attn.n_heads, -1)).transpose(0, 1)  # (nh, 3, hs, d_model)
        return cls(
            _norm_arguments(block.ln_attn),
            _one_row_weight(by_head.flatten(0, 2)),  # (d_model, nh * 3 * hs)
            attn.qkv.bias.unflatten(0, (3, attn.n_heads, -1)).transpose(0, 1).flatten(),  # (nh * 3 * hs,)
            _one_row_weight(attn.proj.weight),
            attn.proj.bias,
            _norm_arguments(block.ln_mlp),
            _one_row_weight(expand.weight),
            expand.bias,
            _one_row_weight(contract.weight),
            contract.bias,
        )


# per track: active, values, motion, frames since on top, share of cuts from the top track to it
STEP_TRACK_INPUTS = 1 + 2 * VALUE_COUNT + 2


class StepHistory(NamedTuple):
    """What `MultitrackTransformer.step` is told, at a cache's first frame, of the timeline
    before it (`step_history`); it counts on from there."""

    since_on_top: torch.Tensor  # (B, T) frames since each track was on top
    transitions: torch.Tensor  # (B, T + 1, T + 1) cuts so far from each visible class to each


class TokenInputs:
    """One frame's inputs to its token, in the layout of `StepScratch.token_weight`'s rows:
    per track [active, 7 values, 7 motions, frames since on top, cut share], then per track a one-hot
    asset, then a one-hot shot age. Named views into one (B, width) row per frame."""

    def __init__(self, batch: int, tracks: int, classes: int, ages: int, dtype: torch.dtype, device: torch.device):
        dense = tracks * STEP_TRACK_INPUTS
        self.row = torch.zeros(batch, dense + tracks * classes + ages, dtype=dtype, device=device)  # (B, width)
        per_track = self.row[:, :dense].unflatten(1, (tracks, STEP_TRACK_INPUTS))  # (B, T, 17)
        self.active = per_track[..., 0]  # (B, T)
        self.values = per_track[..., 1 : 1 + VALUE_COUNT]  # (B, T, 7): carried values
        self.motion = per_track[..., 1 + VALUE_COUNT : 1 + 2 * VALUE_COUNT]  # (B, T, 7)
        self.since_on_top = per_track[..., -2]  # (B, T): frames, capped at `recency_cap_frames`
        self.cut_share = per_track[..., -1]  # (B, T): `cut_shares`
        self.one_hots = self.row[:, dense:]  # (B, T * K + ages)
        self.asset_one_hot = self.one_hots[:, : tracks * classes].unflatten(1, (tracks, classes))  # (B, T, K)
        self.age_one_hot = self.one_hots[:, tracks * classes :]  # (B, ages)


class StepScratch:
    """What `MultitrackTransformer.step` reuses from frame to frame of one rollout: the model's
    weights arranged for one-frame steps, the inputs of the last frames, and buffers.

    A one-frame step is about a hundred tiny kernels, each costing more to launch than to run,
    so this is built once per rollout (weights do not change during one) to need few of them:
    - the frame token is one matrix product over `TokenInputs`: the asset and track
      embeddings, the shot-age projection and the input scales are all linear, so they are
      folded into its rows and bias (`_step_token_weights`);
    - the heads are one matrix product, and every projection reads its weight in the
      layout `addmm` reads fastest (`LayerWeights`);
    - the inputs of the last three frames stay in a ring, where a step reads them for the
      steady motion and updates the frames since on top in place; q, k and v are views made
      once, written by the projection and the rotation (`out=`); the heads write one buffer
      read through views.
    """

    def __init__(self, model: MultitrackTransformer, batch: int, dtype: torch.dtype, device: torch.device):
        self.layers = [LayerWeights.of(cast(Block, block)) for block in model.blocks]
        self.token_weight, self.token_bias = model._step_token_weights(dtype)  # (width, d_model), (d_model,)
        heads = (
            model.head,
            model.visible_head,
            model.recency_head,
            model.next_head,
            model.move_head,
            model.change_head,
        )
        self.head_weight = _one_row_weight(
            torch.cat([head.weight for head in heads])
        )  # (d_model, T * (1 + K + 7) + 4T + 4)
        self.head_bias = torch.cat([head.bias for head in heads])
        self.ln_out = _norm_arguments(model.ln_out)
        self.copy_active, self.copy_visible = model.copy_active, model.copy_visible  # (T,), (T + 1,)
        self.copy_asset = model.copy_asset[:, None]  # (T, 1)
        # `_residual`'s deadband as a hardshrink threshold: |change| >= RESIDUAL_DEADBAND is kept,
        # and hardshrink keeps |change| > its threshold, so the threshold is the float just below
        deadband = torch.tensor(RESIDUAL_DEADBAND, dtype=dtype)
        self.shrink_threshold = torch.nextafter(deadband, torch.zeros_like(deadband)).item()
        self._make_constants(model, batch, dtype, device)
        self._make_frame_buffers(model, batch, dtype, device)
        self._make_layer_buffers(model.config, batch, dtype, device)
        self._make_head_buffers(model, batch, dtype, device)

    def _make_constants(
        self, model: MultitrackTransformer, batch: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        # numbers the kernels take, as 0-dim tensors: wrapping a Python number costs more than
        # the kernel it is passed to
        def constant(value: float, kind: torch.dtype = dtype) -> torch.Tensor:
            return torch.tensor(value, dtype=kind, device=device)

        self.zero, self.one, self.half, self.two = constant(0.0), constant(1.0), constant(0.5), constant(2.0)
        self.minus_one, self.minus_inf = constant(-1.0), constant(-torch.inf)
        self.step_ratio = constant(STEADY_STEP_RATIO)
        self.window_frames = constant(float(model.window_length))
        self.recency_cap = constant(float(model.recency_cap_frames))  # frames since on top stop here
        self.one_frame, self.last_age = constant(1, torch.long), constant(model.window_length - 1, torch.long)
        self.off_keys = constant(-1, torch.long), constant(-2, torch.long)  # keys of tracks off (`_step_motion`)
        self.class_count = constant(model.max_tracks + 1, torch.long)  # visible classes (`_step_cuts`)
        self.ones = constant(1.0).expand(batch, model.max_tracks, 1)  # (B, T, 1): what the one-hots scatter
        self.age_ones = self.ones[:, 0]  # (B, 1)

    def _make_frame_buffers(
        self, model: MultitrackTransformer, batch: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        """The inputs of the last three frames, the tracks on and the one on top, the shot age
        and the steady motion's last two frames (`_step_inputs`)."""
        tracks = model.max_tracks
        self.inputs = [
            TokenInputs(batch, tracks, model.asset_classes, model.window_length, dtype, device) for _ in range(3)
        ]
        self.on = torch.empty(batch, tracks, dtype=torch.bool, device=device)  # (B, T): active > 0.5
        self.on_values = self.on[..., None]  # (B, T, 1)
        self.track_numbers = torch.arange(1, tracks + 1, device=device)  # (T,): V1 = 1
        self.numbered_on = torch.empty(batch, tracks, dtype=torch.long, device=device)  # (B, T)
        self.visible = torch.empty(batch, 1, dtype=torch.long, device=device)  # (B, 1): visible class
        self.classes = torch.arange(tracks + 1, device=device)  # (T + 1,)
        self.top = torch.empty(batch, tracks + 1, dtype=torch.bool, device=device)  # (B, T + 1): one-hot visible class
        self.on_top = self.top[:, 1:]  # (B, T)
        self.top_keys = [torch.empty(batch, tracks, dtype=torch.long, device=device) for _ in range(2)]  # (B, T)
        self.shot_age = torch.zeros(batch, 1, dtype=torch.long, device=device)  # (B, 1) frames
        classes = tracks + 1
        self.transitions = torch.zeros(batch, classes, classes, dtype=dtype, device=device)  # (B, from, to) cuts
        self.transitions_flat = self.transitions.view(batch, classes * classes)  # (B, (T + 1)²)
        self.previous_visible = torch.zeros(batch, 1, dtype=torch.long, device=device)  # (B, 1)
        self.transition_index = torch.empty(batch, 1, dtype=torch.long, device=device)  # (B, 1)
        self.cut = torch.empty(batch, 1, dtype=dtype, device=device)  # (B, 1): 1 where the top changed
        self.visible_row = self.visible.view(batch, 1, 1).expand(batch, 1, classes)  # (B, 1, T + 1): gather index
        self.transition_row = torch.empty(batch, 1, classes, dtype=dtype, device=device)  # (B, 1, T + 1)
        self.cuts_to_tracks = self.transition_row[:, 0, 1:]  # (B, T)
        self.cuts_total = torch.empty(batch, 1, dtype=dtype, device=device)  # (B, 1)
        self.motion_keys = [torch.empty(batch, tracks, dtype=torch.long, device=device) for _ in range(2)]  # (B, T)
        self.same_keys = [torch.empty(batch, tracks, dtype=torch.bool, device=device) for _ in range(2)]  # (B, T)
        value_shape = (batch, tracks, VALUE_COUNT)
        self.steps = [
            tuple(torch.empty(value_shape, dtype=dtype, device=device) for _ in range(3)) for _ in range(2)
        ]  # (B, T, 7) step, its size and STEADY_STEP_RATIO times its size, for the last two frames
        self.agree = torch.empty(value_shape, dtype=torch.bool, device=device)
        self.within = torch.empty(value_shape, dtype=torch.bool, device=device)
        self.product = torch.empty(value_shape, dtype=dtype, device=device)
        self.half_move = torch.empty(value_shape, dtype=dtype, device=device)

    def _make_layer_buffers(self, config: ModelConfig, batch: int, dtype: torch.dtype, device: torch.device) -> None:
        n_heads, head_size = config.n_heads, config.d_model // config.n_heads
        self.x = torch.empty(batch, config.d_model, dtype=dtype, device=device)  # (B, d_model): the residual stream
        self.qkv = torch.empty(batch, 3 * config.d_model, dtype=dtype, device=device)  # (B, nh * 3 * hs)
        qkv_heads = self.qkv.view(batch, n_heads, 3, head_size)  # (B, nh, 3, hs), see `LayerWeights`
        self.qk_pairs = torch.view_as_complex(qkv_heads[:, :, :2].unflatten(-1, (-1, 2)))  # (B, nh, 2, hs/2) complex
        self.q = qkv_heads[:, :, :1]  # (B, nh, 1, hs): a query of one frame
        self.kv = qkv_heads[:, :, 1:]  # (B, nh, 2, hs): as a cache slot holds them
        self.projected = torch.empty(batch, config.d_model, dtype=dtype, device=device)  # (B, d_model)
        self.hidden = torch.empty(batch, config.d_ff, dtype=dtype, device=device)  # (B, d_ff)

    def _make_head_buffers(
        self, model: MultitrackTransformer, batch: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        """The heads' output and its parts (`_predict_next`), and the pair of visible logits
        `_step_rank_by_recency` takes both log-sum-exps of."""
        tracks, head_width = model.max_tracks, model.head_width
        self.head_out = torch.empty(
            batch, self.head_bias.shape[0], dtype=dtype, device=device
        )  # (B, T * (1 + K + 7) + 4T + 4)
        per_track = self.head_out[:, : tracks * head_width].unflatten(1, (tracks, head_width))  # (B, T, 1 + K + 7)
        active_delta, self.asset_delta, self.values_delta = per_track.split(
            (1, model.asset_classes, VALUE_COUNT), dim=-1
        )  # (B, T, 1), (B, T, K), (B, T, 7)
        self.active_delta = active_delta.squeeze(-1)  # (B, T)
        self.visible_logits, rank, self.next_delta, self.move_logits, self.change_logits = self.head_out[
            :, tracks * head_width :
        ].split(
            (tracks + 1, RECENCY_LEANS, tracks + 1, tracks, tracks), dim=-1
        )  # (B, T + 1), (B, 2), (B, T + 1), (B, T), (B, T)
        self.rank, self.habit = rank.split(1, dim=-1)  # (B, 1) each: the leans of `_rank_by_recency`
        self.stays_on = torch.empty(batch, tracks, dtype=dtype, device=device)  # (B, T): +1 on, -1 off
        self.recency = torch.zeros(batch, tracks + 1, dtype=dtype, device=device)  # (B, T + 1): 0 for "none"
        self.recency_tracks = self.recency[:, 1:]  # (B, T)
        self.shares = torch.zeros(batch, tracks + 1, dtype=dtype, device=device)  # (B, T + 1): 0 for "none"
        self.shares_tracks = self.shares[:, 1:]  # (B, T)
        self.never = torch.empty(
            batch, tracks, dtype=torch.bool, device=device
        )  # (B, T): never on top (`ranking_recency`)
        self.ranked_pair = torch.empty(batch, 2, tracks + 1, dtype=dtype, device=device)  # (B, 2, T + 1)
        self.ranked_before, self.ranked_after = self.ranked_pair.unbind(1)  # (B, T + 1) each
        self.top_pair = self.top[:, None]  # (B, 1, T + 1)
        self.ranked_totals = torch.empty(batch, 2, dtype=dtype, device=device)  # (B, 2): log-sum-exps
        self.totals_before, self.totals_after = self.ranked_totals.split(1, dim=-1)  # (B, 1) each
        self.total_shift = torch.empty(batch, 1, dtype=dtype, device=device)  # (B, 1)


class RotaryEmbedding(nn.Module):
    """Rotates query/key pairs by an angle proportional to the frame index (RoFormer)."""

    inv_freq: torch.Tensor  # a buffer (hs/2,)

    def __init__(self, head_size: int):
        super().__init__()
        if head_size % 2:
            raise ValueError(f"rotary positions need an even head size, got {head_size}")
        inv_freq = 1.0 / ROTARY_BASE ** (torch.arange(0, head_size, 2, dtype=torch.float64) / head_size)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: torch.Tensor, first_position: int) -> torch.Tensor:
        # x: (B, nh, L, hs)
        cos, sin = self._cos_sin(first_position, x.shape[2], x.dtype, x.device)  # (L, hs/2) each
        even, odd = x[..., 0::2], x[..., 1::2]  # (B, nh, L, hs/2) each
        rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)  # (B, nh, L, hs/2, 2)
        return rotated.flatten(-2)  # (B, nh, L, hs)

    def rotations(self, first_position: int, length: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """(length, hs/2) complex: multiplying a complex view of q or k (each (even, odd) pair as
        one number) by row i rotates it as `forward` does at position first_position + i."""
        cos, sin = self._cos_sin(first_position, length, dtype, device)
        return torch.complex(cos, sin)

    def _cos_sin(
        self, first_position: int, length: int, dtype: torch.dtype, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # angles in float64 so long rollouts keep their precision
        positions = torch.arange(first_position, first_position + length, dtype=torch.float64, device=device)
        angles = torch.outer(positions, self.inv_freq)  # (L, hs/2)
        return angles.cos().to(dtype), angles.sin().to(dtype)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.d_model % config.n_heads:
            raise ValueError(f"d_model {config.d_model} is not a multiple of n_heads {config.n_heads}")
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.rotary = RotaryEmbedding(config.d_model // config.n_heads)
        self.resid_dropout = nn.Dropout(config.dropout)

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, length, width = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.n_heads, width // self.n_heads)  # (B, L, 3, nh, hs)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, nh, L, hs)
        return q, k, v

    def _merge(self, y: torch.Tensor) -> torch.Tensor:
        batch, _, length, _ = y.shape
        y = y.transpose(1, 2).reshape(batch, length, -1)  # (B, nh, L, hs) -> (B, L, d_model)
        return self.resid_dropout(self.proj(y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._heads(x)
        q, k = self.rotary(q, 0), self.rotary(k, 0)
        # No dropout on the attention weights: with it, CPU attention falls back to the math
        # kernel (docs/decisions.md, "model: no attention dropout"); the residual dropout
        # regularises instead.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, L, hs)
        return self._merge(y)

    def step(self, x: torch.Tensor, cache: KVCache, layer: int, rotation: torch.Tensor) -> torch.Tensor:
        """One new frame x (B, d_model) attending to itself and the cached frames; `rotation`
        (hs/2,) complex is its position's (`RotaryEmbedding.rotations`). Returns the projected
        output in a scratch buffer (B, d_model)."""
        scratch = cache.scratch
        assert scratch is not None  # the model's `step` made it
        weights = scratch.layers[layer]
        torch.addmm(weights.qkv_bias, x, weights.qkv, out=scratch.qkv)  # (B, nh * 3 * hs)
        scratch.qk_pairs.mul_(rotation)  # q and k rotated to the frame's position
        cache.slots[layer][cache.slot].copy_(scratch.kv)  # (B, nh, 2, hs)
        keys, values = cache.keys[layer], cache.values[layer]  # (B, nh, max_frames, hs) each
        if cache.position < cache.max_frames:  # slots 0..position are filled
            keys, values = keys[:, :, : cache.position + 1], values[:, :, : cache.position + 1]
        # the newest frame may see every cached one, in any slot order
        y = F.scaled_dot_product_attention(scratch.q, keys, values)  # (B, nh, 1, hs)
        return torch.addmm(weights.proj_bias, y.view(x.shape), weights.proj, out=scratch.projected)  # (B, d_model)


class Block(nn.Module):
    """Pre-norm Transformer block: attention then a GELU MLP, each with a residual."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln_attn = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln_mlp = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff),
            nn.GELU(),
            nn.Linear(config.d_ff, config.d_model),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_attn(x))
        return x + self.mlp(self.ln_mlp(x))

    def step(self, x: torch.Tensor, cache: KVCache, layer: int, rotation: torch.Tensor) -> torch.Tensor:
        """`forward` for one new frame x (B, d_model), as in eval mode (no dropout); x is
        updated in place and returned."""
        scratch = cache.scratch
        assert scratch is not None  # the model's `step` made it
        weights = scratch.layers[layer]
        x += self.attn.step(torch.layer_norm(x, *weights.ln_attn), cache, layer, rotation)
        normed = torch.layer_norm(x, *weights.ln_mlp)  # (B, d_model)
        hidden = torch.addmm(weights.expand_bias, normed, weights.expand, out=scratch.hidden)  # (B, d_ff)
        return x.add_(torch.addmm(weights.contract_bias, F.gelu(hidden), weights.contract))  # (B, d_model)


class MultitrackTransformer(nn.Module):
    """Causal next-frame model over windows of multi-track frames."""

    def __init__(self, config: ModelConfig, max_tracks: int, asset_classes: int, window_length: int):
        super().__init__()
        self.config = config
        self.max_tracks = max_tracks
        self.asset_classes = asset_classes
        self.window_length = window_length
        # per track: active, asset embedding, 7 values, their steady motion, frames since it
        # was on top, the share of cuts from the track on top that went to it, track embedding
        track_width = 1 + config.asset_embed_dim + 2 * VALUE_COUNT + 2 + config.track_embed_dim
        self.asset_embed = nn.Embedding(asset_classes, config.asset_embed_dim)
        self.track_embed = nn.Embedding(max_tracks, config.track_embed_dim)
        self.frame_proj = nn.Linear(max_tracks * track_width, config.d_model)
        self.age_proj = nn.Linear(SHOT_AGE_FEATURES, config.d_model)
        self.embed_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_out = nn.LayerNorm(config.d_model)
        self.head_width = 1 + asset_classes + VALUE_COUNT  # per track: active, K assets, 7 values
        self.head = nn.Linear(config.d_model, max_tracks * self.head_width)
        self.visible_head = nn.Linear(config.d_model, max_tracks + 1)
        # which track comes next, given a cut, apart from whether one comes (`_rank_by_recency`)
        self.next_head = nn.Linear(config.d_model, max_tracks + 1)
        # whether each track's steady move goes on into the next frame (keyframed moves end)
        self.move_head = nn.Linear(config.d_model, max_tracks)
        # whether each track's values change beyond its carried move (a zoom starts, a layout
        # jumps): the value head's change is used only where this is likelier than not
        self.change_head = nn.Linear(config.d_model, max_tracks)
        # how strongly, given a cut, the next track leans to the one on top least recently, and
        # to where this editor's cuts from the track on top went so far: it depends on the
        # context (after the wide of a multicam, the least recent close-up; after a close-up,
        # the wide, for an editor who keeps coming back to it)
        self.recency_head = nn.Linear(config.d_model, RECENCY_LEANS)
        self.apply(_init_weights)
        for head in (self.head, self.visible_head, self.recency_head, self.next_head, self.move_head, self.change_head):
            nn.init.zeros_(head.weight)  # an untrained model predicts exactly "nothing changes"
        self.copy_active = nn.Parameter(torch.full((max_tracks,), _copy_logit(2)))
        self.copy_asset = nn.Parameter(torch.full((max_tracks,), _copy_logit(asset_classes)))
        self.copy_visible = nn.Parameter(torch.full((max_tracks + 1,), _copy_logit(max_tracks + 1)))
        nn.init.constant_(self.move_head.bias, _logit(MOVE_INIT_PROBABILITY))  # untrained: moves go on
        nn.init.constant_(self.change_head.bias, _logit(CHANGE_INIT_PROBABILITY))  # untrained: nothing else changes

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def recency_cap_frames(self) -> int:
        """Frames since on top are capped here (RECENCY_CAP_WINDOWS windows)."""
        return min(RECENCY_CAP_WINDOWS * self.window_length - 1, SINCE_ON_TOP_MAX)

    def forward(
        self,
        active: torch.Tensor,
        asset: torch.Tensor,
        values: torch.Tensor,
        since_on_top: torch.Tensor | None = None,
        cuts_from_top: torch.Tensor | None = None,
    ) -> Prediction:
        """Frames (B, L, T), (B, L, T), (B, L, T, 7) -> predictions for frames 1..L.

        `since_on_top` and `cuts_from_top` (B, L, T): frames since each track was on top, and
        cuts so far from the track on top to each track, counted over the whole timeline
        (`frames_since_on_top` and `cuts_from_top` of everything up to the window); without
        them, they are counted from the window's first frame.
        """
        self._check_tracks(active)
        values = carry_values(active, values)  # (B, L, T, 7)
        motion = window_motion(active, asset, values)  # (B, L, T, 7)
        cap = self.window_length - 1  # ages stop at the window's last frame, as `step` sees them
        ages = shot_ages(active, asset).clamp(max=cap)  # (B, L)
        if since_on_top is None:
            since_on_top = frames_since_on_top(active)
        since_on_top = since_on_top.clamp(max=self.recency_cap_frames)  # (B, L, T)
        if cuts_from_top is None:
            cuts_from_top = count_cuts_from_top(active)
        shares = cut_shares(cuts_from_top, values.dtype)  # (B, L, T)
        x = self._frame_tokens(active, asset, values, motion, since_on_top, shares) + self._age_tokens(
            ages
        )  # (B, L, d_model)
        x = self.embed_dropout(x)
        for block in self.blocks:
            x = block(x)
        x = self.ln_out(x)
        move_logits = self.move_head(x)  # (B, L, T)
        # the likelier outcome; the loss fits the value head on the true one (`multitask_loss`)
        goes_on = motion * (move_logits >= 0).unsqueeze(-1)  # (B, L, T, 7)
        prediction = self._predict(x, active, asset, values + goes_on, self.change_head(x))
        rank, next_delta = self.recency_head(x), self.next_head(x)  # (B, L, 2), (B, L, T + 1)
        recency = ranking_recency(since_on_top, self.window_length, self.recency_cap_frames, x.dtype)  # (B, L, T)
        visible_logits = self._rank_by_recency(prediction.visible_logits, active, (recency, shares), rank, next_delta)
        return prediction._replace(visible_logits=visible_logits, motion=motion, move_logits=move_logits)

    def new_cache(self, max_frames: int | None = None) -> KVCache:
        return KVCache(max_frames=max_frames or self.window_length)

    @torch.inference_mode()
    def step(
        self,
        frame_active: torch.Tensor,
        frame_asset: torch.Tensor,
        frame_values: torch.Tensor,
        cache: KVCache | None = None,
        history: StepHistory | None = None,
    ) -> tuple[Prediction, KVCache]:
        """One frame (B, T), (B, T), (B, T, 7) -> prediction for the next frame (B, T, …), cache.

        `history` is read at the cache's first frame only: how long ago each track was on top
        and the cuts so far, counted up to this frame (`step_history`), as `forward` is given
        them; without it, nothing was on top before and there were no cuts. Later frames count
        on from there.

        For rollouts: it runs as in eval mode (no dropout), with the layers' kernels called
        directly on weights and buffers arranged once per rollout (`StepScratch`), since on one
        frame launching a kernel costs more than running it.
        """
        cache = cache if cache is not None else self.new_cache()
        if cache.scratch is None:
            self._check_tracks(frame_active)
            self._allocate(cache, frame_values)
        scratch = cache.scratch
        assert scratch is not None  # _allocate made it
        inputs = self._step_inputs(cache, frame_active, frame_asset, frame_values, history)
        x = torch.addmm(scratch.token_bias, inputs.row, scratch.token_weight, out=scratch.x)  # (B, d_model)
        rotation = self._rotation(cache, x)
        for layer, block in enumerate(self.blocks):
            x = cast(Block, block).step(x, cache, layer, rotation)
        cache.position += 1
        return self._predict_next(torch.layer_norm(x, *scratch.ln_out), scratch, inputs), cache

    def _step_inputs(
        self,
        cache: KVCache,
        active: torch.Tensor,
        asset: torch.Tensor,
        values: torch.Tensor,
        history: StepHistory | None,
    ) -> TokenInputs:
        """The frame at cache.position (B, T), (B, T), (B, T, 7) -> its token's inputs, as
        `forward` makes them for a window's frame: values carried (`carry_values`), steady
        motion (`window_motion`), frames since on top (capped at `recency_cap_frames`), cut
        shares and shot age (capped at the window's last frame)."""
        scratch, position = cache.scratch, cache.position
        assert scratch is not None  # `step` made it
        now, before = scratch.inputs[position % 3], scratch.inputs[(position - 1) % 3]
        torch.gt(active, scratch.half, out=scratch.on)  # (B, T)
        now.active.copy_(active)
        if position == 0:  # the first frame: its values as given, as at a window's start
            now.values.copy_(values)
        else:
            torch.where(scratch.on_values, values, before.values, out=now.values)  # (B, T, 7)
        # the top track: class 0 none, j for track j-1 (`visible_classes`), and its one-hot
        torch.mul(scratch.on, scratch.track_numbers, out=scratch.numbered_on)  # (B, T)
        torch.amax(scratch.numbered_on, dim=-1, keepdim=True, out=scratch.visible)  # (B, 1)
        torch.eq(scratch.classes, scratch.visible, out=scratch.top)  # (B, T + 1)
        self._step_ages(scratch, position, asset, now, before, None if history is None else history.since_on_top)
        self._step_cuts(scratch, position, now, None if history is None else history.transitions)
        self._step_motion(scratch, position, asset, now, before, scratch.inputs[(position - 2) % 3])
        now.one_hots.zero_()
        now.asset_one_hot.scatter_(-1, asset[..., None], scratch.ones)  # (B, T, K)
        now.age_one_hot.scatter_(-1, scratch.shot_age, scratch.age_ones)  # (B, ages)
        return now

    def _step_ages(
        self,
        scratch: StepScratch,
        position: int,
        asset: torch.Tensor,
        now: TokenInputs,
        before: TokenInputs,
        since_on_top: torch.Tensor | None,
    ) -> None:
        """Shot age (`shot_ages`) and frames since each track was on top (`frames_since_on_top`),
        one frame on, capped as `forward` caps them."""
        top_key = scratch.top_keys[position % 2]
        torch.where(
            scratch.on_top, asset, scratch.off_keys[0], out=top_key
        )  # (B, T): the top track's asset, -1 elsewhere
        if position == 0:
            # given, or never on top before: at the cap, as in `forward`
            now.since_on_top.copy_(scratch.recency_cap if since_on_top is None else since_on_top)
            now.since_on_top.clamp_max_(scratch.recency_cap)
        else:
            same_shot = torch.eq(top_key, scratch.top_keys[(position - 1) % 2]).all(dim=-1, keepdim=True)  # (B, 1)
            scratch.shot_age.add_(scratch.one_frame).clamp_max_(scratch.last_age).mul_(same_shot)  # 0 at a cut
            torch.add(before.since_on_top, scratch.one, out=now.since_on_top).clamp_max_(scratch.recency_cap)
        now.since_on_top.masked_fill_(scratch.on_top, scratch.zero)

    @staticmethod
    def _step_cuts(scratch: StepScratch, position: int, now: TokenInputs, transitions: torch.Tensor | None) -> None:
        """The cuts so far from each visible class to each (`cuts_from_top`), one frame on, and
        the shares of the current top class's row into now.cut_share (`cut_shares`)."""
        if position == 0:
            scratch.transitions.copy_(transitions) if transitions is not None else scratch.transitions.zero_()
        else:
            torch.ne(scratch.visible, scratch.previous_visible, out=scratch.cut)  # (B, 1): 1 at a cut
            torch.addcmul(scratch.visible, scratch.previous_visible, scratch.class_count, out=scratch.transition_index)
            scratch.transitions_flat.scatter_add_(1, scratch.transition_index, scratch.cut)  # (B, (T + 1)²)
        torch.gather(scratch.transitions, 1, scratch.visible_row, out=scratch.transition_row)  # (B, 1, T + 1)
        torch.sum(scratch.cuts_to_tracks, dim=-1, keepdim=True, out=scratch.cuts_total).clamp_min_(scratch.one)
        torch.div(scratch.cuts_to_tracks, scratch.cuts_total, out=now.cut_share)  # (B, T)
        scratch.previous_visible.copy_(scratch.visible)

    @staticmethod
    def _step_motion(
        scratch: StepScratch,
        position: int,
        asset: torch.Tensor,
        now: TokenInputs,
        before: TokenInputs,
        older: TokenInputs,
    ) -> None:
        """`steady_motion` of the newest frame into now.motion, from the last three frames' values.

        Each frame's step and its size are kept for the next frame, which reads them as its older
        step. A track's key is its asset while on and, while off, -1 or -2 by turns, so equal
        keys in two frames in a row mean "on, showing the same asset" in both.
        """
        key = scratch.motion_keys[position % 2]
        torch.where(scratch.on, asset, scratch.off_keys[position % 2], out=key)  # (B, T)
        if position == 0:
            now.motion.zero_()
            return
        step_new, size_new, limit_new = scratch.steps[position % 2]  # (B, T, 7) each
        torch.sub(now.values, before.values, out=step_new)
        torch.abs(step_new, out=size_new)
        torch.mul(size_new, scratch.step_ratio, out=limit_new)
        same_new = torch.eq(key, scratch.motion_keys[(position - 1) % 2], out=scratch.same_keys[position % 2])  # (B, T)
        if position == 1:  # no two steps yet
            now.motion.zero_()
            return
        step_old, size_old, limit_old = scratch.steps[(position - 1) % 2]
        agree = torch.gt(
            torch.mul(step_new, step_old, out=scratch.product), scratch.zero, out=scratch.agree
        )  # same way
        agree &= torch.le(size_new, limit_old, out=scratch.within)  # and neither step is more than
        agree &= torch.le(size_old, limit_new, out=scratch.within)  # STEADY_STEP_RATIO times the other
        agree &= torch.logical_and(same_new, scratch.same_keys[(position - 1) % 2])[..., None]  # (B, T, 1) steady
        torch.sub(now.values, older.values, out=scratch.half_move).div_(scratch.two)
        torch.where(agree, scratch.half_move, scratch.zero, out=now.motion)  # (B, T, 7)

    def _check_tracks(self, active: torch.Tensor) -> None:
        if active.shape[-1] != self.max_tracks:
            raise ValueError(f"model expects {self.max_tracks} tracks per frame, got {active.shape[-1]}")

    def _allocate(self, cache: KVCache, values: torch.Tensor) -> None:
        batch, n_heads, head_size = values.shape[0], self.config.n_heads, self.config.d_model // self.config.n_heads
        slots = [
            values.new_zeros(batch, n_heads, cache.max_frames, 2, head_size) for _ in self.blocks
        ]  # (B, nh, max_frames, 2, hs)
        cache.keys = [both[..., 0, :] for both in slots]  # (B, nh, max_frames, hs)
        cache.values = [both[..., 1, :] for both in slots]
        cache.slots = [list(both.unbind(2)) for both in slots]  # max_frames of (B, nh, 2, hs)
        cache.scratch = StepScratch(self, batch, values.dtype, values.device)

    def _step_token_weights(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """`_frame_tokens` + `_age_tokens` as one linear map over `TokenInputs`: weight
        (width, d_model), bias (d_model,). Built in float64 so the folding adds no rounding of
        its own; the rows follow `_frame_tokens`' order of per-track features."""
        d_model, tracks, ages = self.config.d_model, self.max_tracks, self.window_length
        asset_dim = self.config.asset_embed_dim
        weight = self.frame_proj.weight.double().view(d_model, tracks, -1)  # (d_model, T, track_width)
        active, asset, values, motion, since_on_top, shares, track = weight.split(
            (1, asset_dim, VALUE_COUNT, VALUE_COUNT, 1, 1, self.config.track_embed_dim), dim=-1
        )
        dense = torch.cat(
            (active, values, motion * MOTION_INPUT_GAIN, since_on_top / self.window_length, shares), dim=-1
        )  # (d_model, T, 17)
        assets = torch.einsum("dte,ke->dtk", asset, self.asset_embed.weight.double())  # (d_model, T, K)
        age_rows = self._age_tokens(torch.arange(ages, device=weight.device)).double()  # (ages, d_model)
        folded = torch.cat((dense.flatten(1), assets.flatten(1), age_rows.t()), dim=1)  # (d_model, width)
        bias = self.frame_proj.bias.double() + torch.einsum("dte,te->d", track, self.track_embed.weight.double())
        return _one_row_weight(folded.to(dtype)), bias.to(dtype)

    def _rotation(self, cache: KVCache, x: torch.Tensor) -> torch.Tensor:
        """(hs/2,) complex rotation for the frame at cache.position, shared by every layer's q
        and k; read from a table computed ROTATION_TABLE_FRAMES positions at a time."""
        offset = cache.position - cache.rotations_start
        if cache.rotations is None or not 0 <= offset < len(cache.rotations):
            rotary = cast(Block, self.blocks[0]).attn.rotary
            cache.rotations = rotary.rotations(cache.position, ROTATION_TABLE_FRAMES, x.dtype, x.device)
            cache.rotations_start, offset = cache.position, 0
        return cache.rotations[offset]

    def _frame_tokens(
        self,
        active: torch.Tensor,
        asset: torch.Tensor,
        values: torch.Tensor,
        motion: torch.Tensor,
        since_on_top: torch.Tensor,
        shares: torch.Tensor,
    ) -> torch.Tensor:
        """Frames (…, T), (…, T), (…, T, 7), motion (…, T, 7), frames since on top (…, T) and
        cut shares (…, T) -> tokens (…, d_model); … is (B, L), or (B) in `step`."""
        track_ids = self.track_embed.weight.expand(*active.shape, -1)  # (…, T, track_embed_dim)
        per_track = torch.cat(
            (
                active.unsqueeze(-1).to(values.dtype),
                self.asset_embed(asset),
                values,
                motion * MOTION_INPUT_GAIN,
                (since_on_top.to(values.dtype) / self.window_length).unsqueeze(-1),
                shares.to(values.dtype).unsqueeze(-1),
                track_ids.to(values.dtype),
            ),
            dim=-1,
        )  # (…, T, track_width)
        return self.frame_proj(per_track.flatten(-2))  # (…, T * track_width) -> (…, d_model)

    def _age_tokens(self, age: torch.Tensor) -> torch.Tensor:
        """Shot ages (…) in frames -> (…, d_model): log-scaled and linear, both about 0..1 in a window."""
        age = age.to(self.age_proj.weight.dtype)
        features = torch.stack((torch.log1p(age) / math.log1p(self.window_length), age / self.window_length), dim=-1)
        return self.age_proj(features)  # (…, SHOT_AGE_FEATURES) -> (…, d_model)

    def _predict(
        self,
        x: torch.Tensor,
        active: torch.Tensor,
        asset: torch.Tensor,
        values: torch.Tensor,
        change_logits: torch.Tensor,
    ) -> Prediction:
        """Heads on x (B, L, d_model), as changes from the current frames (B, L, T), (B, L, T) and
        their values carried on by their steady motion (B, L, T, 7); the value head's change is
        added where `change_logits` (B, L, T) say a change is likelier than not."""
        batch, length, _ = x.shape
        out = self.head(x).view(batch, length, self.max_tracks, self.head_width)  # (B, L, T, 1 + K + 7)
        active_delta, asset_delta, values_delta = out.split((1, self.asset_classes, VALUE_COUNT), dim=-1)
        stays_on = 2.0 * active.to(x.dtype) - 1.0  # (B, L, T): +1 on, -1 off
        active_logits = active_delta.squeeze(-1) + self.copy_active * stays_on  # (B, L, T)
        same_asset = F.one_hot(asset, self.asset_classes).to(x.dtype)  # (B, L, T, K)
        asset_logits = asset_delta + self.copy_asset[:, None] * same_asset  # (B, L, T, K)
        same_visible = F.one_hot(visible_classes(active), self.max_tracks + 1).to(x.dtype)  # (B, L, T + 1)
        visible_logits = self.visible_head(x) + self.copy_visible * same_visible  # (B, L, T + 1)
        residual = self._residual(values_delta)  # (B, L, T, 7)
        changes = (change_logits >= 0).unsqueeze(-1)  # (B, L, T, 1)
        values = values.to(x.dtype) + residual * changes
        return Prediction(
            active_logits, asset_logits, values, visible_logits, change_logits=change_logits, residual=residual
        )

    def _residual(self, values_delta: torch.Tensor) -> torch.Tensor:
        """The value head's change from the carried-on frame; see RESIDUAL_DEADBAND."""
        if self.training:  # a hard threshold has no gradient: training sees every change
            return values_delta
        return torch.where(values_delta.abs() < RESIDUAL_DEADBAND, 0.0, values_delta)

    def _rank_by_recency(
        self,
        visible_logits: torch.Tensor,
        active: torch.Tensor,
        leaned_on: tuple[torch.Tensor, torch.Tensor],
        rank: torch.Tensor,
        next_delta: torch.Tensor,
    ) -> torch.Tensor:
        """Visible-track logits (…, T + 1) as two factors: the chance of a cut is the visible
        head's (the total of the tracks other than the one on top), and which of them comes,
        given a cut, is ranked by the next-track head (`next_delta` (…, T + 1)) and by two
        leans (`rank` (…, 2) from the recency head) on `leaned_on`: how long ago each track was on
        top (`ranking_recency` (…, T)), towards the angle an editor showed least recently, and
        the share of this timeline's cuts from the track on top that went to it (`cut_shares`
        (…, T)), towards this editor's usual next track. In training the ranking reads the
        visible head's logits without their gradient, so the two heads learn one factor each:
        learning which angle comes next does not teach the model to cut more or less often."""
        # (…, T + 1, 2): "nothing visible" has neither
        leaned = F.pad(torch.stack(leaned_on, dim=-1).to(visible_logits.dtype), (0, 0, 1, 0))
        others = F.one_hot(visible_classes(active), self.max_tracks + 1) == 0  # (…, T + 1)
        shifted = visible_logits.detach() + next_delta + (leaned * rank.unsqueeze(-2)).sum(dim=-1)
        before = torch.where(others, visible_logits, -torch.inf).logsumexp(dim=-1, keepdim=True)  # (…, 1)
        after = torch.where(others, shifted, -torch.inf).logsumexp(dim=-1, keepdim=True)  # (…, 1)
        return torch.where(others, shifted - (after - before), visible_logits)

    def _predict_next(self, x: torch.Tensor, scratch: StepScratch, inputs: TokenInputs) -> Prediction:
        """`_predict` and `_rank_by_recency` for one frame: x (B, d_model) and the frame's inputs.

        The heads are one matrix product; the copy bonuses are added at the current asset
        and visible class through the one-hots the token was made from; the deadband is a
        hardshrink (the same numbers in fewer kernels)."""
        torch.addmm(scratch.head_bias, x, scratch.head_weight, out=scratch.head_out)  # (B, T * (1 + K + 7) + 4T + 4)
        torch.addcmul(scratch.minus_one, inputs.active, scratch.two, out=scratch.stays_on)  # (B, T): +1 on, -1 off
        active_logits = torch.addcmul(scratch.active_delta, scratch.copy_active, scratch.stays_on)  # (B, T)
        asset_logits = torch.addcmul(scratch.asset_delta, scratch.copy_asset, inputs.asset_one_hot)  # (B, T, K)
        goes_on = inputs.motion * (scratch.move_logits >= 0).unsqueeze(-1)  # (B, T, 7): the likelier outcome
        residual = F.hardshrink(scratch.values_delta, scratch.shrink_threshold)  # (B, T, 7)
        values = inputs.values + goes_on + residual * (scratch.change_logits >= 0).unsqueeze(-1)
        visible_logits = self._step_rank_by_recency(scratch, inputs)
        return Prediction(
            active_logits,
            asset_logits,
            values,
            visible_logits,
            inputs.motion,
            scratch.move_logits.clone(),
            scratch.change_logits.clone(),
            residual,
        )

    def _step_rank_by_recency(self, scratch: StepScratch, inputs: TokenInputs) -> torch.Tensor:
        """The visible head's logits (B, T + 1) with the copy bonus and `_rank_by_recency`:
        both log-sum-exps over the tracks not on top in one call, on a (B, 2, T + 1) pair."""
        visible_logits = scratch.visible_logits  # (B, T + 1)
        torch.div(inputs.since_on_top, scratch.window_frames, out=scratch.recency_tracks)  # (B, T)
        scratch.recency_tracks.masked_fill_(torch.ge(inputs.since_on_top, scratch.recency_cap, out=scratch.never), 0.0)
        scratch.shares_tracks.copy_(inputs.cut_share)  # (B, T)
        scratch.ranked_before.copy_(visible_logits)
        torch.addcmul(visible_logits, scratch.rank, scratch.recency, out=scratch.ranked_after)  # shifted by recency
        scratch.ranked_after.addcmul_(scratch.habit, scratch.shares)  # and by this editor's cuts
        scratch.ranked_after.add_(scratch.next_delta)  # and by the next-track head
        scratch.ranked_pair.masked_fill_(scratch.top_pair, scratch.minus_inf)  # only the tracks not on top
        torch.logsumexp(scratch.ranked_pair, dim=-1, out=scratch.ranked_totals)  # (B, 2)
        # keeps the total of the tracks not on top
        ranked = scratch.ranked_after.sub_(
            torch.sub(scratch.totals_after, scratch.totals_before, out=scratch.total_shift)
        )
        on_top = visible_logits + scratch.copy_visible  # (B, T + 1): the copy bonus, at the top class only
        return torch.where(scratch.top, on_top, ranked)


def carry_values(active: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Each track's values at its last active frame up to t: (B, L, T), (B, L, T, 7) -> (B, L, T, 7).

    Carrying a track's last geometry forward tells the model where it would reappear (a
    multicam angle keeps its framing between shots), and it is the base the value head's
    residual starts from. Before a track's first active frame in the window it holds the
    window's first frame's values as given: prepared data and encoded prompts carry them in
    from before the window (`NormStats.apply`); raw frames hold 0 there, the training mean.
    """
    batch, length, tracks = active.shape
    frame = torch.arange(length, device=active.device).view(1, length, 1)  # (1, L, 1)
    last = torch.where(active > 0.5, frame, -1).cummax(dim=1).values  # (B, L, T): last active frame
    index = last.clamp(min=0).unsqueeze(-1).expand(batch, length, tracks, values.shape[-1])  # (B, L, T, 7)
    carried = values.gather(1, index)  # (B, L, T, 7)
    return torch.where((last >= 0).unsqueeze(-1), carried, values[:, :1].expand_as(carried))


def steady_motion(
    older: torch.Tensor, previous: torch.Tensor, current: torch.Tensor, steady: torch.Tensor
) -> torch.Tensor:
    """The per-frame move to carry on from three consecutive frames' values (…, T, 7): the mean
    of the last two steps where they agree (see STEADY_STEP_RATIO), else 0. steady (…, T) says
    the track showed the same asset in all three frames."""
    step_new, step_old = current - previous, previous - older  # (…, T, 7) each
    agree = (step_new * step_old > 0) & (step_new.abs() <= STEADY_STEP_RATIO * step_old.abs())
    agree &= step_old.abs() <= STEADY_STEP_RATIO * step_new.abs()
    return torch.where(agree & steady.unsqueeze(-1), (current - older) / 2, 0.0)


def window_motion(active: torch.Tensor, asset: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """`steady_motion` at every frame of windows (B, L, T), (B, L, T), (B, L, T, 7); 0 at the
    first two frames, which have no two steps before them."""
    key = torch.where(active > 0.5, asset, -1)  # (B, L, T): the asset shown, -1 when off
    steady = (key[:, 2:] >= 0) & (key[:, 2:] == key[:, 1:-1]) & (key[:, 2:] == key[:, :-2])  # (B, L-2, T)
    moving = steady_motion(values[:, :-2], values[:, 1:-1], values[:, 2:], steady)  # (B, L-2, T, 7)
    return F.pad(moving, (0, 0, 0, 0, 2, 0))[:, : active.shape[1]]  # (B, L, T, 7): zeros before frame 2


def _one_row_weight(weight: torch.Tensor) -> torch.Tensor:
    """A linear layer's weight (out, in) -> (in, out) for `addmm(bias, x, w)` on one row x:
    a contiguous copy where the layer widens, a transposed view where it narrows, whichever
    MKL reads faster (docs/decisions.md, "model: one-row weight layout")."""
    if weight.shape[1] > weight.shape[0]:
        return weight.t()  # (in, out) view of the (out, in) weight
    return weight.t().contiguous()  # (in, out)


def _norm_arguments(norm: nn.LayerNorm) -> tuple[tuple[int, ...], torch.Tensor, torch.Tensor, float]:
    # `torch.layer_norm(x, *_norm_arguments(norm))` is `norm(x)` without the module call and
    # F.layer_norm's dispatch checks, which on one frame cost about as much as the kernel
    return tuple(norm.normalized_shape), norm.weight, norm.bias, norm.eps


def ranking_recency(
    since_on_top: torch.Tensor, window_length: int, cap_frames: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Capped frames since on top (…, T) -> how long ago each track was on top, in windows,
    as `_rank_by_recency` leans on it: 0 for a track never on top (or `cap_frames` ago). A
    timeline's unused tracks were never on top; were they the least recent of all, a lean
    towards the least recent angle would pull every cut towards them, so the lean could not
    be learned. A close-up not shown yet is ranked by the next-track head instead."""
    recency = since_on_top.to(dtype) / window_length
    return torch.where(since_on_top >= cap_frames, 0.0, recency)


def transition_counts(active: torch.Tensor) -> torch.Tensor:
    """(B, L, T) frames -> (B, L, T + 1, T + 1): at each frame, the cuts so far (up to and
    including it) from each visible class (0 none, j track j-1) to each."""
    batch, length, tracks = active.shape
    classes = tracks + 1
    shown = visible_classes(active)  # (B, L)
    previous = torch.cat((shown[:, :1], shown[:, :-1]), dim=1)  # (B, L): the frame before (itself at 0)
    pair = F.one_hot(previous * classes + shown, classes * classes) * (shown != previous).unsqueeze(
        -1
    )  # (B, L, (T + 1)²)
    return pair.cumsum(dim=1).view(batch, length, classes, classes)  # (B, L, T + 1, T + 1)


def count_cuts_from_top(active: torch.Tensor) -> torch.Tensor:
    """(B, L, T) frames -> (B, L, T): at each frame, the cuts so far from the class on top now
    to each track (`multitrack.features.vocabulary.cuts_from_top` counts the same over a timeline)."""
    counts = transition_counts(active)  # (B, L, T + 1, T + 1)
    shown = visible_classes(active)  # (B, L)
    row = counts.gather(2, shown[..., None, None].expand(*shown.shape, 1, counts.shape[-1])).squeeze(2)  # (B, L, T + 1)
    return row[..., 1:].clamp(max=SINCE_ON_TOP_MAX)


def cut_shares(cuts_from_top: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Cuts so far from the track on top to each track (…, T) -> the share of them that went to
    each (…, T), 0 everywhere before the first: this editor's usual next track, from here."""
    cuts = cuts_from_top.to(dtype)
    return cuts / cuts.sum(dim=-1, keepdim=True).clamp(min=1.0)


def step_history(active: torch.Tensor) -> StepHistory:
    """(B, N, T) frames of a timeline from its start -> what `step` is told of them when its
    cache starts at the last of them (counted directly: a prompt may be hours of frames)."""
    batch, _, tracks = active.shape
    classes = tracks + 1
    on_top = _on_top(active)  # (B, N, T)
    frame = torch.arange(active.shape[1], device=active.device).view(1, -1, 1)  # (1, N, 1)
    last = torch.where(on_top, frame, -SINCE_ON_TOP_MAX).amax(dim=1)  # (B, T): last frame on top
    since = (active.shape[1] - 1 - last).clamp(max=SINCE_ON_TOP_MAX)  # (B, T), as `frames_since_on_top`'s last row
    shown = visible_classes(active)  # (B, N)
    cuts = (shown[:, 1:] != shown[:, :-1]).to(torch.get_default_dtype())  # (B, N - 1)
    transitions = torch.zeros(batch, classes * classes, device=active.device)  # (B, (T + 1)²)
    transitions.scatter_add_(1, shown[:, :-1] * classes + shown[:, 1:], cuts)
    return StepHistory(since, transitions.view(batch, classes, classes))


def shown_on_top(active: torch.Tensor, asset: torch.Tensor) -> torch.Tensor:
    """(…, T) frames -> (…, 2): the top track's class (0 none) and the asset it shows (0 none)."""
    visible = visible_classes(active)  # (…)
    top_asset = asset.gather(-1, (visible - 1).clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (…)
    return torch.stack((visible, torch.where(visible > 0, top_asset, 0)), dim=-1)


def shot_ages(active: torch.Tensor, asset: torch.Tensor) -> torch.Tensor:
    """(B, L, T) frames -> (B, L) frames since the top track or its asset last changed (a cut,
    DESIGN.md §3), counted from the window's first frame. Editors' shot lengths have a shape
    (a cut grows likelier as a shot ages); the age makes it one input away."""
    shown = shown_on_top(active, asset)  # (B, L, 2)
    changed = torch.ones(shown.shape[:2], dtype=torch.bool, device=shown.device)  # (B, L)
    changed[:, 1:] = (shown[:, 1:] != shown[:, :-1]).any(dim=-1)
    frame = torch.arange(shown.shape[1], device=shown.device)  # (L,)
    shot_start = torch.where(changed, frame, 0).cummax(dim=1).values  # (B, L)
    return frame - shot_start


def frames_since_on_top(active: torch.Tensor) -> torch.Tensor:
    """(B, L, T) frames -> (B, L, T) frames since each track was last the top one in them
    (0 while it is), SINCE_ON_TOP_MAX before it ever was or longer ago. Editors come back to
    the angle they showed least recently (DESIGN.md §3: which track comes next); this makes
    it an input. `multitrack.features.vocabulary` counts the same over a prepared timeline."""
    on_top = _on_top(active)  # (B, L, T)
    frame = torch.arange(active.shape[1], device=active.device).view(1, -1, 1)  # (1, L, 1)
    last = torch.where(on_top, frame, -SINCE_ON_TOP_MAX).cummax(dim=1).values  # (B, L, T)
    return (frame - last).clamp(max=SINCE_ON_TOP_MAX)


def _on_top(active: torch.Tensor) -> torch.Tensor:
    """(…, T) active flags -> (…, T) bool: the track is the topmost active one."""
    visible = visible_classes(active)  # (…): 0 none, j for track j-1
    numbers = torch.arange(1, active.shape[-1] + 1, device=active.device)  # (T,)
    return numbers == visible.unsqueeze(-1)


def visible_classes(active: torch.Tensor) -> torch.Tensor:
    """(…, T) active flags -> (…) class of the topmost active track: 0 none, j for track j-1."""
    tracks = active.shape[-1]
    numbers = torch.arange(1, tracks + 1, device=active.device)  # (T,): V1 = 1
    return torch.where(active > 0.5, numbers, 0).amax(dim=-1)


def _logit(probability: float) -> float:
    return math.log(probability / (1.0 - probability))


def _copy_logit(classes: int) -> float:
    """The bonus that gives "stays" COPY_INIT_PROBABILITY among `classes` equal alternatives."""
    odds = COPY_INIT_PROBABILITY / (1.0 - COPY_INIT_PROBABILITY)
    return math.log(odds * (classes - 1))


def _init_weights(module: nn.Module) -> None:
    # GPT-2's scheme: small normal weights, zero biases, so early logits stay near zero
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
