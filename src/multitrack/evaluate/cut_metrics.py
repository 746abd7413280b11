"""How close a cut of a stack comes to the editor's edit of it (issue 15, item 5).

Both are given as the camera shown on each frame (`shown`: (N,) int, camera index, -1 none)
at one rate. The figures, each for one session (the evaluation averages them per editor):

- `shown_agreement`: the share of frames on which the same camera is shown;
- `cut_f1`: the predicted cuts (frames where the camera changes) against the editor's, matched
  one to one within ± `tolerance_seconds` (`metrics.event_f1`, as the next-frame `cut_f1`);
- `next_angle_accuracy`: at each of the editor's cuts, from camera a to b, is the first camera
  other than a that the prediction shows from the cut's tolerance window on b?
- `shot_length_w1_seconds`: the Wasserstein distance between the two shot-length distributions;
- `wide_share_abs_diff`: how far the wide's share of the screen time is from the editor's.

The rules fit (evaluate/rules.py) maximises the first two.
"""

from __future__ import annotations

import numpy as np

from multitrack.evaluate.metrics import event_f1, match_events, wasserstein_1

DEFAULT_TOLERANCE_SECONDS = 0.5


def cut_frames(shown: np.ndarray) -> np.ndarray:
    """Frames where the camera shown changes (never frame 0)."""
    return np.flatnonzero(np.diff(shown) != 0) + 1


def shot_lengths(shown: np.ndarray) -> np.ndarray:
    """Frames of each run of one camera, in order."""
    edges = np.concatenate([[0], cut_frames(shown), [len(shown)]])
    return np.diff(edges)


def tolerance_frames(tolerance_seconds: float, fps: float) -> int:
    return int(round(tolerance_seconds * fps))


def shown_agreement(predicted: np.ndarray, truth: np.ndarray) -> float:
    _check(predicted, truth)
    return float((predicted == truth).mean()) if len(truth) else 1.0


def cut_f1(
    predicted: np.ndarray, truth: np.ndarray, fps: float, tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS
) -> float:
    _check(predicted, truth)
    return event_f1(cut_frames(predicted), cut_frames(truth), tolerance_frames(tolerance_seconds, fps))


def cut_matches(
    predicted: np.ndarray, truth: np.ndarray, fps: float, tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS
) -> tuple[int, int, int]:
    """(matched, predicted cuts, true cuts): what F1 sums over sessions."""
    mine, theirs = cut_frames(predicted), cut_frames(truth)
    return match_events(mine, theirs, tolerance_frames(tolerance_seconds, fps)), len(mine), len(theirs)


def next_angle_accuracy(
    predicted: np.ndarray, truth: np.ndarray, fps: float, tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS
) -> float | None:
    """Module docstring; None when the editor never cuts."""
    _check(predicted, truth)
    cuts = cut_frames(truth)
    if len(cuts) == 0:
        return None
    tolerance = tolerance_frames(tolerance_seconds, fps)
    right = 0
    for at in cuts:
        before, after = truth[at - 1], truth[at]
        window = predicted[max(0, at - tolerance) :]
        other = np.flatnonzero(window != before)
        right += bool(len(other)) and window[other[0]] == after
    return right / len(cuts)


def shot_length_w1_seconds(predicted: np.ndarray, truth: np.ndarray, fps: float) -> float:
    _check(predicted, truth)
    return wasserstein_1(shot_lengths(predicted) / fps, shot_lengths(truth) / fps)


def wide_share_abs_diff(predicted: np.ndarray, truth: np.ndarray, wide: int | None) -> float:
    _check(predicted, truth)
    if wide is None or len(truth) == 0:
        return 0.0
    return float(abs((predicted == wide).mean() - (truth == wide).mean()))


def compare_cuts(
    predicted: np.ndarray,
    truth: np.ndarray,
    fps: float,
    wide: int | None,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> dict[str, float | int | None]:
    """Every figure of the module docstring for one session."""
    return {
        "shown_agreement": shown_agreement(predicted, truth),
        "cut_f1": cut_f1(predicted, truth, fps, tolerance_seconds),
        "next_angle_accuracy": next_angle_accuracy(predicted, truth, fps, tolerance_seconds),
        "shot_length_w1_seconds": shot_length_w1_seconds(predicted, truth, fps),
        "wide_share_abs_diff": wide_share_abs_diff(predicted, truth, wide),
        "n_cuts": int(len(cut_frames(truth))),
        "n_predicted_cuts": int(len(cut_frames(predicted))),
        "tolerance_seconds": float(tolerance_seconds),
    }


def _check(predicted: np.ndarray, truth: np.ndarray) -> None:
    if predicted.shape != truth.shape:
        raise ValueError(f"a cut of {predicted.shape} frames compared with an edit of {truth.shape}")
