"""The frame vocabulary (numpy, the reference): the track on top, cuts and shot age, frames
since each track was on top and the cuts from it over a whole timeline, asset folding; and
the model's torch versions held equal to it."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from multitrack.features.vocabulary import (
    SINCE_ON_TOP_MAX,
    Frames,
    cut_rows,
    cuts_from_top,
    fold_assets,
    shot_age,
    since_on_top,
    top_asset,
    top_track,
)
from multitrack.model import inputs as model_inputs

NEVER = SINCE_ON_TOP_MAX
active_flags = arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 4)), elements=st.integers(0, 1))


@st.composite
def frames_with_assets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """(N, T) active flags and assets 1..3 where active, 0 elsewhere (few, so assets repeat)."""
    active = draw(active_flags)
    asset = draw(arrays(np.int64, active.shape, elements=st.integers(1, 3)))
    return active, np.where(active > 0, asset, 0)


def test_top_track_is_the_highest_track_on():
    # 0 none, t + 1 for the 0-based track t
    active = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 0, 1], [0, 1, 0]], np.uint8)
    assert top_track(active).tolist() == [0, 1, 2, 3, 2]


def test_visible_track_is_the_topmost_active():
    # (from test_metrics: V3, V2, nothing)
    active = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 0]], bool)
    assert top_track(active).tolist() == [3, 2, 0]


def test_top_asset_is_the_asset_on_the_track_on_top():
    active = np.array([[1, 0], [1, 1], [0, 0]], bool)
    asset = np.array([[4, 0], [4, 7], [0, 0]])
    assert top_asset(active, asset).tolist() == [4, 7, 0]


def test_cuts_and_shot_age_by_hand():
    # two tracks; frames: V1 a1, V1 a1, V2 on top, V2 on top, V1 a1 again, V1 a3 (asset switch)
    active = np.array([[1, 0], [1, 0], [1, 1], [1, 1], [1, 0], [1, 0]], np.uint8)
    asset = np.array([[1, 0], [1, 0], [1, 2], [1, 2], [1, 0], [3, 0]])
    assert np.flatnonzero(cut_rows(active, asset)).tolist() == [2, 4, 5]
    assert shot_age(active, asset).tolist() == [0, 1, 0, 1, 0, 0]
    # a new timeline starting at row 1 begins a shot there too
    first = np.array([1, 1, 0, 0, 0, 0], bool)
    assert shot_age(np.ones((6, 1)), np.ones((6, 1)), first).tolist() == [0, 0, 1, 2, 3, 4]


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
    since = since_on_top(active)
    assert since.dtype == np.int16
    assert since.tolist() == expected


def test_long_ago_reads_as_never():
    active = np.zeros((SINCE_ON_TOP_MAX + 5, 1), np.uint8)
    active[0] = 1
    since = since_on_top(active)
    assert since[SINCE_ON_TOP_MAX - 1, 0] == SINCE_ON_TOP_MAX - 1
    assert since[SINCE_ON_TOP_MAX, 0] == NEVER and since[-1, 0] == NEVER


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
    assert since_on_top(empty).shape == (0, 3) and cuts_from_top(empty).shape == (0, 3)
    assert top_track(empty).shape == (0,) and shot_age(empty, empty.astype(int)).shape == (0,)


def test_fold_assets():
    folded, changed = fold_assets(np.array([[0, 1, 2], [3, 4, 9]]), asset_classes=3)
    assert folded.tolist() == [[0, 1, 2], [2, 2, 2]] and changed == 3


def test_frames_rows():
    frames = Frames(np.eye(3, dtype=bool), np.eye(3, dtype=int), np.zeros((3, 3, 7)))
    assert len(frames) == 3 and frames.rows(slice(1, None)).active.tolist() == [[0, 1, 0], [0, 0, 1]]


# --- the model's torch versions count the same ------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(active_flags)
def test_numpy_and_torch_count_the_same(active):
    # prepare writes the numpy counts; rollouts and windows without them use the model's torch ones
    frames = torch.as_tensor(active, dtype=torch.float32)[None]  # (1, N, T)
    for in_numpy, in_torch in (
        (top_track, model_inputs.visible_classes),
        (since_on_top, model_inputs.frames_since_on_top),
        (cuts_from_top, model_inputs.count_cuts_from_top),
    ):
        assert in_torch(frames)[0].tolist() == in_numpy(active).astype(np.int64).tolist()


@settings(max_examples=50, deadline=None)
@given(frames_with_assets())
def test_numpy_and_torch_age_shots_the_same(frames):
    active, asset = frames
    on, classes = torch.as_tensor(active, dtype=torch.float32)[None], torch.as_tensor(asset)[None]  # (1, N, T)
    assert model_inputs.shot_ages(on, classes)[0].tolist() == shot_age(active, asset).tolist()


@settings(max_examples=30, deadline=None)
@given(active_flags)
def test_history_is_the_last_row_of_the_counts(active):
    # rollouts tell the cache the counts up to its first frame, counted directly (a prompt may
    # be hours long): they must be the per-frame counts' last row
    frames = torch.as_tensor(active, dtype=torch.float32)[None]  # (1, N, T)
    history = model_inputs.history(frames)
    assert history.since_on_top[0].tolist() == since_on_top(active)[-1].astype(np.int64).tolist()
    assert history.transitions[0].tolist() == model_inputs.transition_counts(frames)[0, -1].float().tolist()
