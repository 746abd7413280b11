"""The causal multi-track Transformer: one token per frame, next-frame heads (DESIGN.md §3).

Each frame's T tracks are described by `active`, an embedded `asset` id, the 7 normalised
geometry values and a learned embedding of the track's layer (V1 is the bottom layer).
Track vectors are concatenated and projected to one `d_model` token per frame, so a window
of L frames is L tokens. Causal self-attention with rotary positions reads frames 0..t and
the heads at t predict frame t+1: per track an `active` logit, K `asset` logits and 7
values.

Rotary positions make attention depend only on the distance between frames, so a rollout
can keep a key/value cache of the last `window_length` frames and drop the oldest keys
as it slides (`step`), exactly like the windows the model was trained on.

B = batch, L = frames, T = tracks, K = asset classes, V = 7 values, nh = heads,
hs = head size, S = cached frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from multitrack.config import ModelConfig

VALUE_COUNT = 7  # scale, pos_x, pos_y, crop_left/right/top/bottom (DESIGN.md §2)
ROTARY_BASE = 10_000.0
# Next frames mostly repeat the current one (DESIGN.md §3), so the heads start from the
# current frame: a learned bonus for "stays as it is" on the active, asset and visible-track
# logits and a residual on the values. The Transformer then only has to learn what changes,
# and when. The bonus starts where "stays" has this probability:
COPY_INIT_PROBABILITY = 0.98


class Prediction(NamedTuple):
    """What the model says about the next frame(s).

    `visible_logits` score which track is the topmost active one (the one on screen) in the
    next frame: class 0 is "none", class j is track j-1 (V1 = 1). The per-track `active`
    logits are independent of each other; this head carries what they cannot, such as
    "if the close-up goes off, the wide comes on" (DESIGN.md §3: which track comes next).
    """

    active_logits: torch.Tensor  # (B, L, T) or (B, T) from `step`
    asset_logits: torch.Tensor  # (B, L, T, K) or (B, T, K)
    values: torch.Tensor  # (B, L, T, 7) or (B, T, 7), normalised
    visible_logits: torch.Tensor  # (B, L, T + 1) or (B, T + 1)


@dataclass
class KVCache:
    """Rotated keys and values of the last `max_frames` frames, per layer, for `step`."""

    max_frames: int
    position: int = 0  # absolute index of the next frame
    keys: list[torch.Tensor] = field(default_factory=list)  # per layer (B, nh, S, hs)
    values: list[torch.Tensor] = field(default_factory=list)  # per layer (B, nh, S, hs)

    @property
    def frames(self) -> int:
        return self.keys[0].shape[2] if self.keys else 0


class RotaryEmbedding(nn.Module):
    """Rotates query/key pairs by an angle proportional to the frame index (RoFormer)."""

    def __init__(self, head_size: int):
        super().__init__()
        if head_size % 2:
            raise ValueError(f"rotary positions need an even head size, got {head_size}")
        inv_freq = 1.0 / ROTARY_BASE ** (torch.arange(0, head_size, 2, dtype=torch.float64) / head_size)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: torch.Tensor, first_position: int) -> torch.Tensor:
        # x: (B, nh, L, hs); angles in float64 so long rollouts keep their precision
        length = x.shape[2]
        positions = torch.arange(first_position, first_position + length, dtype=torch.float64, device=x.device)
        angles = torch.outer(positions, self.inv_freq)  # (L, hs/2)
        cos = angles.cos().to(x.dtype)
        sin = angles.sin().to(x.dtype)
        even, odd = x[..., 0::2], x[..., 1::2]  # (B, nh, L, hs/2) each
        rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)  # (B, nh, L, hs/2, 2)
        return rotated.flatten(-2)  # (B, nh, L, hs)


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
        # kernel (a third slower per training step); the residual dropout regularises instead.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, L, hs)
        return self._merge(y)

    def step(self, x: torch.Tensor, cache: KVCache, layer: int) -> torch.Tensor:
        """One new frame x (B, 1, d_model) attending to itself and the cached frames."""
        q, k, v = self._heads(x)  # each (B, nh, 1, hs)
        q, k = self.rotary(q, cache.position), self.rotary(k, cache.position)
        if layer < len(cache.keys):
            # keep at most max_frames keys, the new one included: the span of a training window
            k = torch.cat((cache.keys[layer], k), dim=2)[:, :, -cache.max_frames :]  # (B, nh, S, hs)
            v = torch.cat((cache.values[layer], v), dim=2)[:, :, -cache.max_frames :]
            cache.keys[layer], cache.values[layer] = k, v
        else:
            cache.keys.append(k)
            cache.values.append(v)
        y = F.scaled_dot_product_attention(q, k, v)  # the newest frame may see every cached one: (B, nh, 1, hs)
        return self._merge(y)


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

    def step(self, x: torch.Tensor, cache: KVCache, layer: int) -> torch.Tensor:
        x = x + self.attn.step(self.ln_attn(x), cache, layer)
        return x + self.mlp(self.ln_mlp(x))


class MultitrackTransformer(nn.Module):
    """Causal next-frame model over windows of multi-track frames."""

    def __init__(self, config: ModelConfig, max_tracks: int, asset_classes: int, window_length: int):
        super().__init__()
        self.config = config
        self.max_tracks = max_tracks
        self.asset_classes = asset_classes
        self.window_length = window_length
        track_width = 1 + config.asset_embed_dim + VALUE_COUNT + config.track_embed_dim
        self.asset_embed = nn.Embedding(asset_classes, config.asset_embed_dim)
        self.track_embed = nn.Embedding(max_tracks, config.track_embed_dim)
        self.frame_proj = nn.Linear(max_tracks * track_width, config.d_model)
        self.embed_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_out = nn.LayerNorm(config.d_model)
        self.head_width = 1 + asset_classes + VALUE_COUNT  # per track: active, K assets, 7 values
        self.head = nn.Linear(config.d_model, max_tracks * self.head_width)
        self.visible_head = nn.Linear(config.d_model, max_tracks + 1)
        self.apply(_init_weights)
        for head in (self.head, self.visible_head):
            nn.init.zeros_(head.weight)  # an untrained model predicts exactly "nothing changes"
        self.copy_active = nn.Parameter(torch.full((max_tracks,), _copy_logit(2)))
        self.copy_asset = nn.Parameter(torch.full((max_tracks,), _copy_logit(asset_classes)))
        self.copy_visible = nn.Parameter(torch.full((max_tracks + 1,), _copy_logit(max_tracks + 1)))

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, active: torch.Tensor, asset: torch.Tensor, values: torch.Tensor) -> Prediction:
        """Frames (B, L, T), (B, L, T), (B, L, T, 7) -> predictions for frames 1..L."""
        x = self.embed_dropout(self._frame_tokens(active, asset, values))  # (B, L, d_model)
        for block in self.blocks:
            x = block(x)
        return self._predict(self.ln_out(x), active, asset, values)

    def new_cache(self, max_frames: int | None = None) -> KVCache:
        return KVCache(max_frames=max_frames or self.window_length)

    @torch.no_grad()
    def step(
        self,
        frame_active: torch.Tensor,
        frame_asset: torch.Tensor,
        frame_values: torch.Tensor,
        cache: KVCache | None = None,
    ) -> tuple[Prediction, KVCache]:
        """One frame (B, T), (B, T), (B, T, 7) -> prediction for the next frame (B, T, …), cache."""
        cache = cache if cache is not None else self.new_cache()
        x = self._frame_tokens(frame_active[:, None], frame_asset[:, None], frame_values[:, None])  # (B, 1, d_model)
        x = self.embed_dropout(x)
        for layer, block in enumerate(self.blocks):
            x = block.step(x, cache, layer)
        cache.position += 1
        prediction = self._predict(self.ln_out(x), frame_active[:, None], frame_asset[:, None], frame_values[:, None])
        return Prediction(*(part[:, 0] for part in prediction)), cache

    def _frame_tokens(self, active: torch.Tensor, asset: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        batch, length, tracks = active.shape
        if tracks != self.max_tracks:
            raise ValueError(f"model expects {self.max_tracks} tracks per frame, got {tracks}")
        track_ids = self.track_embed.weight.expand(batch, length, -1, -1)  # (B, L, T, track_embed_dim)
        per_track = torch.cat(
            (active.unsqueeze(-1).to(values.dtype), self.asset_embed(asset), values, track_ids.to(values.dtype)),
            dim=-1,
        )  # (B, L, T, track_width)
        return self.frame_proj(per_track.flatten(2))  # (B, L, T * track_width) -> (B, L, d_model)

    def _predict(self, x: torch.Tensor, active: torch.Tensor, asset: torch.Tensor, values: torch.Tensor) -> Prediction:
        """Heads on x (B, L, d_model), as changes from the current frames (B, L, T), (B, L, T), (B, L, T, 7)."""
        batch, length, _ = x.shape
        out = self.head(x).view(batch, length, self.max_tracks, self.head_width)  # (B, L, T, 1 + K + 7)
        active_delta, asset_delta, values_delta = out.split((1, self.asset_classes, VALUE_COUNT), dim=-1)
        stays_on = 2.0 * active.to(x.dtype) - 1.0  # (B, L, T): +1 on, -1 off
        active_logits = active_delta.squeeze(-1) + self.copy_active * stays_on  # (B, L, T)
        same_asset = F.one_hot(asset, self.asset_classes).to(x.dtype)  # (B, L, T, K)
        asset_logits = asset_delta + self.copy_asset[:, None] * same_asset  # (B, L, T, K)
        same_visible = F.one_hot(visible_classes(active), self.max_tracks + 1).to(x.dtype)  # (B, L, T + 1)
        visible_logits = self.visible_head(x) + self.copy_visible * same_visible  # (B, L, T + 1)
        return Prediction(active_logits, asset_logits, values.to(x.dtype) + values_delta, visible_logits)


def visible_classes(active: torch.Tensor) -> torch.Tensor:
    """(…, T) active flags -> (…) class of the topmost active track: 0 none, j for track j-1."""
    tracks = active.shape[-1]
    numbers = torch.arange(1, tracks + 1, device=active.device)  # (T,): V1 = 1
    return torch.where(active > 0.5, numbers, 0).amax(dim=-1)


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

