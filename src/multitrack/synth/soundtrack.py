"""The sound the non-podcast styles lay under their picture: voice-overs and music beds.

A voice-over (a talking head's lav, a screen recording's commentary) is one voice's
narration (`synth.voices.draw_narration`, phrases with pauses), a music bed a chord a bar
over a beat (`synth.audio.music_bed`). Each is a media file of the draft's own
(`DraftTimeline.add_media_file`, its pathurl relative to the xmeml), rendered into the
draft's media folder when it has one and only referenced when not. Every draw comes from
the draft's `sound_rng`, and the same draws are made whether or not the file is rendered,
so a cut never moves with rendering; the picture follows the sound only where a style asks
it to (B-roll on the narration's pauses, montage cuts on the beat), and then it follows the
drawn times, which the rendered file holds.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from multitrack.synth.audio import AudioWriter, beat_times, music_bed
from multitrack.synth.builder import DraftTimeline
from multitrack.synth.conversation import Sound
from multitrack.synth.voices import CODEC_OPTIONS, Voice, draw_narration, draw_voices, render_voice
from multitrack.timeline.model import Asset, Clip

RATE = 48000
BPM = (88.0, 128.0)
MUSIC_DB = (-10.0, -4.0)  # the bed's level against music_bed's own
# a music bed at 48 kb/s costs FFmpeg's fast AAC coder as much as its default search (0.54 s a
# minute), at 32 kb/s 0.16 s: a bed under a short does not need more (docs/decisions.md)
MUSIC_BIT_RATE = 32000
SNAP_SECONDS = 2.0  # a cut moves at most this far to land in a pause


@dataclass(frozen=True)
class VoiceOver:
    asset: Asset
    sounds: tuple[Sound, ...]  # the narration, seconds on the file's own axis


def add_voice_over(draft: DraftTimeline, name: str, duration_frames: int, voice: Voice | None = None) -> VoiceOver:
    """A narrator's mic file as long as `duration_frames` of the sequence: one voice (`voice`, else
    a new one) talking in phrases."""
    asset = draft.add_media_file(name, duration_frames=duration_frames)
    seconds = duration_frames / draft.rate.fps
    sounds = tuple(draw_narration(draft.sound_rng, seconds))
    voice = voice or draw_voices(draft.sound_rng, 1)[0]
    render_rng = draft.sound_rng.spawn(1)[0]
    if draft.media_dir is not None:
        render_voice(sounds, voice, draft.media_path(name), seconds, render_rng, RATE)
    return VoiceOver(asset, sounds)


def add_music(draft: DraftTimeline, name: str, duration_frames: int) -> tuple[Asset, np.ndarray]:
    """A music bed from the sequence's start: its asset and its beats in sequence frames (floats)."""
    asset = draft.add_media_file(name, duration_frames=duration_frames)
    seconds = duration_frames / draft.rate.fps
    bpm = float(draft.sound_rng.uniform(*BPM))
    gain = 10 ** (float(draft.sound_rng.uniform(*MUSIC_DB)) / 20)
    render_rng = draft.sound_rng.spawn(1)[0]
    if draft.media_dir is not None:
        path = draft.media_path(name)
        writer = AudioWriter(path, 1, RATE, "aac", bit_rate=MUSIC_BIT_RATE, codec_options=CODEC_OPTIONS)
        writer.write(gain * music_bed(seconds, RATE, bpm, render_rng))
        writer.close()
    return asset, beat_times(seconds, bpm) * draft.rate.fps


def timeline_pauses(sounds: Sequence[Sound], clips: Sequence[Clip], fps: float) -> list[tuple[float, float]]:
    """The gaps between the narration's phrases as the sound clips play them, in sequence frames:
    each clip maps source frame s to sequence frame s - (in - start)."""
    pauses = []
    for clip in clips:
        shift = clip.in_frame - clip.start_frame
        for before, after in zip(sounds, sounds[1:], strict=False):
            start, end = before.end * fps - shift, after.start * fps - shift
            start, end = max(start, clip.start_frame), min(end, clip.end_frame)
            if end > start:
                pauses.append((start, end))
    return sorted(pauses)


def snapper(targets: Sequence[float] | np.ndarray, reach_frames: float) -> Callable[[int, int], int]:
    """snap(frame, after): the target frame nearest `frame` that lies after `after` and within
    `reach_frames` of it, else `frame` itself."""
    ordered: list[float] = sorted(float(t) for t in targets)

    def snap(frame: int, after: int = -1) -> int:
        at = bisect.bisect_left(ordered, frame)
        near = [t for t in ordered[max(0, at - 1) : at + 1] if t > after and abs(t - frame) <= reach_frames]
        if not near:
            return frame
        nearest: float = min(near, key=lambda t: abs(t - frame))
        return int(round(nearest))

    return snap


def pause_snapper(pauses: Sequence[tuple[float, float]], fps: float) -> Callable[[int, int], int]:
    """Snap a cut to the middle of the nearest pause (an editor cuts between phrases)."""
    return snapper([(a + b) / 2 for a, b in pauses], SNAP_SECONDS * fps)


def snap_shots(shots: list[tuple[int, int]], snap: Callable[[int, int], int]) -> list[tuple[int, int]]:
    """Consecutive shots with each inner cut moved by `snap`; a cut that lands on or before the
    one before it is dropped (the two shots become one), so no sliver is left off the target."""
    end_frame = shots[-1][1]
    bounds = [shots[0][0]]
    for _, end in shots[:-1]:
        moved = snap(end, -1)
        if bounds[-1] < moved < end_frame:
            bounds.append(moved)
    bounds.append(end_frame)
    return list(zip(bounds, bounds[1:], strict=False))
