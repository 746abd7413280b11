"""One `Timeline` -> the frame arrays of DESIGN.md §2.

For each sequence frame and each of the first `max_tracks` video tracks: whether an
enabled clip covers it (`active`), which asset it shows (`asset`, numbered per
timeline), and the 7 geometry values of VALUE_FEATURES in frame-table units.

For each of the first `max_audio_tracks` audio tracks (features/table/columns.py AUDIO):
whether an enabled clip plays (`audio_active`), its asset (one numbering with video: the
assets on screen first, by first frame; then the assets only heard, by their first audio
frame), its gain in dB (`audio_gain_db`, features/schema.py `gain_db` of the Audio Levels
and Gain filters, keyframes interpolated on the source axis as Motion's), and the
`AudioSegment`s that ingest hears (loudness, speech, heard: features/sound.py). The
timeline's length stays the video's: audio past it is not in the table.

This is ingest's hot path: work is vectorised per clip (slice assignment, and
np.interp over the clip's frames for keyframed parameters), never per frame. The
arrays are track-major and hold the kept tracks only (see `TimelineFrames`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from multitrack.errors import XmemlError
from multitrack.features.audio_frames import AudioPainter, AudioSegment, AudioTrackEntry
from multitrack.features.painting import NO_ASSET, clip_params, interpolate_param, number_assets, source_frames
from multitrack.features.schema import (
    DEFAULT_MAX_AUDIO_TRACKS,
    DEFAULT_MAX_TRACKS,
    VALUE_FEATURES,
    conversion_factors,
    media_size_or_sequence,
)
from multitrack.timeline.model import (
    Asset,
    AssetKind,
    Clip,
    Rate,
    Timeline,
    Track,
)

MAX_HOURS_DEFAULT = 24


@dataclass(frozen=True)
class AssetEntry:
    """A numbered asset of one timeline; width/height None when the media size is unknown.

    `heard_on`: the kept audio tracks (1-based) that play it; `media`: where its file was
    found on this machine, `media_found` False where it was looked for and not found, None
    where there is nothing to look for (not a file, no pathurl) or no one looked.
    """

    number: int
    id: str
    name: str
    kind: str
    pathurl: str | None
    width_px: int | None
    height_px: int | None
    heard_on: tuple[int, ...] = ()
    media_found: bool | None = None
    media: str | None = None

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "pathurl": self.pathurl,
            "width": self.width_px,
            "height": self.height_px,
            "heard_on": list(self.heard_on),
            "media_found": self.media_found,
            "media": self.media,
        }


@dataclass
class TimelineFrames:
    """The frame arrays of one timeline plus what the manifest records about it.

    Stored track-major for the K kept tracks only (K = tracks_kept <= max_tracks): each
    track's column is contiguous, so the Parquet writer takes it without a copy, and a
    worker sends no zeros for the empty tracks up to max_tracks. `active`, `asset` and
    `values` give the (N, max_tracks) frame-major arrays of DESIGN.md §2 (a copy).
    """

    name: str
    rate: Rate
    width_px: int
    height_px: int
    max_tracks: int
    track_active: np.ndarray  # (K, N) int8: 1 where an enabled clip covers the frame
    track_asset: np.ndarray  # (K, N) int32: 1, 2, ... by first active frame; 0 = none
    track_values: np.ndarray  # (K, 7, N) float32 in VALUE_FEATURES order; 0 where inactive
    tracks_dropped: int = 0
    assets: list[AssetEntry] = field(default_factory=list)
    media_size_unknown: int = 0
    warnings: list[str] = field(default_factory=list)
    max_audio_tracks: int = DEFAULT_MAX_AUDIO_TRACKS
    audio_active: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int8))  # (A, N) int8
    audio_asset: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))  # (A, N) int32, 0 = none
    audio_gain_db: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # (A, N); 0 off a clip
    audio_segments: list[AudioSegment] = field(default_factory=list)
    audio_tracks: list[AudioTrackEntry] = field(default_factory=list)
    audio_tracks_dropped: int = 0

    @property
    def frame_count(self) -> int:
        return int(self.track_active.shape[1])

    @property
    def tracks_kept(self) -> int:
        return int(self.track_active.shape[0])

    @property
    def active(self) -> np.ndarray:
        """(N, max_tracks) int8."""
        return self._frame_major(self.track_active)

    @property
    def asset(self) -> np.ndarray:
        """(N, max_tracks) int32."""
        return self._frame_major(self.track_asset)

    @property
    def values(self) -> np.ndarray:
        """(N, max_tracks, 7) float32."""
        return self._frame_major(self.track_values.transpose(0, 2, 1))  # (K, N, 7) -> (N, T, 7)

    def _frame_major(self, by_track: np.ndarray) -> np.ndarray:
        padded = np.zeros((self.max_tracks, *by_track.shape[1:]), dtype=by_track.dtype)  # (T, N, ...)
        padded[: self.tracks_kept] = by_track
        return np.ascontiguousarray(np.moveaxis(padded, 0, 1))  # (N, T, ...)


def default_max_frames(rate: Rate) -> int:
    """24 hours at the timeline's own rate."""
    return int(round(MAX_HOURS_DEFAULT * 3600 * rate.fps))


