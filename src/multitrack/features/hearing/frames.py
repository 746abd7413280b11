"""Hops -> per-frame loudness, speech and heard at a timeline's exact rate.

Frame k plays source seconds [start + k/fps, start + (k+1)/fps). The edges are exact
fractions (29.97 is 30000/1001, never 29.97), taken to hop units on one common
denominator, so frame 100,000 of a 29.97 timeline falls on the same sample as frame 0
does. A frame's figure is the mean of the hops it covers, each weighted by its overlap
(an integral of the piecewise-constant hop values). A frame is heard when at least half of
it lies inside the media; its mean is then over that part; the rest get -90 dB, speech 0.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from multitrack.features.hearing.analyse import HOPS_PER_SECOND, Hops
from multitrack.features.schema import SILENCE_DB as FLOOR_DB  # the one -90 dB floor (the frame table's)

_EXACT_LIMIT = 2**62  # numerators past this fall back to float64 edges (not met in practice)


def frame_figures(
    hops: Hops, source_start: Fraction, n_frames: int, fps: Fraction, gain_db: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loudness_db float32[n], speech float32[n], heard int8[n]) for n_frames from source_start (s).

    loudness = 10*log10(mean power over the frame) + gain_db, floored at FLOOR_DB.
    """
    gain = np.broadcast_to(np.asarray(gain_db, dtype=np.float64), (n_frames,))
    n_hops = len(hops.power)
    lo, hi = _edges_in_hops(Fraction(source_start), n_frames, Fraction(fps))
    lo_in, hi_in = np.clip(lo, 0.0, n_hops), np.clip(hi, 0.0, n_hops)
    inside = hi_in - lo_in
    heard = (inside * 2 >= hi - lo) & (inside > 0)
    width = np.where(heard, inside, 1.0)
    power = _overlap_sum(hops.power, lo_in, hi_in)
    speech = _overlap_sum(hops.speech, lo_in, hi_in)
    with np.errstate(divide="ignore"):
        loudness = 10.0 * np.log10(np.maximum(power, 0.0) / width) + gain
    loudness = np.where(heard, np.maximum(loudness, FLOOR_DB), FLOOR_DB)
    speech = np.where(heard, np.clip(speech / width, 0.0, 1.0), 0.0)
    return loudness.astype(np.float32), speech.astype(np.float32), heard.astype(np.int8)


def _edges_in_hops(start: Fraction, n_frames: int, fps: Fraction) -> tuple[np.ndarray, np.ndarray]:
    """Frame edges in hop units (float64 from exact integers): (lo[n], hi[n])."""
    origin = start * HOPS_PER_SECOND
    step = Fraction(HOPS_PER_SECOND) / fps  # hops per frame
    denominator = origin.denominator * step.denominator // math.gcd(origin.denominator, step.denominator)
    first = origin.numerator * (denominator // origin.denominator)
    stride = step.numerator * (denominator // step.denominator)
    if max(abs(first), abs(first + stride * n_frames), denominator) < _EXACT_LIMIT:
        k = np.arange(n_frames + 1, dtype=np.int64)
        numerators = first + stride * k
        whole, rest = np.divmod(numerators, denominator)
        edges = whole.astype(np.float64) + rest.astype(np.float64) / denominator
    else:
        edges = float(origin) + float(step) * np.arange(n_frames + 1, dtype=np.float64)
    return edges[:-1], edges[1:]


def _overlap_sum(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Integral of the piecewise-constant hop values over [lo, hi] (hop units, within [0, n])."""
    if len(values) == 0:
        return np.zeros_like(lo)
    cumulative = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])

    def integral(at: np.ndarray) -> np.ndarray:
        index = np.minimum(np.floor(at).astype(np.int64), len(values) - 1)
        return cumulative[index] + (at - index) * values[index].astype(np.float64)

    return integral(hi) - integral(lo)
