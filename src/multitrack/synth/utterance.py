"""A speaker's dry sound: their voice placed exactly inside their sounds, before any mic hears it.

A `Voice` (pitch, formant scale, level, tempo) has a bank made once (`_Bank`): syllables at
its pitch (`synth.audio.syllable_bank`, speech_like's maker), and the voiced carriers of its
back-channels and laughs (`synth.audio.voiced`). A `DryTrack` lays a speaker's `Sound`s out as
pieces: speech is syllables from the bank with short gaps, the last one cut to fit and faded,
louder near the turn's stressed moments; a back-channel a short, quiet, nasal "mm-hm" (or
"mm"); a laugh breathy voiced bursts at 4-5 a second, dying away. Outside the sounds'
intervals the track is exactly zero. `render(lo, hi)` gives any stretch of samples, so a
session is mixed block by block (`synth.voices`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from multitrack.synth.audio import VOWELS, syllable_bank, voiced
from multitrack.synth.conversation import BACKCHANNEL_SECONDS, LAUGH_SECONDS, Conversation, Sound

BANK_SYLLABLES = 32
SYLLABLE_GAP_SECONDS = (0.0, 0.06)
MIN_PIECE_SECONDS = 0.04  # a sound's last syllable is cut to fit; shorter than this, left out
FADE_SECONDS = 0.01  # a cut syllable's fade-out, a sound's fade in and out
EMPHASIS_GAIN = 1.6  # syllables within EMPHASIS_SECONDS of a stressed moment
EMPHASIS_SECONDS = 0.25
BACKCHANNEL_DB = -9.0  # a back-channel against the speaker's speech
HUM_CARRIERS = 4  # back-channel and laugh sounds in a voice's bank
LAUGH_CARRIERS = 1
LAUGH_BURSTS_HZ = (4.0, 5.0)


@dataclass(frozen=True)
class Voice:
    """One speaker's voice."""

    pitch_hz: float  # mean pitch of their syllables
    formant_scale: float  # vowel formants times this (a shorter vocal tract: higher)
    level: float  # a full syllable's peak on their own mic, full scale 1.0
    tempo: float = 1.0  # syllables this much shorter than the bank's


@dataclass
class DryTrack:
    """One speaker's dry sound as pieces (a sample position, a wave, a gain), sorted by position."""

    starts: np.ndarray  # int64[pieces]
    waves: list[np.ndarray]  # float32, shared with the voice's bank where uncut
    gains: list[float]
    longest: int

    @classmethod
    def of(
        cls, sounds: Sequence[Sound], emphasis: Sequence[float], voice: Voice, rng: np.random.Generator, rate: int
    ) -> DryTrack:
        """One speaker's `sounds` in `voice`, syllables near the `emphasis` moments (seconds) louder."""
        bank = _Bank.of(rng, voice, rate, {sound.kind for sound in sounds})
        stressed = np.array(sorted(emphasis))
        pieces: list[tuple[int, np.ndarray, float]] = []
        for sound in sounds:
            first, last = sound_samples(sound, rate)
            if last - first < MIN_PIECE_SECONDS * rate:
                continue
            if sound.kind == "speech":
                pieces += _speech(rng, bank.syllables, voice, first, last, stressed, rate)
            elif sound.kind == "backchannel":
                pieces.append((first, _hum(rng, bank, last - first, rate), voice.level * 10 ** (BACKCHANNEL_DB / 20)))
            else:
                pieces.append((first, _laugh(rng, bank, last - first, rate), voice.level * float(rng.uniform(0.7, 1))))
        pieces.sort(key=lambda piece: piece[0])
        return cls(
            np.array([p[0] for p in pieces], np.int64),
            [p[1] for p in pieces],
            [p[2] for p in pieces],
            max((len(p[1]) for p in pieces), default=0),
        )

    @classmethod
    def speaker(cls, conversation: Conversation, speaker: int, voice: Voice, rng: np.random.Generator, rate: int):
        sounds = [sound for sound in conversation.sounds if sound.speaker == speaker]
        emphasis = [t for turn in conversation.turns if turn.speaker == speaker for t in turn.emphasis]
        return cls.of(sounds, emphasis, voice, rng, rate)

    def render(self, lo: int, hi: int) -> np.ndarray:
        """float32[hi - lo]: the samples [lo, hi) of this speaker's sound (lo may be negative)."""
        out = np.zeros(hi - lo, np.float32)
        first = int(np.searchsorted(self.starts, lo - self.longest))
        last = int(np.searchsorted(self.starts, hi))
        for i in range(first, last):
            start, wave = int(self.starts[i]), self.waves[i]
            a, b = max(start, lo), min(start + len(wave), hi)
            if a < b:
                out[a - lo : b - lo] += np.float32(self.gains[i]) * wave[a - start : b - start]
        return out


def _speech(
    rng: np.random.Generator, bank: list[np.ndarray], voice: Voice, first: int, last: int, emphasis, rate: int
) -> list[tuple[int, np.ndarray, float]]:
    """Syllables from the bank from `first` up to `last` (samples), the last one cut to fit."""
    pieces = []
    at = first
    while last - at >= MIN_PIECE_SECONDS * rate:
        wave = bank[int(rng.integers(len(bank)))]
        gain = voice.level * float(rng.uniform(0.5, 1.0))
        if len(emphasis) and np.min(np.abs(emphasis - (at + len(wave) / 2) / rate)) < EMPHASIS_SECONDS:
            gain *= EMPHASIS_GAIN
        if len(wave) > last - at:
            wave = _faded(wave[: last - at].copy(), rate, fade_in=False)
        pieces.append((at, wave, gain))
        at += len(wave) + int(rng.uniform(*SYLLABLE_GAP_SECONDS) * rate)
    return pieces


