"""One timeline's frame arrays (features/frames.py `TimelineFrames`) packed as the frame-table
writer's columns (features/table), a column whose every value is its default as None (the
writer fills it without a copy). The arrays' types must be the table's: the writer wraps their
bytes as Arrow arrays without a copy or a check."""

from __future__ import annotations

import numpy as np

from multitrack.features.frames import TimelineFrames
from multitrack.features.manifest import timeline_entry
from multitrack.features.table import AUDIO, VIDEO, TimelineColumns

_VIDEO_DTYPES = {feature.name: feature.dtype for feature in VIDEO.features}  # the frame table's (table/columns.py)
TRACK_ARRAY_DTYPES = {  # TimelineFrames' arrays: the video group's columns, the 7 values of one type
    "track_active": _VIDEO_DTYPES["active"],
    "track_asset": _VIDEO_DTYPES["asset"],
    "track_values": _VIDEO_DTYPES["scale"],
}
_AUDIO_DTYPES = {feature.name: feature.dtype for feature in AUDIO.features}
AUDIO_ARRAY_DTYPES = {  # TimelineFrames' audio arrays: the audio group's columns
    "audio_active": _AUDIO_DTYPES["active"],
    "audio_asset": _AUDIO_DTYPES["asset"],
    "audio_gain_db": _AUDIO_DTYPES["gain_db"],
}
HEARD_FEATURES = ("loudness_db", "speech", "heard")  # the audio columns hearing fills, after active/asset/gain


def timeline_columns(frames: TimelineFrames) -> TimelineColumns:
    """Pack one timeline's frame arrays for the writer: its columns, all-default ones as None."""
    # The writer wraps these bytes as Arrow arrays without a copy or a check: the types must match.
    for name, dtype in {**TRACK_ARRAY_DTYPES, **AUDIO_ARRAY_DTYPES}.items():
        if getattr(frames, name).dtype != dtype:
            raise TypeError(f"{name} is {getattr(frames, name).dtype}, the frame table holds {np.dtype(dtype)}")
    columns: list[np.ndarray | None] = []
    for track_index in range(frames.tracks_kept):
        track = [frames.track_active[track_index], frames.track_asset[track_index], *frames.track_values[track_index]]
        columns.extend(column if any_bit_set(column) else None for column in track)
    audio_columns: list[np.ndarray | None] = []
    for track_index in range(len(frames.audio_tracks)):
        track = [frames.audio_active[track_index], frames.audio_asset[track_index], frames.audio_gain_db[track_index]]
        audio_columns.extend(column if any_bit_set(column) else None for column in track)
        audio_columns.extend([None] * len(HEARD_FEATURES))  # unheard until hear_file fills them
    return TimelineColumns(frames.frame_count, columns, timeline_entry(frames), audio_columns)


def any_bit_set(column: np.ndarray) -> bool:
    # On the bits, so a column of -0.0 is kept as written, not replaced by +0.0.
    return bool(column.view(f"u{column.itemsize}").any())


def is_default(column: np.ndarray, default: float) -> bool:
    """Whether every value is the column's default (bitwise for 0, so -0.0 is kept)."""
    return not any_bit_set(column) if default == 0 else bool((column == default).all())
