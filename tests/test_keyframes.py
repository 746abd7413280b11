"""Keyframe simplification: the fewest keys that reproduce a curve within tolerance."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from multitrack.generate.keyframes import is_constant, simplify_curve


def interpolate(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.interp(np.arange(len(values)), keys, values[keys])


def test_a_ramp_needs_two_keys():
    assert simplify_curve(np.linspace(1.0, 2.0, 50), 1e-6).tolist() == [0, 49]


def test_a_ramp_and_hold_needs_three():
    curve = np.concatenate([np.linspace(1.0, 1.5, 11), np.full(20, 1.5)])
    assert simplify_curve(curve, 1e-6).tolist() == [0, 10, 30]


def test_noise_below_tolerance_is_dropped():
    curve = 1.0 + 0.001 * np.sin(np.arange(40))
    assert simplify_curve(curve, 0.01).tolist() == [0, 39]
    assert len(simplify_curve(curve, 0.0001)) > 2


def test_grouped_values_share_keys():
    x = np.concatenate([np.zeros(10), np.linspace(0, 1, 10)])  # 0 up to frame 10, then a ramp
    y = np.linspace(0, 1, 20)  # straight
    keys = simplify_curve(np.stack([x, y], axis=1), np.array([1e-6, 1e-6]))
    assert keys.tolist() == [0, 10, 19]


def test_short_curves_keep_every_frame():
    assert simplify_curve(np.array([3.0]), 0.1).tolist() == [0]
    assert simplify_curve(np.array([3.0, 4.0]), 0.1).tolist() == [0, 1]


def test_is_constant():
    assert is_constant(np.array([1.0, 1.0005, 0.9995]), 0.001)
    assert not is_constant(np.array([1.0, 1.01]), 0.001)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=3, max_size=60), st.floats(0.001, 1.0))
def test_every_frame_stays_within_tolerance(values, tolerance):
    curve = np.array(values)
    keys = simplify_curve(curve, tolerance)
    assert keys[0] == 0 and keys[-1] == len(curve) - 1
    assert np.all(np.abs(interpolate(keys, curve) - curve) <= tolerance + 1e-9)
