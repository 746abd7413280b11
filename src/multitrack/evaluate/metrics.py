"""Quality figures for next-frame predictions, cuts and rollouts: pure numpy.

Everything here works on frame arrays in frame-table units (DESIGN.md §2): `active` (N, T)
bool, `asset` (N, T) int, `values` (N, T, 7) float in the order scale, pos_x, pos_y,
crop_left, crop_right, crop_top, crop_bottom. Rows of several timelines are concatenated;
a `first` mask (N,) marks each timeline's first row, which has no previous frame and is
never scored.

Definitions (DESIGN.md §3; `multitrack.features.vocabulary` computes them):
- the *visible track* of a frame is its topmost active track (`top_track`: 0 when none is
  active, t + 1 for track t);
- a *cut* is a frame whose visible track, or the asset on it, differs from the previous frame;
- a *change frame* is a frame where any track's `active` or `asset` differs from the previous
  frame, or a value of a track active in both frames jumps by more than `LAYOUT_JUMP`
  (cuts and layout changes: a punch-in, a box that moves). A keyframed drift moves a
  little every frame; counting it would make most frames of a slowly zooming timeline
  "change frames", so moves below 1 % of the frame (1 point of crop) per frame do not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from multitrack.features.vocabulary import Frames, cut_rows, top_track

SCALE, POS_X, POS_Y = 0, 1, 2
CROPS = slice(3, 7)  # crop_left, crop_right, crop_top, crop_bottom
# per value, the smallest jump between two frames that changes the layout: 1 % of the frame
# for scale and position, 1 percentage point for crops
LAYOUT_JUMP = np.array([0.01, 0.01, 0.01, 1.0, 1.0, 1.0, 1.0])
REFERENCE_WIDTH_PX, REFERENCE_HEIGHT_PX = 1920, 1080  # position_mae_px is reported on this frame
LAYOUTS = ("full_frame", "picture_in_picture", "split", "other")
_EPS = 1e-7


@dataclass
class NextFrame:
    """One predictor's guess at every row, made from the rows before it (row i predicts row i).

    visible_prob[:, 0] is the probability that no track is visible, [:, j + 1] that track j is
    the topmost active one (the classes of `top_track`); asset_keep_prob[i, t] is the probability that track t keeps the
    asset it showed at row i - 1. asset_true_prob[i, t] is the probability given to the asset
    class track t really shows at row i (meaningful where it is active): the predictor is
    scored against the truth when it is made, so the (N, T, K) distribution is never kept.
    """

    active_prob: np.ndarray  # (N, T)
    asset_pred: np.ndarray  # (N, T) most likely asset class
    asset_keep_prob: np.ndarray  # (N, T)
    values: np.ndarray  # (N, T, 7)
    visible_prob: np.ndarray  # (N, T + 1)
    asset_true_prob: np.ndarray | None = None  # (N, T); None: the predictor gives no distribution


# --- frame structure -------------------------------------------------------------------------


def cut_mask(frames: Frames, first: np.ndarray) -> np.ndarray:
    """True at rows whose visible track or visible asset differs from the previous row (`cut_rows`),
    except each timeline's first row."""
    return cut_rows(frames.active, frames.asset) & ~first


def change_mask(frames: Frames, first: np.ndarray) -> np.ndarray:
    """True at rows where anything on screen changed from the previous row (see module doc)."""
    active = frames.active.astype(bool)
    changed = np.zeros(len(active), dtype=bool)
    flips = (active[1:] != active[:-1]) | (frames.asset[1:] != frames.asset[:-1])
    both = active[1:] & active[:-1]
    moved = (np.abs(frames.values[1:] - frames.values[:-1]) > LAYOUT_JUMP).any(axis=-1) & both
    changed[1:] = (flips | moved).any(axis=1)
    return changed & ~first


def previous_rows(first: np.ndarray) -> np.ndarray:
    """Index of the previous row of the same timeline (a first row points at itself)."""
    index = np.arange(len(first)) - 1
    index[first] = np.flatnonzero(first)
    return np.maximum(index, 0)


