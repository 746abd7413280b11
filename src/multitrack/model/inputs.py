"""What the model reads per frame besides the frame itself, derived once, in torch.

Every input the Transformer reads is computed here, for a window of frames (`window_inputs`,
training and teacher-forced prediction) or one new frame at a time from a small running
state (`RunningInputs`, rollouts), and the two are tested equal:

- `values`: each track's geometry carried on from its last active frame (where it would reappear);
- `motion`: its steady move (the mean of the last two steps where they agree), carried on by
  the next frame's first guess;
- `shot_age`: frames since the top track or its asset changed (a cut), up to the window's last frame;
- `since_on_top`: frames since each track was the top one, counted over the whole timeline and
  capped (`InputRules.recency_cap`);
- `cut_shares`: the share of this timeline's cuts so far from the track on top that went to each;
- `visible`: the class on top (0 none, j for track j-1).

`multitrack.features.vocabulary` is the numpy reference of the shot age, frames since on top
and cuts from the top (tests/test_vocabulary.py holds them equal).

B = batch, L = frames, T = tracks, C = T + 1 visible classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from multitrack.config import ModelConfig
from multitrack.features.vocabulary import SINCE_ON_TOP_MAX

VALUE_COUNT = 7  # scale, pos_x, pos_y, crop_left/right/top/bottom (DESIGN.md §2)


@dataclass(frozen=True)
class InputRules:
    """The settings of the derived inputs: a model's window and its `ModelConfig` rules."""

    window_length: int
    steady_step_ratio: float
    recency_cap_windows: int

    @classmethod
    def of(cls, config: ModelConfig, window_length: int) -> InputRules:
        return cls(window_length, config.steady_step_ratio, config.recency_cap_windows)

    @property
    def recency_cap(self) -> int:
        """Frames since on top stop here and read "long ago"."""
        return min(self.recency_cap_windows * self.window_length - 1, SINCE_ON_TOP_MAX)

    @property
    def last_age(self) -> int:
        """Shot ages stop at the window's last frame, as a window counts them."""
        return self.window_length - 1


class Inputs(NamedTuple):
    """A window's (B, L, …) inputs to the model; from `RunningInputs`, L = 1."""

    active: torch.Tensor  # (B, L, T) float, 1 on
    asset: torch.Tensor  # (B, L, T) long
    values: torch.Tensor  # (B, L, T, 7) normalised, carried on where off
    motion: torch.Tensor  # (B, L, T, 7) steady move
    since_on_top: torch.Tensor  # (B, L, T) frames, capped
    cut_shares: torch.Tensor  # (B, L, T)
    shot_age: torch.Tensor  # (B, L) long, capped
    visible: torch.Tensor  # (B, L) long

    def frame(self, index: int) -> Inputs:
        """Frame `index` as a one-frame window (B, 1, …)."""
        return Inputs(*(part[:, index : index + 1 if index != -1 else None] for part in self))

    @classmethod
    def cat(cls, frames: list[Inputs]) -> Inputs:
        return cls(*(torch.cat(parts, dim=1) for parts in zip(*frames, strict=True)))


class History(NamedTuple):
    """What a running state is told, at its first frame, of the timeline before it (`history`)."""

    since_on_top: torch.Tensor  # (B, T) frames since each track was on top
    transitions: torch.Tensor  # (B, C, C) cuts so far from each visible class to each


def window_inputs(
    active: torch.Tensor,
    asset: torch.Tensor,
    values: torch.Tensor,
    rules: InputRules,
    since_on_top: torch.Tensor | None = None,
    cuts_from_top: torch.Tensor | None = None,
) -> Inputs:
    """Frames (B, L, T), (B, L, T), (B, L, T, 7) -> their inputs.

    `since_on_top` and `cuts_from_top` (B, L, T) are counted over the whole timeline (the
    prepared arrays, `frames_since_on_top` and `count_cuts_from_top` of everything up to the
    window); without them they are counted from the window's first frame.
    """
    carried = carry_values(active, values)
    if since_on_top is None:
        since_on_top = frames_since_on_top(active)
    if cuts_from_top is None:
        cuts_from_top = count_cuts_from_top(active)
    return Inputs(
        active.to(values.dtype),
        asset,
        carried,
        window_motion(active, asset, carried, rules.steady_step_ratio),
        since_on_top.clamp(max=rules.recency_cap),
        cut_shares(cuts_from_top, values.dtype),
        shot_ages(active, asset).clamp(max=rules.last_age),
        visible_classes(active),
    )


