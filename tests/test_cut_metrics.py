"""The cut-comparison figures (evaluate/cut_metrics.py) on small hand-made cuts."""

from __future__ import annotations

import numpy as np
import pytest

from multitrack.evaluate.cut_metrics import (
    compare_cuts,
    cut_f1,
    cut_frames,
    next_angle_accuracy,
    shot_length_w1_seconds,
    shown_agreement,
    wide_share_abs_diff,
)


def shots(*runs: tuple[int, int]) -> np.ndarray:
    """Frames from (camera, length) runs."""
    return np.concatenate([np.full(length, camera) for camera, length in runs])


TRUTH = shots((0, 10), (1, 10), (2, 10), (0, 10))


def test_identical_cuts_score_perfectly() -> None:
    figures = compare_cuts(TRUTH, TRUTH, fps=10, wide=0)
    assert figures["shown_agreement"] == 1.0 and figures["cut_f1"] == 1.0
    assert figures["next_angle_accuracy"] == 1.0
    assert figures["shot_length_w1_seconds"] == 0.0 and figures["wide_share_abs_diff"] == 0.0
    assert figures["n_cuts"] == 3


def test_late_cuts_within_tolerance_count_for_f1_not_agreement() -> None:
    late = shots((0, 13), (1, 10), (2, 10), (0, 7))
    assert shown_agreement(late, TRUTH) == pytest.approx(31 / 40)
    assert cut_f1(late, TRUTH, fps=10, tolerance_seconds=0.5) == 1.0
    assert cut_f1(late, TRUTH, fps=10, tolerance_seconds=0.2) == 0.0
    assert cut_frames(late).tolist() == [13, 23, 33]


def test_next_angle_and_shot_lengths_and_wide_share() -> None:
    wrong = shots((0, 10), (2, 10), (1, 10), (0, 10))  # same cuts, other angles
    assert next_angle_accuracy(wrong, TRUTH, fps=10) == pytest.approx(1 / 3)
    assert shot_length_w1_seconds(wrong, TRUTH, fps=10) == 0.0
    all_wide = np.zeros(40, int)
    assert wide_share_abs_diff(all_wide, TRUTH, wide=0) == pytest.approx(0.5)
    assert shot_length_w1_seconds(all_wide, TRUTH, fps=10) == pytest.approx(3.0)
    assert next_angle_accuracy(TRUTH, all_wide, fps=10) is None


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="compared"):
        shown_agreement(TRUTH[:-1], TRUTH)
