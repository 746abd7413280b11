"""The baselines every model figure is reported beside (DESIGN.md §3), fitted on the train split.

- persistence: the next frame repeats the last one. For log-loss it is smoothed: each track's
  `active` flips with the training split's flip rate, its asset changes with the asset change
  rate (spread evenly over the other real classes 1 … K−1: class 0, "none", is never the asset
  of an active track, so no probability is wasted on it).
- markov: at a cut (probability = the training split's cut rate per frame) the next visible
  track follows a first-order Markov chain over visible tracks fitted on the training cuts;
  otherwise it behaves like smoothed persistence.
- semi_markov: the same, but the cut probability is the hazard of the training split's
  shot-length distribution at the current shot's age; its rollouts draw whole shot lengths.

A track that was empty in the previous frame takes the asset and geometry it last showed in
the same timeline (the defaults, asset 1, if never), so persistence is not penalised for
forgetting a layout that merely left the screen for a moment.

- rules (cutting a stack, `predict_cut`): the rule-based switcher (sample/switcher.py) with the
  settings fitted to the editor (evaluate/rules.py): the paired camera of the mic that speaks.
  Beside it, `predict_cut` cuts a stack with `semi_markov` too (deaf: shot lengths from the
  training split, the next camera from its transition matrix, camera c being track c).

Visible-track states are the classes of `vocabulary.top_track`, as the columns of
`metrics.visible_probabilities`: 0 is "nothing visible", j + 1 is track j.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multitrack.data.normalize import DEFAULT_VALUES
from multitrack.evaluate.metrics import NextFrame, cut_mask, previous_rows, shot_lengths, visible_probabilities
from multitrack.features.vocabulary import Frames, shot_age, top_track
from multitrack.sample.switcher import RuleSettings, RulesSession, switch

TRANSITION_SMOOTHING = 0.1  # pseudo-count per (previous, next) pair: unseen cuts stay possible
BASELINES = ("persistence", "markov", "semi_markov")
CUT_PREDICTORS = ("rules", "semi_markov")  # what cuts a stack (`predict_cut`)


@dataclass
class BaselineStats:
    """What the baselines learn from the training split."""

    active_flip_rate: float  # P(a track's active changes between consecutive frames)
    asset_change_rate: float  # P(an active track's asset changes | active in both frames)
    cut_rate: float  # cuts per scored frame
    transition: np.ndarray  # (T + 1, T + 1): P(next visible | previous visible) at a cut
    shot_seconds: np.ndarray  # every shot length in the training split, seconds
    asset_classes: int  # K

    def shot_frames(self, fps: float) -> np.ndarray:
        """Training shot lengths counted in frames at this rate (at least 1)."""
        return np.maximum(1, np.round(self.shot_seconds * fps)).astype(int)

    def hazard(self, age_frames: np.ndarray, fps: float) -> np.ndarray:
        """P(the shot ends now | it has lasted age_frames): the shot-length distribution's hazard.

        Past the longest training shot the hazard is 1 / (mean shot length).
        """
        lengths = self.shot_frames(fps)
        counts = np.bincount(lengths)
        survivors = np.cumsum(counts[::-1])[::-1]  # survivors[a] = #(L >= a)
        age = np.asarray(age_frames)
        inside = age < len(counts)
        a = np.minimum(age, len(counts) - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(survivors[a] > 0, counts[a] / np.maximum(survivors[a], 1), 0.0)
        return np.where(inside & (survivors[a] > 0), ratio, 1.0 / lengths.mean())


def fit_baselines(frames: Frames, first: np.ndarray, fps: np.ndarray, asset_classes: int) -> BaselineStats:
    """Fit every baseline on the training split's rows (first: (N,) timeline starts, fps: (N,))."""
    active = frames.active.astype(bool)
    scored = ~first
    previous = previous_rows(first)
    flips = (active != active[previous])[scored]
    both = (active & active[previous])[scored]
    asset_changes = (frames.asset != frames.asset[previous])[scored] & both
    cuts = cut_mask(frames, first)
    return BaselineStats(
        active_flip_rate=float(flips.mean()) if flips.size else 0.0,
        asset_change_rate=float(asset_changes.sum() / max(both.sum(), 1)),
        cut_rate=float(cuts.sum() / max(scored.sum(), 1)),
        transition=fit_transition(frames, first),
        shot_seconds=_shot_seconds(frames, first, fps),
        asset_classes=asset_classes,
    )


