"""Frame table -> prepared folder: split, resample, normalise, fold assets, window.

The story of `prepare` (docs/ARCHITECTURE.md, "Prepared folder"):

1. index the frame table: which row groups hold which timeline (reading only `timeline`);
2. read the manifest beside it, when present, for rates, sizes, assets and `split_by` fields;
3. split timelines (or groups of them) into train/val/test with `data.seed`;
4. fit normalization statistics on the training split, timeline by timeline;
5. write each split's arrays as .npy files, streamed timeline by timeline, with its windows
   and its timelines' manifest entries;
6. write prepared.json, then move the finished folder into place in one rename.

Only one timeline (plus one Parquet row group) is in memory at a time, so peak memory
depends on the longest timeline, not on the size of the corpus (benchmarks/prepare_memory.py).

Without a manifest beside the table, rates, sizes and assets are unknown: timelines.json
holds None for them, and `data.split_by` other than "timeline" or a `data.fps` is an error.

**Like a model** (`Like`, `prepare --like BUNDLE`): the whole table becomes the test split (train
and val are empty), with the model's statistics instead of fitted ones and its `data`/`window`
settings as `config`, so that `evaluate` scores that model (or any with the same tracks, classes
and values) on timelines it was not prepared with. A table with another track count, or a model
with another value schema, is refused naming both (`check_like`). A column group the table lacks
is read as its defaults, as always (features.table). The folder has no train split for the
baselines: evaluate fits them on the folder the model was trained on (`evaluate --baselines`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from multitrack import __version__
from multitrack.config import Config
from multitrack.data.normalize import NormStats, StatsAccumulator, save_stats
from multitrack.data.prepared import (
    ARRAY_DTYPES,
    ASSET_DTYPE,
    AUDIO_ARRAYS,
    CONTENT_DIGEST_KEY,
    JSON_FILES,
    PREPARED_FORMAT,
    PREPARED_VERSION,
    content_digest,
    file_sha256,
    split_digest,
)
from multitrack.data.resample import Resampler
from multitrack.data.split import SPLITS, assign_splits, check_fractions, fixed_splits
from multitrack.data.windows import check_window, split_windows
from multitrack.errors import BundleError, ConfigError, DataError
from multitrack.features.manifest import manifest_path
from multitrack.features.roles import timeline_role
from multitrack.features.schema import VALUE_FEATURES
from multitrack.features.table import AudioArrays, FrameTable, TimelineArrays
from multitrack.features.vocabulary import cuts_from_top, fold_assets, since_on_top


@dataclass(frozen=True)
class Like:
    """What a model fixes about the data it reads, as plain values (data/ never opens a bundle:
    commands/prepare.py reads it). Its `data` and `window` settings come as `prepare`'s config."""

    source: str  # the model bundle, named in messages
    stats: NormStats  # its normalisation statistics
    asset_classes: int  # K it models
    max_tracks: int  # T it models
    value_features: tuple[str, ...]  # its value schema
    fingerprint: str  # the train split it was trained on (prepared.json "fingerprint")


def prepare(
    frames_path: str | Path, out_dir: str | Path, config: Config, progress: bool = False, like: Like | None = None
) -> Path:
    """Write the prepared folder for the frame table at `frames_path` into `out_dir`.

    Uses the `data` and `window` sections of `config`; `progress` shows bars on stderr. With
    `like`, the whole table is the test split, normalised with the model's statistics.
    """
    frames_path, out_dir = Path(frames_path), Path(out_dir)
    _check_config(config)
    table = FrameTable.open(frames_path, config.data.max_tracks)
    if like is not None:
        check_like(frames_path, table, config, like)
    manifest = read_manifest(frames_path)
    split_by = config.data.split_by if like is None else "timeline"  # --like deals no split
    entries = _timeline_entries(frames_path, table.timeline_ids, manifest, config, split_by)
    stacks = _stacks(table, entries)
    edits = [tid for tid in table.timeline_ids if tid not in stacks]
    if not edits:
        raise DataError(
            f"{frames_path}: every timeline is a multicam stack (every angle the whole length); nothing to learn from"
        )
    if like is None:
        groups = _groups(frames_path, entries, config)
        fixed = fixed_splits(config.data.assign, edits, entries, groups) if config.data.assign else None
        assignment = assign_splits(edits, config.data.split, config.data.seed, groups, fixed)
    else:
        assignment = dict.fromkeys(edits, "test")
    resamplers = {
        tid: Resampler.for_timeline(entries[tid], table.frames[tid], config.data.fps) for tid in table.timeline_ids
    }
    by_split = {name: [tid for tid in edits if assignment[tid] == name] for name in SPLITS}
    with _staging_dir(out_dir) as staging:
        if like is None:
            stats, stats_count = _fit_stats(table, _bar(by_split["train"], "fit stats", progress), resamplers)
        else:
            stats, stats_count = like.stats, 0
        save_stats(stats, staging / "stats.json")
        written = {
            name: _write_split(staging / name, table, tids, entries, resamplers, stats, config, progress)
            for name, tids in by_split.items()
        }
        info = _prepared_info(frames_path, config, table, manifest is not None, assignment, written, stats_count)
        info["stacks_left_out"] = stacks
        info["audio_tracks"] = table.table_audio_tracks if table.has_audio else 0
        if like is not None:
            info["split_fractions"] = [0.0, 0.0, 1.0]
            info["like"] = {"fingerprint": like.fingerprint}  # the model's train split, for evaluate
        info["sha256"] |= {relative: file_sha256(staging / relative) for relative in JSON_FILES}
        info[CONTENT_DIGEST_KEY] = content_digest(info)
        (staging / "prepared.json").write_text(json.dumps(info, indent=2) + "\n")
    return out_dir


