"""Resample a timeline's rows to one frame rate (`data.fps`) by sample-and-hold.

Output frame j starts at time j / fps_out; it takes the source frame on screen at that
instant, floor(j × fps_in / fps_out). No values are interpolated, so a cut stays a cut
and asset ids stay ids. Rates are exact fractions (NTSC is timebase × 1000/1001, see
../shared/docs/xmeml.md on `<rate>`), so 29.97 → 29.97 is the identity, not a slow drift.
`prepare` resamples each timeline to `data.fps`, `generate` a prompt to the model's rate
and the rollout back: both through `Resampler`.

Audio (the frame table's audio group, `features.table.AudioArrays`) is aggregated over the
source frames each output frame spans, [floor(j·r), floor((j+1)·r)) with r = fps_in / fps_out
(at least the one it starts on, so upsampling holds like video): loudness as a power mean
(10·log10 of the mean of 10^(dB/10)), speech as a mean, heard as a minimum (a frame is heard
only if all of it was), active as a maximum (a clip plays somewhere in it); asset and gain are
sampled and held like video's values, from the frame on at the output frame's start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np

from multitrack.errors import DataError
from multitrack.features.schema import SILENCE_DB
from multitrack.features.table import AudioArrays, TimelineArrays
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
        resampled = replace(arrays, active=arrays.active[rows], asset=arrays.asset[rows], values=arrays.values[rows])
        if isinstance(resampled, TimelineArrays) and resampled.audio is not None:
            resampled.audio = self.apply_audio(resampled.audio)
        return resampled

    def apply_audio(self, audio: AudioArrays) -> AudioArrays:
        """The audio group at the output rate (module docstring); (N_out, A) each."""
        rows = self.source_rows
        if rows is None or len(audio.active) == 0:
            return audio
        starts = np.minimum(rows, len(audio.active) - 1)  # (N_out,)
        power = np.power(10.0, audio.loudness_db.astype(np.float64) / 10.0)  # (N, A)
        counts = _span_lengths(starts, len(audio.active))[:, None]  # (N_out, 1)
        mean_power = np.add.reduceat(power, starts, axis=0) / counts
        with np.errstate(divide="ignore"):
            loudness = np.maximum(10.0 * np.log10(mean_power), SILENCE_DB)
        speech = np.add.reduceat(audio.speech.astype(np.float64), starts, axis=0) / counts
        return AudioArrays(
            active=np.maximum.reduceat(audio.active, starts, axis=0),
            asset=audio.asset[starts],
            gain_db=audio.gain_db[starts],
            loudness_db=loudness.astype(np.float32),
            speech=speech.astype(np.float32),
            heard=np.minimum.reduceat(audio.heard, starts, axis=0),
        )


def _span_lengths(starts: np.ndarray, frames_in: int) -> np.ndarray:
    """Rows `np.ufunc.reduceat` reduces for each start: up to the next start, or 1 where the next
    start is not later (upsampling: the row itself); the last runs to the end."""
    following = np.append(starts[1:], frames_in)
    return np.where(following > starts, following - starts, 1).astype(np.float64)
