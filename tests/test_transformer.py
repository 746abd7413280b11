"""The causal multi-track Transformer: shapes, causality, decoding through its key/value
cache (and the fused stepper) equal to the full pass, the heads, size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from multitrack.config import ModelConfig, load_config
from multitrack.model.inputs import (
    History,
    Inputs,
    RunningInputs,
    count_cuts_from_top,
    frames_since_on_top,
    history,
    ranking_recency,
    visible_classes,
)
from multitrack.model.stepper import ROTATION_TABLE_FRAMES, Stepper
from multitrack.model.transformer import MultitrackTransformer, Prediction

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


def run(model: MultitrackTransformer, *frames: torch.Tensor | None) -> Prediction:
    """The full pass over frames (and the history counts, when given)."""
    return model(model.inputs(*frames))


def decode(
    model: MultitrackTransformer, active, asset, values, decoder: str, start: History | None = None
) -> list[Prediction]:
    """Per-frame predictions (B, …) of frames fed one at a time, through the model's own cache
    (`forward(inputs, input_pos)`) or the fused stepper."""
    running = RunningInputs(model.rules, start)
    stepper = Stepper(model, active.shape[0]) if decoder == "stepper" else None
    if stepper is None:
        model.setup_cache(active.shape[0])
    out = []
    with torch.inference_mode():
        for t in range(active.shape[1]):
            inputs = running.advance(active[:, t], asset[:, t], values[:, t])
            step = stepper.step(inputs) if stepper else model(inputs, torch.tensor([t]))
            out.append(step.last())
    return out


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


DECODERS = ("cache", "stepper")


def test_forward_shapes(model):
    prediction = run(model, *_frames(2, LENGTH))
    assert prediction.active_logits.shape == (2, LENGTH, TRACKS)
    assert prediction.asset_logits.shape == (2, LENGTH, TRACKS, CLASSES)
    assert prediction.values.shape == (2, LENGTH, TRACKS, 7)
    assert prediction.visible_logits.shape == (2, LENGTH, TRACKS + 1)


def test_output_at_t_ignores_later_frames(model):
    active, asset, values = _frames(1, LENGTH)
    before = run(model, active, asset, values)
    t = 5
    active[:, t + 1 :] = 1 - active[:, t + 1 :]
    asset[:, t + 1 :] = (asset[:, t + 1 :] + 1) % CLASSES
    values[:, t + 1 :] += 3.0
    after = run(model, active, asset, values)
    for old, new in zip(before, after, strict=True):
        torch.testing.assert_close(old[:, : t + 1], new[:, : t + 1])
    for old, new in zip(before[:4], after[:4], strict=True):  # the heads' outputs (random frames have no steady move)
        assert not torch.allclose(old[:, t + 1 :], new[:, t + 1 :])


def _assert_decoding_equals_the_full_pass(model, active, asset, values, decoder):
    full = run(model, active, asset, values)
    for t, step in enumerate(decode(model, active, asset, values, decoder)):
        for whole, one in zip(full, step, strict=True):
            torch.testing.assert_close(one, whole[:, t], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("decoder", DECODERS)
def test_decoding_equals_the_full_pass(model, decoder):
    _assert_decoding_equals_the_full_pass(_with_random_heads(model), *_frames(2, LENGTH, seed=1), decoder)


@pytest.mark.parametrize("decoder", DECODERS)
def test_decoding_equals_the_full_pass_on_moving_tracks(model, decoder):
    active = torch.ones(1, LENGTH, TRACKS)
    asset = torch.ones(1, LENGTH, TRACKS, dtype=torch.long)
    values = torch.zeros(1, LENGTH, TRACKS, 7)
    values[0, :, 0, 0] = torch.linspace(0.0, 1.1, LENGTH)  # a zoom on V1
    values[0, :, 1, 1] = torch.tensor([0.0, 0.2, 0.5, 0.7, 1.0] * 3)[:LENGTH]  # a pan that jumps back
    _assert_decoding_equals_the_full_pass(_with_random_heads(model), active, asset, values, decoder)


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_prefill_then_steps_equal_the_full_pass(model, decoder):
    # gpt-fast's decoding: the prompt in one pass through the cache, then one frame at a time
    model = _with_random_heads(model)
    active, asset, values = _frames(2, LENGTH, seed=6)
    full = run(model, active, asset, values)
    running = RunningInputs(model.rules)
    inputs = [running.advance(active[:, t], asset[:, t], values[:, t]) for t in range(LENGTH)]
    model.setup_cache(2)
    with torch.inference_mode():
        prefill = model(Inputs.cat(inputs[:5]), torch.arange(5))
        steps = [model(step, torch.tensor([5 + t])) for t, step in enumerate(inputs[5:])]
    for whole, first, *rest in zip(full, prefill, *steps, strict=True):
        torch.testing.assert_close(first, whole[:, :5], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(torch.cat(rest, dim=1), whole[:, 5:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("decoder", "total"),
    [
        ("cache", 2 * LENGTH),
        ("cache", 2 * LENGTH + 5),
        ("stepper", 2 * LENGTH + 5),
        ("stepper", ROTATION_TABLE_FRAMES + LENGTH + 5),
    ],
)
def test_the_cache_slides_to_the_window_with_relative_positions(decoder, total):
    # one layer: a cached key depends on its own frame only, so after `total` frames the sliding
    # cache (the last LENGTH frames, at absolute positions total-LENGTH..total-1, in ring slots
    # that start mid-buffer unless total is a multiple of LENGTH) must give what a fresh pass over
    # those frames at positions 0..LENGTH-1 gives: rotary is relative. The longest run also
    # crosses a refill of the stepper's table of rotations.
    torch.manual_seed(0)
    config = ModelConfig(**{**SMALL.__dict__, "n_layers": 1})
    model = MultitrackTransformer(config, max_tracks=TRACKS, asset_classes=CLASSES, window_length=LENGTH).eval()
    model = _with_random_heads(model)
    active, asset, values = _frames(1, total, seed=2)
    # every track on at the window's first frame: the values carried into the window are then
    # the window's own, as in the fresh pass (the cache carries them from further back)
    active[:, total - LENGTH] = 1.0
    # and nothing on screen for a window's length before it: the shot age restarts at the
    # window's first frame, as in the fresh pass; the fresh pass is given the frames since on
    # top and the cuts counted from the first frame, as the running inputs count them
    active[:, max(0, total - 2 * LENGTH) : total - LENGTH] = 0.0
    last = decode(model, active, asset, values, decoder)[-1]
    since_on_top = frames_since_on_top(active)[:, -LENGTH:]  # (1, LENGTH, T)
    cuts = count_cuts_from_top(active)[:, -LENGTH:]  # (1, LENGTH, T)
    window = run(model, active[:, -LENGTH:], asset[:, -LENGTH:], values[:, -LENGTH:], since_on_top, cuts)
    for whole, one in zip(window, last, strict=True):
        torch.testing.assert_close(one, whole[:, -1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("decoder", DECODERS)
def test_decoding_given_the_history_before_it_equals_a_pass_given_it(model, decoder):
    # a rollout started mid-timeline (its prompt's last window) is told how long ago each track
    # was on top and the cuts so far; it must count on as the full pass does when given them
    model = _with_random_heads(model)
    active, asset, values = _frames(2, 3 * LENGTH, seed=4)
    since, cuts = frames_since_on_top(active), count_cuts_from_top(active)  # (2, 3L, T): over all frames
    start = 2 * LENGTH
    window = (active[:, start:], asset[:, start:], values[:, start:])
    full = run(model, *window, since[:, start:], cuts[:, start:])
    for t, step in enumerate(decode(model, *window, decoder, history(active[:, : start + 1]))):
        for whole, one in zip(full, step, strict=True):
            torch.testing.assert_close(one, whole[:, t], rtol=1e-4, atol=1e-5)
    # without the counts, the window's frames read "never on top, no cuts" before the first
    assert not torch.allclose(run(model, *window).visible_logits, full.visible_logits)
    assert not torch.allclose(run(model, *window, since[:, start:]).visible_logits, full.visible_logits)


def test_wrong_track_count_is_refused(model):
    active, asset, values = _frames(1, 4)
    with pytest.raises(ValueError, match="expects 3 tracks per frame, got 2"):
        run(model, active[..., :2], asset[..., :2], values[..., :2, :])


def test_the_cache_is_not_part_of_the_weights(model):
    before = set(model.state_dict())
    model.setup_cache(2)
    assert set(model.state_dict()) == before


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
    prediction = run(model, active, asset, values)
    on = active > 0.5
    prob = torch.sigmoid(prediction.active_logits)
    assert bool((prob[on] > 0.9).all()) and bool((prob[~on] < 0.1).all())
    assert torch.equal(prediction.asset_logits.argmax(-1)[on], asset[on])
    assert torch.equal(prediction.values[on], values[on])  # inactive tracks: their carried values
    visible = torch.where(on, torch.arange(1, TRACKS + 1), 0).amax(-1)  # topmost active track, 0 = none
    assert torch.equal(prediction.visible_logits.argmax(-1), visible)
    assert bool((torch.softmax(prediction.visible_logits, -1).amax(-1) > 0.97).all())


@pytest.mark.parametrize("length", [1, 2])
def test_windows_too_short_for_a_move_have_none(model, length):
    active, asset, values = _frames(1, length, seed=3)
    prediction = run(model, active, asset, values)
    assert prediction.values.shape == (1, length, TRACKS, 7) and not prediction.motion.any()


def test_an_untrained_model_carries_a_steady_move_on(model):
    active = torch.ones(1, 4, TRACKS)
    asset = torch.ones(1, 4, TRACKS, dtype=torch.long)
    values = torch.zeros(1, 4, TRACKS, 7)
    values[0, :, 0, 0] = torch.tensor([1.0, 1.1, 1.2, 1.3])
    prediction = run(model, active, asset, values)
    assert torch.allclose(prediction.values[0, 2:, 0, 0], torch.tensor([1.3, 1.4]))  # from frame 2 on
    assert torch.allclose(prediction.values[0, :2, 0, 0], torch.tensor([1.0, 1.1]))  # no two steps yet


def test_the_motion_input_gain_is_the_configs(model):
    # the four rules that change predictions are ModelConfig fields, so a bundle carries them
    active = torch.ones(1, 4, TRACKS)
    asset = torch.ones(1, 4, TRACKS, dtype=torch.long)
    values = torch.zeros(1, 4, TRACKS, 7)
    values[0, :, 0, 0] = torch.tensor([1.0, 1.1, 1.2, 1.3])
    model = _with_random_heads(model)
    before = run(model, active, asset, values).active_logits
    model.config = ModelConfig(**{**SMALL.__dict__, "motion_input_gain": 1.0})
    assert not torch.allclose(run(model, active, asset, values).active_logits, before)


def _rank(model, logits, active, leaned_on, rank, next_delta):
    on_top = torch.nn.functional.one_hot(visible_classes(active), TRACKS + 1) == 1  # (…, C)
    return model._rank_by_recency(logits, on_top, leaned_on, rank, next_delta)


def test_recency_rank_reorders_the_next_track_without_changing_the_chance_of_a_cut(model):
    # V1 on top now; V2 was on top 1 frame ago, V3 6 frames ago: with a positive rank, V3 leads
    active = torch.tensor([[[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]])  # (1, 2, 3)
    since = ranking_recency(torch.tensor([[[1, 0, 5], [0, 1, 6]]]), model.rules, torch.float32)  # (1, 2, 3)
    leaned_on = (since, torch.zeros(1, 2, TRACKS))
    logits = torch.zeros(1, 2, TRACKS + 1)
    rank = torch.tensor([[[5.0, 0.0]] * 2])  # (1, 2, 2): lean to the least recent only
    ranked = _rank(model, logits, active, leaned_on, rank, torch.zeros(1, 2, TRACKS + 1))  # (1, 2, T + 1)
    before, after = torch.softmax(logits, -1), torch.softmax(ranked, -1)
    torch.testing.assert_close(after[0, 1, 1], before[0, 1, 1])  # V1 stays on top: unchanged
    assert after[0, 1, 3] > after[0, 1, 2] > after[0, 1, 0]  # V3 (least recent) > V2 > nothing
    torch.testing.assert_close(after[0, 0, 2], before[0, 0, 2])  # at frame 0 V2 was on top
    # the next-track head moves the choice among the others, never the chance of staying
    nudged = _rank(model, logits, active, leaned_on, torch.zeros(1, 2, 2), torch.tensor([[[0, 0, 4.0, 0]] * 2]))
    after = torch.softmax(nudged, -1)
    torch.testing.assert_close(after[0, 1, 1], before[0, 1, 1])
    assert after[0, 1, 2] > after[0, 1, 3] and after[0, 1, 2] > after[0, 1, 0]
    # and the habit lean towards where this editor's cuts from here went: V2 had 3 of 4
    habit = _rank(
        model,
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
    cap = model.rules.recency_cap
    since = torch.tensor([[0, LENGTH, cap, cap + 5]])
    assert ranking_recency(since, model.rules, torch.float32).tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert cap == 8 * LENGTH - 1  # recency_cap_windows windows


def test_a_move_goes_on_only_where_the_move_head_says_it_is_likelier(model):
    active = torch.ones(1, 4, TRACKS)
    asset = torch.ones(1, 4, TRACKS, dtype=torch.long)
    values = torch.zeros(1, 4, TRACKS, 7)
    values[0, :, 0, 0] = torch.tensor([1.0, 1.1, 1.2, 1.3])
    with torch.no_grad():
        model.move_head.bias.fill_(-1.0)  # a move more likely stops than goes on
    for mode in (model.eval(), model.train()):  # the same in training: the loss swaps in the truth
        prediction = run(mode, active, asset, values)
        assert torch.allclose(prediction.values[0, 2:, 0, 0], torch.tensor([1.2, 1.3]))  # held, not carried on
        assert torch.allclose(prediction.motion[0, 2:, 0, 0], torch.tensor([0.1, 0.1]))


@pytest.mark.parametrize("decoder", DECODERS)
def test_the_value_head_changes_values_only_where_the_change_head_says_it_is_likelier(model, decoder):
    active, asset = torch.ones(1, 3, TRACKS), torch.ones(1, 3, TRACKS, dtype=torch.long)
    values = torch.zeros(1, 3, TRACKS, 7)
    with torch.no_grad():
        model.head.bias.fill_(0.5)  # the value head says +0.5 on every value (and more)
        for change_bias, expected in ((-1.0, 0.0), (1.0, 0.5)):
            model.change_head.bias.fill_(change_bias)
            prediction = run(model.eval(), active, asset, values)
            assert torch.allclose(prediction.values, torch.full_like(prediction.values, expected))
            assert torch.allclose(prediction.residual, torch.full_like(prediction.residual, 0.5))
            step = decode(model, active, asset, values, decoder)[-1]
            torch.testing.assert_close(step.values, prediction.values[:, -1])


def test_changes_below_the_deadband_are_dropped_out_of_training(model):
    active, asset = torch.ones(1, 3, TRACKS), torch.ones(1, 3, TRACKS, dtype=torch.long)
    values = torch.zeros(1, 3, TRACKS, 7)
    with torch.no_grad():
        model.change_head.bias.fill_(1.0)
        model.head.bias.fill_(0.5 * model.config.residual_deadband)
        assert not run(model.eval(), active, asset, values).residual.any()
        assert run(model.train(), active, asset, values).residual.all()