def timeline_frames(
    timeline: Timeline,
    max_tracks: int = DEFAULT_MAX_TRACKS,
    max_frames: int | None = None,
    source: str | None = None,
    max_audio_tracks: int = DEFAULT_MAX_AUDIO_TRACKS,
) -> TimelineFrames:
    """Compute the frame arrays of one timeline (DESIGN.md §2).

    `max_frames` (default: 24 hours at the timeline's rate) refuses absurdly long
    timelines before any memory is allocated; `source` names the file in that error.
    """
    if max_tracks < 1:
        raise ValueError(f"max_tracks must be at least 1, got {max_tracks}")
    if max_audio_tracks < 0:
        raise ValueError(f"max_audio_tracks must be 0 or more, got {max_audio_tracks}")
    kept_tracks = timeline.video_tracks[:max_tracks]
    frame_count = count_frames(timeline, kept_tracks)
    _check_length(timeline, frame_count, max_frames, source)

    kept = len(kept_tracks)
    active = np.zeros((kept, frame_count), dtype=np.int8)  # (K, N)
    asset_code = np.full((kept, frame_count), NO_ASSET, dtype=np.int32)  # (K, N)
    values = np.zeros((kept, len(VALUE_FEATURES), frame_count), dtype=np.float32)  # (K, 7, N)
    painter = VideoPainter(timeline, active, asset_code, values)
    for track_index, track in enumerate(kept_tracks):
        painter.paint_track(track_index, track)
    sound = AudioPainter(painter, timeline.audio_tracks[:max_audio_tracks], frame_count)

    asset, numbered_codes = number_assets(asset_code)
    unknown = sum(1 for code in numbered_codes if painter.media_size_unknown[code])
    audio_asset, numbered_codes = sound.number(numbered_codes)
    entries = [
        painter.asset_entry(number, code, sound.heard_on.get(code, ()))
        for number, code in enumerate(numbered_codes, start=1)
    ]
    dropped = len(timeline.video_tracks) - kept
    audio_dropped = len(timeline.audio_tracks) - len(sound.tracks)
    return TimelineFrames(
        name=timeline.name,
        rate=timeline.rate,
        width_px=timeline.width_px,
        height_px=timeline.height_px,
        max_tracks=max_tracks,
        track_active=active,
        track_asset=asset,
        track_values=values,
        tracks_dropped=dropped,
        assets=entries,
        media_size_unknown=unknown,
        warnings=[
            *timeline.warnings,
            *painter.warnings,
            *_dropped_warning(timeline, max_tracks, dropped),
            *_audio_dropped_warning(timeline, max_audio_tracks, audio_dropped),
        ],
        max_audio_tracks=max_audio_tracks,
        audio_active=sound.active,
        audio_asset=audio_asset,
        audio_gain_db=sound.gain,
        audio_segments=sound.segments,
        audio_tracks=sound.entries(),
        audio_tracks_dropped=audio_dropped,
    )


def count_frames(timeline: Timeline, kept_tracks: list[Track]) -> int:
    """N: the larger of the sequence duration and the end of the last clip on a kept track."""
    clip_ends = [clip.end_frame for track in kept_tracks for clip in track.clips]
    return max(0, timeline.duration_frames, *clip_ends)


def _check_length(timeline: Timeline, frame_count: int, max_frames: int | None, source: str | None) -> None:
    limit = default_max_frames(timeline.rate) if max_frames is None else max_frames
    if frame_count > limit:
        hours = frame_count / timeline.rate.fps / 3600
        raise XmemlError(
            source or timeline.name,
            f"sequence '{timeline.name}'",
            f"{frame_count} frames ({hours:.1f} h at {timeline.rate}) exceeds the limit of "
            f"{limit} frames (--max-frames)",
        )


def _dropped_warning(timeline: Timeline, max_tracks: int, dropped: int) -> list[str]:
    if dropped <= 0:
        return []
    clips = sum(len(track.clips) for track in timeline.video_tracks[max_tracks:])
    return [
        f"{dropped} video track(s) above V{max_tracks} dropped (--max-tracks {max_tracks}), holding {clips} clip(s)"
    ]


