"""Roll the model forward from a prompt, one sampled frame at a time.

Each new frame is drawn from the model's next-frame prediction: the track on top from
softmax(visible logits / temperature), each track below it from a Bernoulli on
sigmoid(active logit / temperature) (tracks above it are off), the asset of an active track
from softmax(logits / temperature) over the classes 1..K-1 (class 0, "none", is reserved
for empty tracks), and the geometry is the predicted values. Temperature 0 is greedy (logit > 0,
argmax). Random draws come from one `torch.Generator` in a fixed order, so a seed fixes the
rollout.

`rollout(..., cached=True)` feeds each frame through `MultitrackTransformer.step`, whose
key/value cache slides over the last `window_length` frames: one token of work per frame.
`cached=False` re-runs the whole window for every frame, as a reference; the two agree
exactly while the sequence fits in one window (after that the cache remembers context from
beyond the window that a re-run cannot see).

Both run small batches on one intra-op thread: a one-frame step is dozens of tiny kernels,
and waking a second thread for each costs more than it saves. Both run without oneDNN: its
GELU builds a primitive per call, slower on one frame's activations than ATen's own kernel
(the matrix products are MKL's either way). docs/decisions.md, "rollout: one thread, no
oneDNN", has the figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from multitrack.data.normalize import NormStats
from multitrack.features.vocabulary import Frames, fold_assets
from multitrack.model.transformer import (
    MultitrackTransformer,
    Prediction,
    count_cuts_from_top,
    frames_since_on_top,
    step_history,
)

SINGLE_THREAD_BATCH = 8  # batches up to this size roll out on one intra-op thread
# numbers sample_frame's kernels take, as 0-dim tensors: wrapping a Python number costs more
# than the kernel (float64 bounds round to the draws' own dtype as the numbers did)
_UNIFORM_LOW, _UNIFORM_HIGH = torch.tensor(1e-12, dtype=torch.float64), torch.tensor(1.0 - 1e-7, dtype=torch.float64)
_ONE_CLASS = torch.tensor(1)


@dataclass
class FrameTensors:
    """Frames as the model reads them: (B, N, T) float, (B, N, T) long, (B, N, T, 7) normalised."""

    active: torch.Tensor
    asset: torch.Tensor
    values: torch.Tensor

    @property
    def frames(self) -> int:
        return self.active.shape[1]

    def frame(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.active[:, index], self.asset[:, index], self.values[:, index]

    def span(self, start: int, stop: int) -> FrameTensors:
        return FrameTensors(self.active[:, start:stop], self.asset[:, start:stop], self.values[:, start:stop])


def encode_frames(frames: Frames, stats: NormStats, asset_classes: int, batch: int = 1) -> FrameTensors:
    """Frame-table arrays (N, T …) of one timeline from its start -> model tensors repeated
    `batch` times: assets folded into K-1 "other" (DESIGN.md §2), values normalised, and where
    a track is off, the geometry it last had (`NormStats.apply`)."""
    active = frames.active.astype(bool)
    asset = np.where(active, fold_assets(frames.asset, asset_classes)[0], 0)
    values = stats.apply(frames.values, active)  # (N, T, 7)
    return FrameTensors(
        torch.as_tensor(active, dtype=torch.float32)[None].repeat(batch, 1, 1),  # (B, N, T)
        torch.as_tensor(asset, dtype=torch.long)[None].repeat(batch, 1, 1),  # (B, N, T)
        torch.as_tensor(values, dtype=torch.float32)[None].repeat(batch, 1, 1, 1),  # (B, N, T, 7)
    )


def decode_frames(tensors: FrameTensors, stats: NormStats) -> list[Frames]:
    """Model tensors -> one frame-table Frames per batch row (values de-normalised, 0 where inactive)."""
    active = tensors.active.cpu().numpy() > 0.5  # (B, N, T)
    values = stats.invert(tensors.values.cpu().numpy().astype(np.float64))  # (B, N, T, 7)
    values = np.where(active[..., None], values, 0.0).astype(np.float32)
    asset = tensors.asset.cpu().numpy()
    return [Frames(active[b], asset[b], values[b]) for b in range(len(active))]


def sample_frame(
    prediction: Prediction, temperature: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One frame (B, T), (B, T), (B, T, 7) drawn from a next-frame prediction.

    First the track on top (the visible-track head, which knows which cuts go together),
    then every track below it from its own `active` probability; tracks above it are off.
    Each track's steady move goes on or stops by its own draw, and its values change (by the
    value head's change) or not by another (the prediction's values hold the likelier of each,
    which is the draw at temperature 0).
    """
    active_logits, asset_logits, values, visible_logits, motion, move_logits, change_logits, residual = prediction
    if temperature <= 0:
        visible = visible_logits.argmax(dim=-1, keepdim=True)  # (B, 1): 0 none, j = track j-1
        below_on = active_logits > 0
        asset = asset_logits[..., 1:].argmax(dim=-1)  # (B, T): an active track shows some asset, never class 0
    else:
        visible_gumbel, uniform, asset_gumbel, move_uniform, change_uniform = _draw_noise(asset_logits, generator)
        visible = (_scaled(visible_logits, temperature) - visible_gumbel).argmax(dim=-1, keepdim=True)  # (B, 1)
        below_on = uniform < torch.sigmoid(_scaled(active_logits, temperature))
        asset = (_scaled(asset_logits[..., 1:], temperature) - asset_gumbel).argmax(dim=-1)  # (B, T)
        if motion is not None:
            assert move_logits is not None  # the model gives it with motion
            goes_on = move_uniform < torch.sigmoid(_scaled(move_logits, temperature))  # (B, T): this draw
            likelier = move_logits >= 0  # (B, T): what `values` hold
            values = values + motion * (goes_on.to(values.dtype) - likelier.to(values.dtype)).unsqueeze(-1)
        if change_logits is not None:
            assert residual is not None  # the model gives it with change_logits
            changes = change_uniform < torch.sigmoid(_scaled(change_logits, temperature))  # (B, T): this draw
            likelier = change_logits >= 0  # (B, T): what `values` hold
            values = values + residual * (changes.to(values.dtype) - likelier.to(values.dtype)).unsqueeze(-1)
    numbers = torch.arange(1, active_logits.shape[-1] + 1, device=active_logits.device)  # (T,)
    active = torch.where(numbers < visible, below_on, numbers == visible)  # (B, T)
    asset = asset.add_(_ONE_CLASS).mul_(active)  # (B, T): 0 where off
    values = torch.where(active[..., None], values, 0.0)  # (B, T, 7)
    return active.to(values.dtype), asset, values


