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

import functools
from dataclasses import dataclass, field

import numpy as np

from multitrack.errors import XmemlError
from multitrack.features.schema import (
    DEFAULT_MAX_AUDIO_TRACKS,
    DEFAULT_MAX_TRACKS,
    VALUE_FEATURES,
    conversion_factors,
    gain_db,
    media_size_or_sequence,
)
from multitrack.timeline.model import (
    Asset,
    AssetKind,
    AudioGain,
    Clip,
    Crop,
    Motion,
    Param,
    Rate,
    Timeline,
    Track,
)

NO_ASSET = -1  # the local asset code of an empty cell before numbering
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


@dataclass(frozen=True)
class AudioSegment:
    """Frames `first`..`stop`-1 of kept audio track `track` (0-based) play `asset_id`'s channel
    `channel` (1-based, as `sourcetrack/trackindex`) over a source span that starts at source
    frame `source_first` (at the sequence rate, from the media's first frame), `speed`/100
    source frames a timeline frame: forward from timeline frame `first`, or when `reverse`
    backward, so that timeline frame `stop`-1 plays the start of the span."""

    track: int
    first: int
    stop: int
    asset_id: str
    channel: int
    source_first: float
    speed: float = 100.0
    reverse: bool = False


@dataclass(frozen=True)
class AudioTrackEntry:
    """What the manifest records of one kept audio track (heard figures are ingest's, features/sound.py)."""

    number: int  # A1 = 1: the xmeml audio track's place in document order
    name: str
    enabled: bool
    premiere_type: str | None  # premiereTrackType: Mono, Stereo, SixteenChannel, ...; None if not written
    exploded_index: int | None  # currentExplodedTrackIndex: which channel of an exploded track
    exploded_count: int | None  # totalExplodedTrackCount
    clips: int  # enabled clips painted

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "name": self.name,
            "enabled": self.enabled,
            "premiere_type": self.premiere_type,
            "exploded_index": self.exploded_index,
            "exploded_count": self.exploded_count,
            "clips": self.clips,
            "heard_frames": 0,  # filled in by ingest where it hears (features/sound.py)
            "speech_share": None,  # mean speech over the heard frames; None where nothing was heard
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
    painter = _Painter(timeline, active, asset_code, values)
    for track_index, track in enumerate(kept_tracks):
        painter.paint_track(track_index, track)
    sound = _AudioPainter(painter, timeline.audio_tracks[:max_audio_tracks], frame_count)

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


@functools.lru_cache(maxsize=1024)
def _static_gain_db(level: float, gain_filter_db: float) -> float:
    """`gain_db` of a clip without keys; exports repeat a few levels over hundreds of clips."""
    return float(gain_db(level, gain_filter_db))


def _first_codes(asset_code: np.ndarray) -> list[int]:
    """The codes of a (K, N) array in order of first frame, ties to the lower track: the order
    `number_assets` gives, found from each track's runs (a few per clip) instead of a sort of
    every cell, for the audio tracks' many long clips."""
    starts: list[np.ndarray] = []
    tracks: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for index, row in enumerate(asset_code):
        if row.size == 0:
            continue
        run_starts = np.concatenate([[0], np.flatnonzero(row[1:] != row[:-1]) + 1])
        run_codes = row[run_starts]
        kept = run_codes != NO_ASSET
        starts.append(run_starts[kept])
        codes.append(run_codes[kept])
        tracks.append(np.full(int(kept.sum()), index))
    if not codes:
        return []
    by_start, by_track = np.concatenate(starts), np.concatenate(tracks)
    ordered = np.concatenate(codes)[np.lexsort((by_track, by_start))]
    return [int(c) for c in dict.fromkeys(ordered.tolist())]


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


def source_frames(clip: Clip, first: int, stop: int) -> np.ndarray:
    """(L,) float64: the source frame each timeline frame first..stop-1 of the clip plays, the
    axis of its keyframe `when`s (../shared/docs/xmeml.md §7)."""
    timeline_frames_ = np.arange(first, stop, dtype=np.float64)
    return clip.in_frame + (timeline_frames_ - clip.start_frame) * (clip.speed / 100.0)


def _span_start(clip: Clip, first: int, stop: int) -> float:
    """The lowest source frame timeline frames first..stop-1 of the clip play (AudioSegment)."""
    ratio = clip.speed / 100.0
    if clip.reverse:  # the clip's start shows its out point; frame t plays out - (t + 1 - start) * ratio
        return clip.out_frame - (stop - clip.start_frame) * ratio
    return clip.in_frame + (first - clip.start_frame) * ratio


