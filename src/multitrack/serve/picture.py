"""A timeline as the data of its picture: video tracks × time, one row of numbers per clip.

Read with the reader `multitrack inspect` uses (`read_xmeml`) and summarised with its text
(`summarize`); nothing here converts a value. Hover shows Premiere's own Basic Motion and Crop
values at each clip's first frame, as the file holds them. Clips are compact rows (a
10,000-clip timeline is a few hundred kilobytes of JSON) drawn by static/timeline.js.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from multitrack.timeline.model import Asset, Clip, Timeline
from multitrack.timeline.summary import summarize, timecode
from multitrack.timeline.xmeml import read_xmeml
from multitrack.timeline.xmeml.document import printable

# the columns of one clip row, in order (static/timeline.js reads them by these names)
CLIP_COLUMNS = (
    "start",
    "end",
    "asset",
    "enabled",
    "scale",
    "center_x",
    "center_y",
    "crop_left",
    "crop_right",
    "crop_top",
    "crop_bottom",
    "keyframed",
)


def file_pictures(path: Path, shown_as: str) -> list[dict[str, Any]]:
    """Every timeline in one xmeml file, as pictures; XmemlError (one line) for a bad file."""
    return [timeline_picture(timeline, shown_as, index) for index, timeline in enumerate(read_xmeml(path))]


def timeline_picture(timeline: Timeline, path: str, index: int) -> dict[str, Any]:
    asset_numbers = {asset_id: number for number, asset_id in enumerate(timeline.assets)}
    tracks = []
    for number, track in enumerate(timeline.video_tracks, start=1):
        clips = sorted(track.clips, key=lambda clip: clip.start_frame)
        tracks.append(
            {
                "name": _track_label(track.name, f"V{number}"),
                "enabled": track.enabled,
                "clips": [_clip_row(clip, asset_numbers.get(clip.asset_id, -1)) for clip in clips],
                "names": [printable(clip.name) for clip in clips],
            }
        )
    return {
        "path": path,
        "index": index,
        "name": printable(timeline.name),
        "fps": timeline.rate.fps,
        "timebase": timeline.rate.timebase,
        "frames": timeline.end_frame,
        "duration": timecode(timeline.end_frame, timeline.rate.timebase),
        "width": timeline.width_px,
        "height": timeline.height_px,
        "columns": list(CLIP_COLUMNS),
        "tracks": tracks,
        "assets": [printable(asset.name) or printable(asset.id) for asset in timeline.assets.values()],
        "hues": [asset_hue(asset) for asset in timeline.assets.values()],
        "clips": sum(len(track.clips) for track in timeline.video_tracks),
        "summary": summarize(timeline),
    }


def asset_hue(asset: Asset) -> int:
    """The colour of a piece of media, from its path (or name): the same in every picture, so a
    continued timeline shows the prompt's cameras in the prompt's colours."""
    return zlib.crc32((asset.pathurl or asset.name or asset.id).encode()) % 360


def _track_label(name: str, number: str) -> str:
    return number if not name or name == number else f"{number} {printable(name)}"


def _clip_row(clip: Clip, asset: int) -> list[float | int]:
    motion, crop = clip.motion, clip.crop
    first = clip.in_frame  # keyframe `when` is on the source axis (../shared/docs/xmeml.md §7)
    geometry = [
        motion.scale.at(first) if motion else 100.0,
        motion.center_x.at(first) if motion else 0.0,
        motion.center_y.at(first) if motion else 0.0,
        crop.left.at(first) if crop else 0.0,
        crop.right.at(first) if crop else 0.0,
        crop.top.at(first) if crop else 0.0,
        crop.bottom.at(first) if crop else 0.0,
    ]
    params = [*(vars(motion).values() if motion else ()), *(vars(crop).values() if crop else ())]
    keyframed = any(param.is_keyframed for param in params)
    return [
        clip.start_frame,
        clip.end_frame,
        asset,
        int(clip.enabled),
        *(round(v, 4) for v in geometry),
        int(keyframed),
    ]
