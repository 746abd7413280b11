"""The masked multi-task loss: hand-computed values and the masking property."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from multitrack.config import LossConfig
from multitrack.model.losses import multitask_loss
from multitrack.model.transformer import Prediction

B, L, T, K = 2, 4, 3, 5


def _batch(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    active = (torch.rand(B, L + 1, T, generator=generator) > 0.4).float()
    mask = torch.ones(B, L + 1, dtype=torch.bool)
    mask[1, -2:] = False  # the second window's tail is padding
    return {
        "active": active,
        "asset": torch.randint(0, K, (B, L + 1, T), generator=generator) * active.long(),
        "values": torch.randn(B, L + 1, T, 7, generator=generator) * active.unsqueeze(-1),
        "mask": mask,
    }


def _prediction(seed: int) -> Prediction:
    generator = torch.Generator().manual_seed(seed + 100)
    return Prediction(
        torch.randn(B, L, T, generator=generator),
        torch.randn(B, L, T, K, generator=generator),
        torch.randn(B, L, T, 7, generator=generator),
        torch.randn(B, L, T + 1, generator=generator),
    )


def test_hand_computed_single_track():
    # one window, one track, L=2: target frame 1 active with asset 1, frame 2 is padding
    batch = {
        "active": torch.tensor([[[0.0], [1.0], [1.0]]]),
        "asset": torch.tensor([[[0], [1], [1]]]),
        "values": torch.tensor([[[[0.0] * 7], [[1.0] + [0.0] * 6], [[5.0] * 7]]]),
        "mask": torch.tensor([[True, True, False]]),
    }
    prediction = Prediction(
        torch.tensor([[[0.0], [9.0]]]),  # logit 0 -> p 0.5 for the real target
        torch.zeros(1, 2, 1, 2),  # uniform over K=2
        torch.zeros(1, 2, 1, 7),  # error 1.0 on `scale`, 0 elsewhere
        torch.zeros(1, 2, 2),  # visible: "none" or V1, uniform -> log 2 on the real target (V1)
    )
    losses = multitask_loss(
        prediction, batch, LossConfig(active=1.0, asset=2.0, values=1.0, visible=0.5, smooth_l1_beta=0.5)
    )
    assert math.isclose(losses.active.item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(losses.asset.item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(losses.values.item(), (1.0 - 0.25) / 7, rel_tol=1e-6)  # |d|-beta/2, 1 of 7 values
    assert math.isclose(losses.visible.item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(losses.total.item(), 3.5 * math.log(2) + 0.75 / 7, rel_tol=1e-6)


def test_next_track_is_scored_among_the_others_at_cuts_only():
    # three tracks; V1 on top, then a cut to V3, then V3 stays: one cut in two target frames
    active = torch.tensor([[[1.0, 0, 0], [1, 0, 1], [1, 0, 1]]])  # (1, 3, 3)
    batch = {
        "active": active,
        "asset": active.long(),
        "values": torch.zeros(1, 3, 3, 7),
        "mask": torch.ones(1, 3, dtype=torch.bool),
    }
    logits = torch.tensor([[[0.0, 5.0, 1.0, 2.0], [0.0, 0.0, 0.0, 9.0]]])  # (1, 2, T + 1): none, V1, V2, V3
    prediction = Prediction(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3, 2), torch.zeros(1, 2, 3, 7), logits)
    losses = multitask_loss(prediction, batch, LossConfig(next_track=1.0))
    # at the cut the current top (V1, logit 5) is ruled out: -log softmax([0, 1, 2])[V3]
    expected = -math.log(math.exp(2.0) / (1 + math.exp(1.0) + math.exp(2.0)))
    assert math.isclose(losses.next_track.item(), expected, rel_tol=1e-6)
    no_cut = {**batch, "active": active[:, [0, 0, 0]]}  # V1 stays on top throughout
    assert multitask_loss(prediction, no_cut, LossConfig(next_track=1.0)).next_track.item() == 0.0
    # off by default: logged, not in the total
    assert math.isclose(
        multitask_loss(prediction, batch, LossConfig(next_track=0.0)).total.item(),
        losses.total.item() - expected,
        rel_tol=1e-6,
    )


def test_move_is_scored_where_a_steady_move_goes_on_or_stops():
    # one track, scale 0, 1, 2, 3, 3: moving steadily at frames 2 and 3; the move goes on into
    # frame 3 and stops at frame 4. Frames 0 and 1 have no move to score.
    scale = torch.tensor([0.0, 1.0, 2.0, 3.0, 3.0])
    values = torch.zeros(1, 5, 1, 7)
    values[0, :, 0, 0] = scale
    batch = {
        "active": torch.ones(1, 5, 1),
        "asset": torch.ones(1, 5, 1, dtype=torch.long),
        "values": values,
        "mask": torch.ones(1, 5, dtype=torch.bool),
    }
    move_logits = torch.tensor([[[5.0], [5.0], [1.0], [2.0]]])  # (1, L=4, 1): position t predicts t + 1
    prediction = Prediction(
        torch.zeros(1, 4, 1),
        torch.zeros(1, 4, 1, 2),
        values[:, 1:],
        torch.zeros(1, 4, 2),
        torch.zeros(1, 4, 1, 7),
        move_logits,
    )
    losses = multitask_loss(prediction, batch, LossConfig())
    goes_on, stops = -math.log(1 / (1 + math.exp(-1.0))), -math.log(1 - 1 / (1 + math.exp(-2.0)))
    assert math.isclose(losses.move.item(), (goes_on + stops) / 2, rel_tol=1e-6)


def _one_track_scale_batch(scale: list[float]) -> dict[str, torch.Tensor]:
    """A batch of one track, on and showing one asset throughout, whose scale is `scale`."""
    frames = len(scale)
    values = torch.zeros(1, frames, 1, 7)
    values[0, :, 0, 0] = torch.tensor(scale)
    return {
        "active": torch.ones(1, frames, 1),
        "asset": torch.ones(1, frames, 1, dtype=torch.long),
        "values": values,
        "mask": torch.ones(1, frames, dtype=torch.bool),
    }


def test_values_are_scored_with_the_move_as_it_truly_went():
    # scale ramps 0, 1, 2, 3, 4: the move (1 per frame from frame 2) goes on. The model predicts
    # "stops" (move logit < 0) and holds 2 -> 2 and 3 -> 3; the values term must score the
    # residual given the true outcome, carried + move = the truth, so it is 0 there.
    batch = _one_track_scale_batch([0.0, 1.0, 2.0, 3.0, 4.0])
    values = batch["values"]
    motion = torch.zeros(1, 4, 1, 7)
    motion[0, 2:, 0, 0] = 1.0  # the steady move at input frames 2 and 3
    held = values[:, :4].clone()  # (1, L=4, 1, 7): the likelier outcome "stops" holds each frame
    held[0, :2] = values[0, 1:3]  # frames 0 and 1 have no move: predicted exactly
    prediction = Prediction(
        torch.zeros(1, 4, 1), torch.zeros(1, 4, 1, 2), held, torch.zeros(1, 4, 2), motion, torch.full((1, 4, 1), -1.0)
    )
    assert multitask_loss(prediction, batch, LossConfig()).values.item() == 0.0


def test_no_active_target_gives_zero_asset_and_value_loss():
    batch = _batch(0)
    batch["active"][:] = 0
    losses = multitask_loss(_prediction(0), batch, LossConfig())
    assert losses.asset.item() == 0.0 and losses.values.item() == 0.0
    assert losses.active.item() > 0


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 1000), junk=st.floats(allow_nan=True, allow_infinity=True, width=32))
def test_masked_entries_do_not_change_the_loss(seed, junk):
    batch, prediction = _batch(seed), _prediction(seed)
    reference = multitask_loss(prediction, batch, LossConfig())

    target_on = batch["active"][:, 1:] > 0.5
    padding = ~batch["mask"][:, 1:]
    hidden_track = ~target_on | padding.unsqueeze(-1)  # (B, L, T): asset and values not scored
    changed = {key: value.clone() for key, value in batch.items()}
    changed["values"][:, 1:][hidden_track] = junk
    changed["asset"][:, 1:][hidden_track] = (changed["asset"][:, 1:][hidden_track] + 1) % K
    changed["active"][:, 1:][padding] = 1 - changed["active"][:, 1:][padding]
    junk_prediction = Prediction(
        prediction.active_logits.masked_fill(padding.unsqueeze(-1), junk),
        prediction.asset_logits.masked_fill(hidden_track.unsqueeze(-1), junk),
        prediction.values.masked_fill(hidden_track.unsqueeze(-1), junk),
        prediction.visible_logits.masked_fill(padding.unsqueeze(-1), junk),
    )
    for prediction_used, batch_used in ((prediction, changed), (junk_prediction, batch), (junk_prediction, changed)):
        losses = multitask_loss(prediction_used, batch_used, LossConfig())
        for expected, got in zip(reference, losses, strict=True):
            assert torch.equal(expected, got)


def test_masked_predictions_get_no_gradient():
    batch = _batch(3)
    parts = [part.clone().requires_grad_() for part in _prediction(3)[:4]]
    multitask_loss(Prediction(*parts), batch, LossConfig()).total.backward()
    padding = ~batch["mask"][:, 1:]
    assert torch.all(parts[0].grad[padding] == 0)
    inactive = batch["active"][:, 1:] < 0.5
    assert torch.all(parts[2].grad[inactive] == 0)
    assert torch.any(parts[2].grad[~inactive & ~padding.unsqueeze(-1)] != 0)


def test_change_weight_counts_flips_that_many_times():
    """Two tracks, one target frame: track 0 stays on (BCE a), track 1 flips on (BCE b).
    With change_weight w the active term is (a + w b) / (1 + w)."""
    import torch.nn.functional as F

    from multitrack.config import LossConfig
    from multitrack.model.transformer import Prediction

    batch = {
        "active": torch.tensor([[[1.0, 0.0], [1.0, 1.0]]]),  # (B=1, L+1=2, T=2)
        "asset": torch.tensor([[[1, 0], [1, 2]]]),
        "values": torch.zeros(1, 2, 2, 7),
        "mask": torch.ones(1, 2, dtype=torch.bool),
    }
    logits = torch.tensor([[[2.0, -1.0]]])  # (B, L=1, T)
    prediction = Prediction(logits, torch.zeros(1, 1, 2, 3), torch.zeros(1, 1, 2, 7), torch.zeros(1, 1, 3))
    a = F.binary_cross_entropy_with_logits(torch.tensor(2.0), torch.tensor(1.0))
    b = F.binary_cross_entropy_with_logits(torch.tensor(-1.0), torch.tensor(1.0))
    for w in (1.0, 5.0):
        loss = multitask_loss(prediction, batch, LossConfig(change_weight=w))
        assert loss.active.item() == pytest.approx(((a + w * b) / (1 + w)).item(), rel=1e-6)
        # asset: track 1 switches 0 -> 2 (weight w), track 0 keeps asset 1; uniform logits: log 3 each
        assert loss.asset.item() == pytest.approx(torch.log(torch.tensor(3.0)).item(), rel=1e-6)
        # visible: V1 on top -> V2 on top is a change, counted w times; uniform logits: log 3
        assert loss.visible.item() == pytest.approx(torch.log(torch.tensor(3.0)).item(), rel=1e-6)


def test_values_are_scored_only_where_they_change_and_the_change_head_learns_where():
    # scale 1, 1, 1, 2, 2: it changes (beyond any move) only into frame 3. The model predicts a
    # change of +0.5 everywhere, used nowhere (change logits < 0): the values term scores the
    # change as if used, at the one changing target only (|1 + 0.5 - 2| = 0.5, Smooth-L1 with
    # beta 0.001 ~ 0.5 - 0.0005); the change term is the BCE of "changes" at every target
    batch = _one_track_scale_batch([1.0, 1.0, 1.0, 2.0, 2.0])
    values = batch["values"]
    residual = torch.zeros(1, 4, 1, 7)
    residual[..., 0] = 0.5
    change_logits = torch.full((1, 4, 1), -2.0)
    prediction = Prediction(
        torch.zeros(1, 4, 1),
        torch.zeros(1, 4, 1, 2),
        values[:, :4],
        torch.zeros(1, 4, 2),
        change_logits=change_logits,
        residual=residual,
    )
    losses = multitask_loss(prediction, batch, LossConfig())
    assert math.isclose(losses.values.item(), (0.5 - 0.0005) / 7, rel_tol=1e-5)  # one track, 7 values, one changed
    no_change, change = -math.log(1 - 1 / (1 + math.exp(2.0))), -math.log(1 / (1 + math.exp(2.0)))
    assert math.isclose(losses.change.item(), (3 * no_change + change) / 4, rel_tol=1e-6)
