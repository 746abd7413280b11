"""The masked multi-task next-frame loss (DESIGN.md §3).

- `active`: binary cross-entropy on every track of every real target frame;
- `asset`: cross-entropy over the K classes, only on tracks active in the target frame;
- `values`: Smooth-L1 on the 7 normalised values, only on tracks active in the target frame
  (an inactive track's values are its carried geometry, not a measurement) whose values
  change beyond their carried move (by `model.residual_deadband` or more in some value): a steady move
  is counted as it truly went on or stopped, and the value head's change as if it were used,
  so the value head fits the change given that there is one, and the move and change heads
  score whether there is (a hurdle model: most frames change nothing, and a point
  prediction should then be exactly "nothing changes");
- `change`: binary cross-entropy of whether a track active in the target frame changes its
  values beyond its carried move;
- `visible`: cross-entropy of which track is on top in the target frame (0 = none);
- `next_track`: at target frames where the top track changes, the cross-entropy of the new
  one among the classes other than the current top (which track comes next, *given* a cut:
  DESIGN.md §3). It moves no probability between "cut" and "no cut", so it sharpens the
  choice of the next angle without teaching the model to cut more often;
- `move`: binary cross-entropy of whether a track's steady move (model/inputs.py) goes
  on into the target frame, where the track moves steadily now and shows the same asset in
  the target frame (keyframed moves end; the values term is fitted on the move carried on);
- padded frames (mask False) count nowhere;
- `loss.change_weight` counts the rare (frame, track) entries where `active` flips or the
  asset switches that many times in their component's mean: cuts are a few frames in a
  hundred, and they are what a style is made of.

Masked entries are selected with `torch.where`, never multiplied by 0, so a NaN or any other
value at a masked position cannot leak into the loss or its gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from multitrack.config import LossConfig, ModelConfig
from multitrack.model.inputs import visible_classes, window_motion
from multitrack.model.transformer import Prediction

COMPONENTS = ("active", "asset", "values", "visible", "next_track", "move", "change")


class LossBreakdown(NamedTuple):
    total: torch.Tensor  # weighted sum, scalar
    active: torch.Tensor  # mean BCE per real (frame, track)
    asset: torch.Tensor  # mean CE per active target track
    values: torch.Tensor  # mean Smooth-L1 per active target track and value
    visible: torch.Tensor  # mean CE of the visible-track class per real target frame
    next_track: torch.Tensor  # mean CE of the new top track among the others, per target frame with a cut
    move: torch.Tensor  # mean BCE of "the steady move goes on", per moving (frame, track)
    change: torch.Tensor  # mean BCE of "the values change beyond the move", per active target track


def multitask_loss(
    prediction: Prediction, batch: dict[str, torch.Tensor], weights: LossConfig, model: ModelConfig | None = None
) -> LossBreakdown:
    """Loss of predictions for frames 1..L against a batch of L+1 frames (docs/ARCHITECTURE.md);
    `model` holds the rules the model's inputs were made with (steady moves, the value deadband),
    the defaults when None."""
    model = model or ModelConfig()
    real = batch["mask"][:, 1:]  # (B, L): target frame exists; padding is only ever at the tail
    target_active = batch["active"][:, 1:]  # (B, L, T)
    frame_track = real.unsqueeze(-1).expand_as(target_active)  # (B, L, T)
    on = frame_track & (target_active > 0.5)  # (B, L, T): tracks that exist in the target frame

    logits_active = _fill(prediction.active_logits, frame_track)
    bce = F.binary_cross_entropy_with_logits(
        logits_active, _fill(target_active.to(logits_active.dtype), frame_track), reduction="none"
    )  # (B, L, T)
    flips = frame_track & ((target_active > 0.5) != (batch["active"][:, :-1] > 0.5))  # (B, L, T)
    active = _weighted_mean(bce, frame_track, flips, weights.change_weight)

    target_asset = torch.where(on, batch["asset"][:, 1:], 0)  # (B, L, T)
    logits = _fill(prediction.asset_logits, on.unsqueeze(-1))  # (B, L, T, K)
    ce = F.cross_entropy(logits.flatten(0, 2), target_asset.flatten(), reduction="none")  # (B*L*T,)
    switches = on & (target_asset != batch["asset"][:, :-1])  # (B, L, T): a new asset on the track
    asset = _weighted_mean(ce.view_as(target_asset), on, switches, weights.change_weight)  # (B*L*T,) -> (B, L, T)

    moves = _steady_moves(batch, prediction.values.dtype, model.steady_step_ratio)
    given = _given_move_outcome(prediction, moves)  # (B, L, T, 7)
    target = batch["values"][:, 1:].to(given.dtype)  # (B, L, T, 7)
    change_target, given = _given_change(
        prediction, given, target, on, model.residual_deadband
    )  # (B, L, T), (B, L, T, 7)
    on_values = change_target.unsqueeze(-1).expand_as(given)  # (B, L, T, 7)
    smooth_l1 = F.smooth_l1_loss(
        _fill(given, on_values), _fill(target, on_values), beta=weights.smooth_l1_beta, reduction="none"
    )  # (B, L, T, 7)
    values = _masked_mean(smooth_l1, on_values)
    change = _change_loss(prediction, change_target, on)

    input_visible = visible_classes(batch["active"][:, :-1])  # (B, L)
    target_visible = torch.where(real, visible_classes(target_active), 0)  # (B, L)
    visible_ce = F.cross_entropy(
        _fill(prediction.visible_logits, real.unsqueeze(-1)).flatten(0, 1), target_visible.flatten(), reduction="none"
    ).view_as(target_visible)  # (B*L,) -> (B, L)
    cuts = real & (target_visible != input_visible)  # (B, L)
    visible = _weighted_mean(visible_ce, real, cuts, weights.change_weight)

    # the current top class is ruled out: what is left is the distribution given a cut
    current = F.one_hot(input_visible, prediction.visible_logits.shape[-1]).bool()  # (B, L, T + 1)
    given_cut = prediction.visible_logits.masked_fill(current, float("-inf"))  # (B, L, T + 1)
    next_ce = F.cross_entropy(
        _fill(given_cut, cuts.unsqueeze(-1)).flatten(0, 1),
        torch.where(cuts, target_visible, 0).flatten(),
        reduction="none",
    ).view_as(target_visible)  # (B*L,) -> (B, L)
    next_track = _masked_mean(next_ce, cuts)

    move = _move_loss(prediction, batch, frame_track, moves)

    total = (
        weights.active * active
        + weights.asset * asset
        + weights.values * values
        + weights.visible * visible
        + weights.next_track * next_track
        + weights.move * move
        + weights.change * change
    )
    return LossBreakdown(total, active, asset, values, visible, next_track, move, change)


def _steady_moves(batch: dict[str, torch.Tensor], dtype: torch.dtype, ratio: float) -> torch.Tensor:
    """(B, L + 1, T) bool: the track moves steadily at each frame of the batch (at t the
    input's move, at t + 1 whether it went on into the target)."""
    motion = window_motion(batch["active"], batch["asset"], batch["values"].to(dtype), ratio)  # (B, L + 1, T, 7)
    return (motion != 0).any(dim=-1)


def _given_move_outcome(prediction: Prediction, moves: torch.Tensor) -> torch.Tensor:
    """The predicted values (B, L, T, 7) with each steady move carried on where it truly went
    on and not where it stopped, instead of where the move head thought likelier."""
    if prediction.motion is None:
        return prediction.values
    assert prediction.move_logits is not None  # the model gives it with motion
    went_on = moves[:, 1:].to(prediction.values.dtype)  # (B, L, T)
    likelier = (prediction.move_logits >= 0).to(prediction.values.dtype)  # (B, L, T): what values hold
    return prediction.values + prediction.motion * (went_on - likelier).unsqueeze(-1)


def _given_change(
    prediction: Prediction, given: torch.Tensor, target: torch.Tensor, on: torch.Tensor, deadband: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which active target tracks (B, L, T) change their values beyond the carried move, and
    the predicted values (B, L, T, 7) with the value head's change used everywhere (as if the
    change head had said so). Without a change head every active track counts."""
    if prediction.change_logits is None:
        return on, given
    assert prediction.residual is not None  # the model gives it with change_logits
    used = (prediction.change_logits >= 0).unsqueeze(-1).to(given.dtype)  # (B, L, T, 1): what values hold
    carried = given - prediction.residual * used  # (B, L, T, 7): the frame carried on by its true move
    changes = on & ((target - carried).abs() >= deadband).any(dim=-1)  # (B, L, T)
    return changes, carried + prediction.residual


def _change_loss(prediction: Prediction, changes: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
    """BCE of change_logits (B, L, T) against "the values change beyond the move", on active target tracks."""
    if prediction.change_logits is None:
        return prediction.values.new_zeros(())
    logits = _fill(prediction.change_logits, on)
    bce = F.binary_cross_entropy_with_logits(logits, _fill(changes.to(logits.dtype), on), reduction="none")
    return _masked_mean(bce, on)  # (B, L, T) -> scalar


def _move_loss(
    prediction: Prediction, batch: dict[str, torch.Tensor], frame_track: torch.Tensor, moving: torch.Tensor
) -> torch.Tensor:
    """BCE of move_logits (B, L, T) against "still moving steadily in the target frame"."""
    if prediction.move_logits is None:
        return prediction.values.new_zeros(())
    key = torch.where(batch["active"] > 0.5, batch["asset"], -1)  # (B, L + 1, T): asset shown, -1 off
    scored = frame_track & moving[:, :-1] & (key[:, 1:] == key[:, :-1]) & (key[:, 1:] >= 0)  # (B, L, T)
    logits = _fill(prediction.move_logits, scored)
    bce = F.binary_cross_entropy_with_logits(logits, _fill(moving[:, 1:].to(logits.dtype), scored), reduction="none")
    return _masked_mean(bce, scored)  # (B, L, T) -> scalar


def _fill(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """x where keep (broadcast), 0 elsewhere: masked entries carry no value and no gradient."""
    return torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device))


def _weighted_mean(x: torch.Tensor, keep: torch.Tensor, changes: torch.Tensor, change_weight: float) -> torch.Tensor:
    """Mean of x over keep, entries where something changes counting `change_weight` times."""
    if change_weight == 1.0:
        return _masked_mean(x, keep)
    weight = torch.where(changes, change_weight, 1.0).to(x.dtype)  # (B, L, T)
    return _fill(x * weight, keep).sum() / _fill(weight, keep).sum().clamp(min=1)


def _masked_mean(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Mean of x over keep; 0 (with a gradient path) when nothing is kept."""
    return _fill(x, keep).sum() / keep.sum().clamp(min=1)
