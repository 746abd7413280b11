"""The evaluation plots: readable track labels, strips that grow with the tracks, curves from a log."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.image import imread

from multitrack.evaluate.metrics import Excerpt
from multitrack.evaluate.plots import MAX_TRACK_LABELS, plot_strips, plot_training_curves, track_ticks
from multitrack.features.vocabulary import Frames


def excerpt(n_tracks: int, n_frames: int = 50) -> Excerpt:
    active = np.zeros((n_frames, n_tracks), bool)
    active[:, 0] = True
    active[20:30, n_tracks - 1] = True  # the top track comes on once
    asset = np.where(active, 1 + np.arange(n_tracks) % 3, 0)
    values = np.zeros((n_frames, n_tracks, 7))
    values[..., 0] = np.where(active, 1.0, 0.0)
    return Excerpt(Frames(active, asset, values), fps=25.0, aspect_by_asset=np.ones(4))


def test_track_ticks_of_known_sizes():
    assert track_ticks(3) == [1, 2, 3]
    assert track_ticks(12) == list(range(1, 13))
    assert track_ticks(20) == [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert track_ticks(60) == [1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]


@given(st.integers(1, 500))
def test_track_ticks_stay_few_and_in_range(n_tracks):
    ticks = track_ticks(n_tracks)
    assert ticks[0] == 1 and ticks[-1] <= n_tracks
    assert len(ticks) <= MAX_TRACK_LABELS + 1  # V1 plus at most MAX_TRACK_LABELS multiples
    assert ticks == sorted(set(ticks))


def test_strips_grow_with_the_tracks(tmp_path):
    heights = {}
    for n_tracks in (2, 20):
        path = tmp_path / f"strip_{n_tracks}.png"
        plot_strips(path, [("editor", excerpt(n_tracks)), ("model, sample 1", excerpt(n_tracks))], "test")
        heights[n_tracks] = imread(path).shape[0]  # (height, width, RGBA)
    # 20 tracks × 0.13 in against the 1 in minimum, twice, at 90 dpi
    assert heights[20] - heights[2] == round(2 * (20 * 0.13 - 1.0) * 90)


def test_training_curves_need_a_loss_column_and_show_components(tmp_path):
    log = tmp_path / "metrics.csv"
    log.write_text("epoch,step,train/loss,val/loss\n0,0,2.0,\n0,1,1.5,\n0,1,,1.7\n")
    assert plot_training_curves(tmp_path / "curves.png", log)
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert imread(tmp_path / "curves.png").shape[1] == 9 * 90  # one panel: no components logged
    log.write_text("epoch,step,train/loss,train/asset,val/asset\n0,0,2.0,1.0,\n0,0,,,1.1\n")
    assert plot_training_curves(tmp_path / "parts.png", log)
    assert imread(tmp_path / "parts.png").shape[1] == 11 * 90  # a second panel for the components
    log.write_text("epoch,step,lr\n0,0,0.001\n")
    assert not plot_training_curves(tmp_path / "none.png", log)
    assert not (tmp_path / "none.png").exists()
