"""The causal multi-track Transformer: one token per frame, next-frame heads (DESIGN.md §3).

Each frame's T tracks are described by `active`, an embedded `asset` id, the 7 normalised
geometry values and the inputs derived from the frames before (`multitrack.model.inputs`:
steady move, frames since on top, share of cuts from the track on top) and a learned
embedding of the track's layer (V1 is the bottom layer); the shot's age is added to the
frame. Track vectors are concatenated and projected to one `d_model` token per frame, so a
window of L frames is L tokens. Causal self-attention with rotary positions reads frames
0..t and the heads at t predict frame t+1: per track an `active` logit, K `asset` logits,
whether its steady move goes on, whether its values change beyond that and, if they do, the
7 values' change; which track is on top (the chance of a cut, and which track given one).

Decoding: `setup_cache` gives every attention layer a `KVCache` of `window_length` slots and
the same `forward(inputs, input_pos)` then writes each frame's key and value to slot
`input_pos % capacity`, so the cache slides over the last window like the windows the model
was trained on (rotary positions make attention depend only on the distance between frames).

B = batch, L = frames, T = tracks, K = asset classes, V = 7 values, nh = heads, hs = head
size, S = cache slots, C = T + 1 visible classes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from multitrack.config import ModelConfig
from multitrack.model.inputs import VALUE_COUNT, InputRules, Inputs, ranking_recency, window_inputs

ROTARY_BASE = 10_000.0
SHOT_AGE_FEATURES = 2  # log-scaled and linear frames since the last cut
# Next frames mostly repeat the current one (DESIGN.md §3), so the heads start from the current
# frame: a learned bonus for "stays as it is" on the active, asset and visible-track logits and a
# residual on the values. The bonus starts where "stays" has this probability:
COPY_INIT_PROBABILITY = 0.98
MOVE_INIT_PROBABILITY = 0.9  # an untrained model's chance that a steady move goes on
CHANGE_INIT_PROBABILITY = 0.05  # ... that a track's values change beyond its carried move
RECENCY_LEANS = 2  # the recency head's outputs: towards the least recent track, towards the usual next


class Prediction(NamedTuple):
    """What the model says about the next frame(s), (B, L, …) or, from a rollout's step, (B, …).

    `visible_logits` score which track is the topmost active one in the next frame (class 0
    "none", class j track j-1): the per-track `active` logits are independent, this head
    carries what they cannot ("if the close-up goes off, the wide comes on"). `values` hold
    the likelier outcome of each track's move (`move_logits`) and change (`change_logits`,
    `residual`); a rollout draws them (`multitrack.sample.rollout.sample_frame`).
    """

    active_logits: torch.Tensor  # (B, L, T)
    asset_logits: torch.Tensor  # (B, L, T, K)
    values: torch.Tensor  # (B, L, T, 7) normalised
    visible_logits: torch.Tensor  # (B, L, C)
    motion: torch.Tensor | None = None  # (B, L, T, 7) each track's steady move
    move_logits: torch.Tensor | None = None  # (B, L, T) that it goes on
    change_logits: torch.Tensor | None = None  # (B, L, T) that the values change beyond it
    residual: torch.Tensor | None = None  # (B, L, T, 7) the change if they do

    def last(self) -> Prediction:
        """The last frame's prediction (B, …): the next frame's."""
        return Prediction._make(None if part is None else part[:, -1] for part in self)


class HeadOutputs(NamedTuple):
    """The heads' raw outputs on (B, L, d_model), before `MultitrackTransformer.predict`."""

    per_track: torch.Tensor  # (B, L, T, 1 + K + 7): active, asset and values deltas
    visible: torch.Tensor  # (B, L, C)
    rank: torch.Tensor  # (B, L, 2) the recency leans
    next_delta: torch.Tensor  # (B, L, C)
    move: torch.Tensor  # (B, L, T)
    change: torch.Tensor  # (B, L, T)