def fit_transition(frames: Frames, first: np.ndarray) -> np.ndarray:
    """Row-normalised counts of (previous visible, next visible) over the cuts, lightly smoothed.

    A cut that keeps the track but changes its asset counts on the diagonal.
    """
    n_states = frames.active.shape[1] + 1
    state = top_track(frames.active)  # (N,): 0 = nothing visible
    at = np.flatnonzero(cut_mask(frames, first))
    counts = np.full((n_states, n_states), TRANSITION_SMOOTHING)
    np.add.at(counts, (state[previous_rows(first)[at]], state[at]), 1.0)
    return counts / counts.sum(axis=1, keepdims=True)


def _shot_seconds(frames: Frames, first: np.ndarray, fps: np.ndarray) -> np.ndarray:
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(first))
    lengths = [shot_lengths(frames.rows(slice(s, e))) / fps[s] for s, e in zip(starts, ends, strict=True)]
    return np.concatenate(lengths) if lengths else np.array([1.0])


# --- next-frame predictions -------------------------------------------------------------------


def predict_next_frame(name: str, stats: BaselineStats, truth: Frames, first: np.ndarray, fps: np.ndarray) -> NextFrame:
    """The named baseline's prediction of every row from the true rows before it."""
    if name == "persistence":
        cut_prob = np.zeros(len(first))
    elif name == "markov":
        cut_prob = np.full(len(first), stats.cut_rate)
    elif name == "semi_markov":
        cut_prob = _hazard_per_row(stats, shot_ages(truth, first), fps)
    else:
        raise ValueError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
    return _mixture(stats, truth, first, cut_prob)


def _hazard_per_row(stats: BaselineStats, ages: np.ndarray, fps: np.ndarray) -> np.ndarray:
    """The shot-length hazard of each row at its own timeline's rate."""
    hazard = np.empty(len(ages))
    for rate in np.unique(fps):
        rows = fps == rate
        hazard[rows] = stats.hazard(ages[rows], float(rate))
    return hazard


def shot_ages(truth: Frames, first: np.ndarray) -> np.ndarray:
    """Frames the current shot has lasted up to the previous row: (N,), at least 1 (the previous
    row's `shot_age` + 1; a timeline's first row, which has none, 1)."""
    return shot_age(truth.active, truth.asset, first)[previous_rows(first)] + 1


def _mixture(stats: BaselineStats, truth: Frames, first: np.ndarray, cut_prob: np.ndarray) -> NextFrame:
    """With probability cut_prob a cut drawn from the transition matrix, else smoothed persistence."""
    previous = previous_rows(first)
    prev_active = truth.active.astype(bool)[previous]  # (N, T)
    keep = np.where(prev_active, 1.0 - stats.active_flip_rate, stats.active_flip_rate)  # (N, T)
    prev_state = top_track(truth.active)[previous]  # (N,)
    after_cut = stats.transition[prev_state]  # (N, T + 1)
    # after a cut to track j: j is on, the tracks above it are off, the ones below as they were
    to_track = after_cut[:, 1:]
    cut_above = np.cumsum(to_track[:, ::-1], axis=1)[:, ::-1] - to_track  # sum over j > k
    active_after_cut = to_track + keep * cut_above
    r = cut_prob[:, None]
    active_prob = (1 - r) * keep + r * active_after_cut
    visible_prob = (1 - r) * visible_probabilities(keep) + r * after_cut
    asset_pred, values = carried_forward(truth, first)
    asset_keep = np.full(keep.shape, 1.0 - stats.asset_change_rate)
    rows = np.flatnonzero(prev_state > 0)
    same_track = stats.transition[prev_state[rows], prev_state[rows]]
    asset_keep[rows, prev_state[rows] - 1] *= 1 - cut_prob[rows] * same_track
    asset_true = _true_asset_probability(truth.asset, asset_pred, asset_keep, stats.asset_classes)
    return NextFrame(active_prob, asset_pred, asset_keep, values, visible_prob, asset_true)


