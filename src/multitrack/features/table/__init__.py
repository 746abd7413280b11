"""The frame table (DESIGN.md §2, docs/ARCHITECTURE.md "Frame table"): its columns, writer and reader.

`columns` owns the schema (column groups, types, defaults, the version), `writer` streams
timelines into Parquet, `reader` reads them back one timeline at a time.
"""

from multitrack.features.table.columns import (
    AUDIO,
    FORMAT,
    GROUPS,
    KEY_COLUMNS,
    VERSION,
    VERSION_KEY,
    VIDEO,
    ColumnGroup,
    Feature,
    audio_column,
    column_names,
    frame_table_schema,
    track_column,
    track_prefix,
)
from multitrack.features.table.reader import AudioArrays, FrameTable, TimelineArrays, read_row_group
from multitrack.features.table.writer import FrameTableWriter, TimelineColumns, frame_batches

__all__ = [
    "AUDIO",
    "FORMAT",
    "GROUPS",
    "KEY_COLUMNS",
    "VERSION",
    "VERSION_KEY",
    "VIDEO",
    "AudioArrays",
    "ColumnGroup",
    "Feature",
    "FrameTable",
    "FrameTableWriter",
    "TimelineArrays",
    "TimelineColumns",
    "audio_column",
    "column_names",
    "frame_batches",
    "frame_table_schema",
    "read_row_group",
    "track_column",
    "track_prefix",
]
