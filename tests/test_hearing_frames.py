"""features/hearing/frames.py: hops -> per-frame loudness, speech and heard at exact rates."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from multitrack.features.hearing import FLOOR_DB, Hops, analyse_media, frame_figures
from multitrack.synth.audio import tone, write_audio

NTSC_30 = Fraction(30000, 1001)
NTSC_24 = Fraction(24000, 1001)


def random_hops(n: int, seed: int) -> Hops:
    rng = np.random.default_rng(seed)
    power = (10 ** rng.uniform(-6, 0, n)).astype(np.float32)
    speech = (rng.random(n) < 0.5).astype(np.float32)
    return Hops(power=power, speech=speech, sample_rate=48000, hop_samples=480)


def reference(hops: Hops, start: Fraction, n_frames: int, fps: Fraction, gain_db: np.ndarray):
    """Frame by frame in exact fractions: the overlap of every hop with [start + k/fps, start + (k+1)/fps)."""
    n = len(hops.power)
    loudness, speech, heard = [], [], []
    for k in range(n_frames):
        lo, hi = (start + Fraction(k) / fps) * 100, (start + Fraction(k + 1) / fps) * 100  # in hops
        lo_in, hi_in = min(max(lo, Fraction(0)), Fraction(n)), min(max(hi, Fraction(0)), Fraction(n))
        inside = hi_in - lo_in
        if inside <= 0 or inside * 2 < hi - lo:
            loudness.append(FLOOR_DB), speech.append(0.0), heard.append(0)
            continue
        power = talk = Fraction(0)
        for j in range(int(lo_in), min(int(hi_in) + 1, n)):
            overlap = min(hi_in, Fraction(j + 1)) - max(lo_in, Fraction(j))
            if overlap > 0:
                power += overlap * Fraction(float(hops.power[j]))
                talk += overlap * Fraction(float(hops.speech[j]))
        level = 10 * np.log10(float(power / inside)) + gain_db[k] if power > 0 else FLOOR_DB
        loudness.append(max(level, FLOOR_DB)), speech.append(float(talk / inside)), heard.append(1)
    return np.array(loudness), np.array(speech), np.array(heard)


@pytest.mark.parametrize("fps", [NTSC_30, NTSC_24, Fraction(25), Fraction(60000, 1001)])
def test_frame_figures_match_exact_fractions_with_an_in_offset_and_a_gain_ramp(fps):
    hops = random_hops(1000, seed=int(fps))
    start = Fraction(1001, 30000) * 37 + Fraction(1, 7)  # an in point off the hop grid
    n_frames = 150
    gain = np.linspace(-24.0, 12.0, n_frames)
    loudness, speech, heard = frame_figures(hops, start, n_frames, fps, gain)
    assert loudness.dtype == np.float32 and speech.dtype == np.float32 and heard.dtype == np.int8
    want_loudness, want_speech, want_heard = reference(hops, start, n_frames, fps, gain)
    np.testing.assert_array_equal(heard, want_heard)
    np.testing.assert_allclose(loudness, want_loudness, atol=1e-3)
    np.testing.assert_allclose(speech, want_speech, atol=1e-5)


def test_frames_before_the_start_or_past_the_end_are_unheard():
    hops = random_hops(300, seed=1)  # 3 s of media
    n_frames = 120  # 4 s at 29.97 from -0.5 s
    gain = np.zeros(n_frames)
    loudness, speech, heard = frame_figures(hops, Fraction(-1, 2), n_frames, NTSC_30, gain)
    want = reference(hops, Fraction(-1, 2), n_frames, NTSC_30, gain)
    np.testing.assert_array_equal(heard, want[2])
    np.testing.assert_allclose(loudness, want[0], atol=1e-3)
    # frame k starts at -0.5 + k*1001/30000 s: frames 0-14 lie before the media, 15 straddles 0 (more inside)
    assert heard[:15].sum() == 0 and heard[15] == 1
    assert np.all(loudness[heard == 0] == FLOOR_DB) and np.all(speech[heard == 0] == 0)
    end_frame = int(np.flatnonzero(heard)[-1])
    assert Fraction(-1, 2) + Fraction(end_frame, 1) / NTSC_30 < 3 <= Fraction(-1, 2) + Fraction(end_frame + 2) / NTSC_30
    assert not np.isnan(loudness).any()


def test_no_hops_means_every_frame_unheard():
    empty = Hops(np.zeros(0, np.float32), np.zeros(0, np.float32), 48000, 480)
    loudness, speech, heard = frame_figures(empty, Fraction(0), 10, NTSC_30, np.zeros(10))
    assert heard.sum() == 0 and np.all(loudness == FLOOR_DB) and np.all(speech == 0)


def test_exact_rates_do_not_drift_over_hours():
    """Frame 1,000,000 at 23.976 (11.6 hours in) falls on the hops exact fractions say."""
    n_hops = 4_200_000
    ramp = np.arange(n_hops, dtype=np.float32) + 1  # a hop's power says where it is
    hops = Hops(ramp, np.zeros(n_hops, np.float32), 48000, 480)
    n_frames = 1_000_001
    loudness, _, heard = frame_figures(hops, Fraction(0), n_frames, NTSC_24, np.zeros(n_frames))
    k = n_frames - 1
    lo, hi = Fraction(k * 100) / NTSC_24, Fraction((k + 1) * 100) / NTSC_24
    mean = sum((min(hi, Fraction(j + 1)) - max(lo, Fraction(j))) * (j + 1) for j in range(int(lo), int(hi) + 1)) / (
        hi - lo
    )
    assert heard[k] == 1
    assert loudness[k] == pytest.approx(10 * np.log10(float(mean)), abs=1e-4)
    # a float 23.976 would be a whole frame (4.17 hops) off by then
    assert abs(float(lo) - k * 100 / 23.976) > 4


def test_loudness_is_floored_and_gain_is_added():
    hops = Hops(np.full(100, 0.5, np.float32), np.ones(100, np.float32), 48000, 480)
    gain = np.array([0.0, 6.0, -200.0, -np.inf])
    loudness, speech, heard = frame_figures(hops, Fraction(0), 4, Fraction(25), gain)
    np.testing.assert_allclose(loudness, [10 * np.log10(0.5), 10 * np.log10(0.5) + 6, FLOOR_DB, FLOOR_DB], atol=1e-5)
    assert np.all(speech == 1) and np.all(heard == 1)


def test_a_wav_heard_at_2997_from_an_in_point(tmp_path):
    """A tone burst from 1.0 to 2.0 s of the media, heard by a clip whose in point is 0.5 s."""
    rate = 48000
    signal = np.concatenate([np.zeros(rate, np.float32), tone(1.0, rate, 1000, 0.25), np.zeros(rate, np.float32)])
    hops = analyse_media(write_audio(tmp_path / "burst.wav", signal, rate), [0], None)[0]
    n_frames = 90  # 3.003 s of timeline from source 0.5 s: the last frames run past the media's 3 s
    gain = np.full(n_frames, -6.0)
    loudness, speech, heard = frame_figures(hops, Fraction(1, 2), n_frames, NTSC_30, gain)
    seconds = Fraction(1, 2) + np.arange(n_frames) / NTSC_30  # each frame's start, exact
    starts = np.array([float(s) for s in seconds])
    inside = (starts >= 1.0) & (starts + 1001 / 30000 <= 2.0)
    np.testing.assert_allclose(loudness[inside], 10 * np.log10(0.25**2 / 2) - 6.0, atol=0.01)
    silent = (starts + 1001 / 30000 <= 1.0) | ((starts >= 2.0) & (starts + 1001 / 30000 <= 3.0))
    assert np.all(loudness[silent] == FLOOR_DB) and np.all(heard[silent] == 1)
    assert heard[starts + 1001 / 30000 / 2 > 3.0].sum() == 0  # more than half past the end
    assert heard[starts + 1001 / 30000 / 2 <= 3.0].min() == 1
