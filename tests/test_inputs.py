"""The model's derived inputs (`multitrack.model.inputs`): by hand, and one frame at a time
(`RunningInputs`, what rollouts use) equal to a whole window (`window_inputs`, what training
uses). The numpy frame vocabulary is held equal to the torch counts in test_vocabulary.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from multitrack.config import ModelConfig
from multitrack.features.vocabulary import SINCE_ON_TOP_MAX
from multitrack.model.inputs import (
    InputRules,
    Inputs,
    RunningInputs,
    RunningState,
    advance,
    carry_values,
    count_cuts_from_top,
    cut_shares,
    frames_since_on_top,
    history,
    ranking_recency,
    shot_ages,
    start_state,
    steady_motion,
    window_inputs,
    window_motion,
)

RULES = InputRules.of(ModelConfig(), window_length=8)


def test_the_rules_come_from_the_config():
    rules = InputRules.of(ModelConfig(steady_step_ratio=2.0, recency_cap_windows=3), window_length=10)
    assert (rules.steady_step_ratio, rules.recency_cap, rules.last_age) == (2.0, 29, 9)
    # a cap past what the frame table can hold stops at the table's own
    assert InputRules.of(ModelConfig(recency_cap_windows=10_000), window_length=100).recency_cap == SINCE_ON_TOP_MAX


def test_steady_motion_by_hand():
    # steps of +1 then +1.5: same way, within 3x, steady -> half of the two steps (1.25)
    # +1 then +4: more than 3x -> a jump, no move; +1 then -1: turned round, no move
    step_old = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    step_new = torch.tensor([[1.5, 4.0, -1.0, 1.0]])
    steady = torch.tensor([True, True, True, False])
    moved = steady_motion(step_old[..., None], step_new[..., None], (step_old + step_new)[..., None], steady[None], 3.0)
    assert moved[0, :, 0].tolist() == [1.25, 0.0, 0.0, 0.0]
    # the ratio is the rules': at 5x the +1, +4 pair is steady
    wide = steady_motion(step_old[..., None], step_new[..., None], (step_old + step_new)[..., None], steady[None], 5.0)
    assert wide[0, :, 0].tolist() == [1.25, 2.5, 0.0, 0.0]


def test_window_motion_needs_two_steps_on_one_asset():
    active = torch.ones(1, 5, 2)
    asset = torch.tensor([[[1, 1], [1, 1], [1, 2], [1, 2], [1, 2]]])  # V2 changes asset at frame 2
    values = torch.zeros(1, 5, 2, 7)
    values[0, :, :, 1] = torch.arange(5.0)[:, None]  # both move +1 a frame
    motion = window_motion(active, asset, values, ratio=3.0)[0, :, :, 1]  # (5, 2)
    assert motion[:, 0].tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]  # from the third frame on
    assert motion[:, 1].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]  # three frames on asset 2 first


def test_values_carry_on_while_a_track_is_off():
    active = torch.tensor([[[1.0], [0.0], [0.0], [1.0]]])
    values = torch.tensor([[[[1.0] * 7], [[9.0] * 7], [[9.0] * 7], [[2.0] * 7]]])  # (1, 4, 1, 7)
    assert carry_values(active, values)[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0, 2.0]
    # before its first active frame a track holds the window's first frame's values as given
    assert carry_values(torch.zeros(1, 3, 1), values[:, 1:])[0, :, 0, 0].tolist() == [9.0, 9.0, 9.0]


def test_cut_shares_and_recency_by_hand():
    assert cut_shares(torch.tensor([[3, 1, 0]])).tolist() == [[0.75, 0.25, 0.0]]
    assert cut_shares(torch.tensor([[0, 0, 0]])).tolist() == [[0.0, 0.0, 0.0]]  # no cuts yet
    since = torch.tensor([[0, 4, RULES.recency_cap]])
    # in windows (8 frames); a track at the cap was never on top, or too long ago to tell
    assert ranking_recency(since, RULES, torch.float32).tolist() == [[0.0, 0.5, 0.0]]


def test_shot_age_counts_from_the_last_cut():
    active = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 0.0]]])
    asset = torch.tensor([[[1, 0], [1, 0], [1, 2], [1, 2], [3, 0]]])  # a cut to V2, then to V1 on asset 3
    assert shot_ages(active, asset)[0].tolist() == [0, 1, 0, 1, 0]


@st.composite
def timelines(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """A few frames (1, N, T) of few tracks and assets, values that move, hold or jump, and a
    split point: the frames before it are the history a running state is told."""
    length, tracks = draw(st.integers(1, 24)), draw(st.integers(1, 4))
    active = draw(arrays(np.uint8, (length, tracks), elements=st.integers(0, 1)))
    asset = np.where(active > 0, draw(arrays(np.int64, (length, tracks), elements=st.integers(1, 3))), 0)
    steps = draw(arrays(np.int8, (length, tracks, 7), elements=st.integers(-2, 2))).astype(np.float32)
    values = np.cumsum(steps * 0.25, axis=0)  # quarter steps: exact in float32
    split = draw(st.integers(0, length - 1))
    as_tensor = torch.as_tensor
    return as_tensor(active, dtype=torch.float32)[None], as_tensor(asset)[None], as_tensor(values)[None], split


@settings(max_examples=60, deadline=None)
@given(timelines())
def test_one_frame_at_a_time_equals_the_window(timeline):
    # a running state told the history up to frame `split` gives, frame by frame, what a window
    # starting at `split` gives when told the same counts over the whole timeline
    active, asset, values, split = timeline
    running = RunningInputs(RULES, history(active[:, : split + 1]) if split else None)
    stepped = Inputs.cat(
        [running.advance(active[:, t], asset[:, t], values[:, t]) for t in range(split, active.shape[1])]
    )
    since = frames_since_on_top(active)[:, split:] if split else None
    cuts = count_cuts_from_top(active)[:, split:] if split else None
    window = window_inputs(active[:, split:], asset[:, split:], values[:, split:], RULES, since, cuts)
    for name, got, expected in zip(Inputs._fields, stepped, window, strict=True):
        assert got.shape == expected.shape, name
        torch.testing.assert_close(got.to(expected.dtype), expected, msg=name, rtol=0, atol=1e-6)
    # the functional step RunningInputs wraps: state in, state out, the state given left as it was
    state = start_state(RULES, 1, active.shape[-1], history(active[:, : split + 1]) if split else None)
    functional = []
    for t in range(split, active.shape[1]):
        before = RunningState(*(part.clone() for part in state))
        after, inputs = advance(state, active[:, t], asset[:, t], values[:, t], RULES)
        for name, kept, handed in zip(RunningState._fields, before, state, strict=True):
            assert torch.equal(kept, handed), name
        functional.append(inputs)
        state = after
    for name, got, expected in zip(Inputs._fields, Inputs.cat(functional), stepped, strict=True):
        assert torch.equal(got, expected), name
    assert int(state.frames) == active.shape[1] - split


@pytest.mark.parametrize("ratio", [1.5, 3.0])
def test_running_motion_follows_the_rules_ratio(ratio):
    # steps +1 then +2: steady at 3x, a jump at 1.5x, one frame at a time as in a window
    active, asset = torch.ones(1, 3, 1), torch.ones(1, 3, 1, dtype=torch.long)
    values = torch.tensor([0.0, 1.0, 3.0]).view(1, 3, 1, 1).expand(1, 3, 1, 7).contiguous()
    rules = InputRules.of(ModelConfig(steady_step_ratio=ratio), window_length=8)
    running = RunningInputs(rules)
    last = [running.advance(active[:, t], asset[:, t], values[:, t]) for t in range(3)][-1]
    assert last.motion[0, 0, 0, 0].item() == (1.5 if ratio == 3.0 else 0.0)
    assert window_inputs(active, asset, values, rules).motion[0, -1, 0, 0].item() == last.motion[0, 0, 0, 0].item()