def _true_asset_probability(
    true_asset: np.ndarray, kept_asset: np.ndarray, keep: np.ndarray, asset_classes: int
) -> np.ndarray:
    """(N, T) probability of the true asset when the kept asset has probability `keep` and the
    rest is spread evenly over the other real classes (1 … K−1 without the kept one)."""
    other_classes = asset_classes - 2
    if other_classes < 1:  # a single real class: the track can only show it
        return np.ones(keep.shape)
    return np.where(true_asset == kept_asset, keep, (1.0 - keep) / other_classes)


def carried_forward(truth: Frames, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row and track: the asset and values the track last showed before this row (same
    timeline), or asset 1 and DEFAULT_VALUES if it never did. Shapes (N, T) and (N, T, 7)."""
    n_rows, n_tracks = truth.active.shape
    rows = np.arange(n_rows)[:, None]  # (N, 1)
    seen = np.where(truth.active.astype(bool), rows, -1)  # (N, T)
    last_seen = np.maximum.accumulate(seen, axis=0)[previous_rows(first)]  # (N, T) up to row - 1
    timeline_start = np.maximum.accumulate(np.where(first, np.arange(n_rows), 0))[:, None]
    valid = (last_seen >= timeline_start) & ~first[:, None]
    source = np.maximum(last_seen, 0)
    track = np.arange(n_tracks)[None, :]
    asset = np.where(valid, truth.asset[source, track], 1)
    values = np.where(valid[..., None], truth.values[source, track], DEFAULT_VALUES)
    return asset, values


# --- rollouts ---------------------------------------------------------------------------------


def rollout(
    name: str, stats: BaselineStats, prompt: Frames, n_frames: int, fps: float, rng: np.random.Generator
) -> Frames:
    """Continue the prompt n_frames with the named baseline: persistence freezes the last frame,
    markov draws geometric shot lengths, semi_markov draws them from the training split (given
    the age of the prompt's last shot); each cut moves to a track drawn from the transition matrix.
    """
    history = _History(prompt, stats.asset_classes)
    age = int(shot_lengths(prompt)[-1])
    written = 0
    while written < n_frames:
        length = _remaining_shot(name, stats, age, fps, rng)
        length = min(length, n_frames - written)
        history.hold(length)
        written += length
        if written < n_frames:
            history.cut_to(rng.choice(len(stats.transition), p=stats.transition[history.state()]), rng)
            age = 0
    return history.continuation(n_frames)


def _remaining_shot(name: str, stats: BaselineStats, age: int, fps: float, rng: np.random.Generator) -> int:
    """Frames until the next cut for a shot that has lasted `age` frames."""
    if name == "persistence":
        return np.iinfo(np.int32).max
    if name == "markov":
        return int(rng.geometric(max(stats.cut_rate, 1e-9)))
    if name == "semi_markov":
        lengths = stats.shot_frames(fps)
        longer = lengths[lengths > age]
        return int(rng.choice(longer)) - age if longer.size else 1
    raise ValueError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")


class _History:
    """Frames of a baseline rollout, appended shot by shot after the prompt."""

    def __init__(self, prompt: Frames, asset_classes: int):
        self.active = [prompt.active.astype(bool)]
        self.asset = [prompt.asset]
        self.values = [prompt.values]
        self.prompt_rows = len(prompt)
        self.asset_classes = asset_classes
        self.current = prompt.rows(slice(-1, None))  # (1, T) arrays: the frame being held

    def state(self) -> int:
        return int(top_track(self.current.active)[0])

    def hold(self, n_frames: int) -> None:
        self.active.append(np.repeat(self.current.active, n_frames, axis=0))
        self.asset.append(np.repeat(self.current.asset, n_frames, axis=0))
        self.values.append(np.repeat(self.current.values, n_frames, axis=0))

    def cut_to(self, state: int, rng: np.random.Generator) -> None:
        """Make track state - 1 the visible one (0: nothing), reusing the last layout it had."""
        track = state - 1
        past = self._all()
        if track < 0:
            self.current = Frames(
                np.zeros_like(self.current.active),
                np.zeros_like(self.current.asset),
                np.zeros_like(self.current.values),
            )
            return
        if track == self.state() - 1:
            self._change_asset(track, past, rng)
            return
        shown = np.flatnonzero(top_track(past.active) == state)
        if shown.size:
            self.current = past.rows(slice(shown[-1], shown[-1] + 1))
            return
        self._switch_on(track, past)

    def _change_asset(self, track: int, past: Frames, rng: np.random.Generator) -> None:
        current_asset = self.current.asset[0, track]
        on_track = past.asset[:, track][past.active[:, track].astype(bool)]
        others = np.unique(on_track[on_track != current_asset])
        if others.size == 0:
            others = np.array([a for a in range(1, self.asset_classes) if a != current_asset] or [current_asset])
        asset = self.current.asset.copy()
        asset[0, track] = rng.choice(others)
        self.current = Frames(self.current.active, asset, self.current.values)

    def _switch_on(self, track: int, past: Frames) -> None:
        active, asset, values = self.current.active.copy(), self.current.asset.copy(), self.current.values.copy()
        seen = np.flatnonzero(past.active[:, track])
        active[0, track] = True
        active[0, track + 1 :] = False
        asset[0, track + 1 :] = 0
        values[0, track + 1 :] = 0.0
        if seen.size:
            asset[0, track] = past.asset[seen[-1], track]
            values[0, track] = past.values[seen[-1], track]
        else:
            asset[0, track] = min(int(past.asset.max()) + 1, self.asset_classes - 1)
            values[0, track] = DEFAULT_VALUES
        self.current = Frames(active, asset, values)

    def _all(self) -> Frames:
        return Frames(np.concatenate(self.active), np.concatenate(self.asset), np.concatenate(self.values))

    def continuation(self, n_frames: int) -> Frames:
        return self._all().rows(slice(self.prompt_rows, self.prompt_rows + n_frames))


# --- cutting a stack --------------------------------------------------------------------------


def predict_cut(
    name: str,
    session: RulesSession,
    rules: RuleSettings | None = None,
    stats: BaselineStats | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """(N,) the camera each predictor shows on the session's frames (module docstring): `rules` needs
    the fitted settings, `semi_markov` the training split's statistics and a generator."""
    n_cameras = session.pairing.n_cameras
    if name == "rules":
        if rules is None:
            raise ValueError("the rules predictor needs its fitted settings")
        return switch(
            session.active, session.pairing.camera_of_mic(), session.pairing.wide, n_cameras, rules, session.fps
        )
    if name == "semi_markov":
        if stats is None or rng is None:
            raise ValueError("the semi_markov cut needs the training statistics and a generator")
        return _semi_markov_cut(stats, session.shown.shape[0], n_cameras, session.fps, rng, session.pairing.wide)
    raise ValueError(f"unknown cut predictor {name!r} (known: {', '.join(CUT_PREDICTORS)})")


def _semi_markov_cut(
    stats: BaselineStats, n: int, n_cameras: int, fps: float, rng: np.random.Generator, wide: int | None
) -> np.ndarray:
    """Shot lengths drawn from the training split, the next camera from its transition matrix over the
    cameras (state c + 1 is camera c; rows without a camera's transitions are uniform)."""
    lengths = stats.shot_frames(fps)
    states = np.arange(1, n_cameras + 1)
    size = len(stats.transition)
    shown = np.empty(n, dtype=np.int64)
    camera, at = (0 if wide is None else wide), 0
    while at < n:
        length = int(rng.choice(lengths))
        shown[at : at + length] = camera
        at += length
        weights = np.array([stats.transition[camera + 1, s] if camera + 1 < size and s < size else 0.0 for s in states])
        weights[camera] = 0.0
        if weights.sum() <= 0:
            weights = np.ones(n_cameras)
            weights[camera] = 0.0 if n_cameras > 1 else 1.0
        camera = int(rng.choice(n_cameras, p=weights / weights.sum()))
    return shown
