"""The rule-based switcher (sample/switcher.py): targets, delay, minimum shot, the wide, mic activity."""

from __future__ import annotations

import math

import numpy as np

from conversation import conversation
from multitrack.sample.pairing import Pairing
from multitrack.sample.switcher import DEFAULT_RULES, RuleSettings, mic_activity, switch, targets

FPS = 10.0


def frames(*runs: tuple[int, int, int], n: int = 200, mics: int = 2) -> np.ndarray:
    """(mics, n) activity from (mic, first, stop) runs."""
    active = np.zeros((mics, n), dtype=bool)
    for mic, first, stop in runs:
        active[mic, first:stop] = True
    return active


PAIRING = Pairing.given([(), (0,), (1,)], 2)  # camera 0 the wide


def test_the_speakers_close_up_after_the_delay() -> None:
    active = frames((0, 10, 80), (1, 90, 180))
    rules = RuleSettings(delay_s=0.5, min_shot_s=1.0, silence_s=math.inf, overlap_s=math.inf)
    shown = switch(active, PAIRING.camera_of_mic(), PAIRING.wide, 3, rules, FPS)
    assert shown[0] == 0  # nobody yet: the wide
    assert (np.flatnonzero(np.diff(shown)) + 1).tolist() == [15, 95]  # 10 + 5, 90 + 5
    assert shown[20] == 1 and shown[100] == 2


def test_anticipation_cuts_before_the_speaker_starts() -> None:
    active = frames((0, 10, 80), (1, 90, 180))
    rules = RuleSettings(delay_s=-0.3, min_shot_s=0.5, silence_s=math.inf, overlap_s=math.inf)
    shown = switch(active, PAIRING.camera_of_mic(), PAIRING.wide, 3, rules, FPS)
    assert (np.flatnonzero(np.diff(shown)) + 1).tolist() == [7, 87]


def test_minimum_shot_defers_or_drops_a_cut() -> None:
    # mic 1 answers for 0.5 s only: with a 2-s minimum shot the cut to it waits, then is no longer wanted
    active = frames((0, 0, 40), (1, 40, 45), (0, 45, 200))
    rules = RuleSettings(delay_s=0.0, min_shot_s=5.0, silence_s=math.inf, overlap_s=math.inf)
    shown = switch(active, PAIRING.camera_of_mic(), PAIRING.wide, 3, rules, FPS)
    assert (shown == 1).all()
    rules = rules.with_values(min_shot_s=2.0)
    shown = switch(active, PAIRING.camera_of_mic(), PAIRING.wide, 3, rules, FPS)
    assert shown[40] == 2 and shown[59] == 2 and shown[60] == 1  # held 2 s, then back


def test_silence_and_overlap_go_to_the_wide() -> None:
    active = frames((0, 0, 50), (0, 100, 150), (1, 130, 200))
    rules = RuleSettings(delay_s=0.0, min_shot_s=0.5, silence_s=2.0, overlap_s=1.0)
    wanted = targets(active, PAIRING.camera_of_mic(), 0, 3, 20, 10)
    assert wanted[60] == 1 and wanted[70] == 0  # 2 s of silence from frame 50
    assert wanted[135] == 1 and wanted[140] == 0 and wanted[160] == 2  # overlap 130-150: the wide after 1 s
    shown = switch(active, PAIRING.camera_of_mic(), PAIRING.wide, 3, rules, FPS)
    assert shown[75] == 0 and shown[145] == 0 and shown[190] == 2


def test_a_two_shot_of_both_speakers_is_not_an_overlap() -> None:
    two_shot = Pairing.given([(), (0, 1)], 3)  # camera 1 shows mics 0 and 1, the wide mic 2 too
    active = frames((0, 0, 100), (1, 0, 100), n=100, mics=3)
    wanted = targets(active, two_shot.camera_of_mic(), 0, 2, 20, 10)
    assert (wanted == 1).all()


def test_mic_activity_ignores_bleed_and_unheard_frames() -> None:
    speech = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]], np.float32)
    loudness = np.array([[-20.0, -20.0, -90.0], [-40.0, -22.0, -30.0]], np.float32)
    heard = np.array([[1, 1, 1], [1, 1, 0]], np.int8)
    active = mic_activity(speech, loudness, heard, DEFAULT_RULES)
    assert active.tolist() == [[True, True, False], [False, True, False]]  # 20 dB below: bleed


def test_deaf_is_the_wide_throughout() -> None:
    active = np.zeros((2, 300), dtype=bool)
    shown = switch(active, PAIRING.camera_of_mic(), PAIRING.wide, 3, DEFAULT_RULES, FPS)
    assert (shown == 0).all()


def test_switch_respects_the_minimum_shot_everywhere() -> None:
    active = conversation(3, 600, FPS, seed=3)
    pairing = Pairing.given([(), (0,), (1,), (2,)], 3)
    rules = RuleSettings(delay_s=0.3, min_shot_s=2.5, silence_s=3.0, overlap_s=1.0)
    shown = switch(active, pairing.camera_of_mic(), pairing.wide, 4, rules, FPS)
    lengths = np.diff(np.concatenate([[0], np.flatnonzero(np.diff(shown)) + 1, [len(shown)]]))
    assert lengths[:-1].min() >= 25
    assert set(np.unique(shown)) == {0, 1, 2, 3}


def test_settings_round_trip_through_json() -> None:
    rules = RuleSettings(delay_s=-0.25, silence_s=math.inf)
    assert RuleSettings.from_json(rules.to_json()) == rules
