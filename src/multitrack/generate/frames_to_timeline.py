"""Frame arrays -> a `Timeline` in Premiere's units, reusing the prompt's assets.

1. Each track's frames are split into runs: contiguous frames where the track is active
   and shows one asset. Each run becomes one clipitem.
2. Source in/out keep every asset in sync with the timeline as the prompt had it: source
   frame = timeline frame + the asset's offset (in − start) in the prompt, so multicam
   angles never drift. A run that starts inside a prompt clip of the same asset takes that
   clip's offset; a later run takes the offset of the asset's last clip in the prompt.
3. Geometry goes back to Premiere's values (the inverse of DESIGN.md §2's conversion, with
   the asset's media size, or the sequence size where unknown, as ingest did) and each
   parameter gets the fewest keyframes within a tolerance (`keyframes.simplify_curve`);
   keyframe `when` is on the source axis (../shared/docs/xmeml.md §7).
4. The prompt's audio clips are kept for the prompt's span, cut at its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np

from multitrack.features.schema import media_size_or_sequence, to_premiere
from multitrack.features.vocabulary import Frames, top_track
from multitrack.generate.keyframes import is_constant, simplify_curve
from multitrack.timeline.model import Asset, AssetKind, Clip, Crop, Keyframe, Motion, Param, Timeline, Track

# Parameters keyed together, as column groups of the 7 values (VALUE_FEATURES order):
# scale; the centre point (one <keyframe> holds horiz and vert); each crop side.
PARAMETER_GROUPS = ((0,), (1, 2), (3,), (4,), (5,), (6,))


@dataclass(frozen=True)
class KeyTolerance:
    """Largest error a simplified keyframe curve may make, in frame-table units."""

    scale: float = 0.002  # fraction of the frame width (0.2 %)
    position: float = 0.001  # fraction of the frame width / height (about 2 px on 1920)
    crop: float = 0.1  # percent of the source frame

    def per_value(self) -> np.ndarray:
        return np.array([self.scale, self.position, self.position, *[self.crop] * 4])


@dataclass
class Run:
    """Frames start_frame..end_frame-1 of one track showing one asset (its number)."""

    track: int
    start_frame: int
    end_frame: int
    asset_number: int


@dataclass
class Conversion:
    """What frames_to_timeline made: the timeline and counts for the user."""

    timeline: Timeline
    clips: int = 0
    keyframes: int = 0
    warnings: list[str] = field(default_factory=list)


def track_runs(frames: Frames) -> list[Run]:
    """One Run per contiguous stretch of a track that is active and shows one asset."""
    runs = []
    for track in range(frames.active.shape[1]):
        shown = np.where(frames.active[:, track], frames.asset[:, track], 0)  # (N,)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], shown, [0]])) != 0)
        for start, end in pairwise(edges):
            if shown[start] > 0:
                runs.append(Run(track, int(start), int(end), int(shown[start])))
    return runs


def frames_to_timeline(
    prompt: Timeline,
    asset_ids: list[str],
    frames: Frames,
    prompt_frames: int,
    tolerance: KeyTolerance | None = None,
    name: str | None = None,
) -> Conversion:
    """The timeline that shows `frames` (N, T …, frame-table units, asset = the prompt's asset
    number: asset_ids[number - 1]), with the prompt's audio for its first `prompt_frames`."""
    tolerance = tolerance or KeyTolerance()
    builder = _ClipBuilder(prompt, asset_ids, prompt_frames, tolerance)
    n_tracks = max(_highest_track(frames) + 1, min(len(prompt.video_tracks), frames.active.shape[1]), 1)
    tracks = [Track(name=_track_name(prompt, t)) for t in range(n_tracks)]
    for run in track_runs(frames):
        tracks[run.track].clips.append(builder.clip(run, frames.values[run.start_frame : run.end_frame, run.track]))
    timeline = Timeline(
        name=name or f"{prompt.name} (continued)",
        rate=prompt.rate,
        width_px=prompt.width_px,
        height_px=prompt.height_px,
        duration_frames=len(frames),
        video_tracks=tracks,
        audio_tracks=prompt_audio(prompt, prompt_frames),
        timecode_frame=prompt.timecode_frame,
    )
    used = {clip.asset_id for track in timeline.video_tracks + timeline.audio_tracks for clip in track.clips}
    timeline.assets = {asset_id: asset for asset_id, asset in prompt.assets.items() if asset_id in used}
    return Conversion(timeline, builder.clips, builder.keyframes, builder.warnings)


def _highest_track(frames: Frames) -> int:
    """The highest track on in any frame (-1: none): the track on top of all the frames at once."""
    return int(top_track(frames.active.any(axis=0, keepdims=True))[0]) - 1


def _track_name(prompt: Timeline, track: int) -> str:
    return prompt.video_tracks[track].name if track < len(prompt.video_tracks) else ""