class RunningState(NamedTuple):
    """What `advance` remembers of the frames before (B = batch, T = tracks, C = T + 1): plain
    tensors in, tensors out, so one step is a pure function (the ONNX step carries them as its
    inputs and outputs, `multitrack.train.onnx_export`)."""

    frames: torch.Tensor  # () long: frames advanced so far
    last_values: torch.Tensor  # (B, T, 7) the last frame's carried values
    older_values: torch.Tensor  # (B, T, 7) the frame before's
    key: torch.Tensor  # (B, T) long: the last frame's asset shown, a negative number when off
    same_key: torch.Tensor  # (B, T) bool: its key was the one before's
    top_key: torch.Tensor  # (B, T) long: the last frame's top track's asset, -1 elsewhere
    shot_age: torch.Tensor  # (B,) long, capped
    since_on_top: torch.Tensor  # (B, T) long, capped
    transitions: torch.Tensor  # (B, C, C) cuts so far from each visible class to each
    visible: torch.Tensor  # (B,) long: the last frame's class on top


# keys no frame has: a shown asset is >= 0, an off track's key -1 or -2, a top key -1 or >= 0
_NO_KEY, _NO_TOP_KEY = -3, -2


def start_state(
    rules: InputRules,
    batch: int,
    tracks: int,
    told: History | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> RunningState:
    """The state before a first frame: what the history says, or nothing on top before and no cuts."""
    classes = tracks + 1
    if told is None:
        since = torch.full((batch, tracks), rules.recency_cap, dtype=torch.long, device=device)
        transitions = torch.zeros(batch, classes, classes, dtype=dtype, device=device)
    else:
        since = told.since_on_top.to(torch.long).clamp(max=rules.recency_cap)
        transitions = told.transitions.to(dtype).clone()
    values = torch.zeros(batch, tracks, VALUE_COUNT, dtype=dtype, device=since.device)
    keys = torch.full((batch, tracks), _NO_KEY, dtype=torch.long, device=since.device)
    return RunningState(
        torch.zeros((), dtype=torch.long, device=since.device),
        values,
        values.clone(),
        keys,
        torch.zeros(batch, tracks, dtype=torch.bool, device=since.device),
        keys.new_full((batch, tracks), _NO_TOP_KEY),
        torch.zeros(batch, dtype=torch.long, device=since.device),
        since,
        transitions,
        torch.zeros(batch, dtype=torch.long, device=since.device),
    )


def advance(
    state: RunningState, active: torch.Tensor, asset: torch.Tensor, values: torch.Tensor, rules: InputRules
) -> tuple[RunningState, Inputs]:
    """One frame (B, T), (B, T), (B, T, 7) after `state` -> the state after it and the frame's
    inputs (B, 1, …), as a window starting at the state's first frame would give them for its
    last frame (given the same `History`). Tensor operations only, no branch on their values:
    the first frame is told apart by `state.frames`, and by keys no frame has (`start_state`)."""
    first = state.frames == 0  # ()
    on = active > 0.5  # (B, T)
    carried = torch.where(on[..., None] | first, values, state.last_values)  # (B, T, 7)
    visible = visible_classes(active)  # (B,)
    numbers = torch.arange(1, active.shape[-1] + 1, device=active.device)  # (T,): V1 = 1
    on_top = numbers == visible[:, None]  # (B, T)
    # shot age (0 at the first frame: no top key matches `_NO_TOP_KEY`) and frames since on top
    top_key = torch.where(on_top, asset, -1)  # (B, T): the top track's asset, -1 elsewhere
    same_shot = (top_key == state.top_key).all(dim=-1)  # (B,)
    shot_age = (state.shot_age + 1).clamp(max=rules.last_age) * same_shot
    since = torch.where(first, state.since_on_top, (state.since_on_top + 1).clamp(max=rules.recency_cap))
    since = since.masked_fill(on_top, 0)  # (B, T)
    # cuts so far from each class to each, and the shares of the row of the class on top now
    cut = (visible != state.visible) & ~first  # (B,)
    classes = state.transitions.shape[-1]
    pair = (state.visible * classes + visible)[:, None]  # (B, 1)
    transitions = state.transitions.flatten(1).scatter_add(1, pair, cut[:, None].to(values.dtype))
    transitions = transitions.view_as(state.transitions)  # (B, C, C)
    row = transitions.gather(1, visible.view(-1, 1, 1).expand(-1, 1, classes))[:, 0, 1:]  # (B, T)
    # steady motion: the three frames' keys must agree (off keys differ from frame to frame; the
    # first two frames have no two steps: no key matches `_NO_KEY`, nor `same_key` at the start)
    key = torch.where(on, asset, -1 - state.frames % 2)  # (B, T)
    same_key = key == state.key  # (B, T)
    step_old, step_new = state.last_values - state.older_values, carried - state.last_values  # (B, T, 7)
    steady = same_key & state.same_key
    motion = steady_motion(step_old, step_new, carried - state.older_values, steady, rules.steady_step_ratio)
    after = RunningState(
        state.frames + 1, carried, state.last_values, key, same_key, top_key, shot_age, since, transitions, visible
    )
    inputs = Inputs(
        on.to(values.dtype)[:, None],
        asset[:, None],
        carried[:, None],
        motion[:, None],
        since[:, None],
        cut_shares(row, values.dtype)[:, None],
        shot_age[:, None],
        visible[:, None],
    )
    return after, inputs


class RunningInputs:
    """`window_inputs` one frame at a time: each `advance` takes the next frame and returns its
    inputs (B, 1, …), as a window starting at the first frame advanced would give them for its
    last frame (given the same `History`). The functional `advance` over a `RunningState`."""

    def __init__(self, rules: InputRules, history: History | None = None):
        self.rules = rules
        self.history = history
        self.state: RunningState | None = None

    def advance(self, active: torch.Tensor, asset: torch.Tensor, values: torch.Tensor) -> Inputs:
        """One frame (B, T), (B, T), (B, T, 7) -> its inputs (B, 1, …)."""
        if self.state is None:
            batch, tracks = active.shape
            self.state = start_state(self.rules, batch, tracks, self.history, values.dtype, active.device)
        self.state, inputs = advance(self.state, active, asset, values, self.rules)
        return inputs


def history(active: torch.Tensor) -> History:
    """(B, N, T) frames of a timeline from its start -> what a running state starting at the last
    of them is told (counted directly: a prompt may be hours of frames)."""
    batch, _, tracks = active.shape
    classes = tracks + 1
    on_top = _on_top(active)  # (B, N, T)
    frame = torch.arange(active.shape[1], device=active.device).view(1, -1, 1)  # (1, N, 1)
    last = torch.where(on_top, frame, -SINCE_ON_TOP_MAX).amax(dim=1)  # (B, T): last frame on top
    since = (active.shape[1] - 1 - last).clamp(max=SINCE_ON_TOP_MAX)  # (B, T), as `frames_since_on_top`'s last row
    shown = visible_classes(active)  # (B, N)
    cuts = (shown[:, 1:] != shown[:, :-1]).to(torch.get_default_dtype())  # (B, N - 1)
    transitions = torch.zeros(batch, classes * classes, device=active.device)  # (B, C²)
    transitions.scatter_add_(1, shown[:, :-1] * classes + shown[:, 1:], cuts)
    return History(since, transitions.view(batch, classes, classes))


def carry_values(active: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Each track's values at its last active frame up to t: (B, L, T), (B, L, T, 7) -> (B, L, T, 7).

    Before a track's first active frame in the window it holds the window's first frame's
    values as given: prepared data and encoded prompts carry them in from before the window
    (`NormStats.apply`); raw frames hold 0 there, the training mean.
    """
    batch, length, tracks = active.shape
    frame = torch.arange(length, device=active.device).view(1, length, 1)  # (1, L, 1)
    last = torch.where(active > 0.5, frame, -1).cummax(dim=1).values  # (B, L, T): last active frame
    index = last.clamp(min=0).unsqueeze(-1).expand(batch, length, tracks, values.shape[-1])  # (B, L, T, 7)
    carried = values.gather(1, index)  # (B, L, T, 7)
    return torch.where((last >= 0).unsqueeze(-1), carried, values[:, :1].expand_as(carried))


def steady_motion(
    step_old: torch.Tensor, step_new: torch.Tensor, two_steps: torch.Tensor, steady: torch.Tensor, ratio: float
) -> torch.Tensor:
    """The per-frame move to carry on (…, T, 7): half the last two steps where they go the same
    way and neither is more than `ratio` times the other, else 0. Keyframed geometry moves in
    straight lines, so "keeps moving as it moved" is a moving track's best first guess; a jump
    is not steady. steady (…, T) says the track showed the same asset in all three frames."""
    size_new, size_old = step_new.abs(), step_old.abs()
    agree = (step_new * step_old > 0) & (size_new <= ratio * size_old) & (size_old <= ratio * size_new)
    return torch.where(agree & steady.unsqueeze(-1), two_steps / 2, 0.0)


def window_motion(active: torch.Tensor, asset: torch.Tensor, values: torch.Tensor, ratio: float) -> torch.Tensor:
    """`steady_motion` at every frame of windows (B, L, T), (B, L, T), (B, L, T, 7); 0 at the
    first two frames, which have no two steps before them."""
    key = torch.where(active > 0.5, asset, -1)  # (B, L, T): the asset shown, -1 when off
    steady = (key[:, 2:] >= 0) & (key[:, 2:] == key[:, 1:-1]) & (key[:, 2:] == key[:, :-2])  # (B, L-2, T)
    older, previous, current = values[:, :-2], values[:, 1:-1], values[:, 2:]
    moving = steady_motion(previous - older, current - previous, current - older, steady, ratio)  # (B, L-2, T, 7)
    return F.pad(moving, (0, 0, 0, 0, 2, 0))[:, : active.shape[1]]  # (B, L, T, 7): zeros before frame 2


def transition_counts(active: torch.Tensor) -> torch.Tensor:
    """(B, L, T) frames -> (B, L, C, C): at each frame, the cuts so far (up to and including it)
    from each visible class (0 none, j track j-1) to each."""
    batch, length, tracks = active.shape
    classes = tracks + 1
    shown = visible_classes(active)  # (B, L)
    previous = torch.cat((shown[:, :1], shown[:, :-1]), dim=1)  # (B, L): the frame before (itself at 0)
    pair = F.one_hot(previous * classes + shown, classes * classes) * (shown != previous).unsqueeze(-1)  # (B, L, C²)
    return pair.cumsum(dim=1).view(batch, length, classes, classes)


def count_cuts_from_top(active: torch.Tensor) -> torch.Tensor:
    """(B, L, T) frames -> (B, L, T): at each frame, the cuts so far from the class on top now to
    each track (`multitrack.features.vocabulary.cuts_from_top` counts the same over a timeline)."""
    counts = transition_counts(active)  # (B, L, C, C)
    shown = visible_classes(active)  # (B, L)
    row = counts.gather(2, shown[..., None, None].expand(*shown.shape, 1, counts.shape[-1])).squeeze(2)  # (B, L, C)
    return row[..., 1:].clamp(max=SINCE_ON_TOP_MAX)


def cut_shares(cuts_from_top: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Cuts so far from the track on top to each track (…, T) -> the share of them that went to
    each (…, T), 0 everywhere before the first: this editor's usual next track, from here."""
    cuts = cuts_from_top.to(dtype)
    return cuts / cuts.sum(dim=-1, keepdim=True).clamp(min=1.0)


def shot_ages(active: torch.Tensor, asset: torch.Tensor) -> torch.Tensor:
    """(B, L, T) frames -> (B, L) frames since the top track or its asset last changed (a cut,
    DESIGN.md §3), counted from the window's first frame: a cut grows likelier as a shot ages."""
    visible = visible_classes(active)  # (B, L)
    top_asset = asset.gather(-1, (visible - 1).clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, L)
    shown = torch.stack((visible, torch.where(visible > 0, top_asset, 0)), dim=-1)  # (B, L, 2)
    changed = torch.ones(shown.shape[:2], dtype=torch.bool, device=shown.device)  # (B, L)
    changed[:, 1:] = (shown[:, 1:] != shown[:, :-1]).any(dim=-1)
    frame = torch.arange(shown.shape[1], device=shown.device)  # (L,)
    shot_start = torch.where(changed, frame, 0).cummax(dim=1).values  # (B, L)
    return frame - shot_start


def frames_since_on_top(active: torch.Tensor) -> torch.Tensor:
    """(B, L, T) frames -> (B, L, T) frames since each track was last the top one (0 while it
    is), SINCE_ON_TOP_MAX before it ever was or longer ago: editors come back to the angle they
    showed least recently (DESIGN.md §3)."""
    frame = torch.arange(active.shape[1], device=active.device).view(1, -1, 1)  # (1, L, 1)
    last = torch.where(_on_top(active), frame, -SINCE_ON_TOP_MAX).cummax(dim=1).values  # (B, L, T)
    return (frame - last).clamp(max=SINCE_ON_TOP_MAX)


def ranking_recency(since_on_top: torch.Tensor, rules: InputRules, dtype: torch.dtype) -> torch.Tensor:
    """Capped frames since on top (…, T) -> how long ago each track was on top, in windows: 0 for
    a track never on top (or a cap ago). A timeline's unused tracks were never on top; were they
    the least recent of all, a lean towards the least recent angle would pull every cut to them."""
    recency = since_on_top.to(dtype) / rules.window_length
    return torch.where(since_on_top >= rules.recency_cap, 0.0, recency)


def _on_top(active: torch.Tensor) -> torch.Tensor:
    """(…, T) active flags -> (…, T) bool: the track is the topmost active one."""
    numbers = torch.arange(1, active.shape[-1] + 1, device=active.device)  # (T,)
    return numbers == visible_classes(active).unsqueeze(-1)


def visible_classes(active: torch.Tensor) -> torch.Tensor:
    """(…, T) active flags -> (…) class of the topmost active track: 0 none, j for track j-1."""
    numbers = torch.arange(1, active.shape[-1] + 1, device=active.device)  # (T,): V1 = 1
    return torch.where(active > 0.5, numbers, 0).amax(dim=-1)
