"""Read the frame table (docs/ARCHITECTURE.md, "Frame table") one timeline at a time.

`FrameTable.open` checks the table's version (its Parquet key-value metadata; a table
written before tables had one is version 1) and its columns: every group the table's
version has must be complete, and a group added in a later version than the table's is
read as its defaults (columns.py: a version-1 table has no audio, so every audio track
reads as unheard). It then reads only the `timeline` column, one Parquet row group at a
time, to learn where each timeline's rows are; `read_timeline` reads just the row groups
that hold one timeline (keeping the last one, since ingest writes timelines in order) and
checks its values: rows are frames 0..N-1, `active` (and `heard`) is 0/1, `asset` >= 0, no
value is missing, NaN or infinite (DESIGN.md §2: the table never holds NaN).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from multitrack.errors import DataError
from multitrack.features.schema import DEFAULT_MAX_AUDIO_TRACKS, VALUE_FEATURES
from multitrack.features.table.columns import (
    AUDIO,
    FORMAT,
    FORMAT_KEY,
    GROUPS,
    VERSION,
    VERSION_KEY,
    VIDEO,
    ColumnGroup,
    track_column,
)

UNVERSIONED = 1  # a table without VERSION_KEY was written before it existed: the seed's columns


@dataclass
class AudioArrays:
    """One timeline's audio group (columns.py AUDIO), (N, A) each, in frame-table units."""

    active: np.ndarray  # int8 0/1
    asset: np.ndarray  # int64, 0 = none
    gain_db: np.ndarray  # float32
    loudness_db: np.ndarray  # float32, >= -90
    speech: np.ndarray  # float32 0..1
    heard: np.ndarray  # int8 0/1


@dataclass
class TimelineArrays:
    """One timeline's rows in frame-table units; `audio` only when read with `audio=True`."""

    id: str
    active: np.ndarray  # (N, T) int8
    asset: np.ndarray  # (N, T) int64
    values: np.ndarray  # (N, T, 7) float32
    audio: AudioArrays | None = None


