"""What a frame remembers of its whole timeline: frames since each track was on top, and
the cuts so far from the track on top to each track.

Editors come back to the angle they showed least recently (a speaker who has been
waiting), and that angle can be last on screen longer ago than a training window reaches
(docs/decisions.md, "model: history from the timeline's start"). So `prepare` counts, for every
frame of a timeline, the frames since each track was last the top one from the timeline's
start, and the model reads that instead of a count that starts at its window
(`MultitrackTransformer.forward`'s `since_on_top`; `frames_since_on_top` there counts the
same in torch). `cuts_from_top` counts the editor's own cuts the same way.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

SINCE_ON_TOP_DTYPE = np.int16
# "never on top, or this long ago or longer": the largest count the prepared array holds
# (18 minutes at 30 fps; the model caps far below it)
SINCE_ON_TOP_MAX = int(np.iinfo(SINCE_ON_TOP_DTYPE).max)


def top_tracks(active: np.ndarray) -> np.ndarray:
    """(N, T) active flags -> (N,) index of the topmost active track, -1 where none is."""
    on = np.asarray(active) > 0
    tracks = on.shape[1]
    last_on = tracks - 1 - np.argmax(on[:, ::-1], axis=1)  # (N,): the highest track on
    return np.where(on.any(axis=1), last_on, -1)


def frames_since_on_top(active: np.ndarray) -> np.ndarray:
    """(N, T) active flags of one timeline from its start -> (N, T) int16: frames since each
    track was the top one (0 while it is), SINCE_ON_TOP_MAX before it ever was or longer ago."""
    frames, tracks = np.asarray(active).shape
    top = top_tracks(active)  # (N,)
    frame = np.arange(frames, dtype=np.int64)[:, None]  # (N, 1)
    on_top = top[:, None] == np.arange(tracks)  # (N, T)
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
    shown = top_tracks(active) + 1  # (N,): class 0 none, j for track j-1
    counts = np.zeros((tracks + 1, tracks + 1), np.int64)  # (from class, to class)
    out = np.zeros((frames, tracks), np.int64)
    changes = np.flatnonzero(shown[1:] != shown[:-1]) + 1  # first frame of each new top
    bounds = [0, *changes.tolist(), frames]
    for start, stop in pairwise(bounds):
        if start > 0:
            counts[shown[start - 1], shown[start]] += 1
        out[start:stop] = counts[shown[start], 1:]
    return np.minimum(out, SINCE_ON_TOP_MAX).astype(SINCE_ON_TOP_DTYPE)
