"""timing: each time rule's writing side and reading side undo each other.

The rules (../shared/docs/xmeml.md §2, §4, §7): a clip edge on a transition's edge is written
as -1 and read back from the transition beside it; at speed ≠ 100 in/out and keyframe
`when`s count retimed frames; one mapping moves every `when`; ticks count Premiere's time.
These tests write with the writer's side of `timing` and read with the reader's side, with
no XML between, so a failure names the rule, not an element.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from multitrack.timeline.model import Clip, Crop, Keyframe, Motion, Param, Rate, Track, Transition
from multitrack.timeline.xmeml.timing import (
    TICKS_PER_SECOND,
    document_order,
    frames_to_ticks,
    map_whens,
    read_edges,
    retimed_axis,
    source_axis,
    written_edges,
)
from strategies import MAX_IN_FRAME, RATES, crops, motions, rates, timelines

PROPERTY_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# ratios that are powers of two move a `when` on a quarter-frame grid without rounding
EXACT_SPEEDS = (25.0, 50.0, 100.0, 200.0, 400.0)
SPEEDS = st.one_of(
    st.sampled_from((*EXACT_SPEEDS, 33.33, 75.0, 150.0, 300.0, 1000.0)),
    st.floats(10.0, 1000.0).map(lambda speed: round(speed, 2)),
)


# --- drawing tracks -----------------------------------------------------------------------------


@st.composite
def retimed_clip(draw, clip: Clip) -> Clip:
    """`clip` at a drawn speed, shaped as the reader builds a retimed clip.

    Its source in-point is one a constant-speed Time Remap can say: any frame when a
    written frame covers at most one source frame (ratio ≤ 1), else a frame on the
    retimed grid (the writer writes no graphdict to place it between); out = in +
    round(length × ratio), as `source_axis` reads it. Keys move with the in-point, on a
    quarter-frame grid.
    """
    speed = draw(SPEEDS)
    if speed == 100.0:
        return clip
    ratio = speed / 100.0
    in_frame = draw(st.integers(0, MAX_IN_FRAME))
    if ratio > 1:
        in_frame = round(in_frame * ratio)
    shift = in_frame - clip.in_frame + draw(st.sampled_from((0.0, 0.25, 0.5, 0.75)))
    return dataclasses.replace(
        clip,
        in_frame=in_frame,
        out_frame=in_frame + round(clip.length_frames * ratio),
        speed=speed,
        motion=map_whens(clip.motion, lambda when: when + shift),
        crop=map_whens(clip.crop, lambda when: when + shift),
    )


@st.composite
def tracks(draw) -> Track:
    """A video track of the shared strategies (dissolves, fades, butt cuts, gaps), its
    clips retimed at drawn speeds."""
    timeline = draw(timelines(max_video_tracks=1, max_clips_per_track=6, audio=False, nested=False, generators=False))
    track = timeline.video_tracks[0]
    return dataclasses.replace(track, clips=[draw(retimed_clip(clip)) for clip in track.clips])


# --- the two sides, as the writer and the reader use them ---------------------------------------


def write_track(track: Track) -> list[Clip | Transition]:
    """The track's items in document order, each clip with in/out, `when`s and edges as written."""
    items: list[Clip | Transition] = []
    for item in document_order(track):
        if isinstance(item, Clip):
            written = retimed_axis(item)
            start, end = written_edges(written, track.transitions)
            item = dataclasses.replace(written, start_frame=start, end_frame=end)
        items.append(item)
    return items


def read_clip(items: list[Clip | Transition], index: int) -> Clip:
    """The clip at `items[index]` read back: edges resolved, in/out and `when`s on the source axis."""
    item = items[index]
    assert isinstance(item, Clip)
    before = items[index - 1] if index > 0 else None
    after = items[index + 1] if index + 1 < len(items) else None
    edges = read_edges(item.start_frame, item.end_frame, item.out_frame - item.in_frame, before, after)
    assert edges is not None, f"both edges -1 with no transition beside: {item}"
    clip = dataclasses.replace(item, start_frame=edges[0], end_frame=edges[1])
    if clip.speed == 100.0:
        return clip
    in_frame, out_frame, source_when = source_axis(clip.in_frame, clip.out_frame, clip.speed, clip.reverse, None)
    return dataclasses.replace(
        clip,
        in_frame=in_frame,
        out_frame=out_frame,
        motion=map_whens(clip.motion, source_when),
        crop=map_whens(clip.crop, source_when),
    )


def whens(clip: Clip) -> list[float]:
    effects = [e for e in (clip.motion, clip.crop) if e is not None]
    return [key.when for e in effects for f in dataclasses.fields(e) for key in getattr(e, f.name).keyframes]


def without_whens(clip: Clip) -> Clip:
    def zero(_when: float) -> float:
        return 0.0

    return dataclasses.replace(clip, motion=map_whens(clip.motion, zero), crop=map_whens(clip.crop, zero))


# --- round trips --------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(tracks())
def test_written_edges_in_out_and_whens_read_back_as_the_originals(track):
    written = write_track(track)
    originals = [item for item in document_order(track) if isinstance(item, Clip)]
    read = [read_clip(written, i) for i, item in enumerate(written) if isinstance(item, Clip)]
    assert len(read) == len(originals)
    for original, back in zip(originals, read, strict=True):
        # edges, in/out, speed, everything but the `when`s: exactly
        assert without_whens(back) == without_whens(original)
        if original.speed in EXACT_SPEEDS:
            assert whens(back) == whens(original)
        else:  # (when − in) / ratio × ratio, in floats, as the writer and reader compute it
            pairs = zip(whens(back), whens(original), strict=True)
            assert all(math.isclose(b, o, rel_tol=1e-12, abs_tol=1e-9) for b, o in pairs)


