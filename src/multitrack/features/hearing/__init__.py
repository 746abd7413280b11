"""Hearing: media files -> 10-ms hops of power and speech -> per-frame audio figures.

No xmeml knowledge here: callers (features/ingest) pass media paths and channels and the
frames' source ranges. Modules: `decode` (PyAV, streamed blocks), `vad` (the voice-activity
detector), `analyse` (one file -> Hops per channel), `cache` (hops on disk), `pool` (many
files, one process-pool task each), `frames` (hops -> frame figures at an exact rate).
"""

from multitrack.errors import MediaError
from multitrack.features.hearing.analyse import (
    ANALYSER_VERSION,
    DECODE_COUNTER,
    HOP_SECONDS,
    DecodeCounter,
    Hops,
    analyse_media,
)
from multitrack.features.hearing.cache import HopCache, default_cache_dir
from multitrack.features.hearing.frames import FLOOR_DB, frame_figures
from multitrack.features.hearing.pool import analyse_all

__all__ = [
    "ANALYSER_VERSION",
    "DECODE_COUNTER",
    "FLOOR_DB",
    "HOP_SECONDS",
    "DecodeCounter",
    "HopCache",
    "Hops",
    "MediaError",
    "analyse_all",
    "analyse_media",
    "default_cache_dir",
    "frame_figures",
]