class _ClipBuilder:
    def __init__(self, prompt: Timeline, asset_ids: list[str], prompt_frames: int, tolerance: KeyTolerance):
        self.prompt = prompt
        self.asset_ids = asset_ids
        self.prompt_frames = prompt_frames
        self.tolerance = tolerance.per_value()
        self.clips = 0
        self.keyframes = 0
        self.warnings: list[str] = []

    def clip(self, run: Run, values: np.ndarray) -> Clip:
        """The clipitem for one run; values (n, 7) in frame-table units."""
        asset = self.prompt.assets[self.asset_ids[run.asset_number - 1]]
        offset = self.source_offset(run, asset.id)
        in_frame = run.start_frame + offset
        if in_frame < 0:
            self.warnings.append(
                f"V{run.track + 1} frames {run.start_frame}-{run.end_frame}: '{asset.name}' would start "
                f"{-in_frame} frames before its media; moved to the media's start (out of sync)"
            )
            offset, in_frame = -run.start_frame, 0
        motion, crop = self.effects(values, asset, in_frame)
        self.clips += 1
        return Clip(
            asset_id=asset.id,
            start_frame=run.start_frame,
            end_frame=run.end_frame,
            in_frame=in_frame,
            out_frame=run.end_frame + offset,
            name=asset.name,
            motion=motion,
            crop=crop,
        )

    def source_offset(self, run: Run, asset_id: str) -> int:
        """in − start of the prompt clip this run continues; else of the asset's last clip that
        starts inside the prompt's span; else of its first clip in the whole prompt timeline."""
        clips = sorted(
            (
                (
                    clip.start_frame,
                    clip.in_frame - clip.start_frame,
                    track_index == run.track and clip.start_frame <= run.start_frame < clip.end_frame,
                )
                for track_index, track in enumerate(self.prompt.video_tracks)
                for clip in track.clips
                if clip.asset_id == asset_id and clip.enabled
            ),
        )
        if run.start_frame < self.prompt_frames:
            covering = [offset for _, offset, covers in clips if covers]
            if covering:
                return covering[-1]
        in_span = [offset for start, offset, _ in clips if start < self.prompt_frames]
        if in_span:
            return in_span[-1]
        return clips[0][1] if clips else 0

    def effects(self, values: np.ndarray, asset: Asset, in_frame: int) -> tuple[Motion | None, Crop | None]:
        """Basic Motion and Crop in Premiere's units, keyframed only where the values move."""
        prompt = self.prompt
        width, height, _ = media_size_or_sequence(asset.width_px, asset.height_px, prompt.width_px, prompt.height_px)
        if asset.kind is AssetKind.GENERATOR:
            width, height = prompt.width_px, prompt.height_px  # generators render at the sequence size
        premiere = to_premiere(values, width, height, prompt.width_px, prompt.height_px)  # (n, 7)
        params: list[Param] = [Param(0.0)] * 7
        for group in PARAMETER_GROUPS:
            for column, param in zip(
                group, self._group_params(values[:, group], premiere[:, group], in_frame, group), strict=True
            ):
                params[column] = param
        motion = Motion(scale=params[0], center_x=params[1], center_y=params[2])
        crop = Crop(left=params[3], right=params[4], top=params[5], bottom=params[6])
        return (None if motion.is_default else motion), (None if crop.is_default else crop)

    def _group_params(
        self, features: np.ndarray, premiere: np.ndarray, in_frame: int, group: tuple[int, ...]
    ) -> list[Param]:
        tolerance = self.tolerance[list(group)]
        if is_constant(features, tolerance):
            return [Param(_clean(premiere[0, i])) for i in range(len(group))]
        keep = simplify_curve(features, tolerance)
        self.keyframes += len(keep)
        return [
            Param(
                _clean(premiere[keep[0], i]), tuple(Keyframe(float(in_frame + k), _clean(premiere[k, i])) for k in keep)
            )
            for i in range(len(group))
        ]


def _clean(value: float) -> float:
    """Round off float32 noise (to 1e-6), so defaults read as defaults and files stay short."""
    return float(round(float(value), 6))


def prompt_audio(prompt: Timeline, prompt_frames: int) -> list[Track]:
    """The prompt's audio tracks over frames 0..prompt_frames-1, clips cut at the end."""
    tracks = []
    for track in prompt.audio_tracks:
        clips = []
        for clip in track.clips:
            if clip.start_frame >= prompt_frames:
                continue
            end = min(clip.end_frame, prompt_frames)
            source_length = round((end - clip.start_frame) * clip.speed / 100.0)
            clips.append(replace(clip, end_frame=end, out_frame=clip.in_frame + source_length))
        transitions = [t for t in track.transitions if t.end_frame <= prompt_frames]
        tracks.append(Track(clips=clips, transitions=transitions, enabled=track.enabled, name=track.name))
    return tracks
