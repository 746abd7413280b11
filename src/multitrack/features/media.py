"""Finding an asset's media on this machine from its xmeml `pathurl` (issue 13 item 3).

A `pathurl` is a URL written on the editor's machine (docs/xmeml-audio.md, "Paths"):
`file://localhost/Volumes/Media/a%20b.wav` (percent-encoded), `file://localhost/D%3a/media/a.wav`
or `file:///C:/media/a.wav` (Windows drive letters), `file://server/share/a.wav` (a UNC share),
sometimes a bare path. `url_path` decodes it to a path string with forward slashes. Then,
in order, `MediaFinder.find`:

1. rewrites the first `--media-root OLD=NEW` whose OLD is a prefix of the path, on a
   component boundary (OLD may be written as a path or as a `file:` URL);
2. resolves a relative path against the xmeml file's folder;
3. takes the path if a file is there (as written, or in Unicode NFC or NFD: macOS writes
   `å` decomposed, `a%CC%8A`, and a copy on another system may hold it composed), else the
   first file of the same name (compared in NFC) under each `--media-dir DIR` in turn (a
   folder's files are listed once per process, sorted by path, so the choice does not depend
   on the file system's order).

Nothing here raises for missing media: `find` answers None, and ingest records the asset as
missing (manifest) and its frames as unheard.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from multitrack.errors import ConfigError

__all__ = ["MediaFinder", "MediaRoot", "parse_media_root", "url_path"]


def url_path(pathurl: str) -> str:
    """The path a `pathurl` names, percent-decoded, with forward slashes.

    `file://localhost/Volumes/a%20b.wav` -> `/Volumes/a b.wav`; `file://localhost/D%3a/m/a.wav`
    and `file:///D:/m/a.wav` -> `D:/m/a.wav`; `file://nas/share/a.wav` -> `//nas/share/a.wav`;
    a string without a `file:` scheme is taken as a path (decoded, backslashes made forward).
    """
    text = pathurl.strip()
    if text[:5].lower() == "file:":
        parts = urlsplit(text)
        path = unquote(parts.path)
        host = parts.netloc
        if host and host.lower() != "localhost":
            path = f"//{host}{path}"  # a UNC share: file://server/share/x
    else:
        path = unquote(text)
    path = path.replace("\\", "/")
    if len(path) >= 3 and path[0] == "/" and path[2] == ":" and path[1].isalpha():
        path = path[1:]  # /D:/media -> D:/media
    return path


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or (len(path) >= 2 and path[1] == ":" and path[0].isalpha())


@dataclass(frozen=True)
class MediaRoot:
    """One `--media-root OLD=NEW`: a path prefix as the editor's machine wrote it, and where it is here."""

    old: str
    new: str

    def rewrite(self, path: str) -> str | None:
        """`path` with OLD replaced by NEW, or None when OLD is not a prefix on a component boundary."""
        old = self.old.rstrip("/")
        if path == old:
            return self.new
        if path.startswith(old + "/"):
            return self.new.rstrip("/") + path[len(old) :]
        return None


def parse_media_root(text: str) -> MediaRoot:
    """`OLD=NEW` (the first `=` splits; OLD may be a `file:` URL) -> MediaRoot; ConfigError if malformed."""
    old, separator, new = text.partition("=")
    if not separator or not old.strip() or not new.strip():
        raise ConfigError(f"--media-root {text!r}: expected OLD=NEW, e.g. /Volumes/Media=/mnt/media")
    return MediaRoot(url_path(old.strip()), new.strip())


@dataclass(frozen=True)
class MediaFinder:
    """Where each asset's media is on this machine (module docstring); picklable for the pool."""

    roots: tuple[MediaRoot, ...] = ()
    dirs: tuple[Path, ...] = ()

    @classmethod
    def of(cls, roots: Sequence[str | MediaRoot] = (), dirs: Sequence[str | Path] = ()) -> MediaFinder:
        parsed = tuple(root if isinstance(root, MediaRoot) else parse_media_root(root) for root in roots)
        return cls(parsed, tuple(Path(directory) for directory in dirs))

    def candidate(self, pathurl: str, xmeml_folder: Path) -> Path:
        """The path the media should be at here: rewritten by the first matching root, relative ones
        resolved against `xmeml_folder`."""
        path = url_path(pathurl)
        for root in self.roots:
            rewritten = root.rewrite(path)
            if rewritten is not None:
                path = rewritten
                break
        if not _is_absolute(path):
            return xmeml_folder / path
        return Path(path)

    def find(self, pathurl: str | None, xmeml_folder: Path) -> Path | None:
        """The media file of `pathurl`, or None when it is found nowhere (never raises)."""
        if not pathurl:
            return None
        candidate = str(self.candidate(pathurl, xmeml_folder))
        spellings = [candidate]
        if not candidate.isascii():
            spellings += [unicodedata.normalize(form, candidate) for form in ("NFC", "NFD")]
        for spelling in dict.fromkeys(spellings):
            if os.path.isfile(spelling):  # False for a path the system refuses (too long, bad bytes)
                return Path(spelling)
        name = unicodedata.normalize("NFC", PurePosixPath(url_path(pathurl)).name)
        for directory in self.dirs:
            found = _files_by_name(directory).get(name)
            if found is not None:
                return found
        return None


@lru_cache(maxsize=64)
def _files_by_name(directory: Path) -> dict[str, Path]:
    """{file name in NFC: first path with that name below `directory`, by sorted path}; {} if unreadable."""
    found: dict[str, Path] = {}
    paths: list[Path] = []
    for folder, _, names in os.walk(directory, onerror=lambda _: None):
        paths.extend(Path(folder) / name for name in names)
    for path in sorted(paths):
        found.setdefault(unicodedata.normalize("NFC", path.name), path)
    return found