class KVCache(nn.Module):
    """One layer's rotated keys and values in `capacity` slots; frame p goes to slot p % capacity."""

    k_cache: torch.Tensor  # buffers (B, nh, S, hs)
    v_cache: torch.Tensor

    def __init__(self, batch: int, n_heads: int, capacity: int, head_size: int, dtype: torch.dtype):
        super().__init__()
        shape = (batch, n_heads, capacity, head_size)
        self.register_buffer("k_cache", torch.zeros(shape, dtype=dtype), persistent=False)
        self.register_buffer("v_cache", torch.zeros(shape, dtype=dtype), persistent=False)

    def update(self, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # slots (L,); k, v (B, nh, L, hs)
        self.k_cache.index_copy_(2, slots, k)
        self.v_cache.index_copy_(2, slots, v)
        return self.k_cache, self.v_cache


class Attention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.d_model % config.n_heads:
            raise ValueError(f"d_model {config.d_model} is not a multiple of n_heads {config.n_heads}")
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.kv_cache: KVCache | None = None
        self.weights: torch.Tensor | None = None  # the last captured attention (B, nh, L, S)

    def forward(
        self,
        x: torch.Tensor,
        rotation: torch.Tensor,
        slots: torch.Tensor | None,
        mask: torch.Tensor | None,
        capture: bool = False,
    ) -> torch.Tensor:
        batch, length, width = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.n_heads, width // self.n_heads)  # (B, L, 3, nh, hs)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, nh, L, hs)
        q, k = rotate(q, rotation), rotate(k, rotation)
        if slots is not None:
            assert self.kv_cache is not None  # setup_cache made it
            k, v = self.kv_cache.update(slots, k, v)  # (B, nh, S, hs) each
        if capture:  # the same attention spelled out, to keep its weights (`MultitrackTransformer.attention`)
            y = self._explicit(q, k, v, mask)
        elif slots is None:  # a window from its first frame
            # No dropout on the attention weights: with it, CPU attention falls back to the math
            # kernel (docs/decisions.md, "model: no attention dropout").
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, L, hs)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, nh, L, hs)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(batch, length, width)))

    def _explicit(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """softmax(q kᵀ / √hs) v over the frames each query may see (causal, or `mask` (L, S)),
        the weights (B, nh, L, S) kept in `self.weights`."""
        if mask is None:
            mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, nh, L, S)
        self.weights = torch.softmax(scores.masked_fill(~mask, -torch.inf), dim=-1)
        return self.weights @ v  # (B, nh, L, hs)


