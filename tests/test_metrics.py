"""Metric functions on hand-made cases whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multitrack.evaluate.metrics import (
    LAYOUTS,
    Excerpt,
    NextFrame,
    binary_f1,
    binary_log_loss,
    categorical_log_loss,
    change_mask,
    clip_rectangles,
    cut_figures,
    cut_mask,
    event_f1,
    layout_classes,
    next_frame_figures,
    next_track_accuracy,
    per_track_figures,
    rectangle_iou,
    rollout_distances,
    score_predictor,
    shot_lengths,
    total_variation,
    visible_probabilities,
    wasserstein_1,
)
from multitrack.features.vocabulary import Frames


def geometry(scale=1.0, pos_x=0.0, pos_y=0.0, crops=(0, 0, 0, 0)) -> np.ndarray:
    return np.array([scale, pos_x, pos_y, *crops], dtype=float)


def frames_from_tracks(active_rows, asset_rows=None, scale=1.0) -> Frames:
    active = np.array(active_rows, dtype=bool)
    asset = np.array(asset_rows) if asset_rows is not None else active.astype(int)
    values = np.zeros(active.shape + (7,))
    values[..., 0] = np.where(active, scale, 0.0)
    return Frames(active, asset, values)


def prediction_for(frames: Frames, active_prob, visible_prob=None) -> NextFrame:
    active_prob = np.asarray(active_prob, dtype=float)
    return NextFrame(
        active_prob=active_prob,
        asset_pred=frames.asset.copy(),
        asset_keep_prob=np.ones_like(active_prob),
        values=frames.values.copy(),
        visible_prob=visible_probabilities(active_prob) if visible_prob is None else np.asarray(visible_prob),
    )


class TestRectangles:
    def test_full_frame_clip_covers_the_frame(self):
        assert clip_rectangles(geometry()).tolist() == [0.0, 0.0, 1.0, 1.0]

    def test_half_scale_in_the_corner(self):
        # scale 0.5 at pos (0.25, 0.25): centre (0.75, 0.75), half the frame each way
        rect = clip_rectangles(geometry(0.5, 0.25, 0.25))
        np.testing.assert_allclose(rect, [0.5, 0.5, 1.0, 1.0])

    def test_crop_and_aspect(self):
        # 4:3 media in a 16:9 frame at full width would be 4/3 frames tall: ratio (16/9)/(4/3)
        rect = clip_rectangles(geometry(0.75, crops=(10, 20, 0, 0)), aspect_ratio=(16 / 9) / (4 / 3))
        # width 0.75 centred: 0.125..0.875; crops remove 10 % and 20 % of 0.75
        np.testing.assert_allclose(rect, [0.2, 0.0, 0.725, 1.0])

    def test_iou_of_known_rectangles(self):
        a = np.array([0.0, 0.0, 0.5, 0.5])
        b = np.array([0.25, 0.25, 0.75, 0.75])
        # intersection 0.0625, union 0.25 + 0.25 - 0.0625
        assert rectangle_iou(a, b) == pytest.approx(0.0625 / 0.4375)
        assert rectangle_iou(a, np.array([0.5, 0.5, 1.0, 1.0])) == 0.0
        assert rectangle_iou(a, a) == 1.0

    def test_two_empty_rectangles_agree(self):
        empty = np.zeros(4)
        assert rectangle_iou(empty, empty) == 1.0

    @settings(max_examples=50, deadline=None)
    @given(st.lists(st.floats(0, 1), min_size=8, max_size=8))
    def test_iou_is_symmetric_and_bounded(self, corners):
        a = np.array(
            [
                min(corners[0], corners[1]),
                min(corners[2], corners[3]),
                max(corners[0], corners[1]),
                max(corners[2], corners[3]),
            ]
        )
        b = np.array(
            [
                min(corners[4], corners[5]),
                min(corners[6], corners[7]),
                max(corners[4], corners[5]),
                max(corners[6], corners[7]),
            ]
        )
        assert 0.0 <= rectangle_iou(a, b) <= 1.0
        assert rectangle_iou(a, b) == pytest.approx(rectangle_iou(b, a))


class TestScores:
    def test_f1_on_a_fixed_confusion(self):
        # tp 2, fp 1, fn 1 -> precision 2/3, recall 2/3, F1 2/3
        predicted = np.array([1, 1, 1, 0, 0], bool)
        truth = np.array([1, 1, 0, 1, 0], bool)
        assert binary_f1(predicted, truth) == pytest.approx(2 / 3)

    def test_log_loss_of_known_probabilities(self):
        assert binary_log_loss(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(np.log(2))
        assert binary_log_loss(np.array([0.9]), np.array([0])) == pytest.approx(-np.log(0.1))

    def test_categorical_log_loss_of_known_probabilities(self):
        # -(log 1/2 + log 1/4) / 2 = 1.5 log 2
        assert categorical_log_loss(np.array([0.5, 0.25])) == pytest.approx(1.5 * np.log(2))
        # a zero probability is clipped to 1e-7, like binary_log_loss
        assert categorical_log_loss(np.array([0.0])) == pytest.approx(-np.log(1e-7))
        assert categorical_log_loss(np.array([])) is None

    def test_event_f1_within_tolerance(self):
        # 10 matches 11 (±2); 30 matches nothing; 50 is missed -> tp 1, 2 predicted, 2 true
        assert event_f1(np.array([11, 30]), np.array([10, 50]), tolerance=2) == pytest.approx(0.5)
        # one true cut cannot be matched twice
        assert event_f1(np.array([9, 11]), np.array([10]), tolerance=2) == pytest.approx(2 / 3)

    def test_wasserstein_of_shifted_samples(self):
        assert wasserstein_1([1, 2, 3], [2, 3, 4]) == pytest.approx(1.0)
        assert wasserstein_1([0, 0], [1]) == pytest.approx(1.0)

    def test_total_variation(self):
        assert total_variation([1, 1, 0], [0, 1, 1]) == pytest.approx(0.5)
        assert total_variation([2, 2], [1, 1]) == 0.0


class TestStructure:
    def test_visible_probabilities_sum_to_one(self):
        probs = visible_probabilities(np.array([[0.5, 0.5]]))
        # none: 0.25, V1 visible (V2 off): 0.25, V2 visible: 0.5
        np.testing.assert_allclose(probs, [[0.25, 0.25, 0.5]])

    def test_cuts_on_track_and_asset_changes(self):
        frames = frames_from_tracks(
            [[1, 0], [1, 0], [1, 1], [1, 1], [1, 0], [1, 0]],
            [[1, 0], [1, 0], [1, 2], [1, 2], [1, 0], [3, 0]],
        )
        first = np.array([1, 0, 0, 0, 0, 0], bool)
        assert np.flatnonzero(cut_mask(frames, first)).tolist() == [2, 4, 5]
        # a new timeline starting at row 4 hides the change there
        first[4] = True
        assert np.flatnonzero(cut_mask(frames, first)).tolist() == [2, 5]

    def test_a_move_is_a_change_but_not_a_cut(self):
        frames = frames_from_tracks([[1], [1], [1]])
        frames.values[2, 0, 1] = 0.1
        first = np.array([1, 0, 0], bool)
        assert change_mask(frames, first).tolist() == [False, False, True]
        assert cut_mask(frames, first).tolist() == [False, False, False]

    def test_a_slow_keyframed_zoom_is_not_a_change(self):
        frames = frames_from_tracks([[1]] * 4)
        frames.values[:, 0, 0] = [1.0, 1.005, 1.010, 1.1]  # drift of 0.5 % per frame, then a punch-in
        first = np.array([1, 0, 0, 0], bool)
        assert change_mask(frames, first).tolist() == [False, False, False, True]

    def test_layouts(self):
        values = np.zeros((4, 2, 7))
        active = np.zeros((4, 2), bool)
        active[0, 0] = True
        values[0, 0] = geometry()  # one full-frame clip
        active[1] = True
        values[1, 0], values[1, 1] = geometry(), geometry(0.3, 0.3, 0.3)  # small clip over it
        active[2] = True
        # two half-width clips side by side (cropped to half width)
        values[2, 0] = geometry(1.0, -0.25, 0.0, (25, 25, 0, 0))
        values[2, 1] = geometry(1.0, 0.25, 0.0, (25, 25, 0, 0))
        frames = Frames(active, active.astype(int), values)
        layouts = [LAYOUTS[i] for i in layout_classes(frames)]
        assert layouts == ["full_frame", "picture_in_picture", "split", "other"]

    def test_shot_lengths(self):
        frames = frames_from_tracks([[1, 0]] * 3 + [[1, 1]] * 2 + [[0, 0]])
        assert shot_lengths(frames).tolist() == [3, 2, 1]


class TestNextFrame:
    def test_perfect_prediction(self):
        frames = frames_from_tracks([[1, 0], [1, 1], [0, 1]])
        prediction = prediction_for(frames, frames.active.astype(float))
        figures = next_frame_figures(frames, prediction, np.array([0, 1, 1], bool))
        assert figures["active_accuracy"] == 1.0
        assert figures["active_f1"] == 1.0
        assert figures["scale_mae"] == 0.0
        assert figures["iou"] == 1.0
        assert figures["n_frames"] == 2

    def test_asset_log_loss_counts_only_tracks_active_in_the_truth(self):
        frames = frames_from_tracks([[1, 0], [1, 1], [0, 1]])
        prediction = prediction_for(frames, frames.active.astype(float))
        prediction.asset_true_prob = np.array([[0.9, 0.0], [0.5, 0.25], [0.0, 0.125]])
        rows = np.array([0, 1, 1], bool)
        figures = next_frame_figures(frames, prediction, rows)
        # scored: (1, V1) 1/2, (1, V2) 1/4, (2, V2) 1/8; the zeros sit on inactive tracks
        assert figures["asset_log_loss"] == pytest.approx(2 * np.log(2))
        # per track: V1 only row 1 (1/2); V2 rows 1 and 2: (log 4 + log 8) / 2
        per_track = per_track_figures(frames, prediction, rows)
        assert per_track["V1"]["asset_log_loss"] == pytest.approx(np.log(2))
        assert per_track["V2"]["asset_log_loss"] == pytest.approx(2.5 * np.log(2))
        prediction.asset_true_prob = None  # a predictor without an asset distribution
        assert next_frame_figures(frames, prediction, rows)["asset_log_loss"] is None

    def test_geometry_errors_in_units(self):
        frames = frames_from_tracks([[1], [1]])
        prediction = prediction_for(frames, [[1.0], [1.0]])
        prediction.values[1, 0, 1] = 0.1  # pos_x off by a tenth of the width
        prediction.values[1, 0, 3] = 8.0  # crop_left off by 8 %
        figures = next_frame_figures(frames, prediction, np.array([0, 1], bool))
        assert figures["position_mae"] == pytest.approx(0.05)  # mean of |dx| 0.1 and |dy| 0
        assert figures["position_mae_px"] == pytest.approx(96.0)  # 0.1 × 1920 / 2
        assert figures["crop_mae"] == pytest.approx(2.0)
        # predicted: 0.1..1.1, 8 % cropped from the left -> 0.18..1.1, clipped to 0.18..1.0
        assert figures["iou"] == pytest.approx(0.82)

    def test_next_track_accuracy_on_a_tiny_sequence(self):
        # V1 -> V2 (row 2) -> V1 (row 4) -> V3 (row 5)
        frames = frames_from_tracks([[1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0], [1, 0, 0], [1, 0, 1]])
        first = np.array([1, 0, 0, 0, 0, 0], bool)
        visible = np.zeros((6, 4))
        visible[:, 2] = 1.0  # always V1 most likely (column j + 1)
        visible[2] = [0, 0.6, 0.1, 0.3]  # V1 most likely, but V1 is the previous track: V3 beats V2
        visible[4] = [0, 0.2, 0.7, 0.1]  # previous V2 excluded: V1 chosen, correct
        visible[5] = [0, 0.5, 0.1, 0.4]  # previous V1 excluded: V3 chosen, correct
        prediction = prediction_for(frames, np.ones((6, 3)) * 0.5, visible_prob=visible)
        accuracy, n = next_track_accuracy(frames, prediction, first)
        assert n == 3
        assert accuracy == pytest.approx(2 / 3)

    def test_cut_f1_from_cut_probabilities(self):
        frames = frames_from_tracks([[1, 0]] * 3 + [[1, 1]] * 3)  # one cut at row 3
        first = np.array([1, 0, 0, 0, 0, 0], bool)
        visible = np.tile([0.0, 1.0, 0.0], (6, 1))
        visible[4] = [0.0, 0.0, 1.0]
        prediction = prediction_for(frames, np.zeros((6, 2)), visible_prob=visible)
        figures = cut_figures(frames, prediction, first, tolerance_frames=1)
        # given the true previous row, a cut is predicted where the previous visible track
        # loses: rows 1-3 follow V1 (kept, p 1), row 4 follows V2 (kept, p 1), row 5 follows
        # V2 but predicts V1 -> one predicted cut, at row 5
        assert figures["n_predicted_cuts"] == 1
        # predicted 5 vs true 3: outside ±1 -> F1 0; within ±2 -> 1
        assert figures["cut_f1"] == 0.0
        assert cut_figures(frames, prediction, first, tolerance_frames=2)["cut_f1"] == 1.0

    def test_score_predictor_has_every_section(self):
        frames = frames_from_tracks([[1, 0], [1, 1], [1, 1], [1, 0]])
        first = np.array([1, 0, 0, 0], bool)
        report = score_predictor(frames, prediction_for(frames, frames.active * 0.9 + 0.05), first)
        assert set(report) >= {"all_frames", "change_frames", "cuts", "per_track", "n_frames", "n_cuts"}
        assert report["n_cuts"] == 2
        assert report["n_change_frames"] == 2
        assert set(report["per_track"]) == {"V1", "V2"}
        assert report["per_track"]["V1"]["active_accuracy"] == 1.0


class TestRollout:
    def test_identical_rollouts_have_zero_distance(self):
        frames = frames_from_tracks([[1, 0]] * 5 + [[1, 1]] * 5)
        excerpt = Excerpt(frames, fps=10.0, aspect_by_asset=np.ones(4))
        distances = rollout_distances([excerpt], [excerpt, excerpt])
        assert distances["shot_length_w1_seconds"] == 0.0
        assert distances["track_share_tv"] == 0.0
        assert distances["layout_share_tv"] == 0.0
        assert distances["zoom_rate_abs_diff"] == 0.0

    def test_known_distances(self):
        truth = Excerpt(frames_from_tracks([[1, 0]] * 5 + [[1, 1]] * 5), 10.0, np.ones(4))
        frozen = Excerpt(frames_from_tracks([[1, 0]] * 10), 10.0, np.ones(4))
        zooming = frames_from_tracks([[1, 0]] * 10)
        zooming.values[:, 0, 0] = 1.0 + 0.01 * np.arange(10)  # +0.1 scale per second at 10 fps
        distances = rollout_distances([truth], [frozen])
        # shots 0.5 s, 0.5 s against one 1 s shot
        assert distances["shot_length_w1_seconds"] == pytest.approx(0.5)
        assert distances["track_share_tv"] == pytest.approx(0.5)
        assert rollout_distances([frozen], [Excerpt(zooming, 10.0, np.ones(4))])["zoom_rate_abs_diff"] == pytest.approx(
            0.1
        )
