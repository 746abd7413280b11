"""What a timeline's audio tracks play, heard: its `AudioSegment`s -> loudness, speech, heard per frame.

ingest finds each heard asset's media (features/media.py) in the worker that converts the
xmeml; here, in the parent, the media of one xmeml file's timelines are analysed together by
the hearing engine (features/hearing: one decode per media file, a process pool whose unit is
a file, hops cached on disk), and each segment's frames get `frame_figures` over its source
span with its per-frame gain (features/frames.py). A segment whose media is missing, or whose
file is corrupt, truncated or lacks the channel, stays unheard (loudness -90, speech 0, heard
0): missing media is counted in the manifest, a bad file named in a warning; never an error.
Where clips overlap on a track (a cross-fade), the later one is heard, as video paints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from multitrack.errors import MediaError
from multitrack.features.audio_frames import AudioSegment
from multitrack.features.hearing import Hops, frame_figures
from multitrack.features.schema import SILENCE_DB

__all__ = ["Heard", "HearingPlan", "hear_segments", "media_requests"]


@dataclass
class Heard:
    """(A, N) arrays of the kept audio tracks: the table's loudness_db, speech and heard columns."""

    loudness_db: np.ndarray  # float32
    speech: np.ndarray  # float32
    heard: np.ndarray  # int8

    @classmethod
    def unheard(cls, tracks: int, frames: int) -> Heard:
        return cls(
            np.full((tracks, frames), SILENCE_DB, np.float32),
            np.zeros((tracks, frames), np.float32),
            np.zeros((tracks, frames), np.int8),
        )


def media_requests(segments: list[AudioSegment], media: Mapping[str, Path]) -> dict[Path, set[int]]:
    """{media file: its channels the segments play, 0-based as the hearing engine counts them}."""
    requests: dict[Path, set[int]] = {}
    for segment in segments:
        path = media.get(segment.asset_id)
        if path is not None:
            requests.setdefault(path, set()).add(segment.channel - 1)
    return requests


def hear_segments(
    segments: list[AudioSegment],
    media: Mapping[str, Path],
    hops: Mapping[tuple[Path, int], Hops],
    errors: Mapping[Path, MediaError],
    gain_db: np.ndarray,
    fps: Fraction,
) -> Heard:
    """The heard arrays of one timeline: `gain_db` is its (A, N) audio gain, `fps` its exact rate;
    `hops`/`errors` are the engine's answers for the files `media` names (unheard where absent)."""
    tracks, frames = gain_db.shape
    heard = Heard.unheard(tracks, frames)
    for segment in segments:  # in paint order: a later clip overwrites an earlier one's overlap
        track, first, stop = segment.track, segment.first, segment.stop
        path = media.get(segment.asset_id)
        channel_hops = hops.get((path, segment.channel - 1)) if path is not None else None
        if channel_hops is None or path in errors:
            _unheard(heard, track, first, stop)
            continue
        speed = Fraction(segment.speed) / 100
        frame_rate = fps / speed  # source frames per second of timeline: a retimed clip runs faster
        gain = gain_db[track, first:stop]
        if segment.reverse:
            gain = gain[::-1]
        loudness, speech, on = frame_figures(
            channel_hops, Fraction(segment.source_first) / fps, stop - first, frame_rate, gain
        )
        if segment.reverse:
            loudness, speech, on = loudness[::-1], speech[::-1], on[::-1]
        heard.loudness_db[track, first:stop] = loudness
        heard.speech[track, first:stop] = speech
        heard.heard[track, first:stop] = on
    return heard


def _unheard(heard: Heard, track: int, first: int, stop: int) -> None:
    heard.loudness_db[track, first:stop] = SILENCE_DB
    heard.speech[track, first:stop] = 0.0
    heard.heard[track, first:stop] = 0


@dataclass
class HearingPlan:
    """What one timeline asks the hearing engine, sent from the worker with its columns:
    its segments, the media found for its assets (asset id -> file) and its exact rate."""

    segments: list[AudioSegment]
    media: dict[str, Path]
    fps: Fraction

    def requests(self) -> dict[Path, set[int]]:
        return media_requests(self.segments, self.media)
