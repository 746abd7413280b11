"""OUT.manifest.json beside the frame table (docs/ARCHITECTURE.md "Frame table"), written as results arrive."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from multitrack.features.frames import TimelineFrames
from multitrack.features.roles import timeline_role
from multitrack.features.schema import DEFAULT_MAX_AUDIO_TRACKS
from multitrack.features.table import column_names

MANIFEST_FORMAT = "multitrack-manifest"
MANIFEST_VERSION = 1


def manifest_path(out_path: str | Path) -> Path:
    """frames.parquet -> frames.manifest.json."""
    return Path(out_path).with_suffix(".manifest.json")


class ManifestWriter:
    """Streams OUT.manifest.json, one file entry a line.

    Entries go to disk as results arrive, so a batch of any size holds none in memory;
    only the set of timeline ids (to keep them unique) grows.
    """

    def __init__(self, path: Path, max_tracks: int, max_audio_tracks: int = DEFAULT_MAX_AUDIO_TRACKS):
        self.max_tracks = max_tracks
        self.used_ids: set[str] = set()
        self.entries = 0
        self.stream = path.open("w", encoding="utf-8")
        head = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "max_tracks": max_tracks,
            "max_audio_tracks": max_audio_tracks,
            "columns": column_names(max_tracks, max_audio_tracks),
        }
        self.stream.write(json.dumps(head, ensure_ascii=False)[:-1] + ',\n "files": [')

    def add_failure(self, relative: str, sha256: str | None, error: str) -> None:
        """A file that could not be ingested: its path relative to its input folder, and why."""
        self._add({"path": relative, "sha256": sha256, "error": error, "timelines": []})

    def add_success(self, relative: str, sha256: str | None, entries: Sequence[dict], ids: Sequence[str]) -> None:
        """A file's timelines: their `timeline_entry`s, completed with their ids and the file's folder."""
        folder = PurePosixPath(relative).parent.as_posix()
        folder = "" if folder == "." else folder
        timelines = [{**entry, "id": i, "folder": folder} for i, entry in zip(ids, entries, strict=True)]
        self._add({"path": relative, "sha256": sha256, "error": None, "timelines": timelines})

    def _add(self, entry: dict) -> None:
        self.stream.write(("\n  " if self.entries == 0 else ",\n  ") + json.dumps(entry, ensure_ascii=False))
        self.entries += 1

    def finish(self, files: int, failed: int, timelines: int, frames: int, media: dict[str, int] | None = None) -> None:
        """The closing summary; `media`: counts of the heard assets' media (found, missing, unreadable),
        None where nothing was looked for (--no-audio)."""
        summary = {"files": files, "failed": failed, "timelines": timelines, "frames": frames, "media": media}
        self.stream.write(f'\n ],\n "summary": {json.dumps(summary)}}}\n')

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stream.close()


def timeline_entry(frames: TimelineFrames) -> dict:
    """The manifest entry of one timeline; the parent fills in `id` and `folder` (keys kept in order)."""
    return {
        "id": None,
        "name": frames.name,
        "folder": None,
        "timebase": frames.rate.timebase,
        "ntsc": frames.rate.ntsc,
        "fps": frames.rate.fps,
        "width": frames.width_px,
        "height": frames.height_px,
        "frames": frames.frame_count,
        "role": timeline_role(frames.track_active.T, frames.track_asset.T),
        "tracks_kept": frames.tracks_kept,
        "tracks_dropped": frames.tracks_dropped,
        "assets": [asset.to_json() for asset in frames.assets],
        "media_size_unknown": frames.media_size_unknown,
        "audio_tracks_kept": len(frames.audio_tracks),
        "audio_tracks_dropped": frames.audio_tracks_dropped,
        "audio_tracks": [track.to_json() for track in frames.audio_tracks],
        "warnings": list(frames.warnings),
    }
