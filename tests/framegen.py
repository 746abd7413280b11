"""Tiny frame tables and manifests for tests and benchmarks.

Builds the files `multitrack ingest` writes (docs/ARCHITECTURE.md, "Frame table") straight
from arrays, so data-side tests need no xmeml. Column names and the version's metadata
keys are spelled out here rather than imported, so a test catches a code change that
renames them.

    timelines = [random_timeline("ed1/a", frames=40, tracks=3, seed=1, folder="ed1")]
    write_frame_table(tmp_path / "frames.parquet", timelines)  # + frames.manifest.json
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

VALUES = ("scale", "pos_x", "pos_y", "crop_left", "crop_right", "crop_top", "crop_bottom")
FORMAT_METADATA = {"multitrack.frame_table.format": "multitrack-frame-table"}
VERSION_KEY = "multitrack.frame_table.version"


@dataclass
class FakeTimeline:
    id: str
    active: np.ndarray  # (N, T) 0/1
    asset: np.ndarray  # (N, T) asset ids, 0 = none
    values: np.ndarray  # (N, T, 7) frame-table units
    fps: float = 25.0
    folder: str = ""
    width: int = 1920
    height: int = 1080

    @property
    def frames(self) -> int:
        return self.active.shape[0]

    @property
    def tracks(self) -> int:
        return self.active.shape[1]


def constant_timeline(
    tid: str,
    frames: int,
    tracks: int = 2,
    values: tuple[float, ...] = (1.0, 0, 0, 0, 0, 0, 0),
    asset: int = 1,
    **meta: Any,
) -> FakeTimeline:
    """Track V1 active over every frame with the same values and asset; the other tracks empty."""
    active = np.zeros((frames, tracks), np.int8)
    active[:, 0] = 1
    asset_ids = np.where(active > 0, asset, 0).astype(np.int32)
    value_rows = np.zeros((frames, tracks, 7), np.float32)
    value_rows[:, 0] = values
    return FakeTimeline(tid, active, asset_ids, value_rows, **meta)


def random_timeline(
    tid: str, frames: int, tracks: int = 3, seed: int = 0, assets: int = 5, **meta: Any
) -> FakeTimeline:
    """Shots of 5..30 frames; in each a random set of tracks is active with one asset and layout."""
    rng = np.random.default_rng(seed)
    active = np.zeros((frames, tracks), np.int8)
    asset = np.zeros((frames, tracks), np.int32)
    values = np.zeros((frames, tracks, 7), np.float32)
    start = 0
    while start < frames:
        end = min(frames, start + int(rng.integers(5, 31)))
        on = rng.random(tracks) < 0.5
        on[rng.integers(tracks)] = True  # something is always on screen
        for track in np.flatnonzero(on):
            active[start:end, track] = 1
            asset[start:end, track] = rng.integers(1, assets + 1)
            values[start:end, track] = [
                rng.uniform(0.5, 1.5),
                rng.uniform(-0.3, 0.3),
                rng.uniform(-0.3, 0.3),
                *rng.uniform(0, 20, size=4),
            ]
        start = end
    return FakeTimeline(tid, active, asset, values, **meta)


def column_names(tracks: int) -> list[str]:
    features = ("active", "asset", *VALUES)
    return ["timeline", "frame"] + [f"v{t:02d}_{f}" for t in range(1, tracks + 1) for f in features]


def frame_schema(tracks: int, version: int | None = 1) -> pa.Schema:
    """The frame table's columns; its metadata names version `version` (None: none, as before versions)."""
    fields = [pa.field("timeline", pa.string()), pa.field("frame", pa.int64())]
    for t in range(1, tracks + 1):
        fields += [pa.field(f"v{t:02d}_active", pa.int8()), pa.field(f"v{t:02d}_asset", pa.int32())]
        fields += [pa.field(f"v{t:02d}_{name}", pa.float32()) for name in VALUES]
    metadata = None if version is None else FORMAT_METADATA | {VERSION_KEY: str(version)}
    return pa.schema(fields, metadata=metadata)


