"""The stack's sound for cutting: each mic's speech and loudness per stack frame, and on request
each camera's scratch audio, heard by ingest's own means (features/: the frame painter's audio
segments, `listening.find_media` with --media-root/--media-dir, the hearing engine's pool and
cache, `sound.hear_segments`): nothing is heard differently from the frame table's columns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from multitrack.cut.stack import Stack
from multitrack.data.resample import Resampler
from multitrack.features.audio_frames import AudioSegment
from multitrack.features.frames import TimelineFrames, timeline_frames
from multitrack.features.hearing import HopCache, analyse_all
from multitrack.features.listening import find_media
from multitrack.features.media import MediaFinder
from multitrack.features.sound import hear_segments, media_requests
from multitrack.features.table import AudioArrays


@dataclass
class StackSound:
    """(M, N) per mic, (C, N) per camera (scratch, zeros unless asked), at the stack's rate."""

    speech: np.ndarray
    loudness_db: np.ndarray
    heard: np.ndarray
    scratch_db: np.ndarray
    scratch_heard: np.ndarray  # (C,) bool: any of the camera's sound was heard
    media_found: int
    media_missing: list[str]
    warnings: list[str]

    @property
    def deaf(self) -> bool:
        """No mic heard on any frame."""
        return not bool(self.heard.any())


def hear_stack(
    stack: Stack,
    frames: TimelineFrames,
    finder: MediaFinder,
    cache: HopCache | None = None,
    jobs: int = 1,
    scratch: bool = False,
    hear: bool = True,
) -> StackSound:
    """Hear the stack's mics (`frames`: `stack_frames(stack)`) and, with `scratch`, its cameras'
    own sound (channel 1 of each camera file). Missing media leaves frames unheard and is
    listed, never an error; `hear` False looks for nothing."""
    n = frames.frame_count
    n_mics, n_cameras = len(stack.mics), len(stack.cameras)
    missing: list[str] = []
    media: dict[str, Path] = {}
    segments: list[AudioSegment] = []
    warnings: list[str] = []
    if hear:
        plan = find_media(frames, finder, stack.path.parent)
        warnings = list(frames.warnings)
        media.update(plan.media)
        row_of_track = {mic.index: row for row, mic in enumerate(stack.mics)}
        for segment in frames.audio_segments:
            if segment.track in row_of_track:
                segments.append(_on_row(segment, row_of_track[segment.track]))
        mic_assets = {seg.asset_id for seg in segments}
        missing = [a.name or a.id for a in frames.assets if a.id in mic_assets and a.media_found is False]
        missing += _nest_mic_segments(stack, finder, media, segments)
        if scratch:
            segments += _scratch_segments(stack, finder, media, n_mics)
    requests = media_requests(segments, media)
    hops, errors = analyse_all({path: sorted(channels) for path, channels in requests.items()}, cache, jobs)
    warnings += [f"{error}; its frames are unheard" for error in errors.values()]
    gain = np.zeros((n_mics + n_cameras, n), np.float32)
    for row, mic in enumerate(stack.mics):
        if mic.index >= 0:
            gain[row] = frames.audio_gain_db[mic.index]
    heard = hear_segments(segments, media, hops, errors, gain, frames.rate.fps_exact)
    mics = slice(0, n_mics)
    cams = slice(n_mics, n_mics + n_cameras)
    return StackSound(
        speech=heard.speech[mics],
        loudness_db=heard.loudness_db[mics],
        heard=heard.heard[mics],
        scratch_db=heard.loudness_db[cams],
        scratch_heard=np.asarray(heard.heard[cams].any(axis=1)),
        media_found=len({media[s.asset_id] for s in segments if s.asset_id in media and s.track < n_mics}),
        media_missing=missing,
        warnings=warnings,
    )


def stack_frames(stack: Stack) -> TimelineFrames:
    """The stack's frame arrays as ingest paints them, every video and audio track kept."""
    timeline = stack.timeline
    return timeline_frames(
        timeline,
        max_tracks=max(1, len(timeline.video_tracks)),
        max_audio_tracks=len(timeline.audio_tracks),
        source=str(stack.path),
    )


def decision_audio(speech: np.ndarray, loudness_db: np.ndarray, heard: np.ndarray, resampler: Resampler) -> AudioArrays:
    """(M, N) mic figures at the stack's rate -> the audio group (N_d, M) at the decision rate."""
    zeros = np.zeros(speech.T.shape, np.int32)
    arrays = AudioArrays(
        active=heard.T.copy(),
        asset=zeros,
        gain_db=zeros.astype(np.float32),
        loudness_db=loudness_db.T.copy(),
        speech=speech.T.copy(),
        heard=heard.T.copy(),
    )
    return resampler.apply_audio(arrays)


def _on_row(segment: AudioSegment, row: int) -> AudioSegment:
    return AudioSegment(
        row,
        segment.first,
        segment.stop,
        segment.asset_id,
        segment.channel,
        segment.source_first,
        segment.speed,
        segment.reverse,
    )


def _nest_mic_segments(
    stack: Stack, finder: MediaFinder, media: dict[str, Path], segments: list[AudioSegment]
) -> list[str]:
    """A multicam nest's mics as segments on their rows (stack.py `MicClip`); returns the files not found."""
    missing: list[str] = []
    for row, mic in enumerate(stack.mics):
        for clip in mic.clips:
            asset = clip.asset
            if asset.id not in media:
                found = finder.find(asset.pathurl, stack.path.parent)
                if found is None:
                    missing.append(asset.name or asset.id)
                    continue
                media[asset.id] = found
            segments.append(
                AudioSegment(
                    row, clip.start, clip.end, asset.id, clip.channel, clip.source_in, clip.speed, clip.reverse
                )
            )
    return list(dict.fromkeys(missing))


def _scratch_segments(stack: Stack, finder: MediaFinder, media: dict[str, Path], n_mics: int) -> list[AudioSegment]:
    """Each camera's clips as segments playing channel 1 of its own file (rows after the mics)."""
    segments = []
    for index, camera in enumerate(stack.cameras):
        for placement in camera.placements:
            asset = placement.asset
            if asset.id not in media:
                found = finder.find(asset.pathurl, stack.path.parent)
                if found is None:
                    continue
                media[asset.id] = found
            segments.append(
                AudioSegment(
                    n_mics + index,
                    placement.start,
                    placement.end,
                    asset.id,
                    1,
                    placement.source_in,
                    placement.speed,
                    placement.reverse,
                )
            )
    return segments
