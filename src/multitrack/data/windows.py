"""Windows over the prepared arrays: pure index arithmetic, and a lazy Dataset.

A window holds L+1 frames (L = `window.length`): the model reads frames 0..L-1 and
predicts 1..L. Windows start every `stride` frames; when the last full window stops
short of a timeline's last frame, one tail window starting a stride later holds the rest,
padded to L+1 frames and masked. With stride <= L every frame after a timeline's first
is the target of at least one window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from multitrack.data.prepared import FRAME_ARRAYS
from multitrack.errors import ConfigError
from multitrack.features.vocabulary import SINCE_ON_TOP_MAX


def check_window(length: int, stride: int) -> None:
    if length < 1:
        raise ConfigError(f"window.length: must be >= 1, got {length}")
    if not 1 <= stride <= length:
        # A stride above L would leave frames no window predicts.
        raise ConfigError(f"window.stride: must be between 1 and window.length ({length}), got {stride}")


def timeline_windows(frames: int, length: int, stride: int) -> np.ndarray:
    """(W, 2) int64 rows of (first frame, valid frames) for one timeline of `frames` frames.

    A timeline of one frame has no next frame to predict, so no window.
    """
    check_window(length, stride)
    span = length + 1
    if frames < 2:
        return np.zeros((0, 2), np.int64)
    full_starts = np.arange(0, frames - span + 1, stride, dtype=np.int64)  # windows of span frames
    starts = full_starts.tolist()
    valid = [span] * len(starts)
    last_target = full_starts[-1] + length if len(full_starts) else 0  # last frame predicted so far
    if last_target < frames - 1:
        tail_start = full_starts[-1] + stride if len(full_starts) else 0
        starts.append(int(tail_start))
        valid.append(int(frames - tail_start))
    return np.stack([np.array(starts, np.int64), np.array(valid, np.int64)], axis=1)


def split_windows(row_offsets: np.ndarray, frames: np.ndarray, length: int, stride: int) -> np.ndarray:
    """(W, 2) windows over a split's concatenated rows: timeline windows shifted by their row offset."""
    parts = [np.zeros((0, 2), np.int64)]
    for offset, count in zip(row_offsets.tolist(), frames.tolist(), strict=True):
        windows = timeline_windows(count, length, stride)
        windows[:, 0] += offset
        parts.append(windows)
    return np.concatenate(parts, axis=0)


class WindowDataset(Dataset[dict[str, torch.Tensor]]):
    """Windows of one prepared split, read lazily from memory-mapped .npy files.

    The arrays are opened on first access, so the dataset pickles cheaply into
    DataLoader workers and each worker maps the files itself.
    """

    def __init__(self, split_dir: str | Path, length: int):
        self.split_dir = Path(split_dir)
        self.length = length
        self.windows = np.load(self.split_dir / "windows.npy")  # (W, 2): small, kept in memory
        self._arrays: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.windows)

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_arrays": None}  # memory maps are reopened in the worker

    def _open(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = {name: np.load(self.split_dir / f"{name}.npy", mmap_mode="r") for name in FRAME_ARRAYS}
        return self._arrays

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        arrays = self._open()
        first_row, valid = (int(x) for x in self.windows[index])
        rows = slice(first_row, first_row + valid)
        span = self.length + 1
        tracks = arrays["active"].shape[1]
        active = np.zeros((span, tracks), np.float32)
        asset = np.zeros((span, tracks), np.int64)
        values = np.zeros((span, tracks, arrays["values"].shape[2]), np.float32)
        active[:valid] = arrays["active"][rows]
        asset[:valid] = arrays["asset"][rows]
        values[:valid] = arrays["values"][rows]
        # padding rows count on as if no track were on top again (never read: causal, masked)
        since_on_top = np.full((span, tracks), SINCE_ON_TOP_MAX, np.int64)
        since_on_top[:valid] = arrays["since_on_top"][rows]
        cuts_from_top = np.zeros((span, tracks), np.int64)
        cuts_from_top[:valid] = arrays["cuts_from_top"][rows]
        mask = np.arange(span) < valid  # True = a real frame; the tail is padding
        return {
            "active": torch.from_numpy(active),  # (L+1, T)
            "asset": torch.from_numpy(asset),  # (L+1, T)
            "values": torch.from_numpy(values),  # (L+1, T, 7)
            "since_on_top": torch.from_numpy(since_on_top),  # (L+1, T): over the whole timeline
            "cuts_from_top": torch.from_numpy(cuts_from_top),  # (L+1, T): over the whole timeline
            "mask": torch.from_numpy(mask),  # (L+1,)
        }
