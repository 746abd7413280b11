"""The work folder the app serves: the one place a request's path becomes a file.

Every path a request names is relative to the workdir and goes through `Workspace.resolve`,
which refuses an absolute path, a `..` that climbs out, and a symbolic link that points
outside: nothing outside the workdir can be read or written. `Workspace.inventory` finds
what the verbs wrote there (timelines, frame tables, prepared folders, runs, bundles,
evaluations) by the files each verb writes, so a folder the command line filled shows up
the same as one the app filled.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from multitrack.errors import MultitrackError

JOBS_DIR = "jobs"
UPLOADS_DIR = "uploads"
TABLES_DIR = "tables"
PREPARED_DIR = "prepared"
RUNS_DIR = "runs"
GENERATED_DIR = "generated"
ATTENTION_DIR = "attention"  # multitrack attention's pictures
CONFIGS_DIR = "configs"
MAX_LISTED = 5000  # entries walked per inventory: a huge workdir lists its first ones, it does not hang

# a run folder's own folders hold nothing to list (checkpoints, logs)
_RUN_INSIDES = {"checkpoints", "tensorboard", "logs"}


class PathRefused(MultitrackError):
    """A request named a path outside the workdir (or an unusable one)."""


@dataclass
class Inventory:
    """What the verbs wrote in the workdir, as paths relative to it (sorted)."""

    timelines: list[str] = field(default_factory=list)  # *.xml
    tables: list[str] = field(default_factory=list)  # frame tables (*.parquet with a manifest)
    prepared: list[str] = field(default_factory=list)  # folders with prepared.json
    runs: list[str] = field(default_factory=list)  # folders with config.yaml and checkpoints/
    bundles: list[str] = field(default_factory=list)  # folders with bundle.json
    evaluations: list[str] = field(default_factory=list)  # folders with metrics.json
    configs: list[str] = field(default_factory=list)  # WORKDIR/configs/*.yaml: the train page's presets

    @property
    def folders(self) -> list[str]:
        """Folders holding timelines at any depth, for ingest, with the workdir itself (".")."""
        return sorted({str(parent) for path in self.timelines for parent in Path(path).parents})


class Workspace:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def resolve(self, relative: str, must_exist: bool = True) -> Path:
        """The file or folder `relative` names inside the workdir; PathRefused for anything else."""
        if not relative or "\x00" in relative:
            raise PathRefused(f"{relative!r}: not a path in the workdir")
        given = Path(relative)
        if given.is_absolute() or relative.startswith(("/", "\\")) or given.drive:
            raise PathRefused(f"{relative}: absolute paths are refused; name a path inside the workdir")
        path = (self.root / given).resolve()  # follows symbolic links, so one pointing out is caught
        if path != self.root and not path.is_relative_to(self.root):
            raise PathRefused(f"{relative}: outside the workdir")
        if must_exist and not path.exists():
            raise PathRefused(f"{relative}: no such file or folder in the workdir")
        return path

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix() or "."

    def inventory(self) -> Inventory:
        found = Inventory()
        walked = 0
        for folder, subfolders, files in os.walk(self.root):
            here = Path(folder)
            rel = here.relative_to(self.root).as_posix()
            names = set(files)
            _classify_folder(rel, names, subfolders, found)
            subfolders[:] = sorted(name for name in subfolders if _walk_into(rel, name, names))
            for name in sorted(files):
                walked += 1
                _classify_file(rel, name, names, found)
            walked += len(subfolders)
            if walked > MAX_LISTED:
                break
        for group in (found.timelines, found.tables, found.prepared, found.runs, found.bundles, found.evaluations):
            group.sort()
        found.configs = sorted(f"{CONFIGS_DIR}/{p.name}" for p in (self.root / CONFIGS_DIR).glob("*.yaml"))
        return found

    def read_json(self, relative: str) -> dict:
        path = self.resolve(relative)
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise MultitrackError(f"{relative}: cannot read: {exc}") from exc
        return loaded if isinstance(loaded, dict) else {}


def _walk_into(rel: str, name: str, files: set[str]) -> bool:
    if name.startswith(".") or (rel == "." and name == JOBS_DIR):
        return False
    if "prepared.json" in files or "bundle.json" in files:
        return False  # a prepared folder's arrays, a bundle's weights
    return not ("config.yaml" in files and name in _RUN_INSIDES)


def _classify_folder(rel: str, files: set[str], subfolders: list[str], found: Inventory) -> None:
    if "prepared.json" in files:
        found.prepared.append(rel)
    if "bundle.json" in files and "model.safetensors" in files:
        found.bundles.append(rel)
    if "config.yaml" in files and "checkpoints" in subfolders:
        found.runs.append(rel)
    if "metrics.json" in files:
        found.evaluations.append(rel)


def _classify_file(rel: str, name: str, files: set[str], found: Inventory) -> None:
    path = name if rel == "." else f"{rel}/{name}"
    if name.lower().endswith(".xml"):
        found.timelines.append(path)
    elif name.endswith(".parquet") and name.removesuffix(".parquet") + ".manifest.json" in files:
        found.tables.append(path)