def visible_probabilities(active_prob: np.ndarray) -> np.ndarray:
    """(N, T) independent per-track active probabilities -> (N, T + 1) visible-track distribution.

    Track j is the visible one when it is active and every track above it is not; column 0 is
    "nothing visible", the product of all the (1 - p).
    """
    inactive = 1.0 - active_prob
    # above[:, j] = prod_{k > j} (1 - p_k): reversed cumulative product, shifted by one
    above = np.cumprod(inactive[:, ::-1], axis=1)[:, ::-1]
    above = np.concatenate([above[:, 1:], np.ones((len(active_prob), 1))], axis=1)
    track_probs = active_prob * above
    return np.concatenate([above[:, :1] * inactive[:, :1], track_probs], axis=1)


# --- on-screen rectangles and layouts ---------------------------------------------------------


def clip_rectangles(values: np.ndarray, aspect_ratio: np.ndarray | float = 1.0) -> np.ndarray:
    """On-screen rectangle (x0, y0, x1, y1) of each clip in fractions of the frame, clipped to it.

    values (..., 7) in frame-table units; aspect_ratio (...) is the sequence aspect over the
    media aspect (1 for media shaped like the sequence): scale is the displayed width over the
    frame width, so the displayed height over the frame height is scale × aspect_ratio.
    Crops cut percent of the displayed media from each edge. Returns (..., 4).
    """
    width = values[..., SCALE]
    height = values[..., SCALE] * aspect_ratio
    centre_x = 0.5 + values[..., POS_X]
    centre_y = 0.5 + values[..., POS_Y]  # positive pos_y moves down (../shared/docs/xmeml.md §6)
    left, right, top, bottom = (values[..., CROPS] / 100.0).transpose(-1, *range(values.ndim - 1))
    x0 = centre_x - width / 2 + left * width
    x1 = centre_x + width / 2 - right * width
    y0 = centre_y - height / 2 + top * height
    y1 = centre_y + height / 2 - bottom * height
    rect = np.stack([x0, y0, x1, y1], axis=-1).clip(0.0, 1.0)
    # a rectangle cropped or moved out of view collapses to zero area
    rect[..., 2] = np.maximum(rect[..., 2], rect[..., 0])
    rect[..., 3] = np.maximum(rect[..., 3], rect[..., 1])
    return rect


def rectangle_area(rect: np.ndarray) -> np.ndarray:
    return (rect[..., 2] - rect[..., 0]) * (rect[..., 3] - rect[..., 1])


