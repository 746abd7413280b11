"""Normalization statistics for the 7 continuous features: fit, apply, invert, save, load.

Statistics are pooled per parameter over the *active* frames of every track of the
training split (DESIGN.md §3): an inactive track holds 0 by convention, which is no
measurement. Fitting streams timeline by timeline (Chan et al.'s parallel update of
count, mean and sum of squared deviations), so memory does not grow with the corpus.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from multitrack.errors import DataError
from multitrack.features.schema import VALUE_FEATURES  # the 7 continuous features, in column order

# A parameter that never varies in the training split has std 0; dividing by it would blow
# any other value up. The floor is 1% of each feature's natural range: scale and position
# are fractions of the frame (~1), crops are percent (0..100).
STD_FLOOR = {
    "scale": 0.01,
    "pos_x": 0.01,
    "pos_y": 0.01,
    "crop_left": 1.0,
    "crop_right": 1.0,
    "crop_top": 1.0,
    "crop_bottom": 1.0,
}


# The geometry of a clip Premiere places untouched: full width, centred, uncropped
# (frame-table units, DESIGN.md §2). A track never seen yet is expected to appear like this.
DEFAULT_VALUES = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])


@dataclass(frozen=True)
class NormStats:
    """Per-feature mean and std (floored), each of shape (7,) in VALUE_FEATURES order."""

    mean: np.ndarray
    std: np.ndarray

    def apply(self, values: np.ndarray, active: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
        """Normalised float32 values of consecutive frames (N, T, 7), as the model reads them.

        Where a track is inactive it holds the geometry it last had while active in the same
        timeline, or DEFAULT_VALUES before its first active frame: the model then knows where
        a track would come back (a multicam angle keeps its framing between its shots) even
        when it was last seen before the window it reads. `first` (N,) marks the first row of
        each timeline when several are concatenated (None: one timeline).
        """
        normalized = ((values - self.mean) / self.std).astype(np.float32)  # (N, T, 7)
        default = ((DEFAULT_VALUES - self.mean) / self.std).astype(np.float32)  # (7,)
        return carry_inactive(normalized, np.asarray(active) > 0, default, first)

    def invert(self, normalized: np.ndarray) -> np.ndarray:
        """Frame-table units from normalised values (..., 7); the caller masks inactive tracks."""
        return (normalized * self.std + self.mean).astype(np.float32)

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {name: {"mean": float(self.mean[i]), "std": float(self.std[i])} for i, name in enumerate(VALUE_FEATURES)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "stats") -> NormStats:
        try:
            mean = [float(raw[name]["mean"]) for name in VALUE_FEATURES]
            std = [float(raw[name]["std"]) for name in VALUE_FEATURES]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"{where}: expected mean and std for each of {', '.join(VALUE_FEATURES)}: {exc!r}"
            ) from None
        if not all(math.isfinite(v) for v in mean + std) or min(std) <= 0:
            raise DataError(f"{where}: statistics must be finite with std > 0")
        return cls(np.array(mean, np.float64), np.array(std, np.float64))


class StatsAccumulator:
    """Streaming per-feature mean/variance over active track-frames."""

    def __init__(self) -> None:
        self.count = 0
        self.mean = np.zeros(len(VALUE_FEATURES), np.float64)
        self.m2 = np.zeros(len(VALUE_FEATURES), np.float64)  # sum of squared deviations

    def update(self, values: np.ndarray, active: np.ndarray) -> None:
        """Add one timeline: values (N, T, 7) in table units, active (N, T)."""
        samples = values[active > 0].astype(np.float64)  # (n, 7): one row per active track-frame
        n = samples.shape[0]
        if n == 0:
            return
        batch_mean = samples.mean(axis=0)
        batch_m2 = ((samples - batch_mean) ** 2).sum(axis=0)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + batch_m2 + delta**2 * (self.count * n / total)
        self.count = total

    def finish(self) -> NormStats:
        """Population statistics; std floored (STD_FLOOR), mean 0 / std at the floor if nothing was active."""
        variance = self.m2 / self.count if self.count else np.zeros_like(self.m2)
        floor = np.array([STD_FLOOR[name] for name in VALUE_FEATURES])
        return NormStats(self.mean.copy(), np.maximum(np.sqrt(variance), floor))


def carry_inactive(
    values: np.ndarray, active: np.ndarray, default: np.ndarray, first: np.ndarray | None = None
) -> np.ndarray:
    """values (N, T, 7) with each inactive (N, T) entry replaced by the track's values at its
    last active row of the same timeline, or `default` (7,) before any; first (N,) as in apply."""
    n_rows, n_tracks = active.shape
    rows = np.arange(n_rows)[:, None]  # (N, 1)
    last_active = np.maximum.accumulate(np.where(active, rows, -1), axis=0)  # (N, T)
    starts = np.zeros(n_rows, dtype=bool) if first is None else np.asarray(first, dtype=bool)
    timeline_start = np.maximum.accumulate(np.where(starts, np.arange(n_rows), 0))[:, None]  # (N, 1)
    seen = last_active >= timeline_start  # (N, T): active at some row of this timeline up to here
    carried = values[np.maximum(last_active, 0), np.arange(n_tracks)[None, :]]  # (N, T, 7)
    return np.where(seen[..., None], carried, default).astype(values.dtype)


def fit_stats(values: np.ndarray, active: np.ndarray) -> NormStats:
    """Statistics of one array pair (N, T, 7) / (N, T): the in-memory form of StatsAccumulator."""
    accumulator = StatsAccumulator()
    accumulator.update(values, active)
    return accumulator.finish()


def save_stats(stats: NormStats, path: str | Path) -> None:
    Path(path).write_text(json.dumps(stats.to_dict(), indent=2) + "\n")


def load_stats(path: str | Path) -> NormStats:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except OSError as exc:
        raise DataError(f"{path}: cannot read normalization statistics: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a mapping of feature statistics")
    return NormStats.from_dict(raw, where=str(path))
