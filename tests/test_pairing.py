"""Pairing cameras and mics (sample/pairing.py): from an edit or prompt, from scratch audio, by convention."""

from __future__ import annotations

import numpy as np

from conversation import conversation
from multitrack.sample.pairing import Pairing, infer_from_scratch, infer_from_shown, most_common_convention
from multitrack.sample.switcher import RuleSettings, switch


def test_the_wide_is_the_camera_paired_to_none_or_all() -> None:
    assert Pairing.given([(0,), (), (1,)], 2).wide == 1
    assert Pairing.given([(0,), (0, 1), (1,)], 2).wide == 1
    assert Pairing.given([(0,), (1,)], 2).wide is None
    assert Pairing.given([(1,), (), (0,)], 2).camera_of_mic().tolist() == [2, 0]


def test_inferred_from_an_edit_with_shuffled_cameras() -> None:
    active = conversation(3, 900, 10, seed=5)
    truth = Pairing.given([(2,), (0,), (), (1,)], 3)  # the wide on the third track
    shown = switch(active, truth.camera_of_mic(), truth.wide, 4, RuleSettings(), 10)
    found = infer_from_shown(active, shown, 4)
    assert found is not None and found.mics == truth.mics and found.wide == 2


def test_nothing_to_infer_from_silence() -> None:
    assert infer_from_shown(np.zeros((2, 100), bool), np.zeros(100, int), 3) is None


def test_inferred_from_scratch_audio() -> None:
    rng = np.random.default_rng(0)
    active = conversation(2, 600, 25, seed=2)
    voice = np.where(active, -20.0, -70.0) + rng.normal(0, 1, active.shape)  # (2, N) dB
    power = 10 ** (voice / 10)
    near = [10 * np.log10(power[0] + 0.06 * power[1]), 10 * np.log10(0.06 * power[0] + power[1])]
    wide = 10 * np.log10(0.3 * power[0] + 0.3 * power[1])
    scratch = np.stack([near[1], wide, near[0]])  # V1 near speaker 1, V2 the wide, V3 near speaker 0
    found = infer_from_scratch(active, scratch, np.array([True, True, True]))
    assert found is not None and found.mics == ((1,), (), (0,))
    assert infer_from_scratch(active, scratch, np.array([True, False, False])) is None


def test_most_common_convention() -> None:
    a = Pairing.given([(), (0,), (1,)], 2)
    b = Pairing.given([(), (1,), (0,)], 2)
    assert most_common_convention([a, b, a, Pairing.given([(), (0,)], 1)], 3, 2) == a.mics
    assert most_common_convention([a], 4, 3) is None
