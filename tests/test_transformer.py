"""The causal multi-track Transformer: shapes, causality, KV cache == full pass, size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from multitrack.config import ModelConfig, load_config
from multitrack.model.transformer import (
    ROTATION_TABLE_FRAMES,
    MultitrackTransformer,
    RotaryEmbedding,
    carry_values,
    count_cuts_from_top,
    cut_shares,
    frames_since_on_top,
    ranking_recency,
    steady_motion,
    step_history,
    window_motion,
)

TRACKS, CLASSES, LENGTH = 3, 5, 12
SMALL = ModelConfig(d_model=32, n_heads=4, n_layers=2, d_ff=64, dropout=0.0, asset_embed_dim=4, track_embed_dim=4)


def _frames(batch: int, length: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    active = (torch.rand(batch, length, TRACKS, generator=generator) > 0.5).float()
    asset = torch.randint(0, CLASSES, (batch, length, TRACKS), generator=generator) * active.long()
    values = torch.randn(batch, length, TRACKS, 7, generator=generator) * active.unsqueeze(-1)
    return active, asset, values


@pytest.fixture()
def model() -> MultitrackTransformer:
    torch.manual_seed(0)
    return MultitrackTransformer(SMALL, max_tracks=TRACKS, asset_classes=CLASSES, window_length=LENGTH).eval()


def _with_random_heads(model: MultitrackTransformer) -> MultitrackTransformer:
    """The heads start at zero, so an untrained model's outputs ignore everything the layers
    compute; random heads make every output depend on attention and the cache."""
    torch.manual_seed(1)
    with torch.no_grad():
        for head in (
            model.head,
            model.visible_head,
            model.recency_head,
            model.next_head,
            model.move_head,
            model.change_head,
        ):
            nn.init.normal_(head.weight, std=0.3)
    return model


def test_forward_shapes(model):
    prediction = model(*_frames(2, LENGTH))
    assert prediction.active_logits.shape == (2, LENGTH, TRACKS)
    assert prediction.asset_logits.shape == (2, LENGTH, TRACKS, CLASSES)
    assert prediction.values.shape == (2, LENGTH, TRACKS, 7)


def test_output_at_t_ignores_later_frames(model):
    active, asset, values = _frames(1, LENGTH)
    before = model(active, asset, values)
    t = 5
    active[:, t + 1 :] = 1 - active[:, t + 1 :]
    asset[:, t + 1 :] = (asset[:, t + 1 :] + 1) % CLASSES
    values[:, t + 1 :] += 3.0
    after = model(active, asset, values)
    for old, new in zip(before, after, strict=True):
        torch.testing.assert_close(old[:, : t + 1], new[:, : t + 1])
    for old, new in zip(before[:4], after[:4], strict=True):  # the heads' outputs (random frames have no steady move)
        assert not torch.allclose(old[:, t + 1 :], new[:, t + 1 :])


def _assert_steps_equal_the_full_pass(model, active, asset, values):
    full = model(active, asset, values)
    cache = None
    for t in range(active.shape[1]):
        step, cache = model.step(active[:, t], asset[:, t], values[:, t], cache)
        for whole, one in zip(full, step, strict=True):
            torch.testing.assert_close(one, whole[:, t], rtol=1e-4, atol=1e-5)
    return cache


def test_cached_steps_equal_the_full_pass(model):
    cache = _assert_steps_equal_the_full_pass(_with_random_heads(model), *_frames(2, LENGTH, seed=1))
    assert cache.frames == LENGTH and cache.position == LENGTH


@pytest.mark.parametrize("total", [2 * LENGTH, 2 * LENGTH + 5, ROTATION_TABLE_FRAMES + LENGTH + 5])
def test_cache_slides_to_the_window_with_relative_positions(total):
    # one layer: a cached key depends on its own frame only, so after `total` frames the sliding
    # cache (the last LENGTH frames, at absolute positions total-LENGTH..total-1, in ring slots
    # that start mid-buffer unless total is a multiple of LENGTH) must give what a fresh pass over
    # those frames at positions 0..LENGTH-1 gives: rotary is relative. The longest run also
    # crosses a refill of the cache's table of rotations.
    torch.manual_seed(0)
    config = ModelConfig(**{**SMALL.__dict__, "n_layers": 1})
    model = MultitrackTransformer(config, max_tracks=TRACKS, asset_classes=CLASSES, window_length=LENGTH).eval()
    model = _with_random_heads(model)
    active, asset, values = _frames(1, total, seed=2)
    # every track on at the window's first frame: the values carried into the window are then
    # the window's own, as in the fresh pass (the cache carries them from further back)
    active[:, total - LENGTH] = 1.0
    # and nothing on screen for a window's length before it: the cache's shot age restarts at
    # the window's first frame, as in the fresh pass; the fresh pass is given the frames since
    # on top and the cuts counted from the first frame, as the cache counts them
    active[:, max(0, total - 2 * LENGTH) : total - LENGTH] = 0.0
    cache = None
    for t in range(total):
        step, cache = model.step(active[:, t], asset[:, t], values[:, t], cache)
    assert cache.frames == LENGTH and cache.position == total
    since_on_top = frames_since_on_top(active)[:, -LENGTH:]  # (1, LENGTH, T)
    cuts = count_cuts_from_top(active)[:, -LENGTH:]  # (1, LENGTH, T)
    window = model(active[:, -LENGTH:], asset[:, -LENGTH:], values[:, -LENGTH:], since_on_top, cuts)
    for whole, one in zip(window, step, strict=True):
        torch.testing.assert_close(one, whole[:, -1], rtol=1e-4, atol=1e-5)


def test_rotations_rotate_as_the_full_pass_does():
    # `step` multiplies complex views of q and k by a table of rotations; `forward` rotates
    # (even, odd) pairs by cos and sin. Far from 0, where float angles would lose precision.
    rotary = RotaryEmbedding(head_size=8)
    x = torch.randn(2, 3, 5, 8, generator=torch.Generator().manual_seed(0))  # (B, nh, L, hs)
    first = 50_000
    expected = rotary(x, first)
    rotations = rotary.rotations(first, 5, x.dtype, x.device)  # (L, hs/2) complex
    rotated = torch.view_as_real(torch.view_as_complex(x.unflatten(-1, (-1, 2))) * rotations).flatten(-2)
    torch.testing.assert_close(rotated, expected, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(rotated, x)


def test_wrong_track_count_is_refused(model):
    active, asset, values = _frames(1, 4)
    with pytest.raises(ValueError, match="expects 3 tracks per frame, got 2"):
        model(active[..., :2], asset[..., :2], values[..., :2, :])


def test_default_model_has_about_two_million_parameters(tiny_config):
    config = load_config(tiny_config.parent / "default.yaml")
    model = MultitrackTransformer(config.model, max_tracks=20, asset_classes=16, window_length=100)
    count = model.parameter_count()
    print(f"default model: {count:,} parameters")
    assert 1_500_000 <= count <= 3_000_000


def test_an_untrained_model_starts_from_persistence(model):
    """The heads predict changes from the current frame: before any training the next frame
    is the current one (active tracks stay on, the asset stays, the values stay)."""
    active, asset, values = _frames(2, 8)
    model.eval()
    prediction = model(active, asset, values)
    on = active > 0.5
    prob = torch.sigmoid(prediction.active_logits)
    assert bool((prob[on] > 0.9).all()) and bool((prob[~on] < 0.1).all())
    assert torch.equal(prediction.asset_logits.argmax(-1)[on], asset[on])
    assert torch.equal(prediction.values[on], values[on])  # inactive tracks: their carried values
    visible = torch.where(on, torch.arange(1, TRACKS + 1), 0).amax(-1)  # topmost active track, 0 = none
    assert torch.equal(prediction.visible_logits.argmax(-1), visible)
    assert bool((torch.softmax(prediction.visible_logits, -1).amax(-1) > 0.97).all())


def test_steady_motion_carries_on_moves_in_one_direction_only():
    older, previous = torch.zeros(5, 7), torch.zeros(5, 7)
    current = torch.zeros(5, 7)
    # per row (track), value 0: a ramp 0,1,2; steps 2 then 3 (resampled ramp); a jump 0,0,5;
    # a reversal 0,1,0; a ramp of 1 per frame when the asset changed
    previous[:, 0] = torch.tensor([1.0, 2.0, 0.0, 1.0, 1.0])
    current[:, 0] = torch.tensor([2.0, 5.0, 5.0, 0.0, 2.0])
    steady = torch.tensor([True, True, True, True, False])
    moved = steady_motion(older, previous, current, steady)  # (5, 7)
    assert moved[:, 0].tolist() == [1.0, 2.5, 0.0, 0.0, 0.0]  # half of the move over the last two steps
    assert moved[:, 1:].abs().sum() == 0  # values that did not move
    # steps 1 then 4: more than STEADY_STEP_RATIO apart, a jump rather than a ramp
    assert (
        steady_motion(torch.zeros(1, 7), torch.ones(1, 7), torch.full((1, 7), 5.0), torch.tensor([True])).abs().sum()
        == 0
    )


def test_window_motion_needs_the_same_asset_three_frames_running():
    active = torch.ones(1, 4, 1)  # (B, L, T)
    asset = torch.tensor([[[1], [1], [1], [2]]])  # the asset changes at frame 3
    values = torch.zeros(1, 4, 1, 7)
    values[0, :, 0, 1] = torch.tensor([0.0, 0.1, 0.2, 0.3])  # pos_x ramps
    motion = window_motion(active, asset, values)  # (1, 4, 1, 7)
    assert torch.allclose(motion[0, :, 0, 1], torch.tensor([0.0, 0.0, 0.1, 0.0]))


@pytest.mark.parametrize("length", [1, 2])
def test_windows_too_short_for_a_move_have_none(model, length):
    active, asset, values = _frames(1, length, seed=3)
    assert window_motion(active, asset, values).shape == (1, length, TRACKS, 7)
    assert model(active, asset, values).values.shape == (1, length, TRACKS, 7)


def test_cached_steps_equal_the_full_pass_on_moving_tracks(model):
    model = _with_random_heads(model)
    active = torch.ones(1, LENGTH, TRACKS)
    asset = torch.ones(1, LENGTH, TRACKS, dtype=torch.long)
    values = torch.zeros(1, LENGTH, TRACKS, 7)
    values[0, :, 0, 0] = torch.linspace(0.0, 1.1, LENGTH)  # a zoom on V1
    values[0, :, 1, 1] = torch.tensor([0.0, 0.2, 0.5, 0.7, 1.0] * 3)[:LENGTH]  # a pan that jumps back
    _assert_steps_equal_the_full_pass(model, active, asset, values)


def test_an_untrained_model_carries_a_steady_move_on(model):
    active = torch.ones(1, 4, TRACKS)
    asset = torch.ones(1, 4, TRACKS, dtype=torch.long)
    values = torch.zeros(1, 4, TRACKS, 7)
    values[0, :, 0, 0] = torch.tensor([1.0, 1.1, 1.2, 1.3])
    prediction = model(active, asset, values)
    assert torch.allclose(prediction.values[0, 2:, 0, 0], torch.tensor([1.3, 1.4]))  # from frame 2 on
    assert torch.allclose(prediction.values[0, :2, 0, 0], torch.tensor([1.0, 1.1]))  # no two steps yet


def test_frames_since_on_top_count_from_each_tracks_last_turn_on_top():
    # V1 always on, V2 on at frames 1-2: on top are V1, V2, V2, V1, V1; V3 never
    active = torch.tensor([[[1.0, 0, 0], [1, 1, 0], [1, 1, 0], [1, 0, 0], [1, 0, 0]]])  # (1, 5, 3)
    since = frames_since_on_top(active).clamp(max=9)  # (1, 5, 3)
    assert since[0, :, 0].tolist() == [0, 1, 2, 0, 0]
    assert since[0, :, 1].tolist() == [9, 0, 0, 1, 2]
    assert since[0, :, 2].tolist() == [9] * 5


def test_recency_rank_reorders_the_next_track_without_changing_the_chance_of_a_cut(model):
    # V1 on top now; V2 was on top 1 frame ago, V3 6 frames ago: with a positive rank, V3 leads
    active = torch.tensor([[[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]])  # (1, 2, 3)
    since = ranking_recency(torch.tensor([[[1, 0, 5], [0, 1, 6]]]), LENGTH, model.recency_cap_frames)  # (1, 2, 3)
    leaned_on = (since, torch.zeros(1, 2, TRACKS))
    logits = torch.zeros(1, 2, TRACKS + 1)
    rank = torch.tensor([[[5.0, 0.0]] * 2])  # (1, 2, 2): lean to the least recent only
    ranked = model._rank_by_recency(logits, active, leaned_on, rank, torch.zeros(1, 2, TRACKS + 1))  # (1, 2, T + 1)
    before, after = torch.softmax(logits, -1), torch.softmax(ranked, -1)
    torch.testing.assert_close(after[0, 1, 1], before[0, 1, 1])  # V1 stays on top: unchanged
    assert after[0, 1, 3] > after[0, 1, 2] > after[0, 1, 0]  # V3 (least recent) > V2 > nothing
    torch.testing.assert_close(after[0, 0, 2], before[0, 0, 2])  # at frame 0 V2 was on top
    # the next-track head moves the choice among the others, never the chance of staying
    nudged = model._rank_by_recency(
        logits, active, leaned_on, torch.zeros(1, 2, 2), torch.tensor([[[0, 0, 4.0, 0]] * 2])
    )
    after = torch.softmax(nudged, -1)
    torch.testing.assert_close(after[0, 1, 1], before[0, 1, 1])
    assert after[0, 1, 2] > after[0, 1, 3] and after[0, 1, 2] > after[0, 1, 0]
    # and the habit lean towards where this editor's cuts from here went: V2 had 3 of 4
    habit = model._rank_by_recency(
        logits,
        active,
        (since, torch.tensor([[[0, 0, 0], [0, 0.75, 0.25]]])),
        torch.tensor([[[0.0, 4.0]] * 2]),
        torch.zeros(1, 2, TRACKS + 1),
    )
    after = torch.softmax(habit, -1)
    torch.testing.assert_close(after[0, 1, 1], before[0, 1, 1])
    assert after[0, 1, 2] > after[0, 1, 3] > after[0, 1, 0]


def test_tracks_never_on_top_take_no_part_in_the_lean_to_the_least_recent(model):
    # unused tracks were never on top: were they the least recent, every cut would lean to them
    cap = model.recency_cap_frames
    since = torch.tensor([[0, LENGTH, cap, cap + 5]])
    assert ranking_recency(since, LENGTH, cap).tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert cap == 8 * LENGTH - 1  # RECENCY_CAP_WINDOWS windows


def test_steps_given_the_history_before_them_equal_a_pass_given_it(model):
    # a cache started mid-timeline (a rollout's last prompt window) is told how long ago each
    # track was on top and the cuts so far; it must count on as `forward` does when given the
    # whole counts
    model = _with_random_heads(model)
    active, asset, values = _frames(2, 3 * LENGTH, seed=4)
    since, cuts = frames_since_on_top(active), count_cuts_from_top(active)  # (2, 3L, T): over all frames
    start = 2 * LENGTH
    window = (active[:, start:], asset[:, start:], values[:, start:])
    full = model(*window, since[:, start:], cuts[:, start:])
    history = step_history(active[:, : start + 1])
    cache = None
    for t in range(LENGTH):
        step, cache = model.step(*(part[:, t] for part in window), cache, history if t == 0 else None)
        for whole, one in zip(full, step, strict=True):
            torch.testing.assert_close(one, whole[:, t], rtol=1e-4, atol=1e-5)
    # without the counts, the window's frames read "never on top, no cuts" before the first
    assert not torch.allclose(model(*window).visible_logits, full.visible_logits)
    assert not torch.allclose(model(*window, since[:, start:]).visible_logits, full.visible_logits)


def test_cuts_from_top_count_the_cuts_so_far_from_the_track_on_top_now():
    # on top: V1, V2, V1, V2, V3, V1, nothing
    active = torch.tensor([[[1.0, 0, 0], [1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 0, 0], [0, 0, 0]]])
    expected = [[0, 0, 0], [0, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0], [0, 2, 0], [0, 0, 0]]
    assert count_cuts_from_top(active)[0].tolist() == expected
    shares = cut_shares(torch.tensor([[1, 3, 0], [0, 0, 0]]))
    assert shares.tolist() == [[0.25, 0.75, 0.0], [0.0, 0.0, 0.0]]
    history = step_history(active)
    assert history.transitions[0, 1].tolist() == [1, 0, 2, 0]  # from V1: to nothing once, to V2 twice
    assert history.since_on_top[0].tolist() == [1, 3, 2]


def test_a_move_goes_on_only_where_the_move_head_says_it_is_likelier(model):
    active = torch.ones(1, 4, TRACKS)
    asset = torch.ones(1, 4, TRACKS, dtype=torch.long)
    values = torch.zeros(1, 4, TRACKS, 7)
    values[0, :, 0, 0] = torch.tensor([1.0, 1.1, 1.2, 1.3])
    with torch.no_grad():
        model.move_head.bias.fill_(-1.0)  # a move more likely stops than goes on
    for mode in (model.eval(), model.train()):  # the same in training: the loss swaps in the truth
        prediction = mode(active, asset, values)
        assert torch.allclose(prediction.values[0, 2:, 0, 0], torch.tensor([1.2, 1.3]))  # held, not carried on
        assert torch.allclose(prediction.motion[0, 2:, 0, 0], torch.tensor([0.1, 0.1]))


def test_the_value_head_changes_values_only_where_the_change_head_says_it_is_likelier(model):
    active, asset = torch.ones(1, 3, TRACKS), torch.ones(1, 3, TRACKS, dtype=torch.long)
    values = torch.zeros(1, 3, TRACKS, 7)
    with torch.no_grad():
        model.head.bias.fill_(0.5)  # the value head says +0.5 on every value (and more)
        for change_bias, expected in ((-1.0, 0.0), (1.0, 0.5)):
            model.change_head.bias.fill_(change_bias)
            prediction = model.eval()(active, asset, values)
            assert torch.allclose(prediction.values, torch.full_like(prediction.values, expected))
            assert torch.allclose(prediction.residual, torch.full_like(prediction.residual, 0.5))
            cache = None
            for t in range(3):
                step, cache = model.step(active[:, t], asset[:, t], values[:, t], cache)
            torch.testing.assert_close(step.values, prediction.values[:, -1])


def test_inactive_tracks_carry_their_last_values_forward():
    # one track: on (value 1), off, off, on (value 4), off; and a track never on
    active = torch.tensor([[[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]])  # (1, 5, 2)
    values = torch.zeros(1, 5, 2, 7)
    values[0, 0, 0], values[0, 3, 0] = 1.0, 4.0
    values[0, :, 1, 0] = 0.5  # a track never on in the window: what prepare carried in from before
    carried = carry_values(active, values)  # (1, 5, 2, 7)
    assert carried[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0, 4.0, 4.0]
    assert carried[0, :, 1, 0].tolist() == [0.5] * 5


def test_shot_age_counts_frames_since_the_top_track_or_its_asset_changed():
    from multitrack.model.transformer import shot_ages

    # two tracks; frames: V1 a1, V1 a1, V2 on top, V2 on top, V1 a1 again, V1 a2 (asset switch)
    active = torch.tensor([[[1, 0], [1, 0], [1, 1], [1, 1], [1, 0], [1, 0]]], dtype=torch.float32)
    asset = torch.tensor([[[1, 0], [1, 0], [1, 2], [1, 2], [1, 0], [3, 0]]])
    assert shot_ages(active, asset).tolist() == [[0, 1, 0, 1, 0, 0]]


def test_cached_steps_count_shot_ages_like_the_full_pass(model):
    """The step path keeps the age in its cache: with only the age token changing the
    outputs, cached steps still equal the full pass."""
    torch.manual_seed(3)
    for head in (model.head, model.visible_head):
        torch.nn.init.normal_(head.weight, std=0.5)  # make the heads read the tokens
    active, asset, values = _frames(1, LENGTH, seed=5)
    full = model(active, asset, values)
    cache = model.new_cache()
    for t in range(LENGTH):
        step, cache = model.step(active[:, t], asset[:, t], values[:, t], cache)
        torch.testing.assert_close(step.visible_logits, full.visible_logits[:, t], atol=1e-4, rtol=1e-4)