def frame_table(timeline: FakeTimeline) -> pa.Table:
    """One timeline's rows as an Arrow table with the frame table's schema."""
    columns: list[Any] = [[timeline.id] * timeline.frames, np.arange(timeline.frames, dtype=np.int64)]
    for t in range(timeline.tracks):
        columns += [timeline.active[:, t], timeline.asset[:, t]]
        columns += [timeline.values[:, t, i] for i in range(7)]
    return pa.table(columns, schema=frame_schema(timeline.tracks))


def manifest(timelines: list[FakeTimeline]) -> dict[str, Any]:
    """The manifest ingest would write: one file per timeline."""
    files = [{"path": f"{tl.id}.xml", "sha256": "0" * 64, "error": None, "timelines": [_entry(tl)]} for tl in timelines]
    tracks = timelines[0].tracks if timelines else 0
    return {
        "format": "multitrack-manifest",
        "version": 1,
        "max_tracks": tracks,
        "columns": column_names(tracks),
        "files": files,
        "summary": {
            "files": len(files),
            "failed": 0,
            "timelines": len(files),
            "frames": sum(t.frames for t in timelines),
        },
    }


def _entry(timeline: FakeTimeline) -> dict[str, Any]:
    timebase = round(timeline.fps)
    asset_ids = sorted(set(np.unique(timeline.asset).tolist()) - {0})
    return {
        "id": timeline.id,
        "name": timeline.id.rsplit("/", 1)[-1],
        "folder": timeline.folder,
        "timebase": timebase,
        "ntsc": abs(timeline.fps - timebase) > 1e-6,
        "fps": timeline.fps,
        "width": timeline.width,
        "height": timeline.height,
        "frames": timeline.frames,
        "tracks_kept": timeline.tracks,
        "tracks_dropped": 0,
        "assets": [
            {
                "number": n,
                "id": f"file-{n}",
                "name": f"clip{n}.mp4",
                "kind": "file",
                "pathurl": f"file://media/clip{n}.mp4",
                "width": 3840,
                "height": 2160,
            }
            for n in asset_ids
        ],
        "media_size_unknown": 0,
        "warnings": [],
    }


def write_frame_table(
    path: Path,
    timelines: list[FakeTimeline],
    with_manifest: bool = True,
    rows_per_group: int | None = None,
    version: int | None = 1,
) -> Path:
    """Write OUT.parquet (one row group per timeline, as a streaming ingest does, or
    `rows_per_group` rows each) and, unless told not to, OUT.manifest.json beside it.
    `version` goes into the table's metadata (None: no version, as tables were written before)."""
    path = Path(path)
    schema = frame_schema(timelines[0].tracks, version)
    with pq.ParquetWriter(path, schema) as writer:
        if rows_per_group is None:
            for timeline in timelines:
                writer.write_table(frame_table(timeline))
        else:
            writer.write_table(pa.concat_tables(frame_table(t) for t in timelines), row_group_size=rows_per_group)
    if with_manifest:
        manifest_path = path.with_suffix(".manifest.json")
        manifest_path.write_text(json.dumps(manifest(timelines), indent=1))
    return path


def tiny_corpus(
    timelines: int = 8, tracks: int = 3, seed: int = 0, editors: int = 2, fps: float = 25.0
) -> list[FakeTimeline]:
    """`timelines` random timelines of 20..60 frames, spread over `editors` folders."""
    rng = np.random.default_rng(seed)
    return [
        random_timeline(
            f"editor{i % editors}/tl_{i:03d}",
            int(rng.integers(20, 61)),
            tracks,
            seed=seed * 1000 + i,
            folder=f"editor{i % editors}",
            fps=fps,
        )
        for i in range(timelines)
    ]


def prepare_tiny(
    tmp_path: Path, overrides: list[str] | None = None, timelines: list[FakeTimeline] | None = None
) -> Path:
    """A prepared folder at tmp_path/prepared from a tiny corpus, with configs/tiny.yaml and `overrides`."""
    from multitrack.config import load_config
    from multitrack.data.prepare import prepare

    tiny = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
    Path(tmp_path).mkdir(parents=True, exist_ok=True)
    frames = write_frame_table(Path(tmp_path) / "frames.parquet", timelines or tiny_corpus())
    return prepare(frames, Path(tmp_path) / "prepared", load_config(tiny, overrides))
