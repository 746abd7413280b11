"""features/hearing: decoding (decode.py), analysis (analyse.py), the hop cache and the pool.

Every media file is written by the test itself (tests/audiogen.py, through PyAV).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from multitrack.features.hearing import (
    ANALYSER_VERSION,
    DECODE_COUNTER,
    HopCache,
    MediaError,
    analyse_all,
    analyse_media,
)
from multitrack.synth.audio import AudioWriter, interval_mask, speech_like, tone, write_audio

RATE = 48000


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(round(seconds * rate)), np.float32)


def db(power: np.ndarray | float) -> np.ndarray:
    return 10 * np.log10(np.asarray(power, np.float64))


@pytest.fixture
def tones_wav(tmp_path) -> Path:
    """1 s of a 0.5 sine, 0.5 s silence, 0.5 s of a 0.05 sine: 200 hops."""
    signal = np.concatenate([tone(1.0, RATE, 1000, 0.5), silence(0.5), tone(0.5, RATE, 1000, 0.05)])
    return write_audio(tmp_path / "tones.wav", signal, RATE)


def test_wav_tones_and_silences_give_power_per_hop(tones_wav):
    hops = analyse_media(tones_wav, [0], None)[0]
    assert (hops.sample_rate, hops.hop_samples) == (RATE, RATE // 100)
    assert len(hops.power) == len(hops.speech) == 200
    assert hops.seconds == pytest.approx(2.0)
    # a sine of amplitude A has mean square A²/2 (-9.03 dB at 0.5, -29.03 dB at 0.05); 16-bit rounding aside
    np.testing.assert_allclose(db(hops.power[:100]), db(0.125), atol=0.01)
    assert np.all(hops.power[100:150] == 0)
    np.testing.assert_allclose(db(hops.power[150:]), db(0.00125), atol=0.01)
    assert hops.power.dtype == np.float32 and hops.speech.dtype == np.float32
    assert set(np.unique(hops.speech)) <= {0.0, 1.0}
    assert hops.speech[120:150].max() == 0  # digital silence, past the detector's hangover, is not speech


def test_a_partial_last_hop_is_a_hop_of_its_own(tmp_path):
    path = write_audio(tmp_path / "short.wav", tone(0.0125, RATE, 500, 0.5), RATE)  # 1.25 hops
    hops = analyse_media(path, [0], None)[0]
    assert len(hops.power) == 2
    assert hops.power[1] > 0


def test_a_channel_of_a_multichannel_file(tmp_path):
    amplitudes = [0.5, 0.0, 0.1, 0.02]
    # whole cycles per hop (multiples of 100 Hz): every hop's mean square is exactly A²/2
    samples = np.stack([tone(0.5, RATE, 400 * (c + 1), a) for c, a in enumerate(amplitudes)])
    path = write_audio(tmp_path / "four.wav", samples, RATE)
    hops = analyse_media(path, [3, 0, 2], None)
    assert list(hops) == [3, 0, 2]
    for channel in (0, 2, 3):
        np.testing.assert_allclose(db(hops[channel].power), db(amplitudes[channel] ** 2 / 2), atol=0.05)
    assert np.all(analyse_media(path, [1], None)[1].power == 0)
    with pytest.raises(MediaError, match=r"four\.wav: has 4 audio channels .*channel 4 asked"):
        analyse_media(path, [0, 4], None)


@pytest.mark.parametrize(
    ("name", "codec", "rate", "tolerance_db"),
    [
        ("tone.m4a", "aac", 48000, 0.3),
        ("tone.mp3", "libmp3lame", 44100, 0.6),  # LAME at 96 kb/s: a pure tone 0.45 dB down
        ("tone.flac", "flac", 44100, 0.01),
        ("tone.aiff", "pcm_s16be", 32000, 0.01),
        ("tone.wav", "pcm_s16le", 22050, 0.05),  # not a multiple of 100 Hz: resampled to 48 kHz
    ],
)
def test_compressed_and_other_containers_decode(tmp_path, name, codec, rate, tolerance_db):
    signal = np.concatenate([silence(0.5, rate), tone(1.0, rate, 440, 0.3), silence(0.5, rate)])
    path = write_audio(tmp_path / name, signal, rate, codec)
    hops = analyse_media(path, [0], None)[0]
    assert hops.seconds == pytest.approx(2.0, abs=0.06)  # codecs pad the end a little
    # the tone's middle, away from its edges, at the tone's level
    np.testing.assert_allclose(db(hops.power[60:140].mean()), db(0.3**2 / 2), atol=tolerance_db)
    assert hops.power[5:45].max() < 1e-6  # the silence before it stays silent: no shift, no priming


def test_aac_timing_matches_the_source(tmp_path):
    """AAC's priming samples are hidden (edit list), so hops line up with the PCM original."""
    signal = np.concatenate([silence(0.3), tone(0.4, RATE, 440, 0.3), silence(0.3)])
    pcm = analyse_media(write_audio(tmp_path / "a.wav", signal, RATE), [0], None)[0].power
    aac = analyse_media(write_audio(tmp_path / "a.m4a", signal, RATE, "aac"), [0], None)[0].power
    onset = int(np.argmax(pcm > 0.01))
    assert onset == 30
    assert abs(int(np.argmax(aac > 0.01)) - onset) <= 1