def _bar(timeline_ids: list[str], stage: str, enabled: bool) -> Iterable[str]:
    if not enabled:
        return timeline_ids
    from tqdm import tqdm

    return tqdm(timeline_ids, desc=f"prepare: {stage}", unit="timeline", leave=False)


def read_manifest(frames_path: Path) -> dict[str, dict[str, Any]] | None:
    """{timeline id: manifest timeline entry (plus `source_file`)}, or None without a manifest."""
    path = manifest_path(frames_path)
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        files = raw["files"]
        return {
            entry["id"]: entry | {"source_file": file_entry.get("path")}
            for file_entry in files
            for entry in file_entry.get("timelines") or []
        }
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read the manifest: {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: not a multitrack manifest (files[].timelines[].id expected): {exc!r}") from None


def _check_config(config: Config) -> None:
    check_fractions(config.data.split)
    check_window(config.window.length, config.window.stride)
    if not 2 <= config.data.asset_classes <= np.iinfo(ASSET_DTYPE).max + 1:
        raise ConfigError(
            f"data.asset_classes: must be between 2 (0 = none, K-1 = other) and 32768 (stored as int16), "
            f"got {config.data.asset_classes}"
        )
    if config.data.max_tracks is not None and config.data.max_tracks < 1:
        raise ConfigError(f"data.max_tracks: must be >= 1 or null, got {config.data.max_tracks}")
    if config.data.fps is not None and not config.data.fps > 0:
        raise ConfigError(f"data.fps: must be > 0 or null, got {config.data.fps}")


def check_like(frames_path: Path, table: FrameTable, config: Config, like: Like) -> None:
    """Refuse a table the model cannot read, or a model whose settings contradict each other,
    naming both values: another track count, another value schema, other asset classes."""
    if tuple(like.value_features) != VALUE_FEATURES:
        raise DataError(
            f"{like.source}: the model reads the values {list(like.value_features)}, but this multitrack "
            f"prepares {list(VALUE_FEATURES)}: a different value schema"
        )
    if like.asset_classes != config.data.asset_classes:
        raise BundleError(
            f"{like.source}: the model has {like.asset_classes} asset classes, but its config says "
            f"data.asset_classes={config.data.asset_classes}: its data section does not describe its data"
        )
    if table.tracks != like.max_tracks:
        capped = table.tracks != table.table_tracks
        read = f" (read: {table.tracks}, data.max_tracks={config.data.max_tracks})" if capped else ""
        raise DataError(
            f"{frames_path}: the table has {table.table_tracks} video tracks{read}, but the model "
            f"{like.source} reads {like.max_tracks}: ingest the timelines with --max-tracks {like.max_tracks}"
        )


def _timeline_entries(
    frames_path: Path,
    timeline_ids: list[str],
    manifest: dict[str, dict[str, Any]] | None,
    config: Config,
    split_by: str,
) -> dict[str, dict[str, Any]]:
    """Each timeline's manifest entry; without a manifest, rates and sizes are unknown (None)."""
    if manifest is None:
        if split_by != "timeline":
            raise DataError(
                f"{frames_path}: data.split_by={split_by!r} needs the manifest "
                f"{manifest_path(frames_path).name} beside the table, and there is none"
            )
        if config.data.fps is not None:
            raise DataError(
                f"{frames_path}: data.fps={config.data.fps} needs each timeline's rate from the manifest "
                f"{manifest_path(frames_path).name}, and there is none"
            )
        return {tid: {"fps": None, "width": None, "height": None, "assets": []} for tid in timeline_ids}
    missing = [tid for tid in timeline_ids if tid not in manifest]
    if missing:
        raise DataError(
            f"{manifest_path(frames_path)}: no entry for timeline {missing[0]!r} of the table "
            f"({len(missing)} missing): the manifest does not belong to this table"
        )
    return {tid: manifest[tid] for tid in timeline_ids}


def _stacks(table: FrameTable, entries: dict[str, dict[str, Any]]) -> list[str]:
    """Timelines that are multicam stacks (features.roles), left out of every split: the
    manifest's `role` where ingest wrote one, else read from the table."""
    stacks = []
    for tid in table.timeline_ids:
        role = entries[tid].get("role")
        if role is None:
            arrays = table.read_timeline(tid)
            role = timeline_role(arrays.active, arrays.asset)
        if role == "stack":
            stacks.append(tid)
    return stacks


def _groups(frames_path: Path, entries: dict[str, dict[str, Any]], config: Config) -> dict[str, str] | None:
    """{timeline id: group key} for `data.split_by`, or None when each timeline is its own group."""
    field = config.data.split_by
    if field == "timeline":
        return None
    groups = {}
    for tid, entry in entries.items():
        if field not in entry:
            raise DataError(f"{manifest_path(frames_path)}: timeline {tid!r} has no field {field!r} for data.split_by")
        groups[tid] = json.dumps(entry[field], sort_keys=True)  # any JSON value groups by equality
    return groups


def _fit_stats(table: FrameTable, train_ids: Iterable[str], resamplers: dict[str, Resampler]) -> tuple[NormStats, int]:
    """Statistics of the training split only, streamed timeline by timeline."""
    accumulator = StatsAccumulator()
    for tid in train_ids:
        arrays = resamplers[tid].apply(table.read_timeline(tid))
        accumulator.update(arrays.values, arrays.active)
    return accumulator.finish(), accumulator.count


def _write_split(
    split_dir: Path,
    table: FrameTable,
    timeline_ids: list[str],
    entries: dict[str, dict[str, Any]],
    resamplers: dict[str, Resampler],
    stats: NormStats,
    config: Config,
    progress: bool = False,
) -> dict[str, Any]:
    """Stream one split's timelines into its .npy files; return its counts and file hashes."""
    split_dir.mkdir()
    frames = np.array([resamplers[tid].frames_out for tid in timeline_ids], np.int64)
    row_offsets = np.cumsum(frames) - frames  # first row of each timeline in the split's arrays
    rows, tracks = int(frames.sum()), table.tracks
    writers = {
        "active": NpyWriter(split_dir / "active.npy", ARRAY_DTYPES["active"], (tracks,), rows),
        "asset": NpyWriter(split_dir / "asset.npy", ARRAY_DTYPES["asset"], (tracks,), rows),
        "values": NpyWriter(split_dir / "values.npy", ARRAY_DTYPES["values"], (tracks, len(VALUE_FEATURES)), rows),
        "since_on_top": NpyWriter(split_dir / "since_on_top.npy", ARRAY_DTYPES["since_on_top"], (tracks,), rows),
        "cuts_from_top": NpyWriter(split_dir / "cuts_from_top.npy", ARRAY_DTYPES["cuts_from_top"], (tracks,), rows),
    }
    audio_tracks = table.table_audio_tracks if table.has_audio else 0
    for name, dtype in AUDIO_ARRAYS.items() if audio_tracks else ():
        writers[name] = NpyWriter(split_dir / f"{name}.npy", dtype, (audio_tracks,), rows)
    timelines, folded = [], 0
    for tid, row_offset in zip(_bar(timeline_ids, split_dir.name, progress), row_offsets.tolist(), strict=True):
        read = table.read_timeline(tid, audio=bool(audio_tracks))
        arrays = resamplers[tid].apply(read)
        if read.audio is not None:
            _write_audio(writers, resamplers[tid].apply_audio(read.audio))
        asset, folded_here = fold_assets(arrays.asset, config.data.asset_classes)
        writers["active"].write(arrays.active)
        writers["asset"].write(asset)
        writers["values"].write(stats.apply(arrays.values, arrays.active))
        writers["since_on_top"].write(since_on_top(arrays.active))
        writers["cuts_from_top"].write(cuts_from_top(arrays.active))
        timelines.append(_timeline_record(tid, entries[tid], row_offset, len(arrays.active), resamplers[tid]))
        folded += folded_here
    window_rows = split_windows(row_offsets, frames, config.window.length, config.window.stride)  # (W, 2)
    writers["windows"] = NpyWriter(split_dir / "windows.npy", ARRAY_DTYPES["windows"], (2,), len(window_rows))
    writers["windows"].write(window_rows)
    (split_dir / "timelines.json").write_text(json.dumps(timelines, indent=1) + "\n")
    hashes = {f"{name}.npy": writer.close() for name, writer in writers.items()}
    return {
        "timelines": len(timelines),
        "frames": rows,
        "windows": len(window_rows),
        "assets_folded": folded,
        "sha256": hashes,
    }


def _write_audio(writers: dict[str, NpyWriter], audio: AudioArrays) -> None:
    """One timeline's sound at the prepared rate, into the split's AUDIO_ARRAYS."""
    writers["audio_active"].write(audio.active)
    writers["audio_heard"].write(audio.heard)
    writers["audio_loudness_db"].write(audio.loudness_db)
    writers["audio_speech"].write(audio.speech)


def _timeline_record(
    tid: str, entry: dict[str, Any], row_offset: int, frames: int, resampler: Resampler
) -> dict[str, Any]:
    """timelines.json entry: where the timeline's rows are, their rate, then its manifest entry."""
    record = {
        "id": tid,
        "row_offset": row_offset,
        "frames": frames,  # rows in the prepared arrays (after resampling)
        "fps": resampler.fps_out,  # rate of those rows
        "source_frames": resampler.frames_in,
        "source_fps": entry.get("fps"),
    }
    return record | {key: value for key, value in entry.items() if key not in record}


def _prepared_info(
    frames_path: Path,
    config: Config,
    table: FrameTable,
    has_manifest: bool,
    assignment: dict[str, str],
    written: dict[str, dict[str, Any]],
    stats_count: int,
) -> dict[str, Any]:
    file_hashes = {
        f"{split}/{name}": digest for split, counts in written.items() for name, digest in counts["sha256"].items()
    }
    split_hashes = {split: split_digest(counts["sha256"]) for split, counts in written.items()}
    return {
        "format": PREPARED_FORMAT,
        "version": PREPARED_VERSION,
        "created_by": f"multitrack {__version__}",
        "source": {"frames": frames_path.name, "manifest": has_manifest, "table_tracks": table.table_tracks},
        "data": asdict(config.data),
        "window": asdict(config.window),
        "split_fractions": list(check_fractions(config.data.split)),
        "asset_classes": config.data.asset_classes,
        "max_tracks": table.tracks,
        "fps": config.data.fps,
        "features": ["active", "asset", *VALUE_FEATURES],
        "value_features": list(VALUE_FEATURES),
        "stats_active_track_frames": stats_count,
        "counts": {split: {k: v for k, v in counts.items() if k != "sha256"} for split, counts in written.items()},
        "splits": assignment,
        "sha256": file_hashes,
        "split_sha256": split_hashes,
        "fingerprint": split_hashes["train"],
    }


class NpyWriter:
    """Write a .npy file of known shape row block by row block, hashing every byte written.

    Streaming to a plain file (not a write-mode memory map) keeps written pages out of
    the process's resident memory.
    """

    def __init__(self, path: Path, dtype: type, row_shape: tuple[int, ...], rows: int):
        self.path, self.dtype, self.row_shape, self.rows = path, np.dtype(dtype), row_shape, rows
        self.rows_written = 0
        self.digest = hashlib.sha256()
        self.handle = open(path, "wb")
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (rows, *row_shape),
        }
        np.lib.format.write_array_header_1_0(_HashingFile(self.handle, self.digest), header)

    def write(self, block: np.ndarray) -> None:
        if block.shape[1:] != self.row_shape:
            raise ValueError(f"{self.path}: block rows {block.shape[1:]} != {self.row_shape}")
        data = np.ascontiguousarray(block, dtype=self.dtype).tobytes()
        self.handle.write(data)
        self.digest.update(data)
        self.rows_written += len(block)

    def close(self) -> str:
        """Close the file and return its sha256; the row count must match the header."""
        self.handle.close()
        if self.rows_written != self.rows:
            raise ValueError(f"{self.path}: wrote {self.rows_written} rows, header says {self.rows}")
        return self.digest.hexdigest()


class _HashingFile:
    """The file-like object numpy writes the header to: writes and hashes."""

    def __init__(self, handle: Any, digest: Any):
        self.handle, self.digest = handle, digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.handle.write(data)


@contextmanager
def _staging_dir(out_dir: Path) -> Iterator[Path]:
    """A hidden sibling folder to write into; renamed to `out_dir` only when everything succeeded.

    A previous prepared folder at `out_dir` is replaced; any other non-empty folder is refused.
    """
    if out_dir.exists() and not (out_dir / "prepared.json").is_file():
        if not out_dir.is_dir() or any(out_dir.iterdir()):
            raise DataError(f"{out_dir}: exists and is not a prepared folder; refusing to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        yield staging
        _replace_dir(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace_dir(new: Path, target: Path) -> None:
    if not target.exists():
        os.rename(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rename(target, old / target.name)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["Like", "check_like", "prepare", "read_manifest", "NpyWriter", "TimelineArrays"]
