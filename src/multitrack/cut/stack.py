"""A synced multicam stack, read for cutting: its cameras, its mics, and where each clip sits.

A stack (DESIGN.md §8) is a sequence with every angle full length on its own video track
V1…Vn and every microphone on its own audio track A1…Am, or a sequence whose video clips are
Premiere multicam nests: a nested `<sequence>` (../shared/docs/xmeml.md §5: Premiere writes
multicam as nested sequences) whose video tracks are the angles, each angle a camera.

- A **camera** is a video track of the stack holding at least one clip (or a video track of the
  nest). Its `placements` are its clips as they sit on the stack's frames: the clipitem element
  to copy when writing the edit, the stack frames it covers and the source frame at its start.
  A nest's clips are placed through the nest clip that shows them (start − in + the angle
  clip's start), cut to the nest clip's span.
- A **mic** is an audio track of the stack whose clips play no camera's media (an audio track
  playing a camera's file is that camera's scratch audio, linked to it in Premiere).

Names as `--pair` takes them: a camera is `V2` (its track, or its angle's track in the nest) or
its media file's name; a mic is `A1` or its file's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from lxml import etree

from multitrack.errors import XmemlError
from multitrack.features.media import url_path
from multitrack.features.vocabulary import top_track
from multitrack.timeline.model import Asset, AssetKind, Clip, Timeline
from multitrack.timeline.xmeml.assets import media_parts, track_elements
from multitrack.timeline.xmeml.document import Definitions, XmemlDocument, collect_definitions, parse_xmeml
from multitrack.timeline.xmeml.reader import read_xmeml


@dataclass(frozen=True)
class Placement:
    """One clip of a camera on the stack's frames [start, end): `element` is the clipitem to copy,
    `source_in` the source frame (the element's own in/out axis) shown at `start`."""

    element: etree._Element
    start: int
    end: int
    source_in: int
    asset: Asset
    speed: float = 100.0
    reverse: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class MicClip:
    """A nest's mic clip on the stack's frames [start, end), from `source_in` of channel `channel`."""

    start: int
    end: int
    source_in: int
    asset: Asset
    channel: int
    speed: float = 100.0
    reverse: bool = False


@dataclass
class Camera:
    number: int  # V number: its video track in the stack (in the nest for a multicam angle)
    name: str  # its media file's name
    track: etree._Element  # the <track> its clips came from (attributes copied to the edit)
    placements: list[Placement] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"V{self.number} {self.name!r}"


@dataclass
class Mic:
    """`index`: 0-based among the stack's audio tracks (the frame table's aNN - 1); -1 for an audio
    track of a multicam nest, heard through `clips` (its clips placed on the stack's frames)."""

    number: int  # A number: its audio track in the stack (in the nest for a nest's mic)
    name: str  # the file its clips play (the first)
    index: int
    clips: list[MicClip] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"A{self.number} {self.name!r}"


@dataclass
class Stack:
    path: Path
    doc: XmemlDocument
    definitions: Definitions
    sequence: etree._Element  # the stack's <sequence>
    timeline: Timeline
    cameras: list[Camera]
    mics: list[Mic]
    nested: bool  # the cameras are the angles of a multicam nest

    @property
    def frames(self) -> int:
        return self.timeline.end_frame

    def camera_of_track(self) -> dict[int, int]:
        """{stack video track index (0-based): camera index}; a nest's single track maps to nothing."""
        if self.nested:
            return {}
        return {camera.number - 1: index for index, camera in enumerate(self.cameras)}

    def shown(self, active: np.ndarray) -> np.ndarray:
        """(N,) the camera on top on each frame of the stack's painted `active` (N, T) (-1: none, or
        a multicam nest, whose angle on screen xmeml does not say)."""
        if self.nested:
            return np.full(active.shape[0], -1, dtype=np.int64)
        by_track = self.camera_of_track()
        code = np.array([-1] + [by_track.get(t, -1) for t in range(active.shape[1])], dtype=np.int64)
        return code[top_track(active)]

    def find_camera(self, name: str) -> int:
        return _find(name, "V", [(c.number, c.name) for c in self.cameras], "camera", self.path)

    def find_mic(self, name: str) -> int:
        return _find(name, "A", [(m.number, m.name) for m in self.mics], "mic", self.path)


def _find(name: str, letter: str, items: list[tuple[int, str]], kind: str, path: Path) -> int:
    text = name.strip()
    if len(text) > 1 and text[0].upper() == letter and text[1:].isdigit():
        number = int(text[1:])
        for index, (item_number, _) in enumerate(items):
            if item_number == number:
                return index
    for index, (_, item_name) in enumerate(items):
        if item_name == text:
            return index
    known = ", ".join(f"{letter}{n} {m!r}" for n, m in items) or "none"
    raise XmemlError(str(path), "--pair", f"no {kind} {text!r} in the stack (its {kind}s: {known})")


def file_name(asset: Asset) -> str:
    """The name a user knows a media file by: its pathurl's last part, else its xmeml name."""
    if asset.pathurl:
        return PurePosixPath(url_path(asset.pathurl)).name
    return asset.name or asset.id


def read_stack(path: str | Path, sequence_index: int = 0) -> Stack:
    """The stack in an xmeml file (its first timeline unless told); XmemlError naming the file
    when it has no cameras."""
    path = Path(path)
    timelines = read_xmeml(path)
    doc = parse_xmeml(path)
    definitions = collect_definitions(doc)
    timeline = timelines[sequence_index]
    sequence = definitions.timelines[sequence_index]
    video_el, audio_el = media_parts(sequence.find("media"))
    video_tracks = track_elements(video_el)
    nests = [
        (clip, element)
        for track, track_el in zip(timeline.video_tracks, video_tracks, strict=True)
        for clip, element in zip(track.clips, _items(track_el), strict=True)
        if timeline.assets[clip.asset_id].kind is AssetKind.SEQUENCE and clip.enabled and track.enabled
    ]
    if nests:
        cameras = _nest_cameras(doc, definitions, timeline, nests)
    else:
        cameras = _track_cameras(timeline, video_tracks)
    if not cameras:
        raise doc.error(sequence, "has no video clip: a stack holds each camera on a video track (V1…Vn)")
    camera_assets = {p.asset.id for c in cameras for p in c.placements}
    mics = []
    for index, track in enumerate(timeline.audio_tracks):
        playing = [c for c in track.clips if c.enabled]
        if not playing or not track.enabled or any(c.asset_id in camera_assets for c in playing):
            continue
        if any(timeline.assets[c.asset_id].kind is AssetKind.SEQUENCE for c in playing):
            continue  # the nest's own sound: its mics are read inside it
        mics.append(Mic(index + 1, file_name(timeline.assets[playing[0].asset_id]), index))
    if nests:
        mics += _nest_mics(timeline, nests, camera_assets)
    return Stack(path, doc, definitions, sequence, timeline, cameras, mics, bool(nests))


def _nest_mics(timeline: Timeline, nests: list[tuple[Clip, etree._Element]], camera_assets: set[str]) -> list[Mic]:
    """The multicam nest's audio tracks that play no camera's file, placed through the nest clips."""
    by_number: dict[int, Mic] = {}
    for outer, _ in nests:
        nested = timeline.assets[outer.asset_id].sequence
        if nested is None:
            continue
        offset = outer.start_frame - outer.in_frame
        for number, track in enumerate(nested.audio_tracks, start=1):
            playing = [c for c in track.clips if c.enabled]
            if not playing or not track.enabled or any(c.asset_id in camera_assets for c in playing):
                continue
            for clip in playing:
                start = max(clip.start_frame + offset, outer.start_frame)
                end = min(clip.end_frame + offset, outer.end_frame)
                if end <= start:
                    continue
                asset = nested.assets[clip.asset_id]
                mic = by_number.setdefault(number, Mic(number, file_name(asset), -1))
                source_in = clip.in_frame + round((start - offset - clip.start_frame) * clip.speed / 100)
                mic.clips.append(MicClip(start, end, source_in, asset, clip.source_channel, clip.speed, clip.reverse))
    return [by_number[n] for n in sorted(by_number)]


def _items(track_el: etree._Element) -> list[etree._Element]:
    """The clip items of a track in the reader's order (its Track.clips)."""
    return [child for child in track_el if child.tag in ("clipitem", "generatoritem")]


def _placement(element: etree._Element, clip: Clip, asset: Asset, start: int, end: int) -> Placement:
    return Placement(
        element=element,
        start=start,
        end=end,
        source_in=clip.in_frame + round((start - clip.start_frame) * clip.speed / 100),
        asset=asset,
        speed=clip.speed,
        reverse=clip.reverse,
        enabled=clip.enabled,
    )


def _track_cameras(timeline: Timeline, video_tracks: list[etree._Element]) -> list[Camera]:
    cameras = []
    for number, (track, track_el) in enumerate(zip(timeline.video_tracks, video_tracks, strict=True), start=1):
        pairs = [(c, e) for c, e in zip(track.clips, _items(track_el), strict=True)]
        if not pairs or not track.enabled:
            continue
        placements = [_placement(e, c, timeline.assets[c.asset_id], c.start_frame, c.end_frame) for c, e in pairs]
        longest = max(placements, key=lambda p: p.end - p.start)
        cameras.append(Camera(number, file_name(longest.asset), track_el, placements))
    return cameras


def _nest_cameras(
    doc: XmemlDocument, definitions: Definitions, timeline: Timeline, nests: list[tuple[Clip, etree._Element]]
) -> list[Camera]:
    """The angles of the multicam nest(s): one camera per video track of the nest; several nest
    clips (the stack cut in pieces) place the angles through each in turn."""
    by_number: dict[int, Camera] = {}
    for outer, outer_el in nests:
        asset = timeline.assets[outer.asset_id]
        nested = asset.sequence
        if nested is None:
            continue
        if nested.rate != timeline.rate:
            raise doc.error(outer_el, f"multicam nest at {nested.rate} in a {timeline.rate} sequence: not supported")
        reference = outer_el.find("sequence")
        definition = reference if reference is not None and len(reference) else definitions.sequences.get(asset.id)
        if definition is None:
            continue
        nest_video, _ = media_parts(definition.find("media"))
        offset = outer.start_frame - outer.in_frame  # nest frame g is stack frame g + offset
        for number, (track, track_el) in enumerate(
            zip(nested.video_tracks, track_elements(nest_video), strict=True), start=1
        ):
            if not track.enabled:
                continue
            for clip, element in zip(track.clips, _items(track_el), strict=True):
                start = max(clip.start_frame + offset, outer.start_frame)
                end = min(clip.end_frame + offset, outer.end_frame)
                if end <= start:
                    continue
                clip_asset = nested.assets[clip.asset_id]
                camera = by_number.setdefault(number, Camera(number, file_name(clip_asset), track_el))
                camera.placements.append(_placement(element, clip, clip_asset, start - offset, end - offset))
                placed = camera.placements[-1]
                camera.placements[-1] = Placement(
                    placed.element,
                    start,
                    end,
                    placed.source_in,
                    placed.asset,
                    placed.speed,
                    placed.reverse,
                    placed.enabled and outer.enabled,
                )
    return [by_number[n] for n in sorted(by_number)]
