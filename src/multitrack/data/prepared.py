"""Open and check a prepared folder (docs/ARCHITECTURE.md, "Prepared folder").

`open_prepared(path)` reads prepared.json, stats.json and each split's timelines.json and
checks the array headers against them, so a folder left half-written or edited by hand
fails here with a DataError naming the folder and what is wrong, not deep inside training.
Arrays stay on disk: `PreparedSplit.timeline_arrays` maps one whole timeline at a time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from multitrack.data.normalize import NormStats, load_stats
from multitrack.data.split import SPLITS
from multitrack.errors import DataError
from multitrack.features.schema import VALUE_FEATURES
from multitrack.features.vocabulary import SINCE_ON_TOP_DTYPE

PREPARED_FORMAT = "multitrack-prepared"
# 2: values of inactive tracks hold their carried geometry, not 0; 4: since_on_top.npy and
# cuts_from_top.npy (3 was a development step with since_on_top.npy alone)
PREPARED_VERSION = 4
ARRAY_FILES = ("active.npy", "asset.npy", "values.npy", "since_on_top.npy", "cuts_from_top.npy", "windows.npy")
ASSET_DTYPE = np.int16  # asset classes: data.asset_classes must fit its range
ARRAY_DTYPES = {
    "active": np.uint8,
    "asset": ASSET_DTYPE,
    "values": np.float32,
    "since_on_top": SINCE_ON_TOP_DTYPE,
    "cuts_from_top": SINCE_ON_TOP_DTYPE,
    "windows": np.int64,
}
FRAME_ARRAYS = ("active", "asset", "values", "since_on_top", "cuts_from_top")  # one row per frame
# The sound of each audio track, one row per frame at the prepared rate, when the table has audio
# columns (a condition of the model, never a target; issue 16): on a clip, heard, loudness (dB,
# SILENCE_DB where unheard) and speech share. float16 keeps a corpus with 24 audio tracks small;
# a hundredth of a dB and of a share is far below what the hearing resolves.
AUDIO_ARRAYS = {
    "audio_active": np.uint8,
    "audio_heard": np.uint8,
    "audio_loudness_db": np.float16,
    "audio_speech": np.float16,
}
# JSON beside the arrays whose sha256 prepared.json also records: an edited stats.json would
# silently change the normalisation the model learns and ships
JSON_FILES = ("stats.json", *(f"{split}/timelines.json" for split in SPLITS))
CONTENT_DIGEST_KEY = "content_sha256"  # prepared.json's digest of its own other keys


@dataclass(frozen=True)
class PreparedSplit:
    name: str
    path: Path
    timelines: list[dict[str, Any]]  # timelines.json: id, row_offset, frames, fps, width, height, assets, …
    rows: int  # N: frames of all the split's timelines
    windows: int  # W

    audio_tracks: int = 0  # A: the audio arrays' width (0: the table had no audio columns, no arrays)

    def arrays(self) -> dict[str, np.ndarray]:
        """The split's arrays, memory-mapped read-only: active (N, T), asset (N, T), values
        (N, T, 7), since_on_top (N, T) and cuts_from_top (N, T) (`multitrack.features.vocabulary`),
        and with audio tracks the AUDIO_ARRAYS (N, A)."""
        names = FRAME_ARRAYS + (tuple(AUDIO_ARRAYS) if self.audio_tracks else ())
        return {name: np.load(self.path / f"{name}.npy", mmap_mode="r") for name in names}

    def timeline_arrays(self, index: int) -> dict[str, np.ndarray]:
        """One whole timeline's rows (memory-mapped slices) for rollouts over full timelines."""
        entry = self.timelines[index]
        rows = slice(entry["row_offset"], entry["row_offset"] + entry["frames"])
        return {name: array[rows] for name, array in self.arrays().items()}


@dataclass(frozen=True)
class PreparedData:
    path: Path
    info: dict[str, Any]  # prepared.json
    stats: NormStats
    splits: dict[str, PreparedSplit]

    @property
    def asset_classes(self) -> int:
        return int(self.info["asset_classes"])

    @property
    def max_tracks(self) -> int:
        return int(self.info["max_tracks"])

    @property
    def window_length(self) -> int:
        return int(self.info["window"]["length"])

    @property
    def fingerprint(self) -> str:
        """sha256 of the training split's arrays: what a bundle records as its data."""
        return str(self.info["fingerprint"])