@dataclass(frozen=True)
class _Bank:
    """One voice's sounds, synthesised once: syllables, and the voiced carriers of its
    back-channels and laughs (cut to each one's length, then shaped)."""

    syllables: list[np.ndarray]
    hums: list[np.ndarray]
    laughs: list[np.ndarray]

    @classmethod
    def of(cls, rng: np.random.Generator, voice: Voice, rate: int, kinds: set[str]) -> _Bank:
        """The bank for sounds of `kinds` (a narration, all speech, needs no hums or laughs)."""
        syllables = syllable_bank(rng, rate, BANK_SYLLABLES, voice.pitch_hz, voice.formant_scale, voice.tempo)
        hums = [_hum_carrier(rng, voice, rate) for _ in range(HUM_CARRIERS if "backchannel" in kinds else 0)]
        laughs = [_laugh_carrier(rng, voice, rate) for _ in range(LAUGH_CARRIERS if "laugh" in kinds else 0)]
        return cls(syllables, hums, laughs)


def _hum_carrier(rng: np.random.Generator, voice: Voice, rate: int) -> np.ndarray:
    """A nasal hum as long as the longest back-channel, its pitch rising then falling, peak 1."""
    t = np.arange(int(BACKCHANNEL_SECONDS[1] * rate) + 1) / rate
    f0 = voice.pitch_hz * float(rng.uniform(0.9, 1.05)) * (0.95 + 0.2 * np.sin(np.pi * t / t[-1]))
    nasal = [250.0 * voice.formant_scale, 2200.0 * voice.formant_scale, 3000.0 * voice.formant_scale]
    return _peak_one(voiced(rng, f0, rate, nasal, top_hz=2500.0))


def _laugh_carrier(rng: np.random.Generator, voice: Voice, rate: int) -> np.ndarray:
    """An open "ha" as long as the longest laugh, higher than speech and falling, peak 1."""
    t = np.arange(int(LAUGH_SECONDS[1] * rate) + 1) / rate
    f0 = voice.pitch_hz * float(rng.uniform(1.3, 1.7)) * (1 - 0.2 * t / t[-1])
    return _peak_one(voiced(rng, f0, rate, [f * voice.formant_scale for f in VOWELS[0]], top_hz=3000.0))


def _hum(rng: np.random.Generator, bank: _Bank, n: int, rate: int) -> np.ndarray:
    """A back-channel of n samples, peak about 1: "mm-hm" (two hums with a dip between) or one "mm"."""
    carrier = np.resize(bank.hums[int(rng.integers(len(bank.hums)))], n)
    t = np.arange(n, dtype=np.float32) / np.float32(rate)
    seconds = n / rate
    if rng.random() < 0.7:
        hump = 0.45 * seconds
        envelope = np.where(t < hump, np.sin(np.pi * t / hump) ** 2, 0.0)
        envelope += np.where(t >= seconds - hump, np.sin(np.pi * (t - (seconds - hump)) / hump) ** 2, 0.0)
    else:
        envelope = np.sin(np.pi * t / seconds) ** 1.5
    return (carrier * envelope).astype(np.float32)


def _laugh(rng: np.random.Generator, bank: _Bank, n: int, rate: int) -> np.ndarray:
    """A laugh of n samples, peak 1: voiced, breathy bursts at 4-5 Hz, dying away."""
    tone = bank.laughs[int(rng.integers(len(bank.laughs)))]
    tone = np.resize(tone, n)  # a laugh longer than the carrier goes round it again
    t = np.arange(n, dtype=np.float32) / np.float32(rate)
    breath = np.diff(rng.standard_normal(n + 1).astype(np.float32))  # white noise tilted up: the breath
    breath /= np.abs(breath).max()
    bursts = (0.5 - 0.5 * np.cos(2 * np.pi * float(rng.uniform(*LAUGH_BURSTS_HZ)) * t)) ** 2
    dying = np.exp(-float(rng.uniform(0.5, 1.5)) * t / (n / rate))
    return _faded(_peak_one((0.75 * tone + 0.35 * breath) * bursts * dying), rate)


def _peak_one(wave: np.ndarray) -> np.ndarray:
    peak = np.abs(wave).max()
    return (wave / peak if peak > 0 else wave).astype(np.float32)


def _faded(wave: np.ndarray, rate: int, fade_in: bool = True) -> np.ndarray:
    """`wave` with a FADE_SECONDS linear fade-out (and fade-in): a cut never clicks."""
    k = min(len(wave) // 2, int(FADE_SECONDS * rate))
    if k:
        ramp = np.linspace(0.0, 1.0, k, endpoint=False, dtype=np.float32)
        wave[-k:] *= ramp[::-1]
        if fade_in:
            wave[:k] *= ramp
    return wave


def sound_samples(sound: Sound, rate: int) -> tuple[int, int]:
    """The samples [first, last) a sound may occupy: inside its interval, never outside."""
    return math.ceil(sound.start * rate), math.floor(sound.end * rate)
