"""Write the frame table: timelines, packed as `TimelineColumns`, streamed into Parquet (and CSV).

The writer is the serial part of a parallel ingest, so it is tuned for speed: Arrow arrays
are zero-copy views of the workers' numpy columns, all-zero columns and empty tracks views of
one shared zero buffer, and the Parquet settings are chosen for writing fast
(docs/decisions.md, "ingest: Parquet writer settings").
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from multitrack.features.schema import DEFAULT_MAX_AUDIO_TRACKS
from multitrack.features.table.columns import (
    AUDIO,
    KEY_COLUMNS,
    MAX_AUDIO_TRACKS_KEY,
    MAX_TRACKS_KEY,
    VIDEO,
    Feature,
    frame_table_schema,
    track_columns,
)

if TYPE_CHECKING:
    from typing_extensions import Buffer

ROWS_PER_BATCH = 65_536  # rows per Arrow batch and Parquet row group: bounds the writer's memory


@dataclass
class TimelineColumns:
    """One timeline as the writer takes it, packed where it was converted.

    `columns` holds the kept video tracks' columns in frame-table order (track by track,
    FEATURES within a track), each a contiguous (N,) array, or None where the column is
    all its default (columns.py). On the synthetic corpus 72% of the value columns are,
    so a --jobs worker pickles 18 MB instead of 48 and the writer fills them, like the
    empty tracks, from one buffer per default that stays in cache. `audio_columns` is the
    same for the kept audio tracks (AUDIO_FEATURES within a track). `entry` is the manifest
    entry with `id` and `folder` still None: only the parent, seeing every file, can make
    ids unique.
    """

    frame_count: int
    columns: list[np.ndarray | None]
    entry: dict
    audio_columns: list[np.ndarray | None] = field(default_factory=list)


def frame_batches(
    timeline_id: str, timeline: TimelineColumns, schema: pa.Schema, shared: SharedColumns | None = None
) -> Iterator[pa.RecordBatch]:
    """One timeline's rows as record batches of at most ROWS_PER_BATCH rows.

    Its columns are zero-copy slices; the all-default ones (None) and the empty tracks up
    to max_tracks are views of one shared buffer per (type, default), the frame numbers of
    one shared count. Arrays are built from buffers: `pa.array` on numpy imports pandas,
    which costs every worker its start-up time.
    """
    shared = shared or SharedColumns()
    layout = column_layout(schema)
    id_bytes = timeline_id.encode("utf-8")
    sources = {VIDEO.kind: timeline.columns, AUDIO.kind: timeline.audio_columns}
    for first in range(0, timeline.frame_count, ROWS_PER_BATCH):
        count = min(ROWS_PER_BATCH, timeline.frame_count - first)
        columns = [_repeated_string(id_bytes, count), shared.frame_numbers(first, count)]
        for kind, index, feature in layout:
            source = sources[kind]
            column = source[index] if index < len(source) else None
            if column is None:
                columns.append(shared.filled(feature, count))
            else:
                columns.append(_array_of(feature.arrow_type, column[first : first + count]))
        yield pa.RecordBatch.from_arrays(columns, schema=schema)


def column_layout(schema: pa.Schema) -> list[tuple[str, int, Feature]]:
    """(track kind, index among that kind's columns, feature) of each column after the key columns."""
    metadata = schema.metadata or {}
    max_tracks = int(metadata[MAX_TRACKS_KEY.encode()])
    max_audio_tracks = int(metadata.get(MAX_AUDIO_TRACKS_KEY.encode(), DEFAULT_MAX_AUDIO_TRACKS))
    return _layout(max_tracks, max_audio_tracks)


@functools.lru_cache(maxsize=8)
def _layout(max_tracks: int, max_audio_tracks: int) -> list[tuple[str, int, Feature]]:
    layout: list[tuple[str, int, Feature]] = []
    seen: dict[str, int] = {}
    for name, feature in track_columns(max_tracks, max_audio_tracks):
        kind = name[0]  # the group's kind letter starts every track column (columns.py)
        layout.append((kind, seen.get(kind, 0), feature))
        seen[kind] = seen.get(kind, 0) + 1
    return layout


class SharedColumns:
    """Buffers every batch of a run reuses: zeros, other defaults, and the frame numbers 0, 1, 2, ..."""

    def __init__(self) -> None:
        self.zero_buffer = _numpy_buffer(np.zeros(0, dtype=np.int64))
        self.counting = np.arange(0, dtype=np.int64)
        self.constant: dict[tuple[np.dtype, float], np.ndarray] = {}

    def filled(self, feature: Feature, count: int) -> pa.Array:
        """`count` rows of a feature's default (zeros from the zero buffer)."""
        if feature.default == 0:
            return self.zeros(feature.arrow_type, count)
        key = (feature.dtype, float(feature.default))
        buffer = self.constant.get(key)
        if buffer is None or len(buffer) < count:
            buffer = np.full(max(count, ROWS_PER_BATCH), feature.default, dtype=feature.dtype)
            self.constant[key] = buffer
        return _array_of(feature.arrow_type, buffer[:count])

    def zeros(self, arrow_type: pa.DataType, count: int) -> pa.Array:
        """`count` zeros of a fixed-width type: int8, int32, float32 all read 0 from zero bytes."""
        if self.zero_buffer.size < count * 8:
            self.zero_buffer = _numpy_buffer(np.zeros(count, dtype=np.int64))
        return pa.Array.from_buffers(arrow_type, count, [None, self.zero_buffer])

    def frame_numbers(self, first: int, count: int) -> pa.Array:
        """The int64 frame numbers first .. first + count - 1."""
        if len(self.counting) < first + count:
            self.counting = np.arange(max(first + count, 2 * len(self.counting)), dtype=np.int64)
        return _array_of(pa.int64(), self.counting[first : first + count])


def _array_of(arrow_type: pa.DataType, column: np.ndarray) -> pa.Array:
    """A zero-copy Arrow array over a contiguous numpy column of the same fixed width."""
    return pa.Array.from_buffers(arrow_type, len(column), [None, _numpy_buffer(column)])


def _repeated_string(value: bytes, count: int) -> pa.Array:
    """A string column holding `value` `count` times, built from buffers (no Python loop)."""
    offsets = np.arange(count + 1, dtype=np.int32) * len(value)  # count <= ROWS_PER_BATCH
    return pa.StringArray.from_buffers(count, _numpy_buffer(offsets), pa.py_buffer(value * count))


def _numpy_buffer(array: np.ndarray) -> pa.Buffer:
    """`pa.py_buffer` over an array's memory, zero-copy; numpy declares its buffer protocol
    (`__buffer__`) to type checkers only from Python 3.12, hence the cast."""
    return pa.py_buffer(cast("Buffer", array))


class FrameTableWriter:
    """Streams timelines into Parquet (and CSV) in row groups of at most ~2 x ROWS_PER_BATCH rows."""

    def __init__(
        self,
        parquet_path: Path,
        max_tracks: int,
        csv_path: Path | None = None,
        max_audio_tracks: int = DEFAULT_MAX_AUDIO_TRACKS,
    ):
        self.schema = frame_table_schema(max_tracks, max_audio_tracks)
        self.max_tracks = max_tracks
        self.max_audio_tracks = max_audio_tracks
        self.parquet = pq.ParquetWriter(
            parquet_path,
            self.schema,
            # lz4 with plain encoding (docs/decisions.md, "ingest: Parquet writer settings");
            # a dictionary pays only for the repeated timeline id, statistics only for the
            # two key columns (row-group skipping on timeline/frame filters).
            compression="lz4",
            use_dictionary=["timeline"],  # type: ignore[arg-type]  # stubs: bool only; pyarrow takes names too
            write_statistics=list(KEY_COLUMNS),
            write_page_checksum=True,  # a CRC per page: the reader detects a corrupted file (reader.py)
        )
        self.csv = pa_csv.CSVWriter(csv_path, self.schema) if csv_path else None
        self.shared = SharedColumns()
        self.buffered: list[pa.RecordBatch] = []
        self.buffered_rows = 0
        self.write_s = 0.0

    def write(self, timeline_id: str, timeline: TimelineColumns) -> None:
        started = time.perf_counter()
        for batch in frame_batches(timeline_id, timeline, self.schema, self.shared):
            self.buffered.append(batch)
            self.buffered_rows += batch.num_rows
            self._flush(min_rows=ROWS_PER_BATCH)
        self.write_s += time.perf_counter() - started

    def flush(self, min_rows: int = 1) -> None:
        """Write the buffered rows as one row group, if there are at least `min_rows`."""
        started = time.perf_counter()
        self._flush(min_rows)
        self.write_s += time.perf_counter() - started

    def _flush(self, min_rows: int = 1) -> None:
        if not self.buffered or self.buffered_rows < min_rows:
            return
        table = pa.Table.from_batches(self.buffered, schema=self.schema)
        self.parquet.write_table(table, row_group_size=max(table.num_rows, 1))
        if self.csv:
            self.csv.write_table(table)
        self.buffered, self.buffered_rows = [], 0

    def close(self) -> None:
        started = time.perf_counter()
        self._flush()
        self.parquet.close()
        if self.csv:
            self.csv.close()
        self.write_s += time.perf_counter() - started

    def __enter__(self) -> FrameTableWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
