"""Teacher-forced next-frame predictions over whole timelines."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from multitrack.config import load_config
from multitrack.data.normalize import NormStats
from multitrack.evaluate.predict import predict_timelines, window_plan
from multitrack.features.vocabulary import cuts_from_top, since_on_top
from multitrack.model.inputs import count_cuts_from_top, frames_since_on_top
from multitrack.model.transformer import MultitrackTransformer

STATS = NormStats(np.zeros(7), np.ones(7))


def test_window_plan_predicts_every_row_once_with_half_a_window_of_context():
    plan = window_plan(frames=30, length=8)
    rows = [row for _, keep_from, keep_to in plan for row in range(keep_from, keep_to)]
    assert rows == list(range(1, 30))
    for start, keep_from, keep_to in plan:
        assert keep_to - 1 <= start + 8  # within the window's reach
        if start > 0:
            assert keep_from - 1 - start >= 4  # at least L/2 frames before the predicted row's input
    assert window_plan(frames=1, length=8) == []


@pytest.fixture(scope="module")
def model(tiny_config):
    torch.manual_seed(0)
    config = load_config(tiny_config)
    return MultitrackTransformer(config.model, 2, 4, window_length=8).eval()


def arrays(n: int, seed: int):
    """One timeline's frames and, as prepare stores them, what they remember from its start."""
    rng = np.random.default_rng(seed)
    active = (rng.random((n, 2)) < 0.6).astype(np.uint8)
    asset = np.where(active, rng.integers(1, 4, (n, 2)), 0)
    values = np.where(active[..., None], rng.normal(size=(n, 2, 7)), 0.0).astype(np.float32)
    return active, asset, values, since_on_top(active), cuts_from_top(active)


def _with_random_heads(model: MultitrackTransformer) -> MultitrackTransformer:
    """A copy whose heads read what the layers compute (zero heads ignore it, and with it the
    timeline's history)."""
    model = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for head in (
            model.head,
            model.visible_head,
            model.recency_head,
            model.next_head,
            model.move_head,
            model.change_head,
        ):
            head.weight.copy_(torch.randn(head.weight.shape, generator=generator) * 0.3)
    return model


def test_rows_match_a_direct_forward_pass(model):
    model = _with_random_heads(model)
    active, asset, values, *history = arrays(20, 0)
    prediction = predict_timelines(model, STATS, active, asset, values, *history, [0], [20])
    with torch.no_grad():
        # row 12 comes from the window starting at 4 (plan for L = 8): inputs rows 4..11, with
        # the frames since on top and the cuts counted from the timeline's first row
        on = torch.as_tensor(active[None, :12], dtype=torch.float32)
        since, cuts = frames_since_on_top(on)[:, 4:], count_cuts_from_top(on)[:, 4:]
        window = (on[:, 4:], torch.as_tensor(asset[None, 4:12]), torch.as_tensor(values[None, 4:12]))
        out = model(model.inputs(*window, since, cuts))
    np.testing.assert_allclose(prediction.active_prob[12], torch.sigmoid(out.active_logits[0, -1]).numpy(), atol=1e-6)
    np.testing.assert_allclose(prediction.values[12], out.values[0, -1].numpy(), atol=1e-5)
    asset_prob = torch.softmax(out.asset_logits[0, -1], -1).numpy()
    np.testing.assert_allclose(prediction.asset_keep_prob[12], asset_prob[[0, 1], asset[11]], atol=1e-6)
    # scored against the truth of row 12 itself, over all K classes as trained
    np.testing.assert_allclose(prediction.asset_true_prob[12], asset_prob[[0, 1], asset[12]], atol=1e-6)
    assert (prediction.asset_pred >= 1).all()
    visible_prob = torch.softmax(out.visible_logits[0, -1], -1).numpy()
    np.testing.assert_allclose(prediction.visible_prob[12], visible_prob, atol=1e-6)


def test_an_untrained_model_scores_the_true_asset_as_persistence_would(model):
    # the heads start at zero, so the only asset logit is the copy bonus b on the current
    # class: p(same class) = e^b / (e^b + K - 1), any other class 1 / (e^b + K - 1), K = 4
    active, asset, values, *history = arrays(20, 3)
    prediction = predict_timelines(model, STATS, active, asset, values, *history, [0], [20])
    bonus = np.exp(model.copy_asset.detach().numpy())  # (T,)
    expected = np.where(asset[1:] == asset[:-1], bonus, 1.0) / (bonus + 3)
    np.testing.assert_allclose(prediction.asset_true_prob[1:], expected, rtol=1e-5)


def test_timelines_do_not_see_each_other(model):
    a, b = arrays(10, 1), arrays(12, 2)
    joined = [np.concatenate([x, y]) for x, y in zip(a, b, strict=True)]
    together = predict_timelines(model, STATS, *joined, [0, 10], [10, 12])
    alone = predict_timelines(model, STATS, *b, [0], [12])
    np.testing.assert_allclose(together.active_prob[11:], alone.active_prob[1:], atol=1e-6)
    np.testing.assert_allclose(together.visible_prob.sum(axis=1)[1:], 1.0, atol=1e-6)