@PROPERTY_SETTINGS
@given(tracks())
def test_a_minus_one_edge_is_the_edge_of_the_transition_beside_it(track):
    """The reader takes a -1 edge from the neighbouring transition, not from out − in, which
    some exports get wrong by one (OTIO issue #287): the writer's order must put it there."""
    written = write_track(track)
    originals = iter(item for item in document_order(track) if isinstance(item, Clip))
    for index, item in enumerate(written):
        if not isinstance(item, Clip):
            continue
        original = next(originals)
        if item.start_frame == -1:
            before = written[index - 1]
            assert isinstance(before, Transition) and before.start_frame == original.start_frame
        if item.end_frame == -1:
            after = written[index + 1]
            assert isinstance(after, Transition) and after.end_frame == original.end_frame


@given(st.integers(0, 500), st.integers(1, 150), st.integers(1, 20), st.integers(0, MAX_IN_FRAME))
def test_edges_stay_written_when_out_minus_in_is_off(start, length, fade, in_frame):
    """out − in ≠ end − start (OTIO issue #287): no edge is written as -1, so none depends on it."""
    clip = Clip("file-1", start, start + length + fade, in_frame, in_frame + length + fade + 1)
    fade_in = Transition(start, start + fade, "start-black")
    assert written_edges(clip, [fade_in]) == (clip.start_frame, clip.end_frame)


@given(st.integers(-1, 1000), st.integers(-1, 1000), st.integers(-50, 50))
def test_read_edges_without_a_transition_counts_out_minus_in(start, end, length):
    edges = read_edges(start, end, length, None, None)
    if start == end == -1:
        assert edges is None
    elif start == -1:
        assert edges == (end - length, end)
    elif end == -1:
        assert edges == (start, start + length)
    else:
        assert edges == (start, end)


@given(st.integers(0, MAX_IN_FRAME), st.integers(1, 200), st.sampled_from((0.0, 0.25, 0.5)))
def test_reverse_at_speed_100_reads_the_same_axis(in_frame, length, fraction):
    """A reversed clip at speed 100 has no retimed axis: the writer leaves it, the reader's map is the identity."""
    clip = Clip("file-1", 0, length, in_frame, in_frame + length, speed=100.0, reverse=True)
    assert retimed_axis(clip) is clip
    source_in, source_out, source_when = source_axis(in_frame, in_frame + length, 100.0, True, None)
    assert (source_in, source_out) == (in_frame, in_frame + length)
    assert source_when(in_frame + 7 + fraction) == in_frame + 7 + fraction


# --- keyframe time mapping ----------------------------------------------------------------------


@st.composite
def effects(draw) -> Motion | Crop | None:
    in_frame = draw(st.integers(0, MAX_IN_FRAME))
    return draw(st.one_of(motions(in_frame, in_frame + 100), crops(in_frame, in_frame + 100)))


@given(effects(), st.integers(-100_000, 100_000), st.sampled_from((0.0, 0.25, 0.5)))
def test_whens_map_and_unmap_exactly(effect, frames, fraction):
    shift = frames + fraction
    there = map_whens(effect, lambda when: when + shift)
    back = map_whens(there, lambda when: when - shift)
    assert back == effect
    if effect is not None:
        assert there is not None
        for field in dataclasses.fields(effect):
            before, after = getattr(effect, field.name), getattr(there, field.name)
            assert after.value == before.value  # only the keys' `when`s move
            assert [k.value for k in after.keyframes] == [k.value for k in before.keyframes]
            assert [k.when for k in after.keyframes] == [k.when + shift for k in before.keyframes]


def test_map_whens_leaves_an_effect_without_keys_as_it_is():
    static = Motion(scale=Param(50.0))
    assert map_whens(static, lambda when: when + 1) is static
    assert map_whens(None, lambda when: when + 1) is None
    keyed = Crop(left=Param(10.0, (Keyframe(3.0, 10.0), Keyframe(9.0, 20.0))))
    assert map_whens(keyed, lambda when: when * 2).left.keyframes == (Keyframe(6.0, 10.0), Keyframe(18.0, 20.0))


# --- rates and ticks ----------------------------------------------------------------------------


@given(rates())
def test_exact_rate_is_timebase_times_1000_over_1001_when_ntsc(rate):
    expected = Fraction(rate.timebase * 1000, 1001) if rate.ntsc else Fraction(rate.timebase)
    assert rate.fps_exact == expected
    assert rate.fps == float(expected)


@given(st.integers(0, 10**9), st.sampled_from(RATES))
def test_ticks_count_frames_exactly_at_every_editing_rate(frames, rate):
    """A frame is a whole number of ticks at 23.976 … 60 fps, so ticks read back as frames exactly."""
    ticks = frames_to_ticks(frames, rate)
    assert Fraction(ticks) * rate.fps_exact / TICKS_PER_SECOND == frames


def test_ntsc_rates_are_exact_fractions():
    assert Rate(24, True).fps_exact == Fraction(24000, 1001)
    assert Rate(30, True).fps_exact == Fraction(30000, 1001)
    assert Rate(25).fps_exact == 25
