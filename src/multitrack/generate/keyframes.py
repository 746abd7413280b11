"""Per-frame parameter values -> the fewest keyframes that stay within a tolerance.

Ramer-Douglas-Peucker on a frame-indexed curve, with the error measured vertically (the
value a linear interpolation between two kept keys gives at a frame, against the value
wanted there; ../shared/docs/xmeml.md §7: Premiere interpolates motion keys linearly). A group of
parameters that share keyframes (Basic Motion's centre, one `<keyframe>` per point) is
simplified together: a frame is kept if any member is out of tolerance there.
"""

from __future__ import annotations

import numpy as np


def simplify_curve(values: np.ndarray, tolerance: np.ndarray | float) -> np.ndarray:
    """Indices of the frames to keep as keys (always the first and the last).

    values: (n,) or (n, d) per-frame values; tolerance: scalar or (d,) allowed absolute error.
    Interpolating linearly between the kept frames reproduces every frame within tolerance.
    """
    curve = np.asarray(values, dtype=np.float64).reshape(len(values), -1)  # (n, d)
    allowed = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), curve.shape[1:])
    n = len(curve)
    if n <= 2:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[[0, n - 1]] = True
    spans = [(0, n - 1)]
    while spans:
        first, last = spans.pop()
        if last - first < 2:
            continue
        worst, excess = _worst_frame(curve, first, last, allowed)
        if excess > 1.0:
            keep[worst] = True
            spans.extend([(first, worst), (worst, last)])
    return np.flatnonzero(keep)


def _worst_frame(curve: np.ndarray, first: int, last: int, allowed: np.ndarray) -> tuple[int, float]:
    """The interior frame farthest from the chord first..last, and its error / tolerance."""
    inside = np.arange(first + 1, last)
    fraction = ((inside - first) / (last - first))[:, None]  # (m, 1)
    chord = curve[first] + fraction * (curve[last] - curve[first])  # (m, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(curve[inside] - chord) / allowed  # (m, d)
    ratio = np.nan_to_num(ratio, nan=0.0, posinf=np.inf).max(axis=1)  # 0/0: exact and allowed 0
    index = int(ratio.argmax())
    return int(inside[index]), float(ratio[index])


def is_constant(values: np.ndarray, tolerance: np.ndarray | float) -> bool:
    """True when every frame is within tolerance of the first (one static value suffices)."""
    curve = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    return bool((np.abs(curve - curve[0]) <= tolerance).all())
