"""Frames since each track was on top, over a whole timeline (numpy, for prepare)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from multitrack.data.recency import SINCE_ON_TOP_MAX, cuts_from_top, frames_since_on_top, top_tracks
from multitrack.model import transformer

NEVER = SINCE_ON_TOP_MAX


def test_top_tracks_is_the_highest_track_on():
    active = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 0, 1], [0, 1, 0]], np.uint8)
    assert top_tracks(active).tolist() == [-1, 0, 1, 2, 1]


def test_counts_by_hand():
    # V1 the wide under everything; V2 and V3 close-ups cut in over it, then nothing on screen
    active = np.array(
        [
            [1, 0, 0],  # 0: V1 on top
            [1, 1, 0],  # 1: V2 on top
            [1, 1, 0],  # 2: V2
            [1, 0, 1],  # 3: V3
            [1, 0, 0],  # 4: V1
            [0, 0, 0],  # 5: nothing
            [0, 1, 0],  # 6: V2
        ],
        np.uint8,
    )
    expected = [
        [0, NEVER, NEVER],
        [1, 0, NEVER],
        [2, 0, NEVER],
        [3, 1, 0],
        [0, 2, 1],
        [1, 3, 2],
        [2, 0, 3],
    ]
    since = frames_since_on_top(active)
    assert since.dtype == np.int16
    assert since.tolist() == expected


def test_long_ago_reads_as_never():
    active = np.zeros((SINCE_ON_TOP_MAX + 5, 1), np.uint8)
    active[0] = 1
    since = frames_since_on_top(active)
    assert since[SINCE_ON_TOP_MAX - 1, 0] == SINCE_ON_TOP_MAX - 1
    assert since[SINCE_ON_TOP_MAX, 0] == NEVER and since[-1, 0] == NEVER


@settings(max_examples=50, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 4)), elements=st.integers(0, 1)))
def test_numpy_and_torch_count_the_same(active):
    # prepare writes the numpy counts; rollouts and windows without them use the model's torch ones
    frames = torch.as_tensor(active, dtype=torch.float32)[None]  # (1, N, T)
    for in_numpy, in_torch in (
        (frames_since_on_top, transformer.frames_since_on_top),
        (cuts_from_top, transformer.count_cuts_from_top),
    ):
        assert in_torch(frames)[0].tolist() == in_numpy(active).astype(np.int64).tolist()


def test_cuts_from_top_by_hand():
    # on top: V1, V2, V1, V2, V3, V1, nothing; at each frame, the cuts so far from the track on
    # top now to each track
    active = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 0, 0], [0, 0, 0]], np.uint8)
    expected = [[0, 0, 0], [0, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0], [0, 2, 0], [0, 0, 0]]
    cuts = cuts_from_top(active)
    assert cuts.dtype == np.int16
    assert cuts.tolist() == expected


def test_an_empty_timeline_has_empty_counts():
    empty = np.zeros((0, 3), np.uint8)
    assert frames_since_on_top(empty).shape == (0, 3) and cuts_from_top(empty).shape == (0, 3)


@settings(max_examples=30, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 4)), elements=st.integers(0, 1)))
def test_step_history_is_the_last_row_of_the_counts(active):
    # rollouts tell the cache the counts up to its first frame, counted directly (a prompt may
    # be hours long): they must be the per-frame counts' last row
    frames = torch.as_tensor(active, dtype=torch.float32)[None]  # (1, N, T)
    history = transformer.step_history(frames)
    assert history.since_on_top[0].tolist() == frames_since_on_top(active)[-1].astype(np.int64).tolist()
    assert history.transitions[0].tolist() == transformer.transition_counts(frames)[0, -1].float().tolist()
