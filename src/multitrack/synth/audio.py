"""Synthetic sound: speech-like signals with known timings, and media files written with PyAV.

`speech_like` makes voiced syllables (a glottal-pulse-like harmonic series with a falling
spectrum, coloured by three formants that change per syllable), shaped by a syllable-rate
envelope (4-6 syllables a second), grouped into utterances with pauses between them; it
returns the samples and the utterance intervals, the truth a detector is scored against.
Syllables come from a small bank synthesised once per call, so an hour costs seconds.
The hearing tests and benchmarks (benchmarks/vad.py, benchmarks/audio.py) are built on it.
A podcast's voices (`synth.voices`) draw their syllables from the same bank maker
(`syllable_bank`, at a speaker's own pitch and formant scale) and colour their back-channels
and laughter with the same voiced source (`voiced`).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# (F1, F2, F3) in Hz of a few vowels, and each formant's bandwidth
VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (570, 840, 2410), (300, 870, 2240)]
BANDWIDTHS = (90.0, 110.0, 170.0)
WAVETABLE = 2048  # points in one period of a voiced sound (its 47th harmonic: 43 points a cycle)


class AudioWriter:
    """A media file written block by block: AudioWriter(path, channels, rate, codec), .write(samples), .close().

    The container comes from the path's suffix (.wav, .m4a, .flac, .mp3, .aiff); samples are
    float (channels, n) at full scale 1.0.
    """

    def __init__(
        self,
        path: Path,
        channels: int,
        rate: int,
        codec: str = "pcm_s16le",
        bit_rate: int = 96000,
        options: dict[str, str] | None = None,  # the muxer's, e.g. {"movflags": "faststart"}
        codec_options: dict[str, str] | None = None,  # the encoder's, e.g. {"aac_coder": "fast"}
    ):
        self.rate = rate
        self.layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
        self.container = av.open(str(path), "w", options=options or {})
        stream = self.container.add_stream(codec, rate=rate, layout=self.layout, options=codec_options or {})
        assert isinstance(stream, av.AudioStream) and stream.codec_context.format is not None
        if codec not in ("pcm_s16le", "pcm_s16be", "pcm_f32le", "flac"):
            stream.bit_rate = bit_rate
        self.stream = stream
        self.planar = stream.codec_context.format.is_planar
        self.format = stream.codec_context.format.name
        self.written = 0

    def write(self, samples: np.ndarray) -> None:
        samples = np.atleast_2d(np.asarray(samples, dtype=np.float32))
        for start in range(0, samples.shape[1], 8192):
            self._encode(self._frame(samples[:, start : start + 8192]))

    def close(self) -> None:
        self._encode(None)
        self.container.close()

    def _frame(self, piece: np.ndarray) -> av.AudioFrame:
        if self.format.startswith("s16"):
            data = np.clip(np.rint(piece * 32767), -32768, 32767).astype(np.int16)
        elif self.format.startswith("s32"):
            data = np.clip(np.rint(piece.astype(np.float64) * 2**31), -(2**31), 2**31 - 1).astype(np.int32)
        else:
            data = piece
        if not self.planar:
            data = data.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=self.format, layout=self.layout)
        frame.sample_rate = self.rate
        frame.pts = self.written  # with timestamps, MP4's muxer writes the edit list that hides AAC's priming
        frame.time_base = Fraction(1, self.rate)
        self.written += piece.shape[1]
        return frame

    def _encode(self, frame: av.AudioFrame | None) -> None:
        for packet in self.stream.encode(frame):
            self.container.mux(packet)


def write_audio(path: Path, samples: np.ndarray, rate: int, codec: str = "pcm_s16le", bit_rate: int = 96000) -> Path:
    """Write float samples (channels, n) at full scale 1.0 to `path` (container from its suffix)."""
    samples = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    writer = AudioWriter(path, samples.shape[0], rate, codec, bit_rate)
    writer.write(samples)
    writer.close()
    return Path(path)


def tone(seconds: float, rate: int, hz: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def voiced(
    rng: np.random.Generator, f0: np.ndarray, rate: int, formants: list[float], top_hz: float = 4000.0
) -> np.ndarray:
    """A voiced sound: harmonics of the pitch contour `f0` (Hz per sample) up to `top_hz`,
    falling as 1/sqrt(h) and coloured by resonances at `formants` (BANDWIDTHS wide), each
    harmonic at a random phase. float64[len(f0)], not normalised.

    Every harmonic follows the one phase, so the sum is one period's waveform read at that
    phase: the period is summed once on a WAVETABLE-point grid and read by interpolation,
    a tenth of the cost of summing sines at every sample.
    """
    phase = 2 * np.pi * np.cumsum(f0) / rate
    harmonics = np.arange(1, int(top_hz / f0.max()))
    frequency = harmonics * f0.mean()
    gains = sum(1.0 / (1.0 + ((frequency - f) / b) ** 2) for f, b in zip(formants, BANDWIDTHS, strict=True))
    offsets = rng.uniform(0, 2 * np.pi, len(harmonics))
    grid = np.linspace(0.0, 2 * np.pi, WAVETABLE + 1)
    period = (gains / np.sqrt(harmonics)) @ np.sin(np.outer(harmonics, grid) + offsets[:, None])
    return np.interp(np.mod(phase, 2 * np.pi), grid, period)


def _syllable(
    rng: np.random.Generator, rate: int, pitch_hz: float | None = None, formant_scale: float = 1.0, tempo: float = 1.0
) -> np.ndarray:
    """One syllable, peak 1.0: 0.12-0.28 s (over `tempo`), a pitch that wavers and falls,
    a vowel's formants. pitch_hz None: any pitch of 95-230 Hz (speech_like's voices)."""
    seconds = rng.uniform(0.12, 0.28) / tempo
    n = int(seconds * rate)
    t = np.arange(n) / rate
    base = rng.uniform(95, 230) if pitch_hz is None else pitch_hz * rng.uniform(0.88, 1.12)
    f0 = base * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(2, 5) * t) - 0.1 * t / seconds)
    vowel = VOWELS[rng.integers(len(VOWELS))]
    formants = [f * formant_scale * rng.uniform(0.9, 1.1) for f in vowel]
    wave = voiced(rng, f0, rate, formants)
    envelope = np.sin(np.pi * t / seconds) ** 1.5
    wave *= envelope
    return (wave / np.abs(wave).max()).astype(np.float32)


def syllable_bank(
    rng: np.random.Generator,
    rate: int,
    count: int,
    pitch_hz: float | None = None,
    formant_scale: float = 1.0,
    tempo: float = 1.0,
) -> list[np.ndarray]:
    """`count` syllables of one voice (see _syllable), synthesised once and reused: an hour costs seconds."""
    return [_syllable(rng, rate, pitch_hz, formant_scale, tempo) for _ in range(count)]


def speech_like(
    seconds: float, rate: int, seed: int, level: float = 0.3, bank: int = 48
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Speech-like float32[n] and its utterance intervals [(start_s, end_s)], pauses between."""
    rng = np.random.default_rng(seed)
    syllables = syllable_bank(rng, rate, bank)
    out = np.zeros(int(seconds * rate), np.float32)
    intervals = []
    at = rng.uniform(0.3, 1.5)
    while True:
        words = rng.integers(3, 16)  # syllables in this utterance: 0.6-4 s
        start = at
        pieces: list[np.ndarray] = []
        for _ in range(words):
            syllable = syllables[rng.integers(bank)] * rng.uniform(0.5, 1.0)
            gap = np.zeros(int(rng.uniform(0.0, 0.06) * rate), np.float32)
            pieces += [syllable, gap]
        utterance = np.concatenate(pieces[:-1])
        first = int(start * rate)
        if first + len(utterance) > len(out):
            break
        out[first : first + len(utterance)] = level * utterance
        intervals.append((start, start + len(utterance) / rate))
        at = start + len(utterance) / rate + rng.uniform(0.4, 2.5)
    return out, intervals


