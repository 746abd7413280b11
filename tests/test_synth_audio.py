"""synth/audio.py: speech-like signals keep their stated timings, and media files round-trip."""

from __future__ import annotations

import numpy as np

from multitrack.features.hearing import analyse_media
from multitrack.synth.audio import AudioWriter, interval_mask, speech_like, tone, write_audio


def test_speech_like_is_seeded_and_silent_outside_its_intervals():
    samples, intervals = speech_like(20.0, 16000, seed=2)
    again, same = speech_like(20.0, 16000, seed=2)
    np.testing.assert_array_equal(samples, again)
    assert intervals == same and len(intervals) >= 3
    assert all(a < b <= c for (a, b), (c, _) in zip(intervals, intervals[1:], strict=False))
    assert intervals[-1][1] <= 20.0
    times = np.arange(samples.shape[0]) / 16000
    inside = np.zeros(samples.shape[0], bool)
    for start, end in intervals:
        inside |= (times >= start - 1 / 16000) & (times < end + 1 / 16000)
    assert np.all(samples[~inside] == 0) and np.abs(samples[inside]).max() > 0.1
    assert 0.2 < interval_mask(intervals, 2000).mean() < 0.9


def test_a_file_written_in_blocks_equals_one_written_whole(tmp_path):
    signal = tone(1.0, 48000, 300, 0.2)
    whole = write_audio(tmp_path / "whole.wav", signal, 48000)
    writer = AudioWriter(tmp_path / "blocks.wav", 1, 48000)
    for start in range(0, signal.shape[0], 10000):
        writer.write(signal[start : start + 10000])
    writer.close()
    a = analyse_media(whole, [0], None)[0].power
    b = analyse_media(tmp_path / "blocks.wav", [0], None)[0].power
    np.testing.assert_array_equal(a, b)
