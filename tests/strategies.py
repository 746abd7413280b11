"""Hypothesis strategies for valid Timelines, shared by the test modules.

`timelines()` draws whole sequences the writer can write and the reader must read back
equal: several video tracks, clips that overlap on a track only inside a transition
(the outgoing clip runs to the transition's end, the incoming one starts at its start,
../shared/docs/xmeml.md §4), media sizes that differ from the sequence, static and keyframed
Basic Motion / Crop with keys on the source axis (§7), disabled clips and tracks,
optional nested-sequence and generator assets, and audio tracks.

What a valid Timeline means here (what `read_xmeml(xmeml_bytes(t)) == t` needs):
- clips on a track are sorted by start and play at speed 100 (out − in == end − start);
- every asset is used by a clip, and only clips' assets are in `timeline.assets`;
- a Motion or Crop is either None or differs from the defaults (Premiere writes no
  default filter, so a default one reads back as None, §6);
- center x and y are both static or keyed at the same source frames, since one
  `center` parameter holds both;
- names are non-empty, without leading or trailing white space.

Public strategies: `rates()`, `params()`, `motions()`, `crops()`, `file_assets()`,
`clips()`, `timelines()`.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

from hypothesis import strategies as st

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

RATES = (Rate(24, True), Rate(24), Rate(25), Rate(30, True), Rate(30), Rate(50), Rate(60, True), Rate(60))
SEQUENCE_SIZES = ((1920, 1080), (3840, 2160), (1080, 1920), (1280, 720))
MEDIA_SIZES = ((1920, 1080), (3840, 2160), (1280, 720), (1080, 1920), (720, 576), (2048, 858), (314, 478))
ASSET_DURATION_FRAMES = 20_000  # long enough for every in/out the strategies draw
MAX_IN_FRAME = 5_000

_NAME_ALPHABET = st.characters(codec="utf-8", categories=("L", "N"), include_characters=" _-.&<>'\"")
names = st.text(_NAME_ALPHABET, min_size=1, max_size=16).map(str.strip).filter(bool)


def rates() -> st.SearchStrategy[Rate]:
    """The frame rates editors use: 23.976, 24, 25, 29.97, 30, 50, 59.94, 60."""
    return st.sampled_from(RATES)


def _values(low: float, high: float) -> st.SearchStrategy[float]:
    # Six decimals, like Premiere's own values (e.g. 0.0270833, ../shared/docs/xmeml.md §6).
    return st.floats(low, high, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 6))


def _key_whens(in_frame: int, out_frame: int) -> st.SearchStrategy[list[float]]:
    """1–4 distinct source frames, ascending; keys may lie outside [in, out] (§7)."""
    frames = st.integers(in_frame - 20, out_frame + 20)
    return st.lists(frames, min_size=1, max_size=4, unique=True).map(lambda ws: [float(w) for w in sorted(ws)])


@st.composite
def params(
    draw,
    low: float,
    high: float,
    in_frame: int = 0,
    out_frame: int = 100,
    whens: list[float] | None = None,
    keyframed: bool | None = None,
) -> Param:
    """A Param in [low, high], static or keyed at source frames around [in, out]."""
    value = draw(_values(low, high))
    if keyframed is None:
        keyframed = draw(st.booleans())
    if not keyframed:
        return Param(value)
    if whens is None:
        whens = draw(_key_whens(in_frame, out_frame))
    keys = tuple(Keyframe(w, draw(_values(low, high))) for w in whens)
    return Param(value, keys)


@st.composite
def motions(draw, in_frame: int = 0, out_frame: int = 100) -> Motion | None:
    """None or a non-default Basic Motion; center keys shared by x and y."""
    scale = draw(params(1.0, 400.0, in_frame, out_frame))
    center_keyed = draw(st.booleans())
    whens = draw(_key_whens(in_frame, out_frame)) if center_keyed else None
    center_x = draw(params(-1.5, 1.5, whens=whens, keyframed=center_keyed))
    center_y = draw(params(-1.5, 1.5, whens=whens, keyframed=center_keyed))
    rotation = draw(st.one_of(st.just(Param(0.0)), params(-30.0, 30.0, in_frame, out_frame)))
    motion = Motion(scale, center_x, center_y, rotation)
    return None if motion.is_default else motion


@st.composite
def crops(draw, in_frame: int = 0, out_frame: int = 100) -> Crop | None:
    """None or a non-default Crop; each side static 0 or a value in 0..60 %."""
    sides = [draw(st.one_of(st.just(Param(0.0)), params(0.0, 60.0, in_frame, out_frame))) for _ in range(4)]
    crop = Crop(*sides)
    return None if crop.is_default else crop


@st.composite
def file_assets(draw, asset_id: str = "file-1", rate: Rate | None = None) -> Asset:
    """A media file with its own size (often not the sequence's) and start timecode."""
    rate = rate or draw(rates())
    width_px, height_px = draw(st.sampled_from(MEDIA_SIZES))
    name = draw(names) + ".mov"
    timecode_frame = draw(st.integers(0, 24 * 3600 * rate.timebase - 1))
    return Asset(
        id=asset_id,
        name=name,
        kind=AssetKind.FILE,
        pathurl="file://localhost/D%3a/media/" + quote(name),
        width_px=width_px,
        height_px=height_px,
        rate=rate,
        duration_frames=ASSET_DURATION_FRAMES,
        timecode_frame=timecode_frame,
        timecode_string=_ndf_timecode(timecode_frame, rate.timebase),
        has_audio=draw(st.booleans()),
    )


@st.composite
def clips(
    draw,
    asset_id: str = "file-1",
    start_frame: int | None = None,
    length_frames: int | None = None,
    with_effects: bool = True,
) -> Clip:
    """One clip at speed 100 with optional Motion/Crop keyed on its source axis."""
    if start_frame is None:
        start_frame = draw(st.integers(0, 500))
    if length_frames is None:
        length_frames = draw(st.integers(3, 150))
    in_frame = draw(st.integers(0, MAX_IN_FRAME))
    out_frame = in_frame + length_frames
    motion = draw(motions(in_frame, out_frame)) if with_effects else None
    crop = draw(crops(in_frame, out_frame)) if with_effects else None
    return Clip(
        asset_id=asset_id,
        start_frame=start_frame,
        end_frame=start_frame + length_frames,
        in_frame=in_frame,
        out_frame=out_frame,
        name=draw(names),
        enabled=draw(st.integers(0, 4)) > 0,  # about one clip in five disabled
        motion=motion,
        crop=crop,
    )


@st.composite
def _video_track(draw, pool: dict[str, Asset], max_clips: int, transitions: bool) -> Track:
    """Butted or spaced clips, then some cuts turned into dissolves and some fades."""
    clip_list: list[Clip] = []
    cursor = draw(st.integers(0, 40))
    for _ in range(draw(st.integers(0, max_clips))):
        cursor += draw(st.sampled_from((0, 0, 0, 7, 31)))  # mostly butt cuts
        asset = pool[draw(st.sampled_from(sorted(pool)))]
        clip = draw(clips(asset.id, cursor, draw(st.integers(6, 150))))
        if asset.kind is AssetKind.GENERATOR:
            # A generatoritem's name names its asset; Premiere puts no filter on one (§4).
            clip = dataclasses.replace(clip, name=asset.name, motion=None, crop=None)
        clip_list.append(clip)
        cursor = clip.end_frame
    track = Track(clip_list, [], enabled=draw(st.integers(0, 4)) > 0, name=draw(_track_names()))
    if transitions:
        _add_dissolves(draw, track)
        _add_fades(draw, track)
    return track


def _add_dissolves(draw, track: Track) -> None:
    """Turn butt cuts into dissolves: the outgoing clip runs on `after` frames, the
    incoming one starts `before` frames early, source in/out moved with the edges.

    Each side takes at most a third of the original clip, so a clip between two
    dissolves keeps frames of its own and the transitions never touch.
    """
    original = list(track.clips)
    for i in range(len(original) - 1):
        outgoing, incoming = original[i], original[i + 1]
        if outgoing.end_frame != incoming.start_frame or not draw(st.booleans()):
            continue
        before = draw(st.integers(1, outgoing.length_frames // 3))
        after = draw(st.integers(1, incoming.length_frames // 3))
        if before > incoming.in_frame:
            continue
        cut = incoming.start_frame
        track.clips[i] = _moved(track.clips[i], end=after)
        track.clips[i + 1] = _moved(track.clips[i + 1], start=-before)
        alignment = draw(st.sampled_from(("center", "center", "start", "end")))
        track.transitions.append(Transition(cut - before, cut + after, alignment))


def _add_fades(draw, track: Track) -> None:
    """A fade from black at the first clip, to black at the last (start-/end-black)."""
    if not track.clips:
        return
    first, last = track.clips[0], track.clips[-1]
    taken = [(t.start_frame, t.end_frame) for t in track.transitions]
    fade = draw(st.integers(1, 10))
    fits = all(start >= first.start_frame + fade for start, _ in taken)
    if draw(st.booleans()) and fade < first.length_frames // 2 and fits:
        track.transitions.insert(0, Transition(first.start_frame, first.start_frame + fade, "start-black"))
    fits = all(end <= last.end_frame - fade for _, end in taken)
    if draw(st.booleans()) and fade < last.length_frames // 2 and fits:
        track.transitions.append(Transition(last.end_frame - fade, last.end_frame, "end-black"))


def _moved(clip: Clip, start: int = 0, end: int = 0) -> Clip:
    """The clip with its start moved by `start` and its end by `end` frames."""
    return dataclasses.replace(
        clip,
        start_frame=clip.start_frame + start,
        in_frame=clip.in_frame + start,
        end_frame=clip.end_frame + end,
        out_frame=clip.out_frame + end,
    )


@st.composite
def _audio_track(draw, asset_ids: list[str], max_clips: int) -> Track:
    clip_list = []
    cursor = draw(st.integers(0, 40))
    for _ in range(draw(st.integers(1, max_clips))):
        cursor += draw(st.integers(0, 20))
        clip = draw(clips(draw(st.sampled_from(asset_ids)), cursor, draw(st.integers(3, 150)), with_effects=False))
        clip_list.append(clip)
        cursor = clip.end_frame
    return Track(clip_list, [], enabled=draw(st.integers(0, 4)) > 0, name=draw(_track_names()))


def _track_names() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), names)


@st.composite
def _nested_asset(draw, asset_id: str, rate: Rate) -> Asset:
    """A nested sequence used as a clip: its own size and length, the sequence's rate."""
    width_px, height_px = draw(st.sampled_from(SEQUENCE_SIZES))
    return Asset(
        id=asset_id,
        name=draw(names),
        kind=AssetKind.SEQUENCE,
        rate=rate,
        width_px=width_px,
        height_px=height_px,
        duration_frames=ASSET_DURATION_FRAMES,
    )


@st.composite
def _generator_asset(draw) -> Asset:
    """A colour matte: the reader names it `generator:<effectid>:<item name>`."""
    name = draw(names)
    return Asset(id=f"generator:Color:{name}", name=name, kind=AssetKind.GENERATOR)


@st.composite
def timelines(
    draw,
    max_video_tracks: int = 4,
    max_clips_per_track: int = 5,
    audio: bool = True,
    nested: bool = True,
    generators: bool = True,
    transitions: bool = True,
) -> Timeline:
    """A whole valid Timeline (see the module docstring for what valid means)."""
    rate = draw(rates())
    width_px, height_px = draw(st.sampled_from(SEQUENCE_SIZES))
    pool = {f"file-{n}": draw(file_assets(f"file-{n}")) for n in range(1, draw(st.integers(1, 4)) + 1)}
    if nested and draw(st.booleans()):
        pool["sequence-2"] = draw(_nested_asset("sequence-2", rate))
    if generators and draw(st.booleans()):
        matte = draw(_generator_asset())
        pool[matte.id] = matte
    video_tracks = [
        draw(_video_track(pool, max_clips_per_track, transitions))
        for _ in range(draw(st.integers(1, max_video_tracks)))
    ]
    audio_ids = sorted(i for i, a in pool.items() if a.has_audio)
    audio_tracks = []
    if audio and audio_ids:
        audio_tracks = [draw(_audio_track(audio_ids, 3)) for _ in range(draw(st.integers(0, 2)))]
    used = {c.asset_id for t in video_tracks + audio_tracks for c in t.clips}
    ends = [c.end_frame for t in video_tracks + audio_tracks for c in t.clips]
    return Timeline(
        name=draw(names),
        rate=rate,
        width_px=width_px,
        height_px=height_px,
        duration_frames=max([0, *ends]) + draw(st.integers(0, 30)),
        video_tracks=video_tracks,
        audio_tracks=audio_tracks,
        assets={i: a for i, a in pool.items() if i in used},
        timecode_frame=draw(st.integers(0, 24 * 3600 * rate.timebase - 1)),
    )


def _ndf_timecode(frame: int, timebase: int) -> str:
    seconds, frames = divmod(frame, timebase)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"
