"""One base error for everything multitrack reports about bad input or state.

Every message is one line that names the file, the element (path or line) and the
specific reason, so a batch report can show it as is.
"""

from __future__ import annotations


class MultitrackError(Exception):
    """Base class: a problem with the user's input, files or configuration."""


class XmemlError(MultitrackError):
    """An xmeml file cannot be read: names the file, the element and the reason."""

    def __init__(self, path: str, element: str, reason: str):
        self.path = str(path)
        self.element = element
        self.reason = reason
        super().__init__(f"{self.path}: {element}: {reason}")


class ConfigError(MultitrackError):
    """A config file or --set override is invalid: names the key and what was expected."""


class DataError(MultitrackError):
    """A frame table, prepared folder or manifest is missing, corrupt or inconsistent."""


class BundleError(MultitrackError):
    """A model bundle or checkpoint cannot be loaded: names it and the reason."""


class TrainingError(MultitrackError):
    """Training stopped on a fault (non-finite loss, failed checkpoint write)."""


class MediaError(MultitrackError):
    """A media file cannot be heard (unreadable, corrupt, truncated, no such channel): names it."""

    def __init__(self, path: str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # pickled across the hearing pool's processes
        return (MediaError, (self.path, self.reason))