def _audio_dropped_warning(timeline: Timeline, max_audio_tracks: int, dropped: int) -> list[str]:
    if dropped <= 0:
        return []
    clips = sum(len(track.clips) for track in timeline.audio_tracks[max_audio_tracks:])
    return [
        f"{dropped} audio track(s) after A{max_audio_tracks} dropped (--max-audio-tracks {max_audio_tracks}), "
        f"holding {clips} clip(s)"
    ]


class VideoPainter:
    """Paints clips into the timeline's arrays, one vectorised slice per clip."""

    def __init__(self, timeline: Timeline, active: np.ndarray, asset_code: np.ndarray, values: np.ndarray):
        self.timeline = timeline
        self.active = active
        self.asset_code = asset_code
        self.values = values
        self.frame_count = active.shape[1]
        self.code_of_asset: dict[str, int] = {}
        self.asset_ids: list[str] = []
        self.media_size_unknown: list[bool] = []
        self.factors: list[np.ndarray] = []  # (7,) per code
        self.warnings: list[str] = []

    def paint_track(self, track_index: int, track: Track) -> None:
        # A disabled track, or a disabled clip, counts as no clip (DESIGN.md §2).
        if not track.enabled:
            return
        enabled = [clip for clip in track.clips if clip.enabled]
        # Inside a transition both clips are on the track; the incoming one (later start)
        # must win, so paint in start order and let later clips overwrite (DESIGN.md §2).
        for clip in sorted(enabled, key=lambda clip: clip.start_frame):
            self.paint_clip(track_index, clip)

    def paint_clip(self, track_index: int, clip: Clip) -> None:
        first = max(clip.start_frame, 0)
        stop = min(clip.end_frame, self.frame_count)
        if stop <= first:
            return
        code = self.code(clip.asset_id)
        self.active[track_index, first:stop] = 1
        self.asset_code[track_index, first:stop] = code
        self.values[track_index, :, first:stop] = self._clip_values(clip, first, stop, self.factors[code])

    def _clip_values(self, clip: Clip, first: int, stop: int, factors: np.ndarray) -> np.ndarray:
        """(7, 1) for a clip without keyframes, else (7, L) over frames first..stop-1."""
        params = clip_params(clip)
        if not any(param.is_keyframed for param in params):
            return (np.array([param.value for param in params]) * factors)[:, None]  # (7, 1)
        # Keyframe `when` is on the clip's source axis (../shared/docs/xmeml.md §7).
        on_source = source_frames(clip, first, stop)  # (L,)
        premiere = np.empty((len(params), stop - first), dtype=np.float64)  # (7, L)
        for row, param in enumerate(params):
            premiere[row] = interpolate_param(param, on_source) if param.keyframes else param.value
        return premiere * factors[:, None]  # (7, L)

    def code(self, asset_id: str) -> int:
        """The asset's local code, given at its first clip (video or audio)."""
        code = self.code_of_asset.get(asset_id)
        if code is not None:
            return code
        code = len(self.asset_ids)
        self.code_of_asset[asset_id] = code
        self.asset_ids.append(asset_id)
        asset = self.timeline.assets.get(asset_id)
        if asset is None:
            self.warnings.append(f"clip asset '{asset_id}' is not defined; its media size is unknown")
        width, height, unknown = self._media_size(asset)
        self.media_size_unknown.append(unknown)
        self.factors.append(conversion_factors(width, height, self.timeline.width_px, self.timeline.height_px))
        return code

    def _media_size(self, asset: Asset | None) -> tuple[int, int, bool]:
        timeline = self.timeline
        if asset is None:
            return timeline.width_px, timeline.height_px, True
        width, height, unknown = media_size_or_sequence(
            asset.width_px, asset.height_px, timeline.width_px, timeline.height_px
        )
        # A generator (colour matte, bars) renders at the sequence size: nothing stands in.
        return width, height, unknown and asset.kind is not AssetKind.GENERATOR

    def asset_entry(self, number: int, code: int, heard_on: tuple[int, ...] = ()) -> AssetEntry:
        asset_id = self.asset_ids[code]
        asset = self.timeline.assets.get(asset_id)
        if asset is None:
            return AssetEntry(number, asset_id, asset_id, AssetKind.FILE.value, None, None, None, heard_on)
        known = bool(asset.width_px and asset.height_px)
        return AssetEntry(
            number=number,
            id=asset.id,
            name=asset.name,
            kind=asset.kind.value,
            pathurl=asset.pathurl,
            width_px=asset.width_px if known else None,
            height_px=asset.height_px if known else None,
            heard_on=heard_on,
        )
