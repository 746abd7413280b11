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
and waking a second thread for each costs more than it saves (on a busy 2-core machine,
several times more).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from multitrack.data.normalize import NormStats
from multitrack.evaluate.metrics import Frames
from multitrack.model.transformer import MultitrackTransformer, Prediction


SINGLE_THREAD_BATCH = 8  # batches up to this size roll out on one intra-op thread


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
    """Frame-table arrays (N, T …) -> model tensors repeated `batch` times: assets folded into
    K-1 "other" (DESIGN.md §2), values normalised and zeroed where inactive."""
    active = frames.active.astype(bool)
    asset = np.where(active, np.minimum(frames.asset, asset_classes - 1), 0)
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
    """
    active_logits, asset_logits, values, visible_logits = prediction
    asset_logits = asset_logits[..., 1:]  # an active track shows some asset: never class 0
    visible = _draw(visible_logits, temperature, generator)  # (B,): 0 none, j = track j-1
    if temperature <= 0:
        below_on = active_logits > 0
    else:
        uniform = torch.rand(active_logits.shape, generator=generator, device=active_logits.device)
        below_on = uniform < torch.sigmoid(active_logits / temperature)
    numbers = torch.arange(1, active_logits.shape[-1] + 1, device=active_logits.device)  # (T,)
    active = (numbers == visible[:, None]) | (below_on & (numbers < visible[:, None]))  # (B, T)
    asset = _draw(asset_logits, temperature, generator) + 1  # (B, T)
    asset = torch.where(active, asset, torch.zeros_like(asset))
    values = torch.where(active[..., None], values, torch.zeros_like(values))
    return active.to(values.dtype), asset, values


def _draw(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """A class index per row of the last axis: argmax at temperature 0, else a softmax sample."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    noise = torch.rand(logits.shape, generator=generator, device=logits.device)
    gumbel = -torch.log(-torch.log(noise.clamp(1e-12, 1.0 - 1e-7)))  # Gumbel-max draws a softmax sample
    return (logits / temperature + gumbel).argmax(dim=-1)


@torch.no_grad()
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
    out = _empty_like(prompt, n_frames)
    threads = 1 if prompt.active.shape[0] <= SINGLE_THREAD_BATCH else torch.get_num_threads()
    with _intra_op_threads(threads):
        if cached:
            _fill_cached(model, prompt, out, temperature, generator)
        else:
            _fill_naive(model, prompt, out, temperature, generator)
    return out


@contextmanager
def _intra_op_threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _empty_like(prompt: FrameTensors, n_frames: int) -> FrameTensors:
    batch, _, tracks = prompt.active.shape
    return FrameTensors(
        prompt.active.new_zeros((batch, n_frames, tracks)),
        prompt.asset.new_zeros((batch, n_frames, tracks)),
        prompt.values.new_zeros((batch, n_frames, tracks, prompt.values.shape[-1])),
    )


def _store(out: FrameTensors, index: int, frame: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> None:
    out.active[:, index], out.asset[:, index], out.values[:, index] = frame


def _fill_cached(model, prompt, out, temperature, generator) -> None:
    # only the last window of the prompt: the model never saw more context in training
    context = prompt.span(max(0, prompt.frames - model.window_length), prompt.frames)
    cache = model.new_cache()
    for index in range(context.frames):
        prediction, cache = model.step(*context.frame(index), cache)
    for index in range(out.frames):
        frame = sample_frame(prediction, temperature, generator)
        _store(out, index, frame)
        if index + 1 < out.frames:
            prediction, cache = model.step(*frame, cache)


def _fill_naive(model, prompt, out, temperature, generator) -> None:
    sequence = FrameTensors(
        torch.cat((prompt.active, out.active), dim=1),  # (B, P + n, T)
        torch.cat((prompt.asset, out.asset), dim=1),
        torch.cat((prompt.values, out.values), dim=1),
    )
    for index in range(out.frames):
        end = prompt.frames + index
        window = sequence.span(max(0, end - model.window_length), end)
        full = model(window.active, window.asset, window.values)  # (B, L, T …)
        prediction = Prediction(*(part[:, -1] for part in full))  # the last frame predicts the next
        frame = sample_frame(prediction, temperature, generator)
        _store(out, index, frame)
        sequence.active[:, end], sequence.asset[:, end], sequence.values[:, end] = frame
