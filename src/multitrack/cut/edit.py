"""The edit, written as the stack razored (issue 15, item 3): what Premiere imports back.

The stack's `<sequence>` is copied element by element (so every pathurl, rate, filter and
Premiere attribute is written exactly as read) under a new name and uuid, and only its video
tracks change:

- the **wide** goes whole on V1 (as the editor keeps it, under the close-ups): its track as it
  was, transitions and links included; a multicam nest's wide angle as its clips whole;
- each **close-up** track holds its clips razored into the runs where the cut shows that camera:
  each piece a copy of the clip with a new clip id, its `masterclipid` kept, `in`/`out` shifted
  by as much as `start`/`end` (so picture and sound stay in sync), `pproTicksIn/Out` left out
  (they would contradict the shifted in/out; Premiere reads in/out), and no `<link>` (the audio
  it linked to is untouched, and a razored piece no longer spans it); runs not shown are left
  out, or with `keep_unused` kept as disabled clips so the editor can switch an angle back in;
- the first `prompt_frames` frames are copied as they are in the stack (the editor's own cut);
- the audio tracks are untouched, except that links to the razored (now absent) video clips
  are dropped;
- every `<file>` (and nested `<sequence>`) is defined in full at its first remaining use and
  referenced bare after it, so nothing in our own output dangles (../shared/docs/xmeml.md §5).

A multicam nest is written flattened: its angles become the edit's video tracks (a nested
sequence shows its own top track, so a cut between its angles has no other xmeml form).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from lxml import etree

from multitrack.cut.stack import Placement, Stack

_HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n'  # as timeline/xmeml/writer.py writes
_UUID_NAMESPACE = uuid.UUID("0b6c1f4e-3d2a-4f7b-9c8e-2a5d7e1f9b30")  # the edit's uuid from its content
_DROPPED_CHILDREN = frozenset({"link", "pproTicksIn", "pproTicksOut"})
_ITEM_TAGS = ("clipitem", "generatoritem")


@dataclass
class EditSummary:
    """What was written: per camera (in stack order) the pieces shown and kept disabled."""

    name: str
    path: Path
    shown_pieces: list[int] = field(default_factory=list)
    disabled_pieces: list[int] = field(default_factory=list)
    wide: int | None = None


class _Ids:
    """New clip ids, unique in the stack's document."""

    def __init__(self, root: etree._Element):
        self.used = {el.get("id") for el in root.iter() if el.get("id") is not None}
        self.next = 1

    def new(self) -> str:
        while f"clipitem-cut-{self.next}" in self.used:
            self.next += 1
        ident = f"clipitem-cut-{self.next}"
        self.used.add(ident)
        return ident


def runs_of(shown: np.ndarray, camera: int, first: int, stop: int) -> list[tuple[int, int]]:
    """[start, end) runs of frames first..stop-1 on which `camera` is shown."""
    if stop <= first:
        return []
    mask = np.concatenate([[False], shown[first:stop] == camera, [False]]).astype(np.int8)
    edges = np.diff(mask)
    starts, ends = np.flatnonzero(edges == 1) + first, np.flatnonzero(edges == -1) + first
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _gaps(runs: list[tuple[int, int]], first: int, stop: int) -> list[tuple[int, int]]:
    gaps, at = [], first
    for start, end in runs:
        if start > at:
            gaps.append((at, start))
        at = end
    if at < stop:
        gaps.append((at, stop))
    return gaps


def _set_child(element: etree._Element, tag: str, text: str, after: tuple[str, ...] = ()) -> None:
    child = element.find(tag)
    if child is None:
        child = etree.Element(tag)
        anchor = next((element.find(t) for t in after if element.find(t) is not None), None)
        if anchor is not None:
            anchor.addnext(child)
        else:
            element.insert(0, child)
    child.text = text
    child.tail = None


def _piece(placement: Placement, start: int, end: int, enabled: bool, ids: _Ids) -> etree._Element:
    """A copy of the placement's clip over stack frames [start, end), in sync (module docstring)."""
    clip = copy.deepcopy(placement.element)
    for child in list(clip):
        if child.tag in _DROPPED_CHILDREN:
            clip.remove(child)
    clip.set("id", ids.new())
    step = placement.speed / 100
    source_start = placement.source_in + round((start - placement.start) * step)
    source_end = source_start + round((end - start) * step)
    _set_child(clip, "start", str(start), ("rate", "duration", "enabled", "name"))
    _set_child(clip, "end", str(end), ("start",))
    _set_child(clip, "in", str(source_start), ("end",))
    _set_child(clip, "out", str(source_end), ("in",))
    if not (enabled and placement.enabled) or clip.find("enabled") is not None:
        _set_child(clip, "enabled", "TRUE" if enabled and placement.enabled else "FALSE", ("name", "masterclipid"))
    return clip


def _whole(placement: Placement, ids: _Ids) -> etree._Element:
    """A multicam nest's clip over its whole span, placed on the stack's frames."""
    return _piece(placement, placement.start, placement.end, True, ids)


def _new_track(template: etree._Element) -> etree._Element:
    attributes: dict[str, str] = {str(k): str(v) for k, v in template.attrib.items()}
    return etree.Element("track", attributes)