@dataclass
class FrameTable:
    path: Path
    parquet: pq.ParquetFile
    tracks: int  # video tracks read: the table's, or data.max_tracks if smaller
    table_tracks: int  # video tracks the table has
    timeline_ids: list[str]  # in table order
    frames: dict[str, int]  # rows per timeline
    segments: dict[str, list[tuple[int, int, int]]]  # timeline id -> [(row group, first row, rows)]
    version: int = VERSION  # the table's, from its metadata
    groups: tuple[ColumnGroup, ...] = GROUPS  # the groups read
    defaulted: tuple[str, ...] = ()  # names of the groups the table lacks, read as their defaults
    audio_tracks: int = 0  # audio tracks read: the table's (or max_audio_tracks if smaller); defaulted: that many
    table_audio_tracks: int = 0  # audio tracks the table has (0 in a version-1 table)
    _cached_row_group: tuple[int, tuple[str, ...], pa.Table] | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        path: Path,
        max_tracks: int | None = None,
        groups: tuple[ColumnGroup, ...] = GROUPS,
        max_audio_tracks: int | None = None,
    ) -> FrameTable:
        """Open a table (module docstring). `max_audio_tracks`: audio tracks to read at most; a
        table without audio reads that many (default DEFAULT_MAX_AUDIO_TRACKS) as unheard."""
        try:
            # ingest writes a CRC per page: a flipped bit in LZ4 data would otherwise decode silently
            parquet = pq.ParquetFile(path, page_checksum_verification=True)
        except FileNotFoundError:
            raise DataError(f"{path}: frame table not found") from None
        except (OSError, pa.ArrowException, ValueError) as exc:  # a corrupt footer can fail to decode its names
            raise DataError(f"{path}: not a readable Parquet frame table: {exc}") from None
        version = read_version(path, parquet.metadata.metadata)
        names = parquet.schema_arrow.names
        table_tracks = _count_tracks(path, names)
        table_audio_tracks = _count_kind(names, AUDIO.kind)
        counts = {VIDEO.kind: table_tracks, AUDIO.kind: table_audio_tracks}
        defaulted = _check_groups(path, names, groups, counts, version)
        tracks = min(table_tracks, max_tracks) if max_tracks is not None else table_tracks
        if AUDIO.name in defaulted:
            audio_tracks = DEFAULT_MAX_AUDIO_TRACKS if max_audio_tracks is None else max_audio_tracks
        else:
            audio_tracks = table_audio_tracks if max_audio_tracks is None else min(table_audio_tracks, max_audio_tracks)
        segments = _index_timelines(path, parquet)
        frames = {tid: sum(rows for _, _, rows in parts) for tid, parts in segments.items()}
        return cls(
            path,
            parquet,
            tracks,
            table_tracks,
            list(segments),
            frames,
            segments,
            version,
            groups,
            defaulted,
            audio_tracks,
            table_audio_tracks,
        )

    def tracks_of(self, kind: str) -> int:
        """Tracks read of one kind ("v" video, "a" audio)."""
        return self.audio_tracks if kind == AUDIO.kind else self.tracks

    def group_columns(self, group: ColumnGroup) -> list[str]:
        """The columns of one group read per timeline; none where the table lacks the group."""
        if group.name in self.defaulted:
            return []
        return [name for t in range(1, self.tracks_of(group.kind) + 1) for name in group.columns(t)]

    @property
    def columns(self) -> list[str]:
        """The columns `read_timeline` reads: frame, then every video group the table has, per kept track."""
        return ["frame"] + [
            name for group in self.groups if group.kind == VIDEO.kind for name in self.group_columns(group)
        ]

    @property
    def has_audio(self) -> bool:
        """Whether the table holds audio columns (a version-2 table with audio tracks)."""
        return AUDIO.name not in self.defaulted and self.table_audio_tracks > 0

    def read_timeline(self, tid: str, audio: bool = False) -> TimelineArrays:
        """The video group of one timeline, checked (module docstring); with `audio`, its audio
        group too (read in the same pass; the defaults, unheard, where the table has none)."""
        columns = self.columns + (self.group_columns(AUDIO) if audio else [])
        rows = self._rows(tid, columns)
        arrays = self._to_arrays(tid, rows)
        if audio:
            arrays.audio = self._audio_arrays(tid, rows)
        return arrays

    def read_audio(self, tid: str) -> AudioArrays:
        """The audio group of one timeline, checked; unheard defaults where the table has none."""
        return self._audio_arrays(tid, self._rows(tid, ["frame", *self.group_columns(AUDIO)]))

    def read_group(self, tid: str, group: ColumnGroup) -> dict[str, np.ndarray]:
        """{feature: (N, T) array} of one group of one timeline; its defaults where the table lacks it."""
        if group not in self.groups:
            raise ValueError(f"group {group.name!r} is not one this table was opened to read")
        return self._group_arrays(self._rows(tid, ["frame", *self.group_columns(group)]), group, self.frames[tid])

    def _rows(self, tid: str, columns: list[str]) -> pa.Table:
        parts = [self._row_group(group, tuple(columns)).slice(first, rows) for group, first, rows in self.segments[tid]]
        rows = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        self._check_rows(tid, rows)
        return rows

    def _row_group(self, group: int, columns: tuple[str, ...]) -> pa.Table:
        cached = self._cached_row_group
        if cached is None or cached[0] != group or cached[1] != columns:
            cached = (group, columns, read_row_group(self.path, self.parquet, group, list(columns)))
            self._cached_row_group = cached
        return cached[2]

    def _check_rows(self, tid: str, rows: pa.Table) -> None:
        for name in rows.column_names:
            if rows.column(name).null_count:
                first = int(np.argmax(pc.is_null(rows.column(name)).to_numpy(zero_copy_only=False)))
                raise self._error(tid, first, name, "value is missing (null)")
        frame = rows.column("frame").to_numpy()
        expected = np.arange(len(frame))
        if not np.array_equal(frame, expected):
            first = int(np.argmax(frame != expected))
            raise DataError(
                f"{self.path}: timeline {tid!r}: row {first} holds frame {frame[first]}, expected {first} "
                "(rows must be frames 0..N-1 in order; duplicate timeline id?)"
            )

    def _group_arrays(self, rows: pa.Table, group: ColumnGroup, frame_count: int) -> dict[str, np.ndarray]:
        tracks = self.tracks_of(group.kind)
        if group.name in self.defaulted or tracks == 0:
            shape = (frame_count, tracks)
            return {feature.name: np.full(shape, feature.default, feature.dtype) for feature in group.features}
        return {  # (N, T): one feature across the kept tracks
            feature.name: np.stack(
                [rows.column(group.column(t, feature.name)).to_numpy() for t in range(1, tracks + 1)], axis=1
            ).astype(feature.dtype, copy=False)
            for feature in group.features
        }

    def _audio_arrays(self, tid: str, rows: pa.Table) -> AudioArrays:
        audio = self._group_arrays(rows, AUDIO, rows.num_rows)
        for name in ("gain_db", "loudness_db", "speech"):
            bad = ~np.isfinite(audio[name])
            if bad.any():
                row, track = np.argwhere(bad)[0]
                raise self._error(tid, int(row), AUDIO.column(track + 1, name), f"value is {audio[name][row, track]}")
        for name in ("active", "heard"):
            bad = ~np.isin(audio[name], (0, 1))
            if bad.any():
                row, track = np.argwhere(bad)[0]
                raise self._error(
                    tid, int(row), AUDIO.column(track + 1, name), f"expected 0 or 1, got {audio[name][row, track]}"
                )
        asset = audio["asset"].astype(np.int64)
        if (asset < 0).any():
            row, track = np.argwhere(asset < 0)[0]
            raise self._error(tid, int(row), AUDIO.column(track + 1, "asset"), f"negative asset id {asset[row, track]}")
        return AudioArrays(
            active=audio["active"],
            asset=asset,
            gain_db=audio["gain_db"],
            loudness_db=audio["loudness_db"],
            speech=audio["speech"],
            heard=audio["heard"],
        )

    def _to_arrays(self, tid: str, rows: pa.Table) -> TimelineArrays:
        video = self._group_arrays(rows, VIDEO, rows.num_rows)
        values = np.stack([video[f] for f in VALUE_FEATURES], axis=2).astype(np.float32)  # (N, T, 7)
        self._check_finite(tid, values)
        active, asset = video["active"].astype(np.int8), video["asset"].astype(np.int64)
        if not np.isin(active, (0, 1)).all():
            row, track = np.argwhere(~np.isin(active, (0, 1)))[0]
            raise self._error(
                tid, int(row), track_column(track + 1, "active"), f"expected 0 or 1, got {active[row, track]}"
            )
        if (asset < 0).any():
            row, track = np.argwhere(asset < 0)[0]
            raise self._error(tid, int(row), track_column(track + 1, "asset"), f"negative asset id {asset[row, track]}")
        return TimelineArrays(tid, active, asset, values)

    def _check_finite(self, tid: str, values: np.ndarray) -> None:
        bad = ~np.isfinite(values)  # (N, T, 7)
        if bad.any():
            row, track, feature = np.argwhere(bad)[0]  # C order: earliest frame, then column order
            value = values[row, track, feature]
            raise self._error(tid, int(row), track_column(track + 1, VALUE_FEATURES[feature]), f"value is {value}")

    def _error(self, tid: str, frame: int, column: str, reason: str) -> DataError:
        return DataError(f"{self.path}: timeline {tid!r}, frame {frame}, column {column}: {reason}")