def _draw_noise(
    asset_logits: torch.Tensor, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Uniform draws for the visible track (B, T + 1), each track's Bernoulli (B, T), the
    assets (B, T, K - 1), each track's move (B, T) and each track's change (B, T), in that
    order, as one draw (the same numbers as five: a CPU generator fills a tensor in order).
    The visible track and the assets get Gumbel noise, -log(-log(u)), returned as
    log(-log(u)) to subtract: argmax(logits + g) is a softmax sample (Gumbel-max)."""
    batch, tracks, classes = asset_logits.shape
    visible_size, active_size = batch * (tracks + 1), batch * tracks
    asset_end = visible_size + active_size + active_size * (classes - 1)
    uniform = torch.rand(asset_end + 2 * active_size, generator=generator, device=asset_logits.device)  # (all draws,)
    log_neg_log = uniform[:asset_end].clamp(_UNIFORM_LOW, _UNIFORM_HIGH).log_().neg_().log_()  # (Gumbel draws,)
    return (
        log_neg_log[:visible_size].view(batch, tracks + 1),
        uniform[visible_size : visible_size + active_size].view(batch, tracks),
        log_neg_log[visible_size + active_size :].view(batch, tracks, classes - 1),
        uniform[asset_end : asset_end + active_size].view(batch, tracks),
        uniform[asset_end + active_size :].view(batch, tracks),
    )


def _scaled(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    # dividing by 1 changes no bit, and the default temperature is 1
    return logits if temperature == 1.0 else logits / temperature


def rollout(
    model: MultitrackTransformer,
    prompt: FrameTensors,
    n_frames: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    cached: bool = True,
) -> FrameTensors:
    """Sample n_frames after the prompt (at least one frame); returns only the new frames."""
    if prompt.frames < 1:
        raise ValueError("a rollout needs a prompt of at least one frame")
    model.eval()
    threads = 1 if prompt.active.shape[0] <= SINGLE_THREAD_BATCH else torch.get_num_threads()
    # inference mode skips autograd's bookkeeping on every one of a step's small kernels
    with _intra_op_threads(threads), _without_onednn(), torch.inference_mode():
        if cached:
            frames = _sample_cached(model, prompt, n_frames, temperature, generator)
        else:
            frames = _sample_naive(model, prompt, n_frames, temperature, generator)
    if not frames:
        return prompt.span(0, 0)
    # stacked outside inference mode, so callers get ordinary tensors they may modify in place
    return FrameTensors(*(torch.stack(part, dim=1) for part in zip(*frames, strict=True)))  # (B, n_frames, T …)


@contextmanager
def _intra_op_threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _without_onednn() -> Iterator[None]:
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False  # type: ignore[assignment]  # typed as its ContextProp, holds a bool
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


Frame = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (B, T), (B, T), (B, T, 7)


class LayoutMemory:
    """The geometry each set of tracks last had on screen together, per batch row.

    The value head predicts one point, the likeliest next values, which for the frame where a
    layout changes is "as they were": it cannot say "if the right half of the split goes off,
    the left one goes full frame". An editor's layouts recur, though (the split and the single
    shot, the picture-in-picture and the full screen), so when a sampled frame turns tracks on
    or off, the tracks then on take the values they had the last time the same tracks were on
    together, in the prompt or earlier in the rollout; a set never seen together keeps the
    model's values. (The semi-Markov baseline's cuts reuse a track's last layout the same way.)
    """

    def __init__(self, prompt: FrameTensors):
        tracks = prompt.active.shape[-1]
        self._bits = 2 ** torch.arange(tracks, device=prompt.active.device)  # (T,) one bit per track
        self._last: list[dict[int, torch.Tensor]] = [{} for _ in range(prompt.active.shape[0])]
        self._keys = self._key(prompt.active[:, 0])  # (B,)
        self._values = prompt.values[:, 0]  # (B, T, 7)
        for index in range(1, prompt.frames):
            self.follow(*prompt.frame(index))

    def _key(self, active: torch.Tensor) -> torch.Tensor:
        return ((active > 0.5).long() * self._bits).sum(dim=-1)  # (B,): the set of tracks on

    def follow(self, active: torch.Tensor, asset: torch.Tensor, values: torch.Tensor, restore: bool = False) -> Frame:
        """Take one more frame (B, T), (B, T), (B, T, 7); with `restore`, a frame whose set of
        tracks changed gets the values that set last had. Returns the frame as kept."""
        keys = self._key(active)  # (B,)
        changed = torch.nonzero(keys != self._keys).flatten().tolist()  # rows whose layout changed
        if changed:
            values = values.clone()
            for row in changed:
                self._last[row][int(self._keys[row])] = self._values[row].clone()
                known = self._last[row].get(int(keys[row])) if restore else None
                if known is not None:
                    values[row] = torch.where(active[row, :, None] > 0.5, known, values[row])
        self._keys, self._values = keys, values
        return active, asset, values


def _sample_cached(
    model: MultitrackTransformer,
    prompt: FrameTensors,
    n_frames: int,
    temperature: float,
    generator: torch.Generator | None,
) -> list[Frame]:
    # only the last window of the prompt: the model never saw more context in training, apart
    # from what the prepared frames remember of their timeline (frames since on top, cuts so
    # far), counted over the whole prompt
    start = max(0, prompt.frames - model.window_length)
    context = prompt.span(start, prompt.frames)
    history = step_history(prompt.active[:, : start + 1])
    cache = model.new_cache()
    for index in range(context.frames):
        prediction, cache = model.step(*context.frame(index), cache, history if index == 0 else None)
    layouts = LayoutMemory(prompt)
    frames: list[Frame] = []
    for index in range(n_frames):
        frames.append(layouts.follow(*sample_frame(prediction, temperature, generator), restore=True))
        if index + 1 < n_frames:
            prediction, cache = model.step(*frames[-1], cache)
    return frames


def _sample_naive(
    model: MultitrackTransformer,
    prompt: FrameTensors,
    n_frames: int,
    temperature: float,
    generator: torch.Generator | None,
) -> list[Frame]:
    batch, _, tracks = prompt.active.shape
    sequence = FrameTensors(
        torch.cat((prompt.active, prompt.active.new_zeros((batch, n_frames, tracks))), dim=1),  # (B, P + n, T)
        torch.cat((prompt.asset, prompt.asset.new_zeros((batch, n_frames, tracks))), dim=1),
        torch.cat((prompt.values, prompt.values.new_zeros((batch, n_frames, *prompt.values.shape[2:]))), dim=1),
    )
    layouts = LayoutMemory(prompt)
    frames: list[Frame] = []
    for index in range(n_frames):
        end = prompt.frames + index
        start = max(0, end - model.window_length)
        window = sequence.span(start, end)
        so_far = sequence.active[:, :end]  # (B, end, T): the timeline's history, counted over all frames so far
        since_on_top, cuts = frames_since_on_top(so_far)[:, start:], count_cuts_from_top(so_far)[:, start:]  # (B, L, T)
        full = model(window.active, window.asset, window.values, since_on_top, cuts)  # (B, L, T …)
        prediction = Prediction._make(
            None if part is None else part[:, -1] for part in full
        )  # the last frame predicts the next
        frames.append(layouts.follow(*sample_frame(prediction, temperature, generator), restore=True))
        sequence.active[:, end], sequence.asset[:, end], sequence.values[:, end] = frames[-1]
    return frames
