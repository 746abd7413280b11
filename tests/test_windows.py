import pickle

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from multitrack.data.windows import WindowDataset, check_window, split_windows, timeline_windows
from multitrack.errors import ConfigError
from multitrack.features.vocabulary import SINCE_ON_TOP_MAX


def test_full_windows_then_a_padded_tail():
    # 10 frames, L=4 (5-frame windows), stride 2: full windows at 0, 2, 4 predict up to
    # frame 8, so a tail at 6 holds frames 6..9.
    assert timeline_windows(10, 4, 2).tolist() == [[0, 5], [2, 5], [4, 5], [6, 4]]


def test_exact_fit_has_no_tail():
    assert timeline_windows(9, 4, 2).tolist() == [[0, 5], [2, 5], [4, 5]]


@pytest.mark.parametrize(("frames", "expected"), [(0, []), (1, []), (2, [[0, 2]]), (3, [[0, 3]]), (5, [[0, 5]])])
def test_short_timelines(frames, expected):
    assert timeline_windows(frames, 4, 4).tolist() == expected


def test_stride_above_length_is_refused():
    with pytest.raises(ConfigError, match=r"window.stride: must be between 1 and window.length \(4\), got 5"):
        check_window(4, 5)


@given(frames=st.integers(0, 300), length=st.integers(1, 40), data=st.data())
def test_windows_cover_every_target_frame(frames, length, data):
    stride = data.draw(st.integers(1, length))
    windows = timeline_windows(frames, length, stride)
    starts, valid = windows[:, 0], windows[:, 1]
    assert ((valid >= 2) & (valid <= length + 1)).all()  # every window predicts at least one frame
    assert (starts + valid <= frames).all()
    assert (np.diff(starts) == stride).all()
    assert (valid[:-1] == length + 1).all()  # only the last window may be short
    covered = np.zeros(frames, bool)
    for start, count in windows:
        covered[start + 1 : start + count] = True  # targets of the window
    assert covered[1:].all()
    if len(windows) > 1:  # the last window is needed: the one before stops short of the end
        assert starts[-2] + valid[-2] < frames


def test_split_windows_shift_by_row_offset():
    windows = split_windows(np.array([0, 3]), np.array([3, 7]), length=4, stride=4)
    assert windows.tolist() == [[0, 3], [3, 5], [7, 3]]


def _split_dir(tmp_path, rows=7, tracks=2):
    active = (np.arange(rows * tracks).reshape(rows, tracks) % 2).astype(np.uint8)
    asset = np.arange(rows * tracks, dtype=np.int16).reshape(rows, tracks)
    values = np.arange(rows * tracks * 7, dtype=np.float32).reshape(rows, tracks, 7)
    since_on_top = np.arange(rows * tracks, dtype=np.int16).reshape(rows, tracks) + 100
    cuts_from_top = np.arange(rows * tracks, dtype=np.int16).reshape(rows, tracks) + 200
    arrays = {
        "active": active,
        "asset": asset,
        "values": values,
        "since_on_top": since_on_top,
        "cuts_from_top": cuts_from_top,
    }
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
    np.save(tmp_path / "windows.npy", np.array([[0, 5], [4, 3]], np.int64))
    return active, asset, values


def test_dataset_items_are_padded_and_masked(tmp_path):
    active, asset, values = _split_dir(tmp_path)
    dataset = WindowDataset(tmp_path, length=4)
    assert len(dataset) == 2
    full, tail = dataset[0], dataset[1]
    assert full["active"].shape == (5, 2) and full["active"].dtype == torch.float32
    assert full["asset"].shape == (5, 2) and full["asset"].dtype == torch.int64
    assert full["values"].shape == (5, 2, 7) and full["values"].dtype == torch.float32
    assert full["mask"].tolist() == [True] * 5
    assert tail["mask"].tolist() == [True, True, True, False, False]
    assert np.array_equal(tail["asset"][:3].numpy(), asset[4:7])
    assert np.array_equal(tail["values"][:3].numpy(), values[4:7])
    assert not tail["values"][3:].any() and not tail["active"][3:].any()
    # frames since on top come as prepared (counted over the whole timeline), padding "never"
    assert full["since_on_top"].dtype == torch.int64
    assert tail["since_on_top"].tolist() == [
        [108, 109],
        [110, 111],
        [112, 113],
        [SINCE_ON_TOP_MAX] * 2,
        [SINCE_ON_TOP_MAX] * 2,
    ]
    assert tail["cuts_from_top"].tolist() == [[208, 209], [210, 211], [212, 213], [0, 0], [0, 0]]


def test_dataset_pickles_without_its_memory_maps(tmp_path):
    _split_dir(tmp_path)
    dataset = WindowDataset(tmp_path, length=4)
    dataset[0]  # opens the maps
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone._arrays is None
    assert torch.equal(clone[1]["values"], dataset[1]["values"])
