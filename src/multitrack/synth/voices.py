"""Voices, microphones and cameras: a conversation rendered to one sound file per mic and per camera.

Each speaker has a `Voice` (pitch, formant scale, level, tempo; `draw_voices` keeps their
pitches apart, low and high voices). `render_session` renders every speaker's dry sound
exactly inside their `Sound` intervals (`synth.conversation`; the speech, "mm-hm"s and
laughs themselves are made in `synth.utterance`): outside them it is exactly zero.

A microphone is a close, directional mic: its own speaker at the voice's level, every
other speaker 15-25 dB lower (drawn per mic and speaker, `bleed_db`), a few ms late (the
distance), and the room's noise (drawn per mic). A camera's scratch audio hears everyone
from further away: the speakers it frames 6-10 dB below their own mic, the others 14-20
dB below, the wide everyone at about the same level (11-14 dB below, within 1.5 dB of its
draw), each later than on the mics, with the room's reverberation (one impulse response
per session, a decaying noise tail of RT60 0.25-0.6 s, louder on the wide) and more noise.

Everything is drawn from the generator passed in, in a fixed order, so the same arguments
give the same files. The session is rendered and encoded 10 s at a time (AAC, mono, by
PyAV): memory does not grow with its length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from multitrack.synth.audio import AudioWriter
from multitrack.synth.conversation import Conversation, Sound
from multitrack.synth.utterance import DryTrack, Voice

__all__ = ["Camera", "SessionAudio", "Voice", "draw_narration", "draw_voices", "render_session", "render_voice"]

LOW_PITCH_HZ = (85.0, 135.0)  # a low voice's mean pitch ...
HIGH_PITCH_HZ = (165.0, 250.0)  # ... and a high one's
MIN_PITCH_RATIO = 1.08  # any two speakers' pitches differ by at least this factor (1.3 semitones)
LEVEL = (0.22, 0.40)  # a full syllable's peak on the speaker's own mic, full scale 1.0
TEMPO = (0.85, 1.15)  # syllable rate against the bank's 0.12-0.28 s syllables
BLEED_DB = (15.0, 25.0)  # another speaker on a mic, dB below their own mic
MIC_DELAY_SECONDS = (0.003, 0.008)  # the other speakers reach a mic this much later (1-2.7 m)
MIC_NOISE_DBFS = (-62.0, -54.0)  # room noise on a mic, RMS
CAMERA_FRAMED_DB = (6.0, 10.0)  # a framed speaker on a camera's scratch audio, below their own mic
CAMERA_OTHER_DB = (14.0, 20.0)  # a speaker the camera does not frame
CAMERA_WIDE_DB = (11.0, 14.0)  # everyone on the wide ...
WIDE_SPREAD_DB = 1.5  # ... within this of its draw
CAMERA_DELAY_SECONDS = (0.005, 0.015)
CAMERA_ROOM_DB = (16.0, 20.0)  # the room's reverberation on a close-up camera, below a voice's own mic
WIDE_ROOM_DB = (10.0, 13.0)  # ... and on the wide
CAMERA_NOISE_DBFS = (-54.0, -48.0)
WIDE_NOISE_EXTRA_DB = 3.0
RT60_SECONDS = (0.25, 0.6)
NARRATION_PHRASE_SECONDS = (1.0, 4.5)  # a voice-over's phrases ...
NARRATION_BREATH_SECONDS = (0.2, 0.5)  # ... the breaths between them ...
NARRATION_PAUSE = 0.3  # ... and P(a longer pause of NARRATION_PAUSE_SECONDS instead)
NARRATION_PAUSE_SECONDS = (0.8, 2.0)
MIN_PHRASE_SECONDS = 0.5
BLOCK_SECONDS = 10
BIT_RATE = 48000  # AAC, mono: enough for speech, and a fifth less encoding time than 64 kb/s
# FFmpeg's fast AAC coder: a third less encoding time than the default two-loop search,
# which is most of a session's render (benchmarks/podcast_audio.py)
CODEC_OPTIONS = {"aac_coder": "fast"}


@dataclass(frozen=True)
class Camera:
    """A camera whose scratch audio is rendered; `shows` the speakers it frames, () the wide."""

    name: str
    shows: tuple[int, ...]
    offset_seconds: float = 0.0  # it rolled this long before the session's time 0 (file time = session + offset)
    tail_seconds: float = 0.0  # and ran on this long after its end


@dataclass(frozen=True)
class SessionAudio:
    """The files one session was rendered to and the levels drawn for them."""

    rate: int
    mics: tuple[Path, ...]  # one per speaker, in speaker order
    cameras: tuple[Path, ...]  # one per camera, in the order given
    bleed_db: tuple[tuple[float, ...], ...]  # bleed_db[mic][speaker]: dB below their own mic, 0 on the diagonal
    seconds: float  # each mic's length (the session's)
    camera_db: tuple[
        tuple[float, ...], ...
    ] = ()  # camera_db[camera][speaker]: the direct sound, dB below their own mic
    camera_room_db: tuple[float, ...] = ()  # each camera's reverberation, dB below a voice on its own mic
    mic_noise_dbfs: tuple[float, ...] = ()
    camera_noise_dbfs: tuple[float, ...] = ()
    camera_seconds: tuple[float, ...] = ()  # each camera file's length
    rt60_seconds: float = 0.0

    def to_json(self) -> dict:
        """What synth.json keeps of it: file names, levels in dB (0.01), lengths (1 ms)."""

        def rows(table: tuple[tuple[float, ...], ...]) -> list[list[float]]:
            return [[round(value, 2) for value in row] for row in table]

        return {
            "rate": self.rate,
            "mics": [path.name for path in self.mics],
            "cameras": [path.name for path in self.cameras],
            "seconds": round(self.seconds, 3),
            "camera_seconds": [round(s, 3) for s in self.camera_seconds],
            "bleed_db": rows(self.bleed_db),
            "camera_db": rows(self.camera_db),
            "camera_room_db": [round(v, 2) for v in self.camera_room_db],
            "mic_noise_dbfs": [round(v, 2) for v in self.mic_noise_dbfs],
            "camera_noise_dbfs": [round(v, 2) for v in self.camera_noise_dbfs],
            "rt60_seconds": round(self.rt60_seconds, 3),
        }


def draw_voices(rng: np.random.Generator, speakers: int) -> list[Voice]:
    """`speakers` voices, each low or high at random, their pitches at least MIN_PITCH_RATIO apart."""
    while True:
        high = rng.random(speakers) < 0.5
        pitches = np.where(high, rng.uniform(*HIGH_PITCH_HZ, speakers), rng.uniform(*LOW_PITCH_HZ, speakers))
        ordered = np.sort(pitches)
        if speakers < 2 or np.all(ordered[1:] / ordered[:-1] >= MIN_PITCH_RATIO):
            break
    formants = np.where(high, rng.uniform(1.08, 1.2, speakers), rng.uniform(0.92, 1.02, speakers))
    levels = rng.uniform(*LEVEL, speakers)
    tempos = rng.uniform(*TEMPO, speakers)
    return [
        Voice(float(p), float(f), float(v), float(t))
        for p, f, v, t in zip(pitches, formants, levels, tempos, strict=True)
    ]


def render_session(
    conversation: Conversation,
    voices: Sequence[Voice],
    cameras: Sequence[Camera],
    paths_mics: Sequence[Path],
    paths_cameras: Sequence[Path],
    rng: np.random.Generator,
    rate: int = 48000,
) -> SessionAudio:
    """Render `conversation` to one file per speaker's mic and one per camera (see the module's story)."""
    speakers = conversation.speakers
    _check(conversation, voices, cameras, paths_mics, paths_cameras)
    tracks = [DryTrack.speaker(conversation, speaker, voice, rng, rate) for speaker, voice in enumerate(voices)]
    mics = [_mic(rng, mic, speakers, rate) for mic in range(speakers)]
    shots = [_camera(rng, camera, speakers, rate) for camera in cameras]
    rt60 = float(rng.uniform(*RT60_SECONDS))
    room = _Room(_impulse_response(rng, rt60, rate), BLOCK_SECONDS * rate)
    n = int(round(conversation.seconds * rate))
    outputs = mics + shots
    for output, path, noise_rng in zip(outputs, [*paths_mics, *paths_cameras], rng.spawn(len(outputs)), strict=True):
        output.open(Path(path), rate, noise_rng)
    _render_blocks(tracks, outputs, room if shots else None, n, rate)
    for output in outputs:
        output.close()
    return SessionAudio(
        rate=rate,
        mics=tuple(Path(p) for p in paths_mics),
        cameras=tuple(Path(p) for p in paths_cameras),
        bleed_db=tuple(mic.drop_db for mic in mics),
        seconds=n / rate,
        camera_db=tuple(shot.drop_db for shot in shots),
        camera_room_db=tuple(-20 * math.log10(shot.room_gain) for shot in shots),
        mic_noise_dbfs=tuple(mic.noise_dbfs for mic in mics),
        camera_noise_dbfs=tuple(shot.noise_dbfs for shot in shots),
        camera_seconds=tuple(shot.written / rate for shot in shots),
        rt60_seconds=rt60,
    )


def draw_narration(rng: np.random.Generator, seconds: float, start: float = 0.0) -> list[Sound]:
    """One person talking alone (a voice-over, a screen recording's commentary), speaker 0:
    phrases of NARRATION_PHRASE_SECONDS, breaths between them, now and then a longer pause
    (a new thought: where an editor cuts the picture)."""
    sounds, at = [], start + float(rng.uniform(0.3, 1.2))
    while at < start + seconds - MIN_PHRASE_SECONDS:
        end = min(start + seconds, at + float(rng.uniform(*NARRATION_PHRASE_SECONDS)))
        sounds.append(Sound(0, at, end, "speech"))
        pause = NARRATION_PAUSE_SECONDS if rng.random() < NARRATION_PAUSE else NARRATION_BREATH_SECONDS
        at = end + float(rng.uniform(*pause))
    return sounds


def render_voice(
    sounds: Sequence[Sound], voice: Voice, path: Path, seconds: float, rng: np.random.Generator, rate: int = 48000
) -> float:
    """One voice alone on its mic, `seconds` long: `sounds` (any speaker's: they are all this voice)
    rendered as a session's speaker is, over the mic's room noise. Returns the seconds written."""
    mic = _mic(rng, 0, 1, rate)
    mic.open(Path(path), rate, rng.spawn(1)[0])
    n = int(round(seconds * rate))
    _render_blocks([DryTrack.of(sounds, (), voice, rng, rate)], [mic], None, n, rate)
    mic.close()
    return n / rate


def _check(conversation, voices, cameras, paths_mics, paths_cameras) -> None:
    speakers = conversation.speakers
    if len(voices) != speakers or len(paths_mics) != speakers:
        raise ValueError(
            f"render_session: {speakers} speakers need {speakers} voices and mic paths, "
            f"got {len(voices)} voices and {len(paths_mics)} mic paths"
        )
    if len(paths_cameras) != len(cameras):
        raise ValueError(f"render_session: {len(cameras)} cameras but {len(paths_cameras)} camera paths")
    for camera in cameras:
        if any(not 0 <= s < speakers for s in camera.shows):
            raise ValueError(
                f"render_session: camera {camera.name!r} shows {camera.shows}, speakers are 0-{speakers - 1}"
            )


# ---- microphones, cameras, the room ---------------------------------------------------------


@dataclass
class _Output:
    """One file being written: each speaker at a gain and delay, the room at a gain, noise."""

    gains: np.ndarray  # float32[speakers], linear
    delays: np.ndarray  # int64[speakers], samples
    drop_db: tuple[float, ...]  # each speaker, dB below their own mic
    noise_dbfs: float
    room_gain: float = 0.0
    lead: int = 0  # samples of noise before the session's time 0
    tail: int = 0  # and after its end
    writer: AudioWriter | None = None
    noise_rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    written: int = 0

    def open(self, path: Path, rate: int, noise_rng: np.random.Generator) -> None:
        self.writer = _writer(path, rate)
        self.noise_rng = noise_rng
        if self.lead:
            self.write(self.noise(self.lead))

    def noise(self, n: int) -> np.ndarray:
        """Room noise at noise_dbfs RMS: uniform noise summed over 2 samples (a gentle high cut;
        8x cheaper to draw than normal noise, which would sound the same)."""
        uniform = self.noise_rng.random(n + 1, dtype=np.float32)
        noise = uniform[1:] + uniform[:-1]
        noise -= np.float32(1.0)
        noise *= np.float32(10 ** (self.noise_dbfs / 20) * np.sqrt(6.0))  # the sum's variance is 2/12
        return noise

    def write(self, samples: np.ndarray) -> None:
        assert self.writer is not None
        self.writer.write(samples)
        self.written += len(samples)

    def close(self) -> None:
        if self.tail:
            self.write(self.noise(self.tail))
        assert self.writer is not None
        self.writer.close()


def _mic(rng: np.random.Generator, mic: int, speakers: int, rate: int) -> _Output:
    drop = [0.0 if s == mic else float(rng.uniform(*BLEED_DB)) for s in range(speakers)]
    delays = [0 if s == mic else int(rng.uniform(*MIC_DELAY_SECONDS) * rate) for s in range(speakers)]
    return _Output(_linear(drop), np.array(delays, np.int64), tuple(drop), float(rng.uniform(*MIC_NOISE_DBFS)))


def _camera(rng: np.random.Generator, camera: Camera, speakers: int, rate: int) -> _Output:
    if camera.shows:
        drop = [
            float(rng.uniform(*(CAMERA_FRAMED_DB if s in camera.shows else CAMERA_OTHER_DB))) for s in range(speakers)
        ]
        room_db = float(rng.uniform(*CAMERA_ROOM_DB))
        noise = float(rng.uniform(*CAMERA_NOISE_DBFS))
    else:
        wide = float(rng.uniform(*CAMERA_WIDE_DB))
        drop = [wide + float(rng.uniform(-WIDE_SPREAD_DB, WIDE_SPREAD_DB)) for _ in range(speakers)]
        room_db = float(rng.uniform(*WIDE_ROOM_DB))
        noise = float(rng.uniform(*CAMERA_NOISE_DBFS)) + WIDE_NOISE_EXTRA_DB
    delays = (rng.uniform(*CAMERA_DELAY_SECONDS, speakers) * rate).astype(np.int64)
    return _Output(
        _linear(drop),
        delays,
        tuple(drop),
        noise,
        room_gain=10 ** (-room_db / 20),
        lead=int(round(camera.offset_seconds * rate)),
        tail=int(round(camera.tail_seconds * rate)),
    )


def _linear(drop_db: list[float]) -> np.ndarray:
    return (10 ** (-np.array(drop_db) / 20)).astype(np.float32)


def _impulse_response(rng: np.random.Generator, rt60: float, rate: int) -> np.ndarray:
    """A room's diffuse reverberation: noise decaying 60 dB over rt60, starting 5 ms late, unit energy."""
    t = np.arange(int(rt60 * rate)) / rate
    response = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    response[: int(0.005 * rate)] = 0.0
    return (response / np.sqrt(np.sum(response**2))).astype(np.float32)


class _Room:
    """The room's reverberation, block by block: overlap-add FFT convolution with one impulse response."""

    def __init__(self, response: np.ndarray, block: int):
        self.taps = len(response)
        self.size = 1 << (block + self.taps - 1).bit_length()
        self.spectrum = np.fft.rfft(response, self.size)
        self.carry = np.zeros(self.taps - 1, np.float32)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """The reverberation heard during `samples` (float32, any length up to the block)."""
        full = np.fft.irfft(np.fft.rfft(samples, self.size) * self.spectrum, self.size)[: len(samples) + self.taps - 1]
        full[: self.taps - 1] += self.carry
        self.carry = full[len(samples) :].astype(np.float32)
        return full[: len(samples)].astype(np.float32)


def _render_blocks(tracks: list[DryTrack], outputs: list[_Output], room: _Room | None, n: int, rate: int) -> None:
    """Every output's session part, BLOCK_SECONDS at a time: each speaker's dry block rendered once."""
    margin = int(max([int(o.delays.max()) for o in outputs] + [0]))
    block = BLOCK_SECONDS * rate
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        dry = [track.render(lo - margin, hi) for track in tracks]  # (margin + hi - lo,) each
        reverb = room.feed(np.sum([d[margin:] for d in dry], axis=0)) if room is not None else None
        for output in outputs:
            out = output.noise(hi - lo)
            for speaker, samples in enumerate(dry):
                delay = int(output.delays[speaker])
                out += output.gains[speaker] * samples[margin - delay : margin - delay + hi - lo]
            if reverb is not None and output.room_gain:
                out += np.float32(output.room_gain) * reverb
            output.write(out)


def _writer(path: Path, rate: int) -> AudioWriter:
    """AAC in the path's container (.m4a, .mov, .mp4), PCM for .wav."""
    if path.suffix.lower() == ".wav":
        return AudioWriter(path, 1, rate)
    return AudioWriter(path, 1, rate, "aac", bit_rate=BIT_RATE, codec_options=CODEC_OPTIONS)
