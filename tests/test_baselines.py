"""Each baseline on a sequence where its answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from multitrack.evaluate.baselines import (
    carried_forward,
    fit_baselines,
    predict_next_frame,
    rollout,
    shot_ages,
)
from multitrack.evaluate.metrics import cut_figures, cut_mask, next_frame_figures, next_track_accuracy
from multitrack.features.vocabulary import Frames, top_track


def frames_from_visible(visible: list[int], n_tracks: int, base_on: bool = False) -> Frames:
    """One clip per visible track index (-1: nothing); with base_on V1 stays on underneath."""
    n = len(visible)
    active = np.zeros((n, n_tracks), bool)
    active[np.arange(n), np.maximum(visible, 0)] = np.array(visible) >= 0
    if base_on:
        active[:, 0] = True
    asset = np.where(active, np.arange(1, n_tracks + 1)[None, :], 0)
    values = np.zeros((n, n_tracks, 7))
    values[..., 0] = np.where(active, 1.0, 0.0)
    return Frames(active, asset, values)


def starts(n: int, *more: int) -> np.ndarray:
    first = np.zeros(n, bool)
    first[[0, *more]] = True
    return first


class TestFit:
    def test_rates_transitions_and_shots(self):
        frames = frames_from_visible([0, 0, 0, 1, 1, 1, 0, 0, 0], n_tracks=2)
        stats = fit_baselines(frames, starts(9), np.full(9, 1.0), asset_classes=4)
        assert stats.cut_rate == pytest.approx(2 / 8)
        # V1 and V2 both flip at rows 3 and 6: 4 flips over 8 × 2 track-frames
        assert stats.active_flip_rate == pytest.approx(4 / 16)
        # state 1 (V1) -> state 2 (V2) once, smoothed by 0.1 over three states
        np.testing.assert_allclose(stats.transition[1], np.array([0.1, 0.1, 1.1]) / 1.3)
        assert sorted(stats.shot_seconds.tolist()) == [3.0, 3.0, 3.0]

    def test_hazard_of_fixed_length_shots(self):
        frames = frames_from_visible([0, 0, 0, 1, 1, 1, 0, 0, 0], n_tracks=2)
        stats = fit_baselines(frames, starts(9), np.full(9, 1.0), asset_classes=4)
        assert stats.hazard(np.array([1, 2, 3]), fps=1.0).tolist() == [0.0, 0.0, 1.0]
        # at 2 fps the 3 s shots are 6 frames long
        assert stats.hazard(np.array([5, 6]), fps=2.0).tolist() == [0.0, 1.0]


class TestNextFrame:
    def test_persistence_repeats_the_last_frame(self):
        truth = frames_from_visible([0, 0, 1, 1], n_tracks=2)
        train = frames_from_visible([0, 0, 0, 1, 1, 1, 0, 0, 0], n_tracks=2)
        stats = fit_baselines(train, starts(9), np.ones(9), asset_classes=4)
        prediction = predict_next_frame("persistence", stats, truth, starts(4), np.ones(4))
        # row 2 is predicted from row 1 (V1 on, V2 off), smoothed by the 0.25 flip rate
        np.testing.assert_allclose(prediction.active_prob[2], [0.75, 0.25])
        assert ((prediction.active_prob[1:] > 0.5) == truth.active[:-1]).all()

    def test_markov_knows_the_next_track_persistence_does_not(self):
        # training: V1 underneath; V3 comes on, then always hands over to V2
        train = frames_from_visible([0, 0, 2, 2, 1, 1, 0, 0, 2, 2, 1, 1], n_tracks=3, base_on=True)
        stats = fit_baselines(train, starts(12), np.ones(12), asset_classes=4)
        test = frames_from_visible([0, 2, 2, 1, 1], n_tracks=3, base_on=True)
        first = starts(5)
        markov = predict_next_frame("markov", stats, test, first, np.ones(5))
        persistence = predict_next_frame("persistence", stats, test, first, np.ones(5))
        # cuts: row 1 (V1 -> V3) and row 3 (V3 -> V2): markov gets both
        assert next_track_accuracy(test, markov, first) == (1.0, 2)
        # persistence, at V3 -> V2, finds V1 (already on, needs only V3 off) likelier than V2
        assert next_track_accuracy(test, persistence, first) == (0.5, 2)

    def test_semi_markov_predicts_cuts_at_the_shot_length(self):
        train = frames_from_visible([0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1], n_tracks=2)
        stats = fit_baselines(train, starts(12), np.ones(12), asset_classes=4)
        test = frames_from_visible([1, 1, 1, 0, 0, 0, 1, 1, 1], n_tracks=2)
        first = starts(9)
        prediction = predict_next_frame("semi_markov", stats, test, first, np.ones(9))
        assert shot_ages(test, first).tolist() == [1, 1, 2, 3, 1, 2, 3, 1, 2]
        figures = cut_figures(test, prediction, first, tolerance_frames=0)
        assert figures["cut_f1"] == 1.0
        assert figures["n_predicted_cuts"] == 2
        # persistence never predicts a cut
        persistence = predict_next_frame("persistence", stats, test, first, np.ones(9))
        assert cut_figures(test, persistence, first, tolerance_frames=0)["n_predicted_cuts"] == 0

    def test_asset_probabilities_of_smoothed_persistence_and_markov(self):
        # training: one track always on, asset 1, 1, 2, 2, 2: one switch in 4 consecutive pairs
        train = Frames(np.ones((5, 1), bool), np.array([[1], [1], [2], [2], [2]]), np.zeros((5, 1, 7)))
        stats = fit_baselines(train, starts(5), np.ones(5), asset_classes=4)
        assert stats.asset_change_rate == pytest.approx(0.25)
        truth = Frames(np.ones((3, 1), bool), np.array([[1], [1], [3]]), np.zeros((3, 1, 7)))
        persistence = predict_next_frame("persistence", stats, truth, starts(3), np.ones(3))
        # kept: 1 - 0.25; switched: 0.25 spread over the real classes 2 and 3 (never class 0)
        np.testing.assert_allclose(persistence.asset_true_prob[1:, 0], [0.75, 0.125])
        figures = next_frame_figures(truth, persistence, ~starts(3))
        assert figures["asset_log_loss"] == pytest.approx(-(np.log(0.75) + np.log(0.125)) / 2)
        # markov: the one training cut (an asset switch on V1) gives cut rate 1/4 and
        # P(V1 -> V1 | cut) = 1.1 / 1.2; such a cut also changes the asset
        keep = 0.75 * (1 - 0.25 * 1.1 / 1.2)
        markov = predict_next_frame("markov", stats, truth, starts(3), np.ones(3))
        np.testing.assert_allclose(markov.asset_true_prob[1:, 0], [keep, (1 - keep) / 2])

    def test_asset_probabilities_over_the_real_classes_sum_to_one(self):
        # K - 1 = 4 timelines of two rows: asset 2, then each real class 1 .. 4 in turn
        train = frames_from_visible([0, 0, 1, 1, 0, 0], n_tracks=2)
        stats = fit_baselines(train, starts(6), np.ones(6), asset_classes=5)
        v1_asset = np.array([2, 1, 2, 2, 2, 3, 2, 4])  # (8,): pairs (2, c) for c = 1 .. 4
        asset = np.column_stack([v1_asset, np.zeros(8, int)])  # (8, 2): V2 stays off
        truth = Frames(asset > 0, asset, np.zeros((8, 2, 7)))
        first = np.tile([True, False], 4)
        for name in ("persistence", "markov", "semi_markov"):
            prediction = predict_next_frame(name, stats, truth, first, np.ones(8))
            assert prediction.asset_true_prob[~first, 0].sum() == pytest.approx(1.0)

    def test_carried_forward_remembers_a_track_that_left(self):
        truth = frames_from_visible([1, -1, -1, 0], n_tracks=2)
        truth.values[0, 1] = [0.5, 0.2, 0.1, 5, 0, 0, 0]
        asset, values = carried_forward(truth, starts(4))
        assert asset[2, 1] == 2
        np.testing.assert_allclose(values[2, 1], [0.5, 0.2, 0.1, 5, 0, 0, 0])
        # V1 was never on before row 3: defaults
        assert asset[3, 0] == 1
        np.testing.assert_allclose(values[3, 0], [1, 0, 0, 0, 0, 0, 0])

    def test_nothing_carries_across_timelines(self):
        truth = frames_from_visible([1, 1, -1, -1], n_tracks=2)
        truth.values[:2, 1, 1] = 0.3
        _, values = carried_forward(truth, starts(4, 2))
        assert values[3, 1, 1] == 0.0

    def test_unknown_baseline(self):
        truth = frames_from_visible([0, 0], n_tracks=1)
        stats = fit_baselines(truth, starts(2), np.ones(2), asset_classes=2)
        with pytest.raises(ValueError, match="unknown baseline 'oracle'"):
            predict_next_frame("oracle", stats, truth, starts(2), np.ones(2))


class TestRollout:
    def test_persistence_freezes(self):
        prompt = frames_from_visible([0, 1, 1], n_tracks=2)
        stats = fit_baselines(prompt, starts(3), np.ones(3), asset_classes=4)
        continuation = rollout("persistence", stats, prompt, 5, 1.0, np.random.default_rng(0))
        assert len(continuation) == 5
        assert (continuation.active == prompt.active[-1]).all()

    def test_semi_markov_cuts_on_the_training_rhythm(self):
        train = frames_from_visible([0, 0, 0, 1, 1, 1] * 3, n_tracks=2)
        stats = fit_baselines(train, starts(18), np.ones(18), asset_classes=4)
        prompt = frames_from_visible([0, 0, 0, 1], n_tracks=2)  # last shot 1 frame old
        for seed in range(5):
            continuation = rollout("semi_markov", stats, prompt, 8, 1.0, np.random.default_rng(seed))
            joined = Frames(
                *(
                    np.concatenate([a, b])
                    for a, b in zip(
                        (prompt.active, prompt.asset, prompt.values),
                        (continuation.active, continuation.asset, continuation.values),
                        strict=True,
                    )
                )
            )
            # shots of 3 frames: the prompt's V2 shot ends after 2 more frames, then every 3
            assert np.flatnonzero(cut_mask(joined, starts(12))).tolist() == [3, 6, 9]
        # the transition matrix (94 % V1 -> V2) alternates tracks; V2's layout is reused
        continuation = rollout("semi_markov", stats, prompt, 8, 1.0, np.random.default_rng(1))
        assert top_track(continuation.active).tolist() == [2, 2, 1, 1, 1, 2, 2, 2]  # V2, V2, V1, …

    def test_rollouts_are_reproducible(self):
        train = frames_from_visible([0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0], n_tracks=2)
        stats = fit_baselines(train, starts(12), np.ones(12), asset_classes=4)
        a = rollout("markov", stats, train, 50, 1.0, np.random.default_rng(3))
        b = rollout("markov", stats, train, 50, 1.0, np.random.default_rng(3))
        assert (a.active == b.active).all()


def test_predict_cut_by_the_rules_and_semi_markov():
    from conversation import conversation
    from multitrack.evaluate.baselines import BaselineStats, predict_cut
    from multitrack.sample.pairing import Pairing
    from multitrack.sample.switcher import RuleSettings, RulesSession, switch

    active = conversation(2, 300, 10, seed=4)
    pairing = Pairing.given([(), (0,), (1,)], 2)
    session = RulesSession(active, pairing, np.zeros(active.shape[1], int), 10.0)
    rules = RuleSettings(delay_s=0.5, min_shot_s=2.0)
    assert (predict_cut("rules", session, rules) == switch(active, pairing.camera_of_mic(), 0, 3, rules, 10)).all()
    transition = np.full((4, 4), 0.1)
    transition[1, 3] = 5.0  # from track 0 almost always to track 2
    stats = BaselineStats(0.0, 0.0, 0.1, transition / transition.sum(1, keepdims=True), np.array([2.0, 4.0]), 4)
    shown = predict_cut("semi_markov", session, stats=stats, rng=np.random.default_rng(0))
    runs = np.diff(np.concatenate([[0], np.flatnonzero(np.diff(shown)) + 1, [len(shown)]]))
    assert set(runs[:-1].tolist()) <= {20, 40} and set(np.unique(shown)) <= {0, 1, 2}
    after_wide = shown[np.flatnonzero(np.diff(shown)) + 1][shown[np.flatnonzero(np.diff(shown))] == 0]
    assert (after_wide == 2).mean() > 0.8
    with pytest.raises(ValueError, match="unknown cut predictor"):
        predict_cut("oracle", session)
