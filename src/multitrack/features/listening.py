"""ingest's hearing step (the module docstring of features/ingest.py, step 3): in the worker,
find the media of a timeline's heard assets (`find_media`); in the parent, hear one converted
file's timelines together (`hear_file`: one decode per media file, features/sound.py for the
frames) and fill their loudness, speech and heard columns and manifest entries."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multitrack.errors import MediaError
from multitrack.features.frames import TimelineFrames
from multitrack.features.hearing import HopCache, analyse_all
from multitrack.features.media import MediaFinder
from multitrack.features.packing import HEARD_FEATURES, is_default
from multitrack.features.sound import HearingPlan, hear_segments
from multitrack.features.table import AUDIO, TimelineColumns
from multitrack.timeline.model import AssetKind

if TYPE_CHECKING:
    from multitrack.features.ingest import FileResult, IngestReport

SHOWN_MISSING = 5  # missing media named in a timeline's warning before "and N more"


def find_media(frames: TimelineFrames, finder: MediaFinder, xmeml_folder: Path) -> HearingPlan:
    """Look for the media of the timeline's heard file assets; record found/missing in its
    asset entries (manifest), warn once naming the missing; the plan hearing follows."""
    media: dict[str, Path] = {}
    missing: list[str] = []
    for index, asset in enumerate(frames.assets):
        if not asset.heard_on or asset.kind != AssetKind.FILE.value or not asset.pathurl:
            continue
        found = finder.find(asset.pathurl, xmeml_folder)
        frames.assets[index] = replace(asset, media_found=found is not None, media=str(found) if found else None)
        if found is None:
            missing.append(asset.name or asset.id)
        else:
            media[asset.id] = found
    if missing:
        shown = ", ".join(repr(name) for name in missing[:SHOWN_MISSING])
        more = f" and {len(missing) - SHOWN_MISSING} more" if len(missing) > SHOWN_MISSING else ""
        frames.warnings.append(f"media of {len(missing)} heard asset(s) not found, their frames unheard: {shown}{more}")
    segments = frames.audio_segments if media else []  # nothing to hear: nothing to send to the parent
    return HearingPlan(segments, media, frames.rate.fps_exact)


def hear_file(result: FileResult, report: IngestReport, cache: HopCache | None, jobs: int) -> list[str]:
    """Hear the timelines of one converted file (module docstring, step 3), in place: their
    loudness, speech and heard columns and manifest entries. Returns the lines for stderr
    (each unreadable media file once per batch)."""
    started = time.perf_counter()
    requests: dict[Path, set[int]] = {}
    for plan in result.plans:
        for path, channels in plan.requests().items():
            requests.setdefault(path, set()).update(channels)
    hops, errors = analyse_all({path: sorted(channels) for path, channels in requests.items()}, cache, jobs)
    lines = []
    for path, error in errors.items():
        if str(path) not in report.media_unreadable:
            report.media_unreadable[str(path)] = error.reason
            lines.append(f"warning: {error}; its frames are unheard")
    for timeline, plan in zip(result.timelines, result.plans, strict=True):
        _hear_timeline(timeline, plan, hops, errors, report)
    report.hear_s += time.perf_counter() - started
    return lines


def _hear_timeline(
    timeline: TimelineColumns,
    plan: HearingPlan,
    hops: dict,
    errors: dict[Path, MediaError],
    report: IngestReport,
) -> None:
    entry = timeline.entry
    for asset in entry["assets"]:
        if asset["heard_on"] and asset["media_found"] is not None:
            (report.media_found if asset["media_found"] else report.media_missing).add(asset["pathurl"])
    tracks = entry["audio_tracks"]
    if not plan.media:  # nothing found to hear: the columns stay their defaults (unheard), no work here
        return
    gain = np.zeros((len(tracks), timeline.frame_count), np.float32)
    width = len(AUDIO.features)
    for index in range(len(tracks)):
        column = timeline.audio_columns[index * width + AUDIO.names.index("gain_db")]
        if column is not None:
            gain[index] = column
    heard = hear_segments(plan.segments, plan.media, hops, errors, gain, plan.fps)
    for index, track in enumerate(tracks):
        on = heard.heard[index]
        heard_frames = int(on.sum())
        report.heard_frames += heard_frames
        track["heard_frames"] = heard_frames
        track["speech_share"] = float(heard.speech[index][on > 0].mean()) if heard_frames else None
        arrays = {"loudness_db": heard.loudness_db[index], "speech": heard.speech[index], "heard": on}
        for name in HEARD_FEATURES:
            feature = AUDIO.features[AUDIO.names.index(name)]
            column = np.ascontiguousarray(arrays[name])
            timeline.audio_columns[index * width + AUDIO.names.index(name)] = (
                None if is_default(column, feature.default) else column
            )
    unreadable = sorted({str(path) for path in plan.media.values() if path in errors})
    if unreadable:
        entry["warnings"].append(
            f"{len(unreadable)} media file(s) unreadable, their frames unheard: "
            + "; ".join(str(errors[Path(path)]) for path in unreadable[:SHOWN_MISSING])
        )
