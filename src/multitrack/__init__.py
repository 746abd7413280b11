"""multitrack: learn an editor's multi-track layout style from xmeml timelines."""

from multitrack.errors import MultitrackError

__version__ = "0.1.0"
__all__ = ["MultitrackError", "__version__"]