def test_corrupt_and_unreadable_files_raise_media_error_naming_them(tmp_path, tones_wav):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(MediaError, match=r"junk\.wav: not a media file FFmpeg can read"):
        analyse_media(junk, [0], None)
    with pytest.raises(MediaError, match=r"gone\.wav: no such file"):
        analyse_media(tmp_path / "gone.wav", [0], None)
    # garbage over the middle of a compressed stream
    m4a = write_audio(tmp_path / "hurt.m4a", tone(2.0, RATE, 440, 0.3), RATE, "aac")
    data = bytearray(m4a.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = np.random.default_rng(1).bytes(3000)
    m4a.write_bytes(bytes(data))
    with pytest.raises(MediaError, match=r"hurt\.m4a: corrupt audio after"):
        analyse_media(m4a, [0], None)


@pytest.mark.parametrize(
    ("name", "codec", "options"),
    [
        ("cut.wav", "pcm_s16le", None),
        ("cut.mp3", "libmp3lame", None),
        ("cut.m4a", "aac", None),  # the index (moov) at the end: cut off with the file
        ("cut-faststart.m4a", "aac", {"movflags": "faststart"}),  # the index first: the samples run out
    ],
)
def test_truncated_files_raise_media_error_naming_them(tmp_path, name, codec, options):
    """A cut-off file is refused whole (its frames unheard), not heard as a shorter recording."""
    path = tmp_path / name
    writer = AudioWriter(path, 1, RATE, codec, options=options)
    writer.write(tone(2.0, RATE, 440, 0.3))
    writer.close()
    assert analyse_media(path, [0], None)[0].seconds == pytest.approx(2.0, abs=0.06)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    escaped = name.replace(".", "[.]")
    with pytest.raises(MediaError, match=rf"{escaped}: (truncated|not a media file|corrupt audio after)"):
        analyse_media(path, [0], None)


def test_a_second_analysis_with_the_cache_decodes_nothing(tmp_path, tones_wav):
    cache = HopCache(tmp_path / "cache")
    before = DECODE_COUNTER.count
    first = analyse_media(tones_wav, [0], cache)[0]
    assert DECODE_COUNTER.count == before + 1
    second = analyse_media(tones_wav, [0], cache)[0]
    assert DECODE_COUNTER.count == before + 1
    np.testing.assert_array_equal(first.power, second.power)
    np.testing.assert_array_equal(first.speech, second.speech)
    assert (second.sample_rate, second.hop_samples) == (first.sample_rate, first.hop_samples)
    # a changed file misses (size and mtime in the key)
    stat = tones_wav.stat()
    os.utime(tones_wav, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    analyse_media(tones_wav, [0], cache)
    assert DECODE_COUNTER.count == before + 2
    # a broken entry is a miss, rewritten
    for entry in (tmp_path / "cache").glob("*.npz"):
        entry.write_bytes(b"not an npz")
    analyse_media(tones_wav, [0], cache)
    assert DECODE_COUNTER.count == before + 3
    analyse_media(tones_wav, [0], cache)
    assert DECODE_COUNTER.count == before + 3


def test_the_cache_key_holds_path_channel_and_analyser_version(tmp_path, tones_wav):
    cache = HopCache(tmp_path / "cache")
    key = cache.key(tones_wav, 0)
    assert key is not None and key != cache.key(tones_wav, 1)
    assert cache.key(tmp_path / "missing.wav", 0) is None
    assert str(ANALYSER_VERSION)  # the version is an int, part of the key
    assert isinstance(ANALYSER_VERSION, int)


def test_the_default_cache_folder_is_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert HopCache(None).directory == tmp_path / "xdg" / "multitrack" / "hops"


def test_jobs_1_and_jobs_2_give_identical_results(tmp_path):
    paths = []
    for index in range(3):
        signal, _ = speech_like(3.0, RATE, seed=index)
        paths.append(write_audio(tmp_path / f"mic{index}.m4a", signal, RATE, "aac"))
    stereo = np.stack([tone(1.0, RATE, 300, 0.2), tone(1.0, RATE, 600, 0.02)])
    paths.append(write_audio(tmp_path / "stereo.wav", stereo, RATE))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    requests = {paths[0]: [0], paths[1]: [0], paths[2]: [0], paths[3]: [1, 0], bad: [0]}

    results = {}
    for jobs in (1, 2):
        before = DECODE_COUNTER.count
        results[jobs] = analyse_all(requests, None, jobs=jobs)
        assert DECODE_COUNTER.count == before + 5  # pool workers' decodes are counted here too
    (one, one_errors), (two, two_errors) = results[1], results[2]
    assert set(one) == set(two) == {(p, c) for p, cs in requests.items() if p != bad for c in cs}
    for key in one:
        np.testing.assert_array_equal(one[key].power, two[key].power)
        np.testing.assert_array_equal(one[key].speech, two[key].speech)
    assert set(one_errors) == set(two_errors) == {bad}
    assert "bad.wav" in str(two_errors[bad])


def test_the_pool_shares_the_cache(tmp_path):
    paths = [write_audio(tmp_path / f"m{i}.wav", tone(0.5, RATE, 200 + 100 * i, 0.1), RATE) for i in range(2)]
    cache = HopCache(tmp_path / "cache")
    analyse_all({path: [0] for path in paths}, cache, jobs=2)
    before = DECODE_COUNTER.count
    results, errors = analyse_all({path: [0] for path in paths}, cache, jobs=2)
    assert DECODE_COUNTER.count == before and not errors and len(results) == 2


def test_the_detector_calls_voiced_speech_speech_and_silence_or_noise_not(tmp_path):
    rng = np.random.default_rng(3)
    voice, intervals = speech_like(12.0, RATE, seed=5)
    voice = np.concatenate([voice, silence(3.0)])  # the room goes on after the last word
    noise = (10 ** (-55 / 20) * rng.standard_normal(voice.shape[0])).astype(np.float32)  # a quiet room
    path = write_audio(tmp_path / "voice.wav", np.concatenate([voice + noise, silence(2.0)]), RATE)
    hops = analyse_media(path, [0], None)[0]
    truth = interval_mask(intervals, len(voice) // (RATE // 100))
    assert hops.speech[: truth.shape[0]][truth].mean() > 0.9  # the voice is speech
    assert hops.speech[-450:-220].mean() < 0.05  # room noise alone is not (past the hangover)
    assert hops.speech[-180:].max() == 0  # nor digital silence


def write_two_streams(path: Path, first: np.ndarray, second: np.ndarray, second_starts: int) -> Path:
    """A file with two mono audio streams (as a camera's or an MXF's), the second starting later."""
    with av.open(str(path), "w") as container:
        streams = [container.add_stream("pcm_s16le", rate=RATE, layout="mono") for _ in range(2)]
        for stream, samples, start in ((streams[0], first, 0), (streams[1], second, second_starts)):
            pcm = np.clip(np.rint(samples * 32767), -32768, 32767).astype(np.int16)
            for at in range(0, pcm.shape[0], 4800):
                frame = av.AudioFrame.from_ndarray(pcm[None, at : at + 4800].copy(), format="s16", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = RATE, start + at, Fraction(1, RATE)
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    return path


def test_channels_count_across_streams_and_a_late_stream_starts_with_silence(tmp_path):
    path = write_two_streams(
        tmp_path / "camera.mov", tone(1.0, RATE, 400, 0.5), tone(1.0, RATE, 800, 0.05), second_starts=RATE // 2
    )
    both = analyse_media(path, [0, 1], None)
    alone = analyse_media(path, [1], None)[1]
    np.testing.assert_allclose(db(both[0].power), db(0.125), atol=0.01)
    assert len(both[0].power) == 100
    # stream 1 starts 0.5 s into the file: hop 0 is the file's time 0, so 50 silent hops come first
    for hops in (both[1], alone):
        assert len(hops.power) == 150
        assert np.all(hops.power[:50] == 0)
        np.testing.assert_allclose(db(hops.power[50:]), db(0.00125), atol=0.01)
    with pytest.raises(MediaError, match=r"camera\.mov: has 2 audio channels"):
        analyse_media(path, [2], None)


def test_mxf_with_picture_and_sound(tmp_path):
    """An MXF (OP1a, as broadcast cameras write) holds a picture stream beside the sound: channel 0 is the sound's."""
    path = tmp_path / "camera.mxf"
    sound = np.clip(np.rint(tone(1.0, RATE, 400, 0.3) * 32767), -32768, 32767).astype(np.int16)
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg2video", rate=25)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = container.add_stream("pcm_s16le", rate=RATE, layout="mono")
        per_frame = RATE // 25
        for index in range(25):
            picture = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            picture.pts = index
            for packet in video.encode(picture):
                container.mux(packet)
            frame = av.AudioFrame.from_ndarray(
                sound[None, index * per_frame : (index + 1) * per_frame].copy(), format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = RATE, index * per_frame, Fraction(1, RATE)
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    hops = analyse_media(path, [0], None)[0]
    assert len(hops.power) == 100
    np.testing.assert_allclose(db(hops.power), db(0.3**2 / 2), atol=0.01)


def test_block_size_does_not_change_the_hops(tmp_path, monkeypatch):
    """Streamed in blocks: 1-s blocks give the very hops 8-s blocks do (block edges fall on whole frames)."""
    from multitrack.features.hearing import decode

    signal, _ = speech_like(20.0, 44100, seed=9)
    path = write_audio(tmp_path / "talk.m4a", signal, 44100, "aac")
    whole = analyse_media(path, [0], None)[0]
    monkeypatch.setattr(decode, "BLOCK_SECONDS", 1)
    blocks = analyse_media(path, [0], None)[0]
    np.testing.assert_array_equal(whole.power, blocks.power)
    np.testing.assert_array_equal(whole.speech, blocks.speech)
    assert whole.speech.mean() > 0.2