def rectangle_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of rectangles (..., 4); two empty rectangles count as 1."""
    ix = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iy = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    intersection = ix * iy
    union = rectangle_area(a) + rectangle_area(b) - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 1.0)


def layout_classes(frames: Frames, aspect_ratio: np.ndarray | float = 1.0) -> np.ndarray:
    """Layout of each row as an index into LAYOUTS: (N,) int.

    Only tracks at or above the topmost clip that fills the frame (≥ 90 % of its area) can be
    seen. full_frame: that filling clip alone; picture_in_picture: a filling clip with smaller
    clips over it; split: no filling clip, two or more clips that together cover ≥ 80 % of the
    frame; other: anything else (nothing visible, one small clip, collages).
    """
    rect = clip_rectangles(frames.values, aspect_ratio)  # (N, T, 4)
    area = np.where(frames.active.astype(bool), rectangle_area(rect), 0.0)  # (N, T)
    fills = area >= 0.9
    n_tracks = area.shape[1]
    has_fill = fills.any(axis=1)
    base = np.maximum(top_track(fills) - 1, 0)  # (N,): the topmost filling track, 0 without one
    above_base = np.arange(n_tracks)[None, :] >= base[:, None]
    shown = (area > 0.01) & above_base
    n_shown = shown.sum(axis=1)
    coverage = np.minimum(np.where(shown, area, 0.0).sum(axis=1), 1.0)
    layout = np.full(len(area), LAYOUTS.index("other"))
    layout[has_fill & (n_shown == 1)] = LAYOUTS.index("full_frame")
    layout[has_fill & (n_shown > 1)] = LAYOUTS.index("picture_in_picture")
    layout[~has_fill & (n_shown >= 2) & (coverage >= 0.8)] = LAYOUTS.index("split")
    return layout


# --- elementary scores ------------------------------------------------------------------------


def binary_f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    """F1 of the positive class; 1.0 when there are no positives in either."""
    predicted, truth = predicted.astype(bool), truth.astype(bool)
    true_pos = np.sum(predicted & truth)
    denominator = np.sum(predicted) + np.sum(truth)
    return 1.0 if denominator == 0 else float(2 * true_pos / denominator)


def binary_log_loss(prob: np.ndarray, truth: np.ndarray) -> float:
    """Mean negative log-likelihood (nats) of binary outcomes, probabilities clipped to [ε, 1-ε]."""
    prob = np.clip(prob, _EPS, 1 - _EPS)
    truth = truth.astype(bool)
    return float(-np.mean(np.where(truth, np.log(prob), np.log1p(-prob))))


def categorical_log_loss(true_prob: np.ndarray) -> float | None:
    """Mean negative log-likelihood (nats) of the probabilities given to the true classes,
    clipped below at ε as in binary_log_loss; None when nothing is scored."""
    return float(-np.mean(np.log(np.clip(true_prob, _EPS, 1.0)))) if true_prob.size else None


def _mean(x: np.ndarray) -> float | None:
    return float(np.mean(x)) if x.size else None


# --- next-frame figures -----------------------------------------------------------------------


def next_frame_figures(
    truth: Frames, prediction: NextFrame, rows: np.ndarray, aspect_ratio: np.ndarray | float = 1.0
) -> dict[str, float | None]:
    """The next-frame figures over the selected rows (bool mask (N,)), all tracks pooled.

    Geometry and the asset are scored where the true track is active; the IoU compares the
    predicted and true rectangles of the true asset's media (aspect_ratio (N, T) or a scalar).
    """
    active = truth.active[rows].astype(bool)
    prob = prediction.active_prob[rows]
    on = active
    error = np.abs(prediction.values[rows] - truth.values[rows])[on]  # (n_on, 7)
    ratio = np.broadcast_to(aspect_ratio, truth.active.shape)[rows][on]
    iou = rectangle_iou(
        clip_rectangles(prediction.values[rows][on], ratio), clip_rectangles(truth.values[rows][on], ratio)
    )
    pixels = np.array([REFERENCE_WIDTH_PX, REFERENCE_HEIGHT_PX])
    true_prob = prediction.asset_true_prob
    return {
        "n_frames": int(rows.sum()),
        "active_accuracy": _mean((prob > 0.5) == active),
        "active_f1": binary_f1(prob > 0.5, active),
        "active_log_loss": binary_log_loss(prob, active) if prob.size else None,
        "asset_accuracy": _mean(prediction.asset_pred[rows][on] == truth.asset[rows][on]),
        "asset_log_loss": None if true_prob is None else categorical_log_loss(true_prob[rows][on]),
        "scale_mae": _mean(error[:, SCALE]),
        "position_mae": _mean(error[:, POS_X : POS_Y + 1]),
        "position_mae_px": _mean(error[:, POS_X : POS_Y + 1] * pixels),
        "crop_mae": _mean(error[:, CROPS]),
        "iou": _mean(iou),
    }


def per_track_figures(
    truth: Frames, prediction: NextFrame, rows: np.ndarray, aspect_ratio: np.ndarray | float = 1.0
) -> dict[str, dict[str, float | None]]:
    """next_frame_figures for each track alone, keyed V1, V2, ... (V1 is the bottom track)."""
    ratio = np.broadcast_to(aspect_ratio, truth.active.shape)
    figures = {}
    for track in range(truth.active.shape[1]):
        one = slice(track, track + 1)
        figures[f"V{track + 1}"] = next_frame_figures(
            Frames(truth.active[:, one], truth.asset[:, one], truth.values[:, one]),
            NextFrame(
                prediction.active_prob[:, one],
                prediction.asset_pred[:, one],
                prediction.asset_keep_prob[:, one],
                prediction.values[:, one],
                prediction.visible_prob,
                None if prediction.asset_true_prob is None else prediction.asset_true_prob[:, one],
            ),
            rows,
            ratio[:, one],
        )
    return figures


# --- cuts -------------------------------------------------------------------------------------


def cut_probability(prediction: NextFrame, truth: Frames, first: np.ndarray) -> np.ndarray:
    """Predicted probability of a cut at each row, given the true previous row: (N,).

    No cut means the previous visible track stays the visible one and keeps its asset.
    """
    previous = previous_rows(first)
    prev_top = top_track(truth.active)[previous]  # (N,): 0 none, t + 1 for track t
    rows = np.arange(len(prev_top))
    stays = prediction.visible_prob[rows, prev_top]
    keeps = np.where(prev_top > 0, prediction.asset_keep_prob[rows, np.maximum(prev_top - 1, 0)], 1.0)
    return 1.0 - stays * keeps


def next_track_accuracy(truth: Frames, prediction: NextFrame, first: np.ndarray) -> tuple[float | None, int]:
    """At each true cut that changes the visible track, is the new track the predicted most
    likely one among the tracks other than the previous one? Returns (accuracy, number of such cuts).
    """
    top = top_track(truth.active)  # (N,): the column of visible_prob
    previous = previous_rows(first)
    at = np.flatnonzero(cut_mask(truth, first) & (top != top[previous]))
    scores = prediction.visible_prob[at].copy()  # (n, T + 1), column 0 = nothing visible
    scores[np.arange(len(at)), top[previous[at]]] = -np.inf  # "given that a cut happens"
    guess = scores.argmax(axis=1)
    return (_mean(guess == top[at]), int(len(at)))


def match_events(predicted: np.ndarray, truth: np.ndarray, tolerance: int) -> int:
    """Greedy one-to-one matches of predicted to true event frames within ±tolerance, in time order."""
    matched = 0
    j = 0
    truth = np.sort(truth)
    used = np.zeros(len(truth), dtype=bool)
    for frame in np.sort(predicted):
        while j < len(truth) and truth[j] < frame - tolerance:
            j += 1
        k = j
        while k < len(truth) and truth[k] <= frame + tolerance:
            if not used[k]:
                used[k] = True
                matched += 1
                break
            k += 1
    return matched


def event_f1(predicted: np.ndarray, truth: np.ndarray, tolerance: int) -> float:
    """F1 of predicted against true event frames, matched one to one within ±tolerance."""
    if len(predicted) + len(truth) == 0:
        return 1.0
    return 2 * match_events(predicted, truth, tolerance) / (len(predicted) + len(truth))


def cut_figures(
    truth: Frames, prediction: NextFrame, first: np.ndarray, tolerance_frames: int
) -> dict[str, float | None]:
    """next_track_accuracy and cut_f1 (a cut is predicted where its probability exceeds 0.5)."""
    accuracy, n_track_cuts = next_track_accuracy(truth, prediction, first)
    predicted = (cut_probability(prediction, truth, first) > 0.5) & ~first
    true_cuts = cut_mask(truth, first)
    # matches never cross timelines: offset each timeline's frames far apart
    gap = np.cumsum(first) * (2 * tolerance_frames + 1)
    return {
        "next_track_accuracy": accuracy,
        "n_track_cuts": n_track_cuts,
        "cut_f1": event_f1(
            np.flatnonzero(predicted) + gap[predicted], np.flatnonzero(true_cuts) + gap[true_cuts], tolerance_frames
        ),
        "tolerance_frames": int(tolerance_frames),
        "n_predicted_cuts": int(predicted.sum()),
    }


# --- rollout distances ------------------------------------------------------------------------


def shot_lengths(frames: Frames) -> np.ndarray:
    """Lengths in frames of the runs between cuts of one timeline excerpt (edge runs included)."""
    first = np.zeros(len(frames), dtype=bool)
    first[0] = True
    cuts = np.flatnonzero(cut_mask(frames, first))
    edges = np.concatenate([[0], cuts, [len(frames)]])
    return np.diff(edges)


def wasserstein_1(a: np.ndarray, b: np.ndarray) -> float:
    """Earth mover's distance between two 1-D samples: the integral of |F_a - F_b|."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    points = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(a, points[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, points[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(points)))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Half the L1 distance between two distributions given as (unnormalised) counts."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def zoom_rates(frames: Frames, fps: float) -> np.ndarray:
    """|Δ scale| per second of the visible track between consecutive rows without a cut."""
    first = np.zeros(len(frames), dtype=bool)
    first[0] = True
    top = top_track(frames.active)
    steady = ~cut_mask(frames, first) & ~first & (top > 0)
    rows = np.flatnonzero(steady)
    track = top[rows] - 1
    scale = frames.values[:, :, SCALE]
    return np.abs(scale[rows, track] - scale[rows - 1, track]) * fps


