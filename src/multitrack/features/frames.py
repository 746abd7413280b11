"""One `Timeline` -> the frame arrays of DESIGN.md §2.

For each sequence frame and each of the first `max_tracks` video tracks: whether an
enabled clip covers it (`active`), which asset it shows (`asset`, numbered per
timeline), and the 7 geometry values of VALUE_FEATURES in frame-table units.

This is ingest's hot path: work is vectorised per clip (slice assignment, and
np.interp over the clip's frames for keyframed parameters), never per frame. The
arrays are track-major and hold the kept tracks only (see `TimelineFrames`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from multitrack.errors import XmemlError
from multitrack.features.schema import (
    DEFAULT_MAX_TRACKS,
    VALUE_FEATURES,
    conversion_factors,
    media_size_or_sequence,
)
from multitrack.timeline.model import Asset, AssetKind, Clip, Crop, Motion, Param, Rate, Timeline, Track

NO_ASSET = -1  # the local asset code of an empty cell before numbering
MAX_HOURS_DEFAULT = 24


@dataclass(frozen=True)
class AssetEntry:
    """A numbered asset of one timeline; width/height None when the media size is unknown."""

    number: int
    id: str
    name: str
    kind: str
    pathurl: str | None
    width_px: int | None
    height_px: int | None

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "pathurl": self.pathurl,
            "width": self.width_px,
            "height": self.height_px,
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
) -> TimelineFrames:
    """Compute the frame arrays of one timeline (DESIGN.md §2).

    `max_frames` (default: 24 hours at the timeline's rate) refuses absurdly long
    timelines before any memory is allocated; `source` names the file in that error.
    """
    if max_tracks < 1:
        raise ValueError(f"max_tracks must be at least 1, got {max_tracks}")
    kept_tracks = timeline.video_tracks[:max_tracks]
    frame_count = count_frames(timeline, kept_tracks)
    _check_length(timeline, frame_count, max_frames, source)

    kept = len(kept_tracks)
    active = np.zeros((kept, frame_count), dtype=np.int8)  # (K, N)
    asset_code = np.full((kept, frame_count), NO_ASSET, dtype=np.int32)  # (K, N)
    values = np.zeros((kept, len(VALUE_FEATURES), frame_count), dtype=np.float32)  # (K, 7, N)
    painter = _Painter(timeline, active, asset_code, values)
    for track_index, track in enumerate(kept_tracks):
        painter.paint_track(track_index, track)

    asset, numbered_codes = number_assets(asset_code)
    entries = [painter.asset_entry(number, code) for number, code in enumerate(numbered_codes, start=1)]
    unknown = sum(1 for code in numbered_codes if painter.media_size_unknown[code])
    dropped = len(timeline.video_tracks) - kept
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
        warnings=[*timeline.warnings, *painter.warnings, *_dropped_warning(timeline, max_tracks, dropped)],
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


def number_assets(asset_code: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Renumber local asset codes 1, 2, ... by first active frame, ties to the lower track.

    asset_code: (K, N) int32 track-major, NO_ASSET where empty. Column-major order visits
    frame by frame and, within a frame, track V1 first, so the first occurrence of each
    code in that flattening is exactly its (first frame, lowest track).
    Returns the (K, N) int32 numbers (0 = none) and the codes in numbering order.
    """
    flat = asset_code.ravel(order="F")  # (N*K,) frame-major
    occupied = np.flatnonzero(flat != NO_ASSET)
    codes, first_index = np.unique(flat[occupied], return_index=True)
    codes_in_order = codes[np.argsort(first_index, kind="stable")]
    if codes_in_order.size == 0:
        return np.zeros_like(asset_code), []
    number_of_code = np.zeros(int(codes.max()) + 2, dtype=np.int32)  # index code+1; NO_ASSET -> 0
    number_of_code[codes_in_order + 1] = np.arange(1, codes_in_order.size + 1, dtype=np.int32)
    numbers = number_of_code[asset_code + 1]  # (K, N)
    return numbers, [int(code) for code in codes_in_order]


def interpolate_param(param: Param, source_frames: np.ndarray) -> np.ndarray:
    """A parameter's value at each source frame (float64), as `Param.at` computes it.

    Keys are interpolated linearly; the first and last values are held outside them
    (../shared/docs/xmeml.md §7: keys may lie outside [in, out]; never drop them). Where two
    keys share a `when`, the later one applies from that frame on, like `Param.at`.
    """
    keys = sorted(param.keyframes, key=lambda key: key.when)
    if not keys:
        return np.full(source_frames.shape, param.value, dtype=np.float64)
    whens = np.array([key.when for key in keys], dtype=np.float64)  # (K,)
    key_values = np.array([key.value for key in keys], dtype=np.float64)  # (K,)
    if len(keys) == 1 or (whens[1:] > whens[:-1]).all():
        return np.interp(source_frames, whens, key_values)  # holds the ends, like Param.at
    return _interpolate_with_duplicate_whens(whens, key_values, source_frames)


def _interpolate_with_duplicate_whens(
    whens: np.ndarray, key_values: np.ndarray, source_frames: np.ndarray
) -> np.ndarray:
    # np.interp leaves the choice between equal whens unspecified; Param.at takes the later key.
    last = len(whens) - 1
    after = np.searchsorted(whens, source_frames, side="right")  # first key strictly after
    lower = np.maximum(after - 1, 0)
    upper = np.minimum(after, last)
    span = whens[upper] - whens[lower]
    # span 0: before the first key, after the last, or on duplicate whens -> the upper value.
    safe_span = np.where(span > 0, span, 1.0)
    fraction = np.where(span > 0, (source_frames - whens[lower]) / safe_span, 1.0)
    return key_values[lower] + fraction * (key_values[upper] - key_values[lower])


def clip_params(clip: Clip) -> tuple[Param, ...]:
    """The clip's 7 Premiere parameters in PREMIERE_PARAMS order; a missing filter = defaults."""
    motion = clip.motion or Motion()
    crop = clip.crop or Crop()
    return (motion.scale, motion.center_x, motion.center_y, crop.left, crop.right, crop.top, crop.bottom)


class _Painter:
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
        code = self._code(clip.asset_id)
        self.active[track_index, first:stop] = 1
        self.asset_code[track_index, first:stop] = code
        self.values[track_index, :, first:stop] = self._clip_values(clip, first, stop, self.factors[code])

    def _clip_values(self, clip: Clip, first: int, stop: int, factors: np.ndarray) -> np.ndarray:
        """(7, 1) for a clip without keyframes, else (7, L) over frames first..stop-1."""
        params = clip_params(clip)
        if not any(param.is_keyframed for param in params):
            return (np.array([param.value for param in params]) * factors)[:, None]  # (7, 1)
        timeline_frames_ = np.arange(first, stop, dtype=np.float64)  # (L,)
        # Keyframe `when` is on the clip's source axis (../shared/docs/xmeml.md §7).
        source_frames = clip.in_frame + (timeline_frames_ - clip.start_frame) * (clip.speed / 100.0)
        premiere = np.empty((len(params), stop - first), dtype=np.float64)  # (7, L)
        for row, param in enumerate(params):
            premiere[row] = interpolate_param(param, source_frames) if param.keyframes else param.value
        return premiere * factors[:, None]  # (7, L)

    def _code(self, asset_id: str) -> int:
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

    def asset_entry(self, number: int, code: int) -> AssetEntry:
        asset_id = self.asset_ids[code]
        asset = self.timeline.assets.get(asset_id)
        if asset is None:
            return AssetEntry(number, asset_id, asset_id, AssetKind.FILE.value, None, None, None)
        known = bool(asset.width_px and asset.height_px)
        return AssetEntry(
            number=number,
            id=asset.id,
            name=asset.name,
            kind=asset.kind.value,
            pathurl=asset.pathurl,
            width_px=asset.width_px if known else None,
            height_px=asset.height_px if known else None,
        )
