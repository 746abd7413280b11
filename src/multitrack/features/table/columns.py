"""The frame table's columns: the key columns, then column groups repeated per track; its version.

DESIGN.md §2 fixes the columns, docs/ARCHITECTURE.md "Frame table" the file. A `ColumnGroup`
is the set of features every track of one kind has (`v01_active`, … for video, `a01_active`,
… `a01_heard` for audio), each with its type and the value that stands for "nothing there".
The table's version, in its Parquet key-value metadata, says which groups it was written
with: a group added in a later version than a table's is read as its defaults (reader.py),
so a new group never breaks an old table (a version-1 table reads as unheard).

Column order: `timeline`, `frame`, then per track kind (video, then audio), track by track,
every group of that kind in GROUPS order (so a later video group's columns follow
`crop_bottom` in each track). Video has `max_tracks` tracks, audio `max_audio_tracks`.

Versions: 1, the seed's video group; 2, the audio group (issue 13): per audio track A1..An,
numbered by the xmeml `media/audio/track` elements in document order (an exploded stereo pair
is two tracks), `active` (an enabled clip is on the track), `asset` (the one numbering shared
with video; 0 none), `gain_db` (the clip's Audio Levels + Gain in dB, 0 where no clip),
`loudness_db` (what the clip plays over the frame, dBFS with the gain applied, floored at
-90), `speech` (the share of the frame a voice-activity detector calls speech) and `heard`
(1 where the media was found and decoded for the frame). Where nothing is heard, loudness is
-90 and speech 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from multitrack.features.schema import (
    AUDIO_FEATURES,
    DEFAULT_MAX_AUDIO_TRACKS,
    DEFAULT_MAX_TRACKS,
    FEATURES,
    SILENCE_DB,
    VALUE_FEATURES,
)

FORMAT = "multitrack-frame-table"
VERSION = 2  # 1: the seed's video group; 2: the audio group. DESIGN.md §2 "Versions" plans 3: transitions, opacity
FORMAT_KEY = "multitrack.frame_table.format"  # keys of the Parquet file's key-value metadata
VERSION_KEY = "multitrack.frame_table.version"
MAX_TRACKS_KEY = "multitrack.max_tracks"
MAX_AUDIO_TRACKS_KEY = "multitrack.max_audio_tracks"
KEY_COLUMNS: tuple[str, ...] = ("timeline", "frame")


@dataclass(frozen=True)
class Feature:
    """One column of a group: its name within a track, its type, and its value where there is nothing."""

    name: str
    dtype: np.dtype[Any]
    default: int | float = 0

    @property
    def arrow_type(self) -> pa.DataType:
        return pa.from_numpy_dtype(self.dtype)


@dataclass(frozen=True)
class ColumnGroup:
    """The features every track of one kind has, added to the table in `version`.

    `kind` is the letter of the track prefix ("v": video tracks v01, v02, …); a table has a
    track of that kind where it has the track's `<kind>NN_active` column.
    """

    name: str
    kind: str
    features: tuple[Feature, ...]
    version: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    def column(self, track: int, feature: str) -> str:
        """Column name of `feature` on track `track` (1-based: V1 is the bottom layer)."""
        return f"{self.kind}{track:02d}_{feature}"

    def columns(self, track: int) -> list[str]:
        return [self.column(track, name) for name in self.names]


VALUE_DTYPE = np.dtype(np.float32)
VIDEO = ColumnGroup(
    "video",
    "v",
    (
        Feature("active", np.dtype(np.int8)),
        Feature("asset", np.dtype(np.int32)),
        *(Feature(name, VALUE_DTYPE) for name in VALUE_FEATURES),
    ),
    version=1,
)
assert VIDEO.names == FEATURES  # the seed's 9 columns per video track, in DESIGN.md §2's order
AUDIO = ColumnGroup(
    "audio",
    "a",
    (
        Feature("active", np.dtype(np.int8)),
        Feature("asset", np.dtype(np.int32)),
        Feature("gain_db", VALUE_DTYPE),
        Feature("loudness_db", VALUE_DTYPE, SILENCE_DB),
        Feature("speech", VALUE_DTYPE),
        Feature("heard", np.dtype(np.int8)),
    ),
    version=2,
)
assert AUDIO.names == AUDIO_FEATURES
GROUPS: tuple[ColumnGroup, ...] = (VIDEO, AUDIO)  # every group this version writes
KINDS: tuple[str, ...] = (VIDEO.kind, AUDIO.kind)  # track kinds in column order


def track_prefix(track_index: int) -> str:
    """`v01` for track index 0 (V1, the bottom layer)."""
    return f"{VIDEO.kind}{track_index + 1:02d}"


def track_column(track: int, feature: str) -> str:
    """Column name of a video `feature` on video track `track` (1-based: V1 is the bottom layer)."""
    return VIDEO.column(track, feature)


def audio_column(track: int, feature: str) -> str:
    """Column name of an audio `feature` on audio track `track` (1-based: A1 is the first xmeml audio track)."""
    return AUDIO.column(track, feature)


def column_names(max_tracks: int = DEFAULT_MAX_TRACKS, max_audio_tracks: int = DEFAULT_MAX_AUDIO_TRACKS) -> list[str]:
    """["timeline", "frame", "v01_active", ..., "vNN_crop_bottom", "a01_active", ..., "aMM_heard"]."""
    return list(KEY_COLUMNS) + [name for name, _ in track_columns(max_tracks, max_audio_tracks)]


def frame_table_schema(max_tracks: int, max_audio_tracks: int = DEFAULT_MAX_AUDIO_TRACKS) -> pa.Schema:
    """Column types of docs/ARCHITECTURE.md: string, int64, then each group's per track.

    The key-value metadata names the format and its version, which reader.py checks.
    """
    fields: list[pa.Field[Any]] = [
        pa.field("timeline", pa.string(), nullable=False),
        pa.field("frame", pa.int64(), nullable=False),
    ]
    fields += [
        pa.field(name, feature.arrow_type, nullable=False)
        for name, feature in track_columns(max_tracks, max_audio_tracks)
    ]
    metadata: dict[bytes | str, bytes | str] = {
        MAX_TRACKS_KEY: str(max_tracks),
        MAX_AUDIO_TRACKS_KEY: str(max_audio_tracks),
        FORMAT_KEY: FORMAT,
        VERSION_KEY: str(VERSION),
    }
    return pa.schema(fields, metadata=metadata)


def track_counts(max_tracks: int, max_audio_tracks: int) -> dict[str, int]:
    """{track kind: tracks of that kind}; at least one video track, any number of audio tracks."""
    if max_tracks < 1:
        raise ValueError(f"max_tracks must be at least 1, got {max_tracks}")
    if max_audio_tracks < 0:
        raise ValueError(f"max_audio_tracks must be 0 or more, got {max_audio_tracks}")
    return {VIDEO.kind: max_tracks, AUDIO.kind: max_audio_tracks}


def track_columns(
    max_tracks: int, max_audio_tracks: int = DEFAULT_MAX_AUDIO_TRACKS, groups: tuple[ColumnGroup, ...] = GROUPS
) -> list[tuple[str, Feature]]:
    """(column name, feature) of every column after the key columns, in table order:
    `max_tracks` video tracks, then `max_audio_tracks` audio tracks."""
    counts = track_counts(max_tracks, max_audio_tracks)
    columns = []
    for kind in dict.fromkeys(group.kind for group in groups):
        of_kind = [group for group in groups if group.kind == kind]
        for track in range(1, counts[kind] + 1):
            columns += [(group.column(track, feature.name), feature) for group in of_kind for feature in group.features]
    return columns