def read_version(path: Path, metadata: dict[bytes, bytes] | None) -> int:
    """The table's version from its key-value metadata; refuses another format or a newer version."""
    metadata = metadata or {}
    written_format = metadata.get(FORMAT_KEY.encode())
    if written_format is not None and written_format != FORMAT.encode():
        raise DataError(f"{path}: its metadata names the format {written_format!r}, not {FORMAT!r}")
    raw = metadata.get(VERSION_KEY.encode())
    if raw is None:
        return UNVERSIONED
    version = int(raw) if raw.isdigit() else 0
    if version < 1:
        raise DataError(f"{path}: frame table version {raw!r} in its metadata is not a positive integer")
    if version > VERSION:
        raise DataError(
            f"{path}: frame table version {version} is newer than this multitrack reads (version {VERSION}); "
            "upgrade multitrack, or ingest the timelines again with this one"
        )
    return version


def _count_tracks(path: Path, names: list[str]) -> int:
    """Video tracks v01..vNN the table has: those with an `active` column."""
    for required in ("timeline", "frame"):
        if required not in names:
            raise DataError(f"{path}: column {required!r} is missing; not a multitrack frame table")
    tracks = _count_kind(names, VIDEO.kind)
    if tracks == 0:
        raise DataError(f"{path}: no track columns (v01_active, …); not a multitrack frame table")
    return tracks


