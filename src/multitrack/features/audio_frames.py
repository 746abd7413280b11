"""The audio tracks of one timeline painted into frame arrays (features/frames.py paints the
video and calls this for the first `max_audio_tracks` audio tracks): whether an enabled clip
plays, its asset code (the video painter's, so a camera file seen and heard has one code),
its gain in dB, and the `AudioSegment`s ingest hears (features/sound.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from multitrack.features.painting import NO_ASSET, clip_gain_db, first_codes, source_frames, span_start, static_gain_db
from multitrack.timeline.model import Clip, Track

if TYPE_CHECKING:
    from multitrack.features.frames import VideoPainter


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


class AudioPainter:
    """Paints the kept audio tracks' clips: active, asset codes (the video painter's, so one
    asset has one code), gain in dB, and the segments ingest hears."""

    def __init__(self, video: VideoPainter, tracks: list[Track], frame_count: int):
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
        code = self.video.code(clip.asset_id)
        self.active[track_index, first:stop] = 1
        self.code[track_index, first:stop] = code
        audio = clip.audio
        if audio is not None and (audio.level.is_keyframed or audio.gain_db.is_keyframed):
            self.gain[track_index, first:stop] = clip_gain_db(audio, source_frames(clip, first, stop))
        elif audio is not None:
            self.gain[track_index, first:stop] = static_gain_db(audio.level.value, audio.gain_db.value)
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
                source_first=span_start(clip, first, stop),
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
        for code in (c for c in first_codes(self.code) if c not in number_of):
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
