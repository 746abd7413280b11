"""Roll a model forward from a prompt, one sampled frame at a time.

Each new frame is drawn from the model's next-frame prediction (`sample_frame`): the track on
top from softmax(visible logits / temperature), each track below it from a Bernoulli on
sigmoid(active logit / temperature) (tracks above it are off), the asset of an active track
from softmax(logits / temperature) over the classes 1..K-1 (class 0, "none", is for empty
tracks), each steady move going on and each value change by their own Bernoulli draws.
Temperature 0 is greedy. Draws come from one `torch.Generator` in a fixed order, so a seed
fixes the rollout.

Three decoders of a torch model give the same frames while the sequence fits in one window:
- `stepper` (the default): the model's blocks fused for one-frame steps (`model.stepper`);
- `cache`: the model's own `forward(inputs, input_pos)` over its key/value cache, prefilled
  with the prompt's last window in one pass, as gpt-fast decodes;
- `naive`: the whole window re-run for every frame, the reference.
Past one window the cached decoders remember, through each frame's derived inputs (steady
moves, shot age), context from before the window that a re-run cannot see. An ONNX export's
step (`multitrack.sample.onnx_step.OnnxStep`, given in the model's place) decodes as `cache`
does, in ONNX Runtime; `multitrack.sample.runtime.load_model` chooses between them.

`layout_memory` (on by default) is a rollout option: see `LayoutMemory`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Literal, Protocol

import torch

from multitrack.model.inputs import (
    History,
    Inputs,
    RunningInputs,
    count_cuts_from_top,
    frames_since_on_top,
    history,
)
from multitrack.model.stepper import Stepper
from multitrack.model.transformer import MultitrackTransformer, Prediction
from multitrack.sample.codec import FrameTensors
from multitrack.sample.runtime import rollout_runtime

if TYPE_CHECKING:
    from multitrack.sample.onnx_step import OnnxStep

Decoder = Literal["stepper", "cache", "naive"]
DECODERS: tuple[Decoder, ...] = ("stepper", "cache", "naive")
Frame = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (B, T), (B, T), (B, T, 7)
# numbers sample_frame's kernels take, as 0-dim tensors: wrapping a Python number costs more
# than the kernel (float64 bounds round to the draws' own dtype as the numbers did)
_UNIFORM_LOW, _UNIFORM_HIGH = torch.tensor(1e-12, dtype=torch.float64), torch.tensor(1.0 - 1e-7, dtype=torch.float64)
_ONE_CLASS = torch.tensor(1)


def rollout(
    model: MultitrackTransformer | OnnxStep,
    prompt: FrameTensors,
    n_frames: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    decoder: Decoder | None = None,
    layout_memory: bool = True,
) -> FrameTensors:
    """Sample n_frames after the prompt (at least one frame); returns only the new frames.
    `decoder` (default `stepper`) is a torch model's; an `OnnxStep` decodes in its own graph."""
    if prompt.frames < 1:
        raise ValueError("a rollout needs a prompt of at least one frame")
    if prompt.active.shape[-1] != model.max_tracks:
        raise ValueError(f"model expects {model.max_tracks} tracks per frame, got {prompt.active.shape[-1]}")
    if isinstance(model, MultitrackTransformer):
        decoder = decoder or "stepper"
        if decoder not in DECODERS:
            raise ValueError(f"decoder {decoder!r} is not one of {', '.join(DECODERS)}")
    elif decoder is not None:
        raise ValueError(f"decoder {decoder!r} is a torch model's: an ONNX step decodes in its own graph")
    model.eval()
    layouts = LayoutMemory(prompt) if layout_memory else None
    with rollout_runtime(prompt.active.shape[0]):
        if decoder == "naive":
            assert isinstance(model, MultitrackTransformer)  # checked above
            frames = _sample_naive(model, prompt, n_frames, temperature, generator, layouts)
        else:
            frames = _sample_cached(model, prompt, n_frames, temperature, generator, layouts, decoder)
    if not frames:
        return prompt.span(0, 0)
    # stacked outside inference mode, so callers get ordinary tensors they may modify in place
    return FrameTensors(*(torch.stack(part, dim=1) for part in zip(*frames, strict=True)))  # (B, n_frames, T …)