def open_prepared(path: str | Path, verify_hashes: bool = False) -> PreparedData:
    """The prepared folder at `path`, checked; DataError naming the folder and the fault."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: not a prepared folder (no such directory); run 'multitrack prepare' first")
    info = _read_json(root, "prepared.json")
    _check_info(root, info)
    if not (root / "stats.json").is_file():
        raise DataError(f"{root}: stats.json is missing")
    stats = load_stats(root / "stats.json")
    tracks = int(info["max_tracks"])
    audio_tracks = int(info.get("audio_tracks", 0))  # absent before issue 16: no audio arrays
    splits = {name: _open_split(root, name, tracks, audio_tracks) for name in SPLITS}
    if verify_hashes:
        _verify_hashes(root, info)
    return PreparedData(root, info, stats, splits)


def content_digest(info: dict[str, Any]) -> str:
    """sha256 of prepared.json's keys other than its own digest, so an edit by hand shows."""
    body = {key: value for key, value in info.items() if key != CONTENT_DIGEST_KEY}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def split_digest(file_hashes: dict[str, str]) -> str:
    """One sha256 for a split: over its files' `sha256  name` lines, as sha256sum prints them."""
    lines = "".join(f"{file_hashes[name]}  {name}\n" for name in ARRAY_FILES)
    return hashlib.sha256(lines.encode()).hexdigest()


def _read_json(root: Path, relative: str) -> Any:
    path = root / relative
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{root}: {relative} is missing (not a prepared folder, or prepare did not finish)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{root}: {relative} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{root}: {relative} is not valid JSON: {exc}") from None


def _check_info(root: Path, info: Any) -> None:
    if not isinstance(info, dict) or info.get("format") != PREPARED_FORMAT:
        raise DataError(f"{root}: prepared.json is not a {PREPARED_FORMAT} document")
    if info.get("version") != PREPARED_VERSION:
        raise DataError(
            f"{root}: prepared.json version {info.get('version')!r}, this multitrack reads version "
            f"{PREPARED_VERSION}; rerun 'multitrack prepare'"
        )
    for key in ("asset_classes", "max_tracks", "window", "splits", "sha256", "fingerprint"):
        if key not in info:
            raise DataError(f"{root}: prepared.json has no {key!r}")
    # an edited asset_classes or window would otherwise fail deep inside torch, or train silently wrong
    if info.get(CONTENT_DIGEST_KEY) != content_digest(info):
        raise DataError(
            f"{root}: prepared.json was changed after prepare wrote it (its {CONTENT_DIGEST_KEY} "
            f"does not match); rerun 'multitrack prepare'"
        )


def _open_split(root: Path, name: str, tracks: int, audio_tracks: int = 0) -> PreparedSplit:
    split_dir = root / name
    timelines = _read_json(root, f"{name}/timelines.json")
    if not isinstance(timelines, list):
        raise DataError(f"{root}: {name}/timelines.json: expected a list of timelines")
    rows = sum(int(entry["frames"]) for entry in timelines)
    expected = {
        "active": (rows, tracks),
        "asset": (rows, tracks),
        "values": (rows, tracks, len(VALUE_FEATURES)),
        "since_on_top": (rows, tracks),
        "cuts_from_top": (rows, tracks),
    }
    for array_name, shape in expected.items():
        _check_array(root, f"{name}/{array_name}.npy", shape, ARRAY_DTYPES[array_name])
    for array_name, dtype in AUDIO_ARRAYS.items() if audio_tracks else ():
        _check_array(root, f"{name}/{array_name}.npy", (rows, audio_tracks), dtype)
    windows = _check_array(root, f"{name}/windows.npy", None, ARRAY_DTYPES["windows"])
    if windows.ndim != 2 or windows.shape[1] != 2:
        raise DataError(f"{root}: {name}/windows.npy: expected shape (W, 2), got {windows.shape}")
    if len(windows) and (windows[:, 0].min() < 0 or (windows[:, 0] + windows[:, 1]).max() > rows):
        raise DataError(f"{root}: {name}/windows.npy: a window reaches outside the split's {rows} rows")
    return PreparedSplit(name, split_dir, timelines, rows, len(windows), audio_tracks)


def _check_array(root: Path, relative: str, shape: tuple[int, ...] | None, dtype: type) -> np.ndarray:
    path = root / relative
    try:
        array = np.load(path, mmap_mode="r")
    except FileNotFoundError:
        raise DataError(f"{root}: {relative} is missing") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{root}: {relative} is not a readable .npy array: {exc}") from None
    if array.dtype != dtype:
        raise DataError(f"{root}: {relative}: expected dtype {np.dtype(dtype)}, got {array.dtype}")
    if shape is not None and array.shape != shape:
        raise DataError(f"{root}: {relative}: expected shape {shape} from timelines.json, got {array.shape}")
    return array


def _verify_hashes(root: Path, info: dict[str, Any]) -> None:
    arrays = [f"{name}/{file_name}" for name in SPLITS for file_name in ARRAY_FILES]
    for relative in [*JSON_FILES, *arrays]:
        if file_sha256(root / relative) != info["sha256"].get(relative):
            raise DataError(f"{root}: {relative} does not match the sha256 in prepared.json (modified?)")


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
