"""The model's next-frame predictions over whole timelines (teacher forcing).

Each timeline is cut into windows of L frames that overlap by half: a window starting at
row s predicts rows s+1 … s+L, and each row is taken from the window that gives it the most
context (at least L/2 frames, except near the timeline's start), so every row is predicted
once, as in a rollout that has the true past in its window. Windows of all timelines are
batched; padding sits after the real frames, which a causal model never looks at.

What each frame remembers of its timeline (frames since each track was on top, the cuts so
far from the track on top) comes with the frames, counted from each timeline's start: the
prepared folder stores it (`since_on_top.npy`, `cuts_from_top.npy`), and for other frames
`multitrack.features.vocabulary` counts it.
"""

from __future__ import annotations

import numpy as np
import torch

from multitrack.data.normalize import NormStats
from multitrack.evaluate.metrics import NextFrame
from multitrack.model.transformer import MultitrackTransformer

BATCH_WINDOWS = 32


def window_plan(frames: int, length: int) -> list[tuple[int, int, int]]:
    """(start, first row kept, last row kept + 1) of the windows covering rows 1..frames-1."""
    half = max(1, length // 2)
    plan = []
    start, next_row = 0, 1
    while next_row < frames:
        stop = min(start + length + 1, frames)  # a window at `start` predicts rows up to start + length
        plan.append((start, next_row, stop))
        next_row = stop
        start += half
    return plan


@torch.no_grad()
def predict_timelines(
    model: MultitrackTransformer,
    stats: NormStats,
    active: np.ndarray,
    asset: np.ndarray,
    values: np.ndarray,
    since_on_top: np.ndarray,
    cuts_from_top: np.ndarray,
    row_offsets: list[int],
    frame_counts: list[int],
) -> NextFrame:
    """The model's guess at every row from the rows before it (first rows: the empty frame guess).

    active (N, T) uint8, asset (N, T) folded classes, values (N, T, 7) *normalised*,
    since_on_top and cuts_from_top (N, T), each counted from its timeline's start, all as the
    prepared arrays hold them; returned values are de-normalised frame-table units.
    """
    model.eval()
    n_rows, n_tracks = active.shape
    frame_arrays = (active, asset, values, since_on_top, cuts_from_top)
    out = _empty_prediction(n_rows, n_tracks)
    jobs = [
        (offset + start, offset + keep_from, offset + keep_to)
        for offset, frames in zip(row_offsets, frame_counts, strict=True)
        for start, keep_from, keep_to in window_plan(frames, model.window_length)
    ]
    for first in range(0, len(jobs), BATCH_WINDOWS):
        _predict_batch(model, stats, frame_arrays, jobs[first : first + BATCH_WINDOWS], out)
    return out


def _empty_prediction(n_rows: int, n_tracks: int) -> NextFrame:
    return NextFrame(
        active_prob=np.zeros((n_rows, n_tracks)),
        asset_pred=np.ones((n_rows, n_tracks), dtype=np.int64),
        asset_keep_prob=np.ones((n_rows, n_tracks)),
        values=np.zeros((n_rows, n_tracks, 7)),
        visible_prob=np.eye(1, n_tracks + 1).repeat(n_rows, axis=0),  # first rows: "nothing on screen"
        asset_true_prob=np.ones((n_rows, n_tracks)),  # first rows are never scored
    )


def _predict_batch(
    model: MultitrackTransformer,
    stats: NormStats,
    frame_arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    jobs: list[tuple[int, int, int]],
    out: NextFrame,
) -> None:
    active, asset, values, since_on_top, cuts = frame_arrays
    length = model.window_length
    batch = len(jobs)
    n_tracks = active.shape[1]
    window_active = torch.zeros(batch, length, n_tracks)
    window_asset = torch.zeros(batch, length, n_tracks, dtype=torch.long)
    window_values = torch.zeros(batch, length, n_tracks, 7)
    window_since = torch.zeros(batch, length, n_tracks, dtype=torch.long)
    window_cuts = torch.zeros(batch, length, n_tracks, dtype=torch.long)
    for b, (start, _, keep_to) in enumerate(jobs):
        n = keep_to - 1 - start  # input rows start .. keep_to - 2 predict rows up to keep_to - 1
        window_active[b, :n] = torch.as_tensor(active[start : start + n], dtype=torch.float32)
        window_asset[b, :n] = torch.as_tensor(asset[start : start + n].astype(np.int64))
        window_values[b, :n] = torch.as_tensor(values[start : start + n], dtype=torch.float32)
        window_since[b, :n] = torch.as_tensor(since_on_top[start : start + n].astype(np.int64))
        window_cuts[b, :n] = torch.as_tensor(cuts[start : start + n].astype(np.int64))
    prediction = model(model.inputs(window_active, window_asset, window_values, window_since, window_cuts))
    active_prob = torch.sigmoid(prediction.active_logits).numpy()  # (B, L, T)
    # which track is on top next: the model's own head, not a product of independent tracks
    visible_prob = torch.softmax(prediction.visible_logits, dim=-1).numpy()  # (B, L, T + 1)
    asset_prob = torch.softmax(prediction.asset_logits, dim=-1).numpy()  # (B, L, T, K)
    predicted_values = stats.invert(prediction.values.numpy().astype(np.float64))  # (B, L, T, 7)
    assert out.asset_true_prob is not None  # _empty_prediction makes it
    for b, (start, keep_from, keep_to) in enumerate(jobs):
        rows = np.arange(keep_from, keep_to)
        positions = rows - start - 1  # output at position p predicts row start + p + 1
        out.active_prob[rows] = active_prob[b, positions]
        out.visible_prob[rows] = visible_prob[b, positions]
        out.asset_pred[rows] = asset_prob[b, positions, :, 1:].argmax(axis=-1) + 1
        out.asset_keep_prob[rows] = _class_probability(asset_prob[b, positions], asset[rows - 1])
        # the softmax over all K classes, as trained (class 0 included): its log loss on active
        # tracks is the asset cross-entropy of training
        out.asset_true_prob[rows] = _class_probability(asset_prob[b, positions], asset[rows])
        out.values[rows] = predicted_values[b, positions]


def _class_probability(asset_prob: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """asset_prob (n, T, K), classes (n, T) -> (n, T) the probability of each given class."""
    index = np.asarray(classes, dtype=np.int64)[..., None]  # (n, T, 1)
    return np.take_along_axis(asset_prob, index, axis=-1)[..., 0]