def sample_frame(prediction: Prediction, temperature: float, generator: torch.Generator | None) -> Frame:
    """One frame (B, T), (B, T), (B, T, 7) drawn from a next-frame prediction (B, …).

    First the track on top (the visible-track head, which knows which cuts go together), then
    every track below it from its own `active` probability; tracks above it are off. Each
    track's steady move goes on or stops by its own draw, and its values change (by the value
    head's change) or not by another (`values` hold the likelier of each: the draw at temperature 0).
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
    numbers = _track_numbers(active_logits.shape[-1], active_logits.device)  # (T,)
    active = torch.where(numbers < visible, below_on, numbers == visible)  # (B, T)
    asset = asset.add_(_ONE_CLASS).mul_(active)  # (B, T): 0 where off
    values = torch.where(active[..., None], values, 0.0)  # (B, T, 7)
    return active.to(values.dtype), asset, values


def _draw_noise(
    asset_logits: torch.Tensor, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Uniform draws for the visible track (B, C), each track's Bernoulli (B, T), the assets
    (B, T, K - 1), each track's move (B, T) and change (B, T), in that order, as one draw (a CPU
    generator fills a tensor in order). The visible track and the assets get Gumbel noise,
    -log(-log(u)), returned as log(-log(u)) to subtract: argmax(logits + g) is a softmax sample."""
    batch, tracks, classes = asset_logits.shape
    visible_size, active_size = batch * (tracks + 1), batch * tracks
    asset_end = visible_size + active_size + active_size * (classes - 1)
    uniform = torch.rand(asset_end + 2 * active_size, generator=generator, device=asset_logits.device)
    log_neg_log = uniform[:asset_end].clamp(_UNIFORM_LOW, _UNIFORM_HIGH).log_().neg_().log_()  # (Gumbel draws,)
    return (
        log_neg_log[:visible_size].view(batch, tracks + 1),
        uniform[visible_size : visible_size + active_size].view(batch, tracks),
        log_neg_log[visible_size + active_size :].view(batch, tracks, classes - 1),
        uniform[asset_end : asset_end + active_size].view(batch, tracks),
        uniform[asset_end + active_size :].view(batch, tracks),
    )


@functools.cache
def _track_numbers(tracks: int, device: torch.device) -> torch.Tensor:
    return torch.arange(1, tracks + 1, device=device)  # (T,): V1 = 1, as the visible classes number them


