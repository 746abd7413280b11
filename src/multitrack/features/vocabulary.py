"""The frame vocabulary: the frame arrays (`Frames`) and what every stage derives from them.

A frame is one row of the frame table (DESIGN.md §2): per video track, `active`, `asset` and the
7 geometry values. From it the code reads, always as written here (numpy; the model's torch
versions in `model/transformer.py` are held equal to these by tests/test_vocabulary.py):

- the *track on top*: the topmost active track, as a class: 0 none, t + 1 for the 0-based
  track t (V1 = 1); the same numbering as the model's visible-track head and the
  visible-track distributions of `evaluate.metrics` (column 0 "nothing visible");
- a *cut* (DESIGN.md §3): a frame whose track on top, or the asset on it, differs from the
  frame before; the *shot age*: frames since the last cut;
- what a frame remembers of its whole timeline: frames since each track was on top, and the
  cuts so far from the track on top to each track. Editors come back to the angle they
  showed least recently (a speaker who has been waiting), and that angle can be last on
  screen longer ago than a training window reaches (docs/decisions.md, "model: history from
  the timeline's start"), so `prepare` counts them from each timeline's start and stores them;
- folding asset ids into the model's K classes (K-1 is "other").
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

SINCE_ON_TOP_DTYPE = np.int16
# "never on top, or this long ago or longer": the largest count the prepared array holds
# (18 minutes at 30 fps; the model caps far below it)
SINCE_ON_TOP_MAX = int(np.iinfo(SINCE_ON_TOP_DTYPE).max)


@dataclass
class Frames:
    """Frame arrays of one or more timelines, in frame-table units."""

    active: np.ndarray  # (N, T) bool
    asset: np.ndarray  # (N, T) int, 0 where inactive
    values: np.ndarray  # (N, T, 7) float

    def __len__(self) -> int:
        return len(self.active)

    def rows(self, index: slice | np.ndarray) -> Frames:
        return Frames(self.active[index], self.asset[index], self.values[index])


def top_track(active: npt.ArrayLike) -> np.ndarray:
    """(N, T) active flags -> (N,) int64 class of the topmost active track: 0 none, t + 1 for track t."""
    on = np.asarray(active) > 0
    numbers = np.arange(1, on.shape[1] + 1)  # (T,): V1 = 1
    return np.where(on, numbers, 0).max(axis=1, initial=0)


def top_asset(active: np.ndarray, asset: np.ndarray) -> np.ndarray:
    """(N, T) frames -> (N,) the asset on the track on top, 0 where nothing is on screen."""
    top = top_track(active)
    shown = np.asarray(asset)[np.arange(len(top)), np.maximum(top - 1, 0)]
    return np.where(top > 0, shown, 0)


def cut_rows(active: np.ndarray, asset: np.ndarray) -> np.ndarray:
    """(N, T) frames -> (N,) bool: the track on top or its asset differs from the row before
    (never at row 0, which has none)."""
    top, shown = top_track(active), top_asset(active, asset)
    cut = np.zeros(len(top), dtype=bool)
    cut[1:] = (top[1:] != top[:-1]) | (shown[1:] != shown[:-1])
    return cut


def shot_age(active: np.ndarray, asset: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
    """(N, T) frames -> (N,) int64: frames since the shot began, 0 at a cut (`cut_rows`) and at
    row 0. `first` (N,) bool marks further timelines' first rows, where a shot begins too.
    Editors' shot lengths have a shape (a cut grows likelier as a shot ages)."""
    starts = cut_rows(active, asset)
    if first is not None:
        starts |= np.asarray(first, dtype=bool)
    frame = np.arange(len(starts))
    return frame - np.maximum.accumulate(np.where(starts, frame, 0))


def since_on_top(active: np.ndarray) -> np.ndarray:
    """(N, T) active flags of one timeline from its start -> (N, T) int16: frames since each
    track was the top one (0 while it is), SINCE_ON_TOP_MAX before it ever was or longer ago."""
    frames, tracks = np.asarray(active).shape
    frame = np.arange(frames, dtype=np.int64)[:, None]  # (N, 1)
    on_top = top_track(active)[:, None] == np.arange(1, tracks + 1)  # (N, T)
    last = np.maximum.accumulate(np.where(on_top, frame, -SINCE_ON_TOP_MAX), axis=0)  # (N, T)
    return np.minimum(frame - last, SINCE_ON_TOP_MAX).astype(SINCE_ON_TOP_DTYPE)


def cuts_from_top(active: np.ndarray) -> np.ndarray:
    """(N, T) active flags of one timeline from its start -> (N, T) int16: at each frame, how
    many of the timeline's cuts so far (up to this frame) went from the track on top now (or
    from nothing on screen) to each track. It is this editor's own habit of what comes after
    what, which a model trained on other editors cannot know otherwise: one returns to the
    wide after most close-ups, another goes from close-up to close-up."""
    frames, tracks = np.asarray(active).shape
    if frames == 0:
        return np.zeros((0, tracks), SINCE_ON_TOP_DTYPE)
    shown = top_track(active)  # (N,)
    counts = np.zeros((tracks + 1, tracks + 1), np.int64)  # (from class, to class)
    out = np.zeros((frames, tracks), np.int64)
    changes = np.flatnonzero(shown[1:] != shown[:-1]) + 1  # first frame of each new top
    bounds = [0, *changes.tolist(), frames]
    for start, stop in pairwise(bounds):
        if start > 0:
            counts[shown[start - 1], shown[start]] += 1
        out[start:stop] = counts[shown[start], 1:]
    return np.minimum(out, SINCE_ON_TOP_MAX).astype(SINCE_ON_TOP_DTYPE)


def fold_assets(asset: np.ndarray, asset_classes: int) -> tuple[np.ndarray, int]:
    """Asset ids of K-1 and above become K-1, "other" (DESIGN.md §2); returns the ids (in the
    input's dtype) and how many changed."""
    other = asset_classes - 1
    folded = int(np.count_nonzero(asset > other))
    return np.minimum(asset, other), folded
