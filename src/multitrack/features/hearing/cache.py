"""On-disk cache of hops: one .npz per (file, channel), keyed by what would change them.

The key hashes the resolved path, size, mtime_ns, channel and ANALYSER_VERSION, so an
edited or replaced file, or a new analyser, misses. Entries are written to a temporary
file and renamed into place, so a killed run or two processes never leave a half entry;
an unreadable entry is a miss. The default folder is the user cache folder
(platformdirs: ~/.cache/multitrack/hops on Linux).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import platformdirs

from multitrack.features.hearing.analyse import ANALYSER_VERSION, Hops


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("multitrack")) / "hops"


class HopCache:
    """HopCache(directory) (None: the user cache folder); created on first store."""

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def key(self, path: Path, channel: int) -> str | None:
        """The entry's key, or None when the file cannot be stat'ed (nothing to cache)."""
        try:
            resolved = Path(path).resolve()
            stat = resolved.stat()
        except OSError:
            return None
        fields = [str(resolved), stat.st_size, stat.st_mtime_ns, channel, ANALYSER_VERSION]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()

    def load(self, key: str | None) -> Hops | None:
        if key is None:
            return None
        try:
            with np.load(self._entry(key)) as entry:
                return Hops(
                    power=entry["power"].astype(np.float32, copy=False),
                    speech=entry["speech"].astype(np.float32, copy=False),
                    sample_rate=int(entry["sample_rate"]),
                    hop_samples=int(entry["hop_samples"]),
                )
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            return None

    def store(self, key: str | None, hops: Hops) -> None:
        if key is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(
                    file,
                    power=hops.power,
                    speech=hops.speech,
                    sample_rate=np.int64(hops.sample_rate),
                    hop_samples=np.int64(hops.hop_samples),
                )
            os.replace(temporary, self._entry(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _entry(self, key: str) -> Path:
        return self.directory / f"{key}.npz"
