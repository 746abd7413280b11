"""Time in xmeml: each rule once, its writing and its reading side by side.

The model keeps time on its own axes (`timeline/model.py`): timeline frames with both
edges known, and source frames for in/out and keyframe `when`s. xmeml writes three things
differently, and each is undone here next to where it is done:

- **-1 edges** (../shared/docs/xmeml.md §4): a clip edge on a transition's edge is written
  as -1 (`written_edges`, items in `document_order`) and read back from the transition
  beside it, or from out − in (`read_edges`).
- **retime** (§4): at speed ≠ 100, in/out and keyframe `when`s count retimed frames
  (`retimed_axis` writes them, `source_axis` reads them; `retimed_duration`).
- **keyframe times** (§7): both directions move every `when` of a Basic Motion, Crop or audio level
  through one mapping (`map_whens`).

Rules only the writer needs live here too, so every time unit has one owner: Premiere's
ticks (`frames_to_ticks`, §2), a transition's cut point, a still's 12-hour length (§4).
Exact rates come from `Rate.fps_exact`. tests/test_timing.py holds each pair to a round trip.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TypeVar

from multitrack.timeline.model import AudioGain, Clip, Crop, Keyframe, Motion, Param, Rate, Track, Transition

__all__ = [
    "STILL_SECONDS",
    "TICKS_PER_SECOND",
    "WhenMap",
    "document_order",
    "frames_to_ticks",
    "map_whens",
    "read_edges",
    "retimed_axis",
    "retimed_duration",
    "source_axis",
    "still_frames",
    "transition_cut_frame",
    "written_edges",
]

# Premiere's time unit in pproTicksIn/Out and cutPointTicks (../shared/docs/xmeml.md §2).
TICKS_PER_SECOND = 254_016_000_000
# Stills and generators get a 12-hour duration in Premiere exports (../shared/docs/xmeml.md §4).
STILL_SECONDS = 12 * 3600

WhenMap = Callable[[float], float]
_Effect = TypeVar("_Effect", Motion, Crop, AudioGain)


# --- units -----------------------------------------------------------------------------------


def frames_to_ticks(frames: int, rate: Rate) -> int:
    """Premiere ticks for a frame count at `rate` (exact for every xmeml timebase)."""
    return round(frames * (TICKS_PER_SECOND / rate.fps_exact))


def still_frames(rate: Rate) -> int:
    """A still's or generator's synthetic 12-hour length, in whole frames at `rate` (§4)."""
    return math.ceil(STILL_SECONDS * rate.fps_exact)


def transition_cut_frame(transition: Transition) -> int:
    """Where the picture switches: the end for end/end-black, the start for
    start/start-black, else the middle (frame rounded down, as OpenTimelineIO does)."""
    if transition.alignment in ("end", "end-black"):
        return transition.end_frame
    if transition.alignment in ("start", "start-black"):
        return transition.start_frame
    return (transition.start_frame + transition.end_frame) // 2


# --- -1 edges (../shared/docs/xmeml.md §4) ----------------------------------------------------


def written_edges(clip: Clip, transitions: list[Transition]) -> tuple[int, int]:
    """Writing: the clip's `<start>`/`<end>`, -1 where the edge is the edge of a transition
    the clip runs through.

    The incoming clip starts with the transition and the outgoing one ends with it;
    `read_edges` recovers the edge from the transition or from `in`/`out`. `clip` has
    its in/out as written (`retimed_axis`); where out − in ≠ end − start the real
    edges are kept so that nothing depends on that.
    """
    if clip.out_frame - clip.in_frame != clip.length_frames:
        return clip.start_frame, clip.end_frame
    start, end = clip.start_frame, clip.end_frame
    for transition in transitions:
        if clip.start_frame == transition.start_frame and clip.end_frame > transition.end_frame:
            start = -1
        if clip.end_frame == transition.end_frame and clip.start_frame < transition.start_frame:
            end = -1
    return start, end


def document_order(track: Track) -> list[Clip | Transition]:
    """Writing: clips and transitions by position; a transition precedes the clip that
    starts with it, so it sits between the outgoing and the incoming clip as in Premiere,
    beside both of the edges `read_edges` takes from it."""
    keyed: list[tuple[int, int, int, Clip | Transition]] = []
    for n, clip in enumerate(track.clips):
        keyed.append((clip.start_frame, 1, n, clip))
    for n, transition in enumerate(track.transitions):
        keyed.append((transition.start_frame, 0, n, transition))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


def read_edges(start: int, end: int, length: int, before: object, after: object) -> tuple[int, int] | None:
    """Reading: a clipitem's timeline start/end as written, -1 resolved; None when both
    are -1 and no transition beside the clip gives either.

    `length` is out − in as written; `before`/`after` are the items right before and
    after the clipitem on its track in document order (None at an end); only a
    `Transition` there supplies an edge. The transition
    wins over out − in because out − in is off by one in some exports (OTIO issue #287)
    and is on another axis for some retimed audio (nrk/Fri vilje master 11.xml, audio
    track 4); without one, start = end − (out − in) and end = start + (out − in).
    """
    if start == -1 and isinstance(before, Transition):
        start = before.start_frame
    if end == -1 and isinstance(after, Transition):
        end = after.end_frame
    if start == -1 and end != -1:
        start = end - length
    elif end == -1 and start != -1:
        end = start + length
    elif start == -1 and end == -1:
        return None
    return start, end


# --- retime (../shared/docs/xmeml.md §4) ------------------------------------------------------


def retimed_axis(clip: Clip) -> Clip:
    """Writing: the clip with in/out and keyframe `when`s as written. At speed ≠ 100
    Premiere counts them in retimed frames, so out − in = end − start (Helaften
    clipitem-10 at 300%: in/out 25..51 for source frames 75..153).

    The model keeps them on the source axis (`Clip.source_frame`); a key at source
    frame w stays on timeline frame start + (w − in) / ratio.
    """
    if clip.speed == 100.0:
        return clip
    ratio = clip.speed / 100.0
    written_in = round(clip.in_frame / ratio)

    def written_when(when: float) -> float:
        return written_in + (when - clip.in_frame) / ratio

    return dataclasses.replace(
        clip,
        in_frame=written_in,
        out_frame=written_in + clip.length_frames,
        motion=map_whens(clip.motion, written_when),
        crop=map_whens(clip.crop, written_when),
        audio=map_whens(clip.audio, written_when),
    )


def source_axis(
    in_frame: int, out_frame: int, speed_percent: float, reverse: bool, graph: Param | None
) -> tuple[int, int, WhenMap]:
    """Reading: in/out on the source axis, and the map of a keyframe `when` onto it, for a
    clip whose Time Remap filter says `speed_percent`, `reverse` and (maybe) a graphdict.

    `Clip.source_frame` is in_frame + (t − start) × speed/100, so mapping `when` ->
    source_in + (when − in) × speed/100 keeps every key on the timeline frame
    start + (when − in). The graphdict (clip frame -> source frame) places the in-point
    on the source (Helaften clipitem-10 at 300%: graphdict maps 25 -> 75); a reversed
    clip keeps an ascending axis over its source span.
    """
    ratio = speed_percent / 100.0
    if graph is not None and graph.is_keyframed:
        first = graph.at(in_frame)
        source_first = min(first, graph.at(out_frame)) if reverse else first
    else:
        source_first = in_frame * ratio
    source_in = round(source_first)
    source_out = source_in + round((out_frame - in_frame) * ratio)

    def source_when(when: float) -> float:
        return source_in + (when - in_frame) * ratio

    return source_in, source_out, source_when


def retimed_duration(source_frames: int, speed_percent: float) -> int:
    """Writing: a clipitem's `<duration>`, its media's length counted in retimed frames
    (Helaften clipitem-10 at 300%: duration 397 = 1191/3)."""
    return round(source_frames * 100.0 / speed_percent)


# --- keyframe times (../shared/docs/xmeml.md §7) ----------------------------------------------


def map_whens(effect: _Effect | None, map_when: WhenMap) -> _Effect | None:
    """Motion/Crop/AudioGain (or None) with every keyframe `when` passed through `map_when`."""
    if effect is None:
        return None
    changes: dict[str, Param] = {}
    for field in dataclasses.fields(effect):
        param = getattr(effect, field.name)
        if param.keyframes:
            keys = tuple(Keyframe(map_when(k.when), k.value) for k in param.keyframes)
            changes[field.name] = Param(param.value, keys)
    return dataclasses.replace(effect, **changes) if changes else effect
