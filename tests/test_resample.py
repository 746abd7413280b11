from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from framegen import random_timeline
from multitrack.data.resample import Resampler, frame_rate, timeline_rate
from multitrack.errors import DataError
from multitrack.features.table import AudioArrays, TimelineArrays


def test_rates_are_exact():
    assert frame_rate(29.97) == Fraction(30000, 1001)
    assert frame_rate(23.976) == Fraction(24000, 1001)
    assert frame_rate(25.0) == 25 and frame_rate(30.0) == 30 and frame_rate(12.5) == Fraction(25, 2)
    assert timeline_rate({"timebase": 30, "ntsc": True, "fps": 29.97}) == Fraction(30000, 1001)
    assert timeline_rate({"fps": 50.0}) == 50
    assert timeline_rate({"fps": None}) is None


@pytest.mark.parametrize(
    ("fps_in", "frames_in", "fps_out", "rows"),
    [
        (50, 10, 25, [0, 2, 4, 6, 8]),
        (25, 3, 50, [0, 0, 1, 1, 2, 2]),
        (30, 6, 25, [0, 1, 2, 3, 4]),  # output frame 3 starts at 0.12 s, inside source frame 3 (0.100..0.133 s)
        (25, 4, 30, [0, 0, 1, 2, 3]),
    ],
)
def test_sample_and_hold(fps_in, frames_in, fps_out, rows):
    resampler = Resampler.for_timeline({"fps": fps_in}, frames_in, fps_out)
    assert resampler.source_rows.tolist() == rows
    assert resampler.frames_out == len(rows) and resampler.fps_out == fps_out


def test_same_rate_and_no_target_keep_every_row():
    assert Resampler.for_timeline({"timebase": 30, "ntsc": True}, 9, 29.97).source_rows is None
    assert Resampler.for_timeline({"fps": 25.0}, 9, None).fps_out == 25.0
    assert Resampler.for_timeline({"fps": None}, 9, None).fps_out is None


def test_target_rate_needs_a_source_rate():
    with pytest.raises(DataError, match="timeline 'x': no frame rate"):
        Resampler.for_timeline({"id": "x", "fps": None}, 9, 25.0)


def test_apply_takes_the_rows():
    timeline = random_timeline("a", 6, tracks=2, seed=3)
    arrays = TimelineArrays("a", timeline.active, timeline.asset, timeline.values)
    resampled = Resampler.for_timeline({"fps": 50}, 6, 25).apply(arrays)
    assert np.array_equal(resampled.values, timeline.values[[0, 2, 4]])
    assert np.array_equal(resampled.asset, timeline.asset[[0, 2, 4]])


rates = st.sampled_from([23.976, 24.0, 25.0, 29.97, 30.0, 50.0, 59.94, 60.0, 12.5])


@given(fps_in=rates, fps_out=rates, frames_in=st.integers(1, 2000))
def test_resampling_keeps_the_duration(fps_in, fps_out, frames_in):
    resampler = Resampler.for_timeline({"fps": fps_in}, frames_in, fps_out)
    rate_in, rate_out = frame_rate(fps_in), frame_rate(fps_out)
    duration = frames_in / rate_in
    assert (resampler.frames_out - 1) / rate_out < duration <= resampler.frames_out / rate_out
    if resampler.source_rows is not None:
        rows = resampler.source_rows
        assert rows[0] == 0 and rows[-1] <= frames_in - 1 and (np.diff(rows) >= 0).all()


def test_between_holds_rows_for_a_given_count():
    # generate resamples its prompt to the model's rate and the sampled frames back, at counts it chooses
    assert Resampler.between(10, Fraction(25), Fraction(10)).frames_out == 4  # as for_timeline: ceil(10 × 10 / 25)
    assert Resampler.between(10, Fraction(25), Fraction(10), 3).source_rows.tolist() == [0, 2, 5]
    # the same rate keeps every row, or the first frames_out of them; NTSC written as 29.97 is that rate
    assert Resampler.between(6, Fraction(30000, 1001), frame_rate(29.97)).source_rows is None
    assert Resampler.between(6, Fraction(25), Fraction(25), 5).source_rows.tolist() == [0, 1, 2, 3, 4]


def _column(values, dtype) -> np.ndarray:
    return np.asarray(values, dtype)[:, None]  # (N, 1): one audio track


def _audio(loudness, speech, heard, active, asset=None, gain=None):
    column = _column
    n = len(loudness)
    return AudioArrays(
        active=column(active, np.int8),
        asset=column(asset if asset is not None else [1] * n, np.int64),
        gain_db=column(gain if gain is not None else [0] * n, np.float32),
        loudness_db=column(loudness, np.float32),
        speech=column(speech, np.float32),
        heard=column(heard, np.int8),
    )


def test_audio_is_aggregated_over_the_frames_an_output_frame_spans():
    # 50 -> 25 fps: each output frame spans two source frames
    audio = _audio(
        loudness=[-10, -10, -10, -90, -20, -20],
        speech=[1, 0, 0.5, 0.5, 0, 0],
        heard=[1, 1, 1, 0, 1, 1],
        active=[0, 1, 0, 0, 1, 1],
        asset=[3, 4, 5, 6, 7, 8],
        gain=[-1, -2, -3, -4, -5, -6],
    )
    out = Resampler.between(6, Fraction(50), Fraction(25)).apply_audio(audio)
    power_mean = 10 * np.log10((10**-1 + 10**-9) / 2)  # -10 dB and -90 dB: a power mean, about -13 dB
    np.testing.assert_allclose(out.loudness_db[:, 0], [-10, power_mean, -20], atol=1e-5)
    assert out.speech[:, 0].tolist() == [0.5, 0.5, 0.0]
    assert out.heard[:, 0].tolist() == [1, 0, 1]  # heard only where every source frame was
    assert out.active[:, 0].tolist() == [1, 0, 1]  # a clip anywhere in it
    assert out.asset[:, 0].tolist() == [3, 5, 7] and out.gain_db[:, 0].tolist() == [-1, -3, -5]  # held


def test_audio_upsampled_is_held_and_same_rate_is_the_identity():
    audio = _audio(loudness=[-10, -30], speech=[1, 0], heard=[1, 0], active=[1, 0])
    out = Resampler.between(2, Fraction(25), Fraction(50)).apply_audio(audio)
    assert out.loudness_db[:, 0].tolist() == [-10, -10, -30, -30] and out.heard[:, 0].tolist() == [1, 1, 0, 0]
    assert Resampler.between(2, Fraction(25), Fraction(25)).apply_audio(audio) is audio


def test_apply_carries_the_audio_group_through():
    timeline = random_timeline("a", 10, tracks=2, seed=1)
    audio = _audio(loudness=[-20] * 10, speech=[1] * 10, heard=[1] * 10, active=[1] * 10)
    arrays = TimelineArrays("a", timeline.active, timeline.asset.astype(np.int64), timeline.values, audio)
    out = Resampler.between(10, Fraction(50), Fraction(25)).apply(arrays)
    assert out.audio is not None and out.audio.loudness_db.shape == (5, 1) and out.active.shape == (5, 2)