@dataclass
class Excerpt:
    """A stretch of one timeline for rollout statistics: frames, rate, aspect table."""

    frames: Frames
    fps: float
    aspect_by_asset: np.ndarray  # (K,) sequence aspect / media aspect per asset class


def _excerpt_statistics(excerpts: list[Excerpt], n_tracks: int) -> dict[str, np.ndarray]:
    shots, rates = [], []
    track_counts = np.zeros(n_tracks + 1)
    layout_counts = np.zeros(len(LAYOUTS))
    for excerpt in excerpts:
        frames = excerpt.frames
        shots.append(shot_lengths(frames) / excerpt.fps)
        rates.append(zoom_rates(frames, excerpt.fps))
        track_counts += np.bincount(top_track(frames.active), minlength=n_tracks + 1)
        ratio = excerpt.aspect_by_asset[np.clip(frames.asset, 0, len(excerpt.aspect_by_asset) - 1)]
        layout_counts += np.bincount(layout_classes(frames, ratio), minlength=len(LAYOUTS))
    return {
        "shots": np.concatenate(shots),
        "zoom": np.concatenate(rates),
        "tracks": track_counts,
        "layouts": layout_counts,
    }


def rollout_distances(truth: list[Excerpt], samples: list[Excerpt]) -> dict[str, float]:
    """How far sampled continuations are from what the editor did, pooled over all excerpts.

    shot_length_w1_seconds: W1 between shot-length distributions; track_share_tv and
    layout_share_tv: total variation between shares of frames per visible track and per
    layout; zoom_rate_abs_diff: |difference| of the mean |Δ scale| per second.
    """
    n_tracks = truth[0].frames.active.shape[1]
    real = _excerpt_statistics(truth, n_tracks)
    fake = _excerpt_statistics(samples, n_tracks)
    zoom_real = float(real["zoom"].mean()) if real["zoom"].size else 0.0
    zoom_fake = float(fake["zoom"].mean()) if fake["zoom"].size else 0.0
    return {
        "shot_length_w1_seconds": wasserstein_1(real["shots"], fake["shots"]),
        "track_share_tv": total_variation(real["tracks"], fake["tracks"]),
        "layout_share_tv": total_variation(real["layouts"], fake["layouts"]),
        "zoom_rate_abs_diff": abs(zoom_real - zoom_fake),
        "n_excerpts": len(truth),
        "n_samples": len(samples),
    }


def score_predictor(
    truth: Frames,
    prediction: NextFrame,
    first: np.ndarray,
    aspect_ratio: np.ndarray | float = 1.0,
    tolerance_frames: int = 2,
) -> dict[str, Any]:
    """Every next-frame figure of one predictor: all_frames, change_frames, cuts, per_track, counts."""
    scored = ~first
    changes = change_mask(truth, first)
    return {
        "all_frames": next_frame_figures(truth, prediction, scored, aspect_ratio),
        "change_frames": next_frame_figures(truth, prediction, changes, aspect_ratio),
        "cuts": cut_figures(truth, prediction, first, tolerance_frames),
        "per_track": per_track_figures(truth, prediction, scored, aspect_ratio),
        "n_frames": int(scored.sum()),
        "n_change_frames": int(changes.sum()),
        "n_cuts": int(cut_mask(truth, first).sum()),
    }
