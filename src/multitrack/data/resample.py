"""Resample a timeline's rows to one frame rate (`data.fps`) by sample-and-hold.

Output frame j starts at time j / fps_out; it takes the source frame on screen at that
instant, floor(j × fps_in / fps_out). No values are interpolated, so a cut stays a cut
and asset ids stay ids. Rates are exact fractions (NTSC is timebase × 1000/1001, see
../shared/docs/xmeml.md on `<rate>`), so 29.97 → 29.97 is the identity, not a slow drift.
`prepare` resamples each timeline to `data.fps`, `generate` a prompt to the model's rate
and the rollout back: both through `Resampler`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np

from multitrack.errors import DataError
from multitrack.features.table import TimelineArrays
from multitrack.features.vocabulary import Frames
from multitrack.timeline.model import Rate

_Rows = TypeVar("_Rows", TimelineArrays, Frames)  # frame arrays `Resampler.apply` takes rows of


def frame_rate(fps: float) -> Fraction:
    """The exact rate a float stands for: an NTSC rate (n × 1000/1001) when within 1e-3 of one."""
    nominal = round(Fraction(fps) * 1001 / 1000)  # the timebase an NTSC rate of fps would have
    ntsc = Rate(nominal, ntsc=True).fps_exact if nominal > 0 else None
    if ntsc is not None and abs(fps - float(ntsc)) < 1e-3 and abs(fps - nominal) > 1e-3:
        return ntsc
    return Fraction(fps).limit_denominator(1000)


def timeline_rate(entry: dict[str, Any]) -> Fraction | None:
    """A manifest timeline entry's rate, from `timebase` and `ntsc` when present, else `fps`."""
    if entry.get("timebase"):  # an xmeml timebase is a whole number (timeline.model.Rate)
        return Rate(int(entry["timebase"]), bool(entry.get("ntsc"))).fps_exact
    if entry.get("fps"):
        return frame_rate(float(entry["fps"]))
    return None


@dataclass(frozen=True)
class Resampler:
    """Which source row feeds each output row of one timeline.

    Holds only the rate ratio, not the row indices: prepare keeps one per timeline of
    the corpus at once, so their size must not grow with the timelines' lengths.
    """

    frames_in: int
    frames_out: int
    fps_out: float | None  # None: rate unknown (no manifest)
    ratio: Fraction | None = None  # rate_in / rate_out; None keeps every row

    @classmethod
    def for_timeline(cls, entry: dict[str, Any], frames_in: int, target_fps: float | None) -> Resampler:
        rate_in = timeline_rate(entry)
        if target_fps is None:
            return cls(frames_in, frames_in, float(rate_in) if rate_in is not None else None)
        if rate_in is None:
            raise DataError(f"timeline {entry.get('id')!r}: no frame rate in its manifest entry, which data.fps needs")
        return cls.between(frames_in, rate_in, frame_rate(target_fps))

    @classmethod
    def between(cls, frames_in: int, rate_in: Fraction, rate_out: Fraction, frames_out: int | None = None) -> Resampler:
        """`frames_out` rows at rate_out from frames_in rows at rate_in; by default the output
        frames that start before the source ends (j / rate_out < frames_in / rate_in)."""
        if frames_out is None:
            frames_out = frames_in if rate_out == rate_in else math.ceil(frames_in * rate_out / rate_in)
        if rate_out == rate_in and frames_out == frames_in:
            return cls(frames_in, frames_in, float(rate_out))
        return cls(frames_in, frames_out, float(rate_out), rate_in / rate_out)

    @property
    def source_rows(self) -> np.ndarray | None:
        """(frames_out,) int64: floor(j × rate_in / rate_out), in exact integer arithmetic."""
        if self.ratio is None:
            return None
        return np.arange(self.frames_out, dtype=np.int64) * self.ratio.numerator // self.ratio.denominator

    def apply(self, arrays: _Rows) -> _Rows:
        rows = self.source_rows
        if rows is None:
            return arrays
        return replace(arrays, active=arrays.active[rows], asset=arrays.asset[rows], values=arrays.values[rows])
