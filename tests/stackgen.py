"""Synced multicam stacks for the cut tests: speakers taking turns, one mic each (with bleed), one
close-up camera per speaker and a wide, written as xmeml with real audio files.

    stack = write_stack(tmp_path, seconds=60, speakers=2)
    stack.path          # the stack's xmeml: cameras on V1…, mics on A1…
    stack.pairing       # {camera V number: (mic A numbers)}; the wide's is ()
    stack.active        # (speakers, N) bool at the stack's rate: who speaks on each frame

Camera files need no media (a camera's picture is never decoded); each mic's .wav holds its
speaker's speech-like voice during their turns and the others' 20 dB lower (bleed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from audio_xmeml import audio_track
from conversation import conversation
from multitrack.synth.audio import speech_like, write_audio
from xmemlgen import clipitem, document, file_def, file_ref, rate, sequence, sequence_ref, track

AUDIO_RATE = 16000
BLEED = 0.1  # -20 dB
SCRATCH_BLEED = 0.25  # -12 dB: a camera is nearer its own speaker
CAMERA_IN = 50  # source frame of each camera at the stack's frame 0


@dataclass
class StackFiles:
    path: Path
    pairing: dict[int, tuple[int, ...]]
    active: np.ndarray  # (speakers, N) at the stack's rate
    fps: Fraction
    frames: int
    mic_files: list[Path] = field(default_factory=list)
    camera_names: list[str] = field(default_factory=list)


def speech_tracks(speakers: int, seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(speakers, samples) float32 voices gated by a conversation, and the conversation at 100 Hz."""
    turns = conversation(speakers, seconds, 100, seed)  # (S, hops)
    voices = np.zeros((speakers, int(seconds * AUDIO_RATE)), np.float32)
    for s in range(speakers):
        voice, _ = speech_like(seconds, AUDIO_RATE, seed=seed * 10 + s, level=0.3)
        gate = np.repeat(turns[s], AUDIO_RATE // 100)[: voice.shape[0]]
        voices[s, : len(gate)] = voice[: len(gate)] * gate
    return voices, turns


def write_stack(
    folder: Path,
    seconds: float = 60.0,
    speakers: int = 2,
    timebase: int = 25,
    ntsc: bool = False,
    seed: int = 1,
    camera_order: list[int] | None = None,
    mic_order: list[int] | None = None,
    name: str = "podcast stack",
    scratch: bool = False,
    nest: bool = False,
    prompt: np.ndarray | None = None,
    mics_in_nest: bool = False,
) -> StackFiles:
    """Cameras: 0 the wide, s + 1 the close-up of speaker s; `camera_order[i]` is the camera on
    V(i+1) and `mic_order[j]` the speaker whose mic is on A(j+1) (default: in order).

    Each camera clip starts at source frame CAMERA_IN (the stack synced by the cameras' timecode).
    `scratch`: each camera file holds sound (its speaker loud, the others 12 dB lower; the wide
    hears all alike), CAMERA_IN frames of it before the stack's start. `nest`: the cameras are the
    angles of one multicam nest clip on V1 (its tracks in `camera_order`), with `mics_in_nest` the
    mics the nest's audio tracks and the stack's one audio track its sound. `prompt` (P,): the
    camera (by number, 0 the wide) the editor showed on the first P frames: the close-ups are cut
    to those runs there and run whole after it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fps = Fraction(timebase * 1000, 1001) if ntsc else Fraction(timebase)
    frames = int(seconds * fps)
    voices, turns = speech_tracks(speakers, seconds, seed)
    camera_order = camera_order if camera_order is not None else list(range(speakers + 1))
    mic_order = mic_order if mic_order is not None else list(range(speakers))
    mic_files = []
    for s in range(speakers):
        heard = voices[s] + BLEED * (voices.sum(axis=0) - voices[s])
        mic_files.append(write_audio(folder / f"mic_{s + 1}.wav", heard[None, :], AUDIO_RATE))
    camera_names = ["cam_wide.mov"] + [f"cam_{s + 1}.mov" for s in range(speakers)]
    if scratch:
        lead = np.zeros(int(round(CAMERA_IN / fps * AUDIO_RATE)), np.float32)
        for camera, camera_name in enumerate(camera_names):
            if camera == 0:
                sound = 0.5 * voices.sum(axis=0)
            else:
                sound = voices[camera - 1] + SCRATCH_BLEED * (voices.sum(axis=0) - voices[camera - 1])
            write_audio(folder / camera_name, np.concatenate([lead, sound])[None, :], AUDIO_RATE)
    seq_rate = rate(timebase, ntsc)
    prompt_frames = 0 if prompt is None else len(prompt)
    video = []
    for camera in camera_order:
        ident = f"file-cam{camera}"
        pathurl = camera_names[camera] if scratch else f"file://localhost/Volumes/Shoot/{camera_names[camera]}"
        definition = file_def(
            ident,
            camera_names[camera],
            pathurl=pathurl,
            duration=frames + 2 * CAMERA_IN,
            rate=seq_rate,
            width=1920,
            height=1080,
        )
        pieces = [(0, frames)]
        if prompt is not None and camera != 0:
            pieces = _runs(prompt == camera) + [(prompt_frames, frames)]
        items = []
        for number, (start, end) in enumerate(pieces):
            items.append(
                clipitem(
                    start,
                    end,
                    CAMERA_IN + start,
                    file=definition if number == 0 else file_ref(ident),
                    id=f"clipitem-v{camera}-{number}",
                    name=camera_names[camera],
                )
            )
        video.append(track(*items))
    audio = []
    for s in mic_order:
        definition = file_def(
            f"file-mic{s}",
            f"mic_{s + 1}.wav",
            pathurl=f"mic_{s + 1}.wav",
            duration=frames,
            rate=seq_rate,
            width=None,
            audio_channels=1,
        )
        audio.append(audio_track(clipitem(0, frames, 0, file=definition, id=f"clipitem-a{s}", name=f"mic_{s + 1}.wav")))
    if nest:
        inside = audio if mics_in_nest else None
        nested = sequence(
            *video, id="sequence-nest", name="multicam source", duration=frames, rate=seq_rate, audio=inside
        )
        video = [track(clipitem(0, frames, 0, file=nested, id="clipitem-nest", name="multicam source"))]
        if mics_in_nest:  # the stack plays the nest's sound, as Premiere's multicam clip does
            nest_sound = clipitem(0, frames, 0, file=sequence_ref("sequence-nest"), id="clipitem-nest-a")
            audio = [audio_track(nest_sound)]
    text = document(sequence(*video, name=name, duration=frames, rate=seq_rate, audio=audio))
    path = folder / f"{name}.xml"
    path.write_text(text)
    hops = (np.arange(frames) / fps * 100).astype(int).clip(0, turns.shape[1] - 1)
    active = turns[:, hops]
    pairing = {}
    for v, camera in enumerate(camera_order, start=1):
        pairing[v] = () if camera == 0 else (mic_order.index(camera - 1) + 1,)
    return StackFiles(path, pairing, active, fps, frames, mic_files, [camera_names[c] for c in camera_order])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


__all__ = ["StackFiles", "file_ref", "speech_tracks", "write_stack"]