def _scaled(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return logits if temperature == 1.0 else logits / temperature  # dividing by 1 changes no bit


class LayoutMemory:
    """The geometry each set of tracks last had on screen together, per batch row.

    The value head predicts one point, the likeliest next values, which for the frame where a
    layout changes is "as they were": it cannot say "if the right half of the split goes off,
    the left one goes full frame". An editor's layouts recur, though (the split and the single
    shot, the picture-in-picture and the full screen), so when a sampled frame turns tracks on
    or off, the tracks then on take the values they had the last time the same tracks were on
    together, in the prompt or earlier in the rollout; a set never seen together keeps the
    model's values. (The semi-Markov baseline's cuts reuse a track's last layout the same way.)
    `rollout(layout_memory=False)` samples the model's own values instead.
    """

    def __init__(self, prompt: FrameTensors):
        tracks = prompt.active.shape[-1]
        # (T,) one bit per track, in the frames' dtype: a set of up to 24 tracks is exact in float32
        self._bits = 2.0 ** torch.arange(tracks, device=prompt.active.device, dtype=prompt.active.dtype)
        self._last: list[dict[int, torch.Tensor]] = [{} for _ in range(prompt.active.shape[0])]
        self._keys = self._key(prompt.active[:, 0])  # (B,)
        self._values = prompt.values[:, 0]  # (B, T, 7)
        for index in range(1, prompt.frames):
            self.follow(*prompt.frame(index))

    def _key(self, active: torch.Tensor) -> torch.Tensor:
        return active.matmul(self._bits)  # (B,): the set of tracks on (active is 0 or 1)

    def follow(self, active: torch.Tensor, asset: torch.Tensor, values: torch.Tensor, restore: bool = False) -> Frame:
        """Take one more frame (B, T), (B, T), (B, T, 7); with `restore`, a frame whose set of
        tracks changed gets the values that set last had. Returns the frame as kept."""
        keys = self._key(active)  # (B,)
        same = torch.equal(keys, self._keys)
        changed = [] if same else torch.nonzero(keys != self._keys).flatten().tolist()  # rows whose layout changed
        if changed:
            values = values.clone()
            for row in changed:
                self._last[row][int(self._keys[row])] = self._values[row].clone()
                known = self._last[row].get(int(keys[row])) if restore else None
                if known is not None:
                    values[row] = torch.where(active[row, :, None] > 0.5, known, values[row])
        self._keys, self._values = keys, values
        return active, asset, values


def _kept(frame: Frame, layouts: LayoutMemory | None) -> Frame:
    return frame if layouts is None else layouts.follow(*frame, restore=True)


class Decoding(Protocol):
    """One rollout's decoding: the prompt's frames, then one sampled frame at a time, each to the
    prediction (B, …) for the frame after it."""

    def start(self, context: FrameTensors) -> Prediction: ...

    def advance(self, frame: Frame) -> Prediction: ...


class _TorchDecoding:
    """A torch model's: the derived inputs one frame at a time (`RunningInputs`), then the fused
    stepper, or the model's own forward over its cache, the context prefilled in one pass."""

    def __init__(self, model: MultitrackTransformer, decoder: Decoder, batch: int, told: History):
        self.model, self.decoder, self.batch = model, decoder, batch
        self.running = RunningInputs(model.rules, told)
        self.stepper: Stepper | None = None
        self.position = 0

    def start(self, context: FrameTensors) -> Prediction:
        inputs = [self.running.advance(*context.frame(index)) for index in range(context.frames)]
        if self.decoder == "stepper":
            self.stepper = Stepper(self.model, self.batch, context.values.dtype)
            for frame in inputs:
                prediction = self.stepper.step(frame)
            return prediction.last()
        self.model.setup_cache(self.batch, context.values.dtype)
        self.position = context.frames
        return self.model(Inputs.cat(inputs), torch.arange(context.frames)).last()

    def advance(self, frame: Frame) -> Prediction:
        inputs = self.running.advance(*frame)
        if self.stepper is not None:
            return self.stepper.step(inputs).last()
        self.position += 1
        return self.model(inputs, torch.tensor([self.position - 1])).last()


def _sample_cached(
    model: MultitrackTransformer | OnnxStep,
    prompt: FrameTensors,
    n_frames: int,
    temperature: float,
    generator: torch.Generator | None,
    layouts: LayoutMemory | None,
    decoder: Decoder | None,
) -> list[Frame]:
    # only the prompt's last window: the model never saw more context in training, apart from
    # what the frames remember of their timeline (frames since on top, cuts so far), counted
    # over the whole prompt
    start = max(0, prompt.frames - model.window_length)
    told = history(prompt.active[:, : start + 1])
    batch = prompt.active.shape[0]
    decoding: Decoding
    if isinstance(model, MultitrackTransformer):
        decoding = _TorchDecoding(model, decoder or "stepper", batch, told)
    else:
        decoding = model.decoding(batch, told)
    prediction = decoding.start(prompt.span(start, prompt.frames))
    frames: list[Frame] = []
    for index in range(n_frames):
        frames.append(_kept(sample_frame(prediction, temperature, generator), layouts))
        if index + 1 < n_frames:
            prediction = decoding.advance(frames[-1])
    return frames


def _sample_naive(
    model: MultitrackTransformer,
    prompt: FrameTensors,
    n_frames: int,
    temperature: float,
    generator: torch.Generator | None,
    layouts: LayoutMemory | None,
) -> list[Frame]:
    batch, _, tracks = prompt.active.shape
    sequence = FrameTensors(
        torch.cat((prompt.active, prompt.active.new_zeros((batch, n_frames, tracks))), dim=1),  # (B, P + n, T)
        torch.cat((prompt.asset, prompt.asset.new_zeros((batch, n_frames, tracks))), dim=1),
        torch.cat((prompt.values, prompt.values.new_zeros((batch, n_frames, *prompt.values.shape[2:]))), dim=1),
    )
    frames: list[Frame] = []
    for index in range(n_frames):
        end = prompt.frames + index
        start = max(0, end - model.window_length)
        window = sequence.span(start, end)
        so_far = sequence.active[:, :end]  # (B, end, T): the timeline's history, counted over all frames so far
        since_on_top, cuts = frames_since_on_top(so_far)[:, start:], count_cuts_from_top(so_far)[:, start:]
        prediction = model(model.inputs(window.active, window.asset, window.values, since_on_top, cuts))
        frames.append(_kept(sample_frame(prediction.last(), temperature, generator), layouts))
        sequence.active[:, end], sequence.asset[:, end], sequence.values[:, end] = frames[-1]
    return frames
