"""The editorial domain: timelines, tracks, clips, assets; xmeml read/write.

No torch here.
"""

from multitrack.timeline.model import (
    Asset,
    AssetKind,
    Clip,
    Crop,
    Keyframe,
    Motion,
    Param,
    Rate,
    Timeline,
    Track,
    Transition,
)

__all__ = [
    "Asset",
    "AssetKind",
    "Clip",
    "Crop",
    "Keyframe",
    "Motion",
    "Param",
    "Rate",
    "Timeline",
    "Track",
    "Transition",
]