class Block(nn.Module):
    """Pre-norm Transformer block: attention then a GELU MLP, each with a residual."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln_attn = nn.LayerNorm(config.d_model)
        self.attn = Attention(config)
        self.ln_mlp = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff),
            nn.GELU(),
            nn.Linear(config.d_ff, config.d_model),
            nn.Dropout(config.dropout),
        )

    def forward(
        self,
        x: torch.Tensor,
        rotation: torch.Tensor,
        slots: torch.Tensor | None,
        mask: torch.Tensor | None,
        capture: bool = False,
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_attn(x), rotation, slots, mask, capture)
        return x + self.mlp(self.ln_mlp(x))


class MultitrackTransformer(nn.Module):
    """Causal next-frame model over windows of multi-track frames."""

    inv_freq: torch.Tensor  # a buffer (hs/2,): rotary frequencies
    slot_positions: torch.Tensor  # a buffer (S,): the frame each cache slot holds, -1 for none
    classes: torch.Tensor  # a buffer (C,): the visible classes 0..T

    def __init__(self, config: ModelConfig, max_tracks: int, asset_classes: int, window_length: int):
        super().__init__()
        self.config = config
        self.max_tracks = max_tracks
        self.asset_classes = asset_classes
        self.window_length = window_length
        self.rules = InputRules.of(config, window_length)
        # per track: active, asset embedding, 7 values, their steady move, frames since on top,
        # cut share, track embedding
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
        self.next_head = nn.Linear(config.d_model, max_tracks + 1)  # which track comes, given a cut
        self.move_head = nn.Linear(config.d_model, max_tracks)  # whether a steady move goes on
        self.change_head = nn.Linear(config.d_model, max_tracks)  # whether the values change beyond it
        # how strongly, given a cut, the next track leans to the one on top least recently and to
        # where this editor's cuts from the track on top went so far (`_rank_by_recency`)
        self.recency_head = nn.Linear(config.d_model, RECENCY_LEANS)
        self.apply(_init_weights)
        for head in self.heads_in_order():
            nn.init.zeros_(head.weight)  # an untrained model predicts exactly "nothing changes"
        self.copy_active = nn.Parameter(torch.full((max_tracks,), _copy_logit(2)))
        self.copy_asset = nn.Parameter(torch.full((max_tracks,), _copy_logit(asset_classes)))
        self.copy_visible = nn.Parameter(torch.full((max_tracks + 1,), _copy_logit(max_tracks + 1)))
        nn.init.constant_(self.move_head.bias, _logit(MOVE_INIT_PROBABILITY))
        nn.init.constant_(self.change_head.bias, _logit(CHANGE_INIT_PROBABILITY))
        head_size = config.d_model // config.n_heads
        if head_size % 2:
            raise ValueError(f"rotary positions need an even head size, got {head_size}")
        inv_freq = 1.0 / ROTARY_BASE ** (torch.arange(0, head_size, 2, dtype=torch.float64) / head_size)
        self.register_buffer("inv_freq", inv_freq, persistent=False)  # (hs/2,)
        self.register_buffer("slot_positions", torch.empty(0, dtype=torch.long), persistent=False)
        self.register_buffer("classes", torch.arange(max_tracks + 1), persistent=False)  # (C,)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def heads_in_order(self) -> tuple[nn.Linear, ...]:
        """The head layers in `HeadOutputs`' order."""
        return (self.head, self.visible_head, self.recency_head, self.next_head, self.move_head, self.change_head)

    def inputs(
        self,
        active: torch.Tensor,
        asset: torch.Tensor,
        values: torch.Tensor,
        since_on_top: torch.Tensor | None = None,
        cuts_from_top: torch.Tensor | None = None,
    ) -> Inputs:
        """Frames (B, L, T), (B, L, T), (B, L, T, 7) -> their inputs under this model's rules."""
        if active.shape[-1] != self.max_tracks:
            raise ValueError(f"model expects {self.max_tracks} tracks per frame, got {active.shape[-1]}")
        return window_inputs(active, asset, values, self.rules, since_on_top, cuts_from_top)

    def setup_cache(self, batch: int, dtype: torch.dtype = torch.float32) -> None:
        """Give every layer an empty cache of `window_length` slots, for `forward(…, input_pos)`."""
        head_size = self.config.d_model // self.config.n_heads
        device = self.inv_freq.device
        for block in self.blocks:
            attn = block.attn
            assert isinstance(attn, Attention)
            attn.kv_cache = KVCache(batch, self.config.n_heads, self.window_length, head_size, dtype).to(device)
        self.slot_positions = torch.full((self.window_length,), -1, dtype=torch.long, device=device)

    def forward(
        self, inputs: Inputs, input_pos: torch.Tensor | None = None, capture_attention: bool = False
    ) -> Prediction:
        """Inputs (B, L, …) of frames 0..L-1 -> predictions for frames 1..L.

        With `input_pos` (L,) the frames' positions in a rollout (after `setup_cache`): their keys
        and values go to the cache, and each attends to the frames of the last window cached.
        With `capture_attention` every layer's attention weights are kept (`attention`).
        """
        x = self.embed_dropout(self.embed(inputs))  # (B, L, d_model)
        length = x.shape[1]
        positions = torch.arange(length, device=x.device) if input_pos is None else input_pos  # (L,)
        rotation = torch.polar(torch.ones_like(self.inv_freq), torch.outer(positions.double(), self.inv_freq))
        rotation = rotation.to(torch.complex64 if x.dtype != torch.float64 else torch.complex128)  # (L, hs/2)
        slots = mask = None
        if input_pos is not None:
            slots = input_pos % self.window_length  # (L,)
            self.slot_positions.index_copy_(0, slots, input_pos)
            held = self.slot_positions[None]  # (1, S)
            mask = (held >= 0) & (held <= input_pos[:, None]) & (held > input_pos[:, None] - self.window_length)
        for block in self.blocks:
            x = block(x, rotation, slots, mask, capture_attention)
        return self.predict(self.head_outputs(self.ln_out(x)), inputs)

    def attention(self, inputs: Inputs) -> tuple[Prediction, list[torch.Tensor]]:
        """A window's predictions and each layer's attention weights (B, nh, L, L): row t is how
        much frame t's query weighed frames 0..t (0 on the frames after it)."""
        prediction = self(inputs, capture_attention=True)
        weights = []
        for block in self.blocks:
            attn = block.attn
            assert isinstance(attn, Attention) and attn.weights is not None  # the capture kept them
            weights.append(attn.weights)
            attn.weights = None  # held only until handed over
        return prediction, weights

    def embed(self, inputs: Inputs) -> torch.Tensor:
        """Inputs (B, L, …) -> frame tokens (B, L, d_model)."""
        values = inputs.values
        track_ids = self.track_embed.weight.expand(*inputs.active.shape, -1)  # (B, L, T, track_embed_dim)
        per_track = torch.cat(
            (
                inputs.active.to(values.dtype).unsqueeze(-1),
                self.asset_embed(inputs.asset),
                values,
                inputs.motion * self.config.motion_input_gain,
                (inputs.since_on_top.to(values.dtype) / self.window_length).unsqueeze(-1),
                inputs.cut_shares.to(values.dtype).unsqueeze(-1),
                track_ids.to(values.dtype),
            ),
            dim=-1,
        )  # (B, L, T, track_width)
        age = inputs.shot_age.to(values.dtype)  # (B, L)
        ages = torch.stack((torch.log1p(age) / math.log1p(self.window_length), age / self.window_length), dim=-1)
        return self.frame_proj(per_track.flatten(-2)) + self.age_proj(ages)  # (B, L, d_model)

    def head_outputs(self, x: torch.Tensor) -> HeadOutputs:
        """The heads on x (B, L, d_model)."""
        per_track = self.head(x).unflatten(-1, (self.max_tracks, self.head_width))  # (B, L, T, 1 + K + 7)
        return HeadOutputs(per_track, *(head(x) for head in self.heads_in_order()[1:]))

    def predict(self, out: HeadOutputs, inputs: Inputs) -> Prediction:
        """Heads as changes from the current frames: copy bonuses on "stays as it is", each
        steady move carried on where the move head says it is likelier, the value head's change
        added where the change head says so, and the visible track ranked (`_rank_by_recency`)."""
        active_delta, asset_delta, values_delta = out.per_track.split((1, self.asset_classes, VALUE_COUNT), dim=-1)
        dtype = values_delta.dtype
        active_logits = active_delta.squeeze(-1).addcmul(self.copy_active, 2.0 * inputs.active - 1.0)  # (B, L, T)
        asset_logits = _add_at(asset_delta, inputs.asset, self.copy_asset)  # (B, L, T, K)
        visible_logits = _add_at(out.visible, inputs.visible, self.copy_visible[inputs.visible])  # (B, L, C)
        residual = self._residual(values_delta)  # (B, L, T, 7)
        goes_on = inputs.motion * (out.move >= 0).unsqueeze(-1)  # the likelier outcome; the loss fits the true one
        values = inputs.values + goes_on + residual * (out.change >= 0).unsqueeze(-1)  # (B, L, T, 7)
        on_top = self.classes == inputs.visible.unsqueeze(-1)  # (B, L, C)
        leaned = (ranking_recency(inputs.since_on_top, self.rules, dtype), inputs.cut_shares.to(dtype))
        ranked = self._rank_by_recency(visible_logits, on_top, leaned, out.rank, out.next_delta)
        return Prediction(active_logits, asset_logits, values, ranked, inputs.motion, out.move, out.change, residual)

    def _residual(self, values_delta: torch.Tensor) -> torch.Tensor:
        """The value head's change; out of training, changes within the deadband are its noise and
        dropped: a still frame stays exactly still, and a rollout's noise cannot build into a drift."""
        if self.training:  # a hard threshold has no gradient: training sees every change
            return values_delta
        return F.hardshrink(values_delta, self.config.residual_deadband)

    def _rank_by_recency(
        self,
        visible_logits: torch.Tensor,
        on_top: torch.Tensor,
        leaned_on: tuple[torch.Tensor, torch.Tensor],
        rank: torch.Tensor,
        next_delta: torch.Tensor,
    ) -> torch.Tensor:
        """Visible-track logits (…, C) as two factors: the chance of a cut is the visible head's
        (the total of the classes not `on_top`), and which of them comes, given a cut, is
        ranked by the next-track head (`next_delta`) and by two leans (`rank` (…, 2)) on
        `leaned_on`: how long ago each track was on top (towards the angle shown least recently)
        and the share of this timeline's cuts from the track on top that went to it (towards the
        editor's usual next track). The ranking reads the visible logits without their gradient,
        so learning which angle comes next does not teach the model to cut more or less often."""
        recency, shares = leaned_on  # (…, T) each
        leaned = F.pad(
            recency * rank[..., :1] + shares * rank[..., 1:], (1, 0)
        )  # (…, C): "nothing visible" has neither
        shifted = visible_logits.detach() + next_delta + leaned
        pair = torch.stack((visible_logits, shifted), dim=-2).masked_fill(on_top.unsqueeze(-2), -torch.inf)
        before, after = pair.logsumexp(dim=-1, keepdim=True).unbind(-2)  # (…, 1) each: totals of the others
        return torch.where(on_top, visible_logits, shifted - (after - before))


def _add_at(logits: torch.Tensor, index: torch.Tensor, bonus: torch.Tensor) -> torch.Tensor:
    """logits (…, N) with `bonus` (…, broadcast) added at each position's class `index` (…): the
    copy bonus on "stays as it is"."""
    return logits.scatter_add(-1, index.unsqueeze(-1), bonus.expand(index.shape).unsqueeze(-1).to(logits.dtype))


def rotate(x: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Rotate query/key pairs (B, nh, L, hs) by their positions' angles (L, hs/2) complex (RoFormer)."""
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))  # (B, nh, L, hs/2)
    return torch.view_as_real(pairs * rotation).flatten(-2)  # (B, nh, L, hs)


def _logit(probability: float) -> float:
    return math.log(probability / (1.0 - probability))


def _copy_logit(classes: int) -> float:
    """The bonus that gives "stays" COPY_INIT_PROBABILITY among `classes` equal alternatives."""
    return math.log(COPY_INIT_PROBABILITY / (1.0 - COPY_INIT_PROBABILITY) * (classes - 1))


def _init_weights(module: nn.Module) -> None:
    # GPT-2's scheme: small normal weights, zero biases, so early logits stay near zero
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