def _track_tail(template: etree._Element, track: etree._Element) -> None:
    """The track's own settings after its items (<enabled>, <locked>, …), as in the stack."""
    for child in template:
        if child.tag not in (*_ITEM_TAGS, "transitionitem"):
            track.append(copy.deepcopy(child))


def write_edit(
    stack: Stack,
    shown: np.ndarray,
    out_path: str | Path,
    wide: int | None,
    prompt_frames: int = 0,
    keep_unused: bool = False,
    name: str | None = None,
) -> EditSummary:
    """Write the edit of `stack` that shows camera `shown[f]` on stack frame f (module docstring)."""
    out_path = Path(out_path)
    if shown.shape != (stack.frames,):
        raise ValueError(f"shown has {shown.shape} frames, the stack {stack.frames}")
    sequence = copy.deepcopy(stack.sequence)
    new_name = name or f"{stack.timeline.name} (cut)"
    _set_child(sequence, "name", new_name, ("rate", "duration", "uuid"))
    video = sequence.find("media/video")
    assert video is not None  # a stack has video clips (read_stack)
    insert_at = min((i for i, child in enumerate(video) if child.tag == "track"), default=len(video))
    for track_el in video.findall("track"):
        video.remove(track_el)
    ids = _Ids(stack.doc.root)
    summary = EditSummary(new_name, out_path, wide=wide)
    order = ([wide] if wide is not None else []) + [c for c in range(len(stack.cameras)) if c != wide]
    tracks = []
    for index in order:
        camera = stack.cameras[index]
        track = _new_track(camera.track)
        shown_count = disabled_count = 0
        if index == wide and not stack.nested:
            for child in camera.track:
                if child.tag in (*_ITEM_TAGS, "transitionitem"):
                    track.append(copy.deepcopy(child))
        elif index == wide:
            for placement in camera.placements:
                track.append(_whole(placement, ids))
        else:
            for placement in camera.placements:
                prompt_end = min(placement.end, prompt_frames)
                if placement.start < prompt_end:
                    if placement.end <= prompt_frames and not stack.nested:
                        track.append(copy.deepcopy(placement.element))  # wholly the editor's: verbatim
                    else:
                        track.append(_piece(placement, placement.start, prompt_end, True, ids))
                first = max(placement.start, prompt_frames)
                runs = runs_of(shown, index, first, placement.end)
                pieces = [(s, e, True) for s, e in runs]
                if keep_unused:
                    pieces += [(s, e, False) for s, e in _gaps(runs, first, placement.end)]
                for start, end, enabled in sorted(pieces):
                    track.append(_piece(placement, start, end, enabled, ids))
                    shown_count += enabled
                    disabled_count += not enabled
        _track_tail(camera.track, track)
        tracks.append(track)
        summary.shown_pieces.append(shown_count)
        summary.disabled_pieces.append(disabled_count)
    for offset, track in enumerate(tracks):
        video.insert(insert_at + offset, track)
    _drop_dangling_links(sequence)
    define_at_first_use(sequence, stack)
    root = etree.Element("xmeml", version=stack.doc.root.get("version") or "4")
    root.append(sequence)
    _set_uuid(sequence, root)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(_HEADER + etree.tostring(root, encoding="UTF-8") + b"\n")
    return summary


def _drop_dangling_links(sequence: etree._Element) -> None:
    """Remove every `<link>` whose `linkclipref` names a clip no longer in the sequence."""
    present = {el.get("id") for el in sequence.iter(*_ITEM_TAGS) if el.get("id")}
    for link in list(sequence.iter("link")):
        ref = link.findtext("linkclipref")
        if ref is not None and ref not in present:
            parent = link.getparent()
            if parent is not None:
                parent.remove(link)


def define_at_first_use(sequence: etree._Element, stack: Stack) -> None:
    """Every `<file id>` / nested `<sequence id>` in full at its first use in document order, bare after."""
    definitions = {"file": stack.definitions.files, "sequence": stack.definitions.sequences}
    for _ in range(8):  # a definition put in place can bring further definitions with it
        changed = False
        defined: set[tuple[str, str]] = set()
        for element in list(sequence.iter("file", "sequence")):
            ident = element.get("id")
            if element is sequence or ident is None or element.getparent() is None:
                continue
            key = (element.tag, ident)
            if _detached(element, sequence):
                continue
            if key in defined:
                if len(element):
                    for child in list(element):
                        element.remove(child)
                    element.text = None
                    changed = True
            elif len(element):
                defined.add(key)
            else:
                full = definitions[element.tag].get(ident)
                if full is not None:
                    replacement = copy.deepcopy(full)
                    replacement.tail = element.tail
                    parent = element.getparent()
                    assert parent is not None
                    parent.replace(element, replacement)
                    defined.add(key)
                    changed = True
        if not changed:
            return


def _detached(element: etree._Element, root: etree._Element) -> bool:
    parent = element.getparent()
    while parent is not None and parent is not root:
        parent = parent.getparent()
    return parent is None


def _set_uuid(sequence: etree._Element, root: etree._Element) -> None:
    """A new uuid for the edit, derived from its content (the same cut gives the same bytes)."""
    uuid_el = sequence.find("uuid")
    if uuid_el is None:
        uuid_el = etree.Element("uuid")
        sequence.insert(0, uuid_el)
    uuid_el.text = ""
    uuid_el.text = str(uuid.uuid5(_UUID_NAMESPACE, etree.tostring(root, encoding="unicode")))
