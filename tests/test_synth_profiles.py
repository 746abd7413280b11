import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multitrack.synth.profiles import CORNERS, RATES, STYLES, draw_profiles


def test_profile_depends_only_on_seed_and_its_index():
    assert draw_profiles(5, seed=7)[:2] == draw_profiles(2, seed=7)
    assert draw_profiles(2, seed=7) != draw_profiles(2, seed=8)


def test_names_are_the_editor_folders():
    assert [p.name for p in draw_profiles(3, seed=0)] == ["editor01", "editor02", "editor03"]


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_first_three_editors_differ_clearly_in_pacing(seed):
    # Pacing is log-spread over 1.5..6 s by steps of the golden ratio: any two of the first
    # three editors are at least 0.236 apart on that scale, i.e. 4**0.236 ≈ 1.39 times.
    paces = [p.shot_seconds for p in draw_profiles(3, seed)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert max(paces[i], paces[j]) / min(paces[i], paces[j]) > 1.38


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_five_editors_have_five_primary_styles_and_four_corners(seed):
    profiles = draw_profiles(5, seed)
    primaries = {STYLES[max(range(len(STYLES)), key=p.style_weights.__getitem__)] for p in profiles}
    assert primaries == set(STYLES)
    assert {p.pip_corner for p in profiles[:4]} == set(CORNERS)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), index=st.integers(0, 40))
def test_traits_stay_in_their_ranges(seed, index):
    profile = draw_profiles(index + 1, seed)[index]
    assert math.isclose(sum(profile.style_weights), 1.0, abs_tol=1e-5)
    assert 1.5 <= profile.shot_seconds <= 6.0
    assert 3.0 <= profile.shot_shape <= 8.0
    assert 1.15 <= profile.punch_in <= 1.30
    sound = profile.sound
    assert 2 <= sound.speakers <= 4 and -0.3 <= sound.reaction_s <= 1.0 and 0.8 <= sound.min_shot_s <= 2.5
    assert sorted(sound.seat_order) == sorted(sound.mic_order) == [0, 1, 2, 3]
    assert 0.22 <= profile.pip_width <= 0.35
    assert profile.rate in RATES


def test_to_json_names_styles_and_rate():
    data = draw_profiles(1, seed=0)[0].to_json()
    assert set(data["style_weights"]) == set(STYLES)
    assert data["rate"]["fps"] == pytest.approx(draw_profiles(1, seed=0)[0].rate.fps)