def interval_mask(intervals: list[tuple[float, float]], n_hops: int, hops_per_second: int = 100) -> np.ndarray:
    """bool[n_hops]: True for hops whose centre lies inside an interval."""
    centres = (np.arange(n_hops) + 0.5) / hops_per_second
    mask = np.zeros(n_hops, bool)
    for start, end in intervals:
        mask |= (centres >= start) & (centres < end)
    return mask


# I, V, vi, IV: the progression under most montages; semitones above the key's root
PROGRESSION = ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12))


def beat_times(seconds: float, bpm: float) -> np.ndarray:
    """The beats of a music bed that starts on a beat at 0: float64 seconds, [0, seconds)."""
    return np.arange(0.0, seconds, 60.0 / bpm)


def music_bed(seconds: float, rate: int, bpm: float, rng: np.random.Generator) -> np.ndarray:
    """A simple bed, float32[n], peak under 1: a chord a bar (4 beats, PROGRESSION in a key drawn
    from `rng`) as soft harmonic pads, a kick on every beat, a hi-hat between beats."""
    n = int(round(seconds * rate))
    out = np.zeros(n, np.float32)
    root_hz = 440.0 * 2 ** ((int(rng.integers(45, 57)) - 69) / 12)
    beat = 60.0 / bpm
    bar = int(round(4 * beat * rate))
    t = np.arange(bar) / rate
    envelope = np.minimum(1.0, t / 0.05) * np.exp(-1.5 * t / (4 * beat))
    pads = [  # one bar of each chord, synthesised once
        (
            0.05
            * envelope
            * sum(np.sin(2 * np.pi * h * root_hz * 2 ** (step / 12) * t) / h for step in chord for h in (1, 2, 3))
        ).astype(np.float32)
        for chord in PROGRESSION
    ]
    for number, first in enumerate(range(0, n, bar)):
        length = min(bar, n - first)
        out[first : first + length] += pads[number % len(pads)][:length]
    hit = np.arange(int(0.15 * rate)) / rate
    kick = 0.35 * np.sin(2 * np.pi * np.cumsum(45 + 75 * np.exp(-hit / 0.03)) / rate) * np.exp(-hit / 0.06)
    hat = np.diff(rng.standard_normal(int(0.05 * rate) + 1)) * 0.04 * np.exp(-hit[: int(0.05 * rate)] / 0.01)
    for at in beat_times(seconds, bpm):
        for sound, when in ((kick, at), (hat, at + beat / 2)):
            first = int(round(when * rate))
            piece = sound[: max(0, n - first)]
            out[first : first + len(piece)] += piece.astype(np.float32)
    return out