def clip_gain_db(audio: AudioGain | None, source_frames_: np.ndarray) -> np.ndarray:
    """(L,) float64: an audio clip's gain in dB at each source frame (features/schema.py `gain_db`)."""
    if audio is None:
        return np.zeros(source_frames_.shape, dtype=np.float64)
    level = interpolate_param(audio.level, source_frames_)
    return gain_db(level, interpolate_param(audio.gain_db, source_frames_))


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
        # Keyframe `when` is on the clip's source axis (../shared/docs/xmeml.md §7).
        on_source = source_frames(clip, first, stop)  # (L,)
        premiere = np.empty((len(params), stop - first), dtype=np.float64)  # (7, L)
        for row, param in enumerate(params):
            premiere[row] = interpolate_param(param, on_source) if param.keyframes else param.value
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


class _AudioPainter:
    """Paints the kept audio tracks' clips: active, asset codes (the video painter's, so one
    asset has one code), gain in dB, and the segments ingest hears."""

    def __init__(self, video: _Painter, tracks: list[Track], frame_count: int):
        self.video = video
        self.tracks = tracks
        kept = len(tracks)
        self.active = np.zeros((kept, frame_count), dtype=np.int8)  # (A, N)
        self.code = np.full((kept, frame_count), NO_ASSET, dtype=np.int32)  # (A, N)
        self.gain = np.zeros((kept, frame_count), dtype=np.float32)  # (A, N)
        self.segments: list[AudioSegment] = []
        self.clips = [0] * kept
        self.heard_on: dict[int, tuple[int, ...]] = {}  # code -> audio track numbers
        for track_index, track in enumerate(tracks):
            if track.enabled:  # a disabled track, or clip, plays nothing (as on video)
                for clip in sorted((c for c in track.clips if c.enabled), key=lambda c: c.start_frame):
                    self._paint(track_index, clip, frame_count)

    def _paint(self, track_index: int, clip: Clip, frame_count: int) -> None:
        first, stop = max(clip.start_frame, 0), min(clip.end_frame, frame_count)
        if stop <= first:
            return
        code = self.video._code(clip.asset_id)
        self.active[track_index, first:stop] = 1
        self.code[track_index, first:stop] = code
        audio = clip.audio
        if audio is not None and (audio.level.is_keyframed or audio.gain_db.is_keyframed):
            self.gain[track_index, first:stop] = clip_gain_db(audio, source_frames(clip, first, stop))
        elif audio is not None:
            self.gain[track_index, first:stop] = _static_gain_db(audio.level.value, audio.gain_db.value)
        self.clips[track_index] += 1
        tracks = self.heard_on.get(code, ())
        if track_index + 1 not in tracks:
            self.heard_on[code] = (*tracks, track_index + 1)
        self.segments.append(
            AudioSegment(
                track=track_index,
                first=first,
                stop=stop,
                asset_id=clip.asset_id,
                channel=clip.source_channel,
                source_first=_span_start(clip, first, stop),
                speed=clip.speed,
                reverse=clip.reverse,
            )
        )

    def number(self, video_codes: list[int]) -> tuple[np.ndarray, list[int]]:
        """(A, N) int32 asset numbers, and every numbered code in number order: the video's
        first, then the codes only heard, by first audio frame (ties to the lower track)."""
        codes = list(video_codes)
        number_of = {code: number for number, code in enumerate(codes, start=1)}
        # masking the video's codes out would not move the others' first frames: filter instead
        for code in (c for c in _first_codes(self.code) if c not in number_of):
            codes.append(code)
            number_of[code] = len(codes)
        lookup = np.zeros(len(self.video.asset_ids) + 1, dtype=np.int32)  # index code + 1; NO_ASSET -> 0
        for code, number in number_of.items():
            lookup[code + 1] = number
        return lookup[self.code + 1], codes

    def entries(self) -> list[AudioTrackEntry]:
        entries = []
        for index, track in enumerate(self.tracks):
            kind = track.audio_type
            entries.append(
                AudioTrackEntry(
                    number=index + 1,
                    name=track.name,
                    enabled=track.enabled,
                    premiere_type=kind.premiere_type if kind else None,
                    exploded_index=kind.exploded_index if kind else None,
                    exploded_count=kind.exploded_count if kind else None,
                    clips=self.clips[index],
                )
            )
        return entries
