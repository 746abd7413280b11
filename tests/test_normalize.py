import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from multitrack.data.normalize import (
    STD_FLOOR,
    VALUE_FEATURES,
    NormStats,
    StatsAccumulator,
    fit_stats,
    load_stats,
    save_stats,
)
from multitrack.errors import DataError


def test_stats_pool_active_frames_of_all_tracks():
    values = np.zeros((2, 2, 7), np.float32)
    values[:, :, 0] = [[1.0, 99.0], [3.0, 99.0]]  # scale: track 2 is inactive, its 99s are no data
    values[:, 0, 1] = [0.5, 0.5]
    values[1, 1, 1] = -0.5
    active = np.array([[1, 0], [1, 1]])
    values[1, 1, 0] = 2.0
    stats = fit_stats(values, active)
    assert stats.mean[0] == pytest.approx(2.0)  # mean of 1, 3, 2
    assert stats.std[0] == pytest.approx(np.sqrt(2 / 3))
    assert stats.mean[1] == pytest.approx(0.5 / 3)
    assert stats.std[3] == STD_FLOOR["crop_left"]  # constant 0: floored, not 0


def test_apply_normalises_active_tracks_and_inverts():
    stats = NormStats(np.arange(7, dtype=np.float64), np.full(7, 2.0))
    values = np.full((1, 2, 7), 5.0, np.float32)
    normalized = stats.apply(values, np.array([[1, 0]]))
    assert normalized.dtype == np.float32
    assert normalized[0, 0].tolist() == [(5 - m) / 2 for m in range(7)]
    assert np.allclose(stats.invert(normalized[0, 0]), 5.0)


def test_apply_carries_inactive_tracks_within_each_timeline():
    # one value feature matters here: scale (mean 1, std 0.5); DEFAULT_VALUES scale 1.0 -> 0.0
    stats = NormStats(np.array([1.0, 0, 0, 0, 0, 0, 0]), np.array([0.5, 1, 1, 1, 1, 1, 1]))
    scale = np.array([2.0, 0.0, 0.0, 0.0, 3.0, 0.0])  # rows 0-2: timeline A, rows 3-5: timeline B
    active = np.array([[1], [0], [0], [0], [1], [0]])
    values = np.zeros((6, 1, 7), np.float32)
    values[:, 0, 0] = scale
    first = np.array([True, False, False, True, False, False])
    normalized = stats.apply(values, active, first)[:, 0, 0]
    # A: 2.0 -> 2.0 carried twice; B: not seen yet at row 3 -> default scale 1.0 (normalised 0),
    # never A's 2.0; then 3.0 -> 4.0 carried
    assert normalized.tolist() == [2.0, 2.0, 2.0, 0.0, 4.0, 4.0]
    assert stats.apply(values, active)[3, 0, 0] == 2.0  # without `first`, one timeline


finite = st.floats(-100, 100, width=32)


@settings(max_examples=50)
@given(
    values=arrays(np.float32, (12, 3, 7), elements=finite),
    active=arrays(np.int8, (12, 3), elements=st.integers(0, 1)),
    cut=st.integers(0, 12),
)
def test_streaming_fit_equals_one_shot_and_round_trips(values, active, cut):
    accumulator = StatsAccumulator()
    accumulator.update(values[:cut], active[:cut])
    accumulator.update(values[cut:], active[cut:])
    streamed, whole = accumulator.finish(), fit_stats(values, active)
    assert np.allclose(streamed.mean, whole.mean, atol=1e-6) and np.allclose(streamed.std, whole.std, rtol=1e-6)
    samples = values[active > 0].astype(np.float64)
    if len(samples):
        assert np.allclose(whole.mean, samples.mean(axis=0), atol=1e-6)
    restored = whole.invert(whole.apply(values, active))
    assert np.allclose(restored[active > 0], values[active > 0], atol=1e-3)


def test_save_and_load_round_trip(tmp_path):
    stats = NormStats(np.linspace(-1, 1, 7), np.linspace(0.1, 2, 7))
    save_stats(stats, tmp_path / "stats.json")
    loaded = load_stats(tmp_path / "stats.json")
    assert np.array_equal(loaded.mean, stats.mean) and np.array_equal(loaded.std, stats.std)
    assert set(loaded.to_dict()) == set(VALUE_FEATURES)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"scale": {"mean": 0}}', "expected mean and std"),
        (
            '{"scale": {"mean": 0, "std": 0}, '
            + ", ".join(f'"{n}": {{"mean": 0, "std": 1}}' for n in VALUE_FEATURES[1:])
            + "}",
            "std > 0",
        ),
    ],
)
def test_bad_stats_files_name_the_file(tmp_path, text, message):
    path = tmp_path / "stats.json"
    path.write_text(text)
    with pytest.raises(DataError, match=f"stats.json.*{message}"):
        load_stats(path)
