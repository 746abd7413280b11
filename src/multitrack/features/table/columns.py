"""The frame table's columns: the key columns, then column groups repeated per track; its version.

DESIGN.md §2 fixes the columns, docs/ARCHITECTURE.md "Frame table" the file. A `ColumnGroup`
is the set of features every track of one kind has (`v01_active`, … for video; DESIGN.md's
sound will be a group on audio tracks, `a01_gain_db`, …), each with its type and the value
that stands for "nothing there". The table's version, in its Parquet key-value metadata,
says which groups it was written with: a group added in a later version than a table's is
read as its defaults (reader.py), so a new group never breaks an old table.

Column order: `timeline`, `frame`, then per track kind, track by track, every group of that
kind in GROUPS order (so a later video group's columns follow `crop_bottom` in each track).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from multitrack.features.schema import DEFAULT_MAX_TRACKS, FEATURES, VALUE_FEATURES

FORMAT = "multitrack-frame-table"
VERSION = 1  # 1: the seed's video group. DESIGN.md §2 "Versions" plans 2: sound, 3: transitions and opacity
FORMAT_KEY = "multitrack.frame_table.format"  # keys of the Parquet file's key-value metadata
VERSION_KEY = "multitrack.frame_table.version"
MAX_TRACKS_KEY = "multitrack.max_tracks"
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
GROUPS: tuple[ColumnGroup, ...] = (VIDEO,)  # every group this version writes


def track_prefix(track_index: int) -> str:
    """`v01` for track index 0 (V1, the bottom layer)."""
    return f"{VIDEO.kind}{track_index + 1:02d}"


def track_column(track: int, feature: str) -> str:
    """Column name of a video `feature` on video track `track` (1-based: V1 is the bottom layer)."""
    return VIDEO.column(track, feature)


def column_names(max_tracks: int = DEFAULT_MAX_TRACKS) -> list[str]:
    """["timeline", "frame", "v01_active", "v01_asset", ..., "vNN_crop_bottom"]."""
    if max_tracks < 1:
        raise ValueError(f"max_tracks must be at least 1, got {max_tracks}")
    return list(KEY_COLUMNS) + [name for name, _ in track_columns(max_tracks)]


def frame_table_schema(max_tracks: int) -> pa.Schema:
    """Column types of docs/ARCHITECTURE.md: string, int64, then each group's per track.

    The key-value metadata names the format and its version, which reader.py checks.
    """
    fields: list[pa.Field[Any]] = [
        pa.field("timeline", pa.string(), nullable=False),
        pa.field("frame", pa.int64(), nullable=False),
    ]
    fields += [pa.field(name, feature.arrow_type, nullable=False) for name, feature in track_columns(max_tracks)]
    metadata: dict[bytes | str, bytes | str] = {
        MAX_TRACKS_KEY: str(max_tracks),
        FORMAT_KEY: FORMAT,
        VERSION_KEY: str(VERSION),
    }
    return pa.schema(fields, metadata=metadata)


def track_columns(max_tracks: int, groups: tuple[ColumnGroup, ...] = GROUPS) -> list[tuple[str, Feature]]:
    """(column name, feature) of every column after the key columns, in table order.

    `max_tracks` tracks of each kind (video only so far: sound will bring its own count).
    """
    columns = []
    for kind in dict.fromkeys(group.kind for group in groups):
        of_kind = [group for group in groups if group.kind == kind]
        for track in range(1, max_tracks + 1):
            columns += [(group.column(track, feature.name), feature) for group in of_kind for feature in group.features]
    return columns