def _count_kind(names: list[str], kind: str) -> int:
    """Tracks of one kind (`v` video, `a` audio) the table has: those with an `active` column."""
    active = re.compile(rf"^{kind}(\d{{2,}})_active$")
    return sum(1 for name in names if active.match(name))


def _check_groups(
    path: Path, names: list[str], groups: tuple[ColumnGroup, ...], counts: dict[str, int], version: int
) -> tuple[str, ...]:
    """The names of the groups to read as defaults: wholly absent, and newer than the table.

    Any other group must have all its columns on every track of its kind; a missing one is named.
    """
    present, defaulted = set(names), []
    for group in groups:
        if group.kind not in counts:
            raise ValueError(f"group {group.name!r}: tracks of kind {group.kind!r} are not read")
        tracks = counts[group.kind]
        wanted = [name for track in range(1, tracks + 1) for name in group.columns(track)]
        if group.version > version and present.isdisjoint(wanted):
            defaulted.append(group.name)
            continue
        for name in wanted:
            if name not in present:
                kind = "audio tracks" if group.kind == AUDIO.kind else "tracks"
                raise DataError(f"{path}: column {name!r} is missing (the table has {tracks} {kind})")
    return tuple(defaulted)


def read_row_group(path: Path, parquet: pq.ParquetFile, group: int, columns: list[str]) -> pa.Table:
    """One row group's columns; a corrupt or cut file fails naming it and the row group."""
    try:
        return parquet.read_row_group(group, columns=columns)
    except (OSError, pa.ArrowException, ValueError) as exc:  # pyarrow's corrupt-data errors (UnicodeDecodeError too)
        reason = " ".join(str(exc).split())
        raise DataError(f"{path}: row group {group} cannot be read (corrupt or truncated file): {reason}") from None


def _index_timelines(path: Path, parquet: pq.ParquetFile) -> dict[str, list[tuple[int, int, int]]]:
    """{timeline id: [(row group, first row in it, rows)]}, in order of first appearance."""
    segments: dict[str, list[tuple[int, int, int]]] = {}
    for group in range(parquet.metadata.num_row_groups):
        column = read_row_group(path, parquet, group, ["timeline"]).column("timeline").combine_chunks()
        if column.null_count:
            raise DataError(f"{path}: row group {group}: the timeline column has empty (null) ids")
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        encoded = column.dictionary_encode()
        codes = encoded.indices.to_numpy()  # (rows,) one integer per timeline id
        names = encoded.dictionary.to_pylist()
        starts = np.concatenate([[0], np.flatnonzero(np.diff(codes)) + 1])  # runs of one id
        ends = np.append(starts[1:], len(codes))
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            segments.setdefault(str(names[codes[start]]), []).append((group, start, end - start))
    if not segments:
        raise DataError(f"{path}: the frame table has no rows")
    return segments
