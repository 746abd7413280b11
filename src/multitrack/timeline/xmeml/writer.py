"""Timeline -> xmeml version 4, written the way Premiere Pro writes it.

Every element kind is written with the children Premiere gives it, in Premiere's order
(`otio/premiere_example.xml`; filters and keyframes as in `nrk/Helaften…`, generator
items as in `otio/premiere_generators.xml`); tests/test_writer.py checks this against
those files. What the model does not hold (labels, logging info, codec block) is
written with Premiere's defaults. The output depends on the Timeline only: the same
Timeline gives the same bytes, the sequence uuid included.

Layout of a written document (../shared/docs/xmeml.md §1, §3–§7):
- one `<sequence>` under `<xmeml version="4">`; video tracks V1 first, then audio;
- each asset defined in full at its first use, then referenced by a bare `<file id/>`
  (or `<sequence id/>` for a nested sequence, written as a minimal definition without
  tracks); generator assets as `<generatoritem>` with a generator `<effect>`;
- clip edges that lie on a transition's edge written as -1 (§4);
- Basic Motion and Crop filters only when they differ from the defaults (§6), their
  keyframe `when` on the clip's source axis (§7); a speed change as a Time Remap filter.
"""

from __future__ import annotations

import dataclasses
import math
import re
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

from lxml import etree

from multitrack.errors import XmemlError
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

__all__ = ["TICKS_PER_SECOND", "write_xmeml", "xmeml_bytes"]

# Premiere's time unit in pproTicksIn/Out and cutPointTicks (../shared/docs/xmeml.md §2).
TICKS_PER_SECOND = 254_016_000_000
# Stills and generators get a 12-hour duration in Premiere exports (../shared/docs/xmeml.md §4).
STILL_SECONDS = 12 * 3600

_NOT_XML_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n'
# Fixed namespace so that the content hash always maps to the same sequence uuid.
_UUID_NAMESPACE = uuid.UUID("5a1f1c6e-7d0b-4c1e-9a43-6d2f0f6b7c11")
_Effect = TypeVar("_Effect", Motion, Crop)


def xmeml_bytes(timeline: Timeline) -> bytes:
    """The whole xmeml document for one timeline, UTF-8, tab-indented like Premiere."""
    _check_timeline(timeline)
    root = _DocumentBuilder(timeline).build()
    uuid_element = root.find("sequence/uuid")
    assert uuid_element is not None  # the builder always writes one
    # The uuid is derived from the rest of the document so that it is deterministic
    # yet differs between timelines.
    uuid_element.text = str(uuid.uuid5(_UUID_NAMESPACE, _serialize(root).decode("utf-8")))
    return _serialize(root)


def write_xmeml(timeline: Timeline, path: str | Path) -> None:
    """Write `timeline` to `path` as Premiere-style xmeml."""
    Path(path).write_bytes(xmeml_bytes(timeline))


def _serialize(root: etree._Element) -> bytes:
    etree.indent(root, space="\t")
    return _HEADER + etree.tostring(root, encoding="UTF-8") + b"\n"


# --------------------------------------------------------------------------- checks


def _check_timeline(timeline: Timeline) -> None:
    """Refuse what cannot be written faithfully, naming the track and clip."""
    where = f"timeline {timeline.name!r}"
    _check_text(where, "sequence name", timeline.name)
    for asset in timeline.assets.values():
        for label, text in (("name", asset.name), ("pathurl", asset.pathurl or "")):
            _check_text(where, f"asset {asset.id!r} {label}", text)
    for kind, tracks in (("video", timeline.video_tracks), ("audio", timeline.audio_tracks)):
        for track_number, track in enumerate(tracks, start=1):
            _check_text(where, f"{kind} track {track_number} name", track.name)
            for clip_number, clip in enumerate(track.clips, start=1):
                element = f"{kind} track {track_number} clip {clip_number}"
                _check_clip(where, element, clip, timeline)


def _check_text(where: str, element: str, text: str) -> None:
    # XML 1.0 has no way to write these characters, not even as references.
    bad = _NOT_XML_CHARACTERS.search(text)
    if bad:
        raise XmemlError(where, element, f"holds {bad.group()!r}, which XML cannot represent")


def _check_clip(where: str, element: str, clip: Clip, timeline: Timeline) -> None:
    _check_text(where, f"{element} name", clip.name)
    if clip.asset_id not in timeline.assets:
        raise XmemlError(where, element, f"asset '{clip.asset_id}' is not in timeline.assets")
    if clip.end_frame <= clip.start_frame:
        raise XmemlError(where, element, f"end {clip.end_frame} is not after start {clip.start_frame}")
    if not (math.isfinite(clip.speed) and clip.speed > 0):
        raise XmemlError(where, element, f"speed must be a positive percent, got {clip.speed}")
    for param_name, param in _clip_params(clip):
        values = [param.value, *(k.value for k in param.keyframes), *(k.when for k in param.keyframes)]
        if not all(math.isfinite(v) for v in values):
            raise XmemlError(where, element, f"{param_name} holds a value that is not finite")


def _clip_params(clip: Clip) -> list[tuple[str, Param]]:
    params: list[tuple[str, Param]] = []
    if clip.motion is not None:
        params += [(f"motion.{n}", getattr(clip.motion, n)) for n in ("scale", "center_x", "center_y", "rotation")]
    if clip.crop is not None:
        params += [(f"crop.{n}", getattr(clip.crop, n)) for n in ("left", "right", "top", "bottom")]
    return params


# --------------------------------------------------------------------------- document


class _DocumentBuilder:
    """Builds the element tree; remembers which assets are already defined."""

    def __init__(self, timeline: Timeline):
        self.timeline = timeline
        self.rate = timeline.rate
        self.defined_asset_ids: set[str] = set()
        self.clipitem_count = 0
        # Premiere groups the uses of one media under one master clip (../shared/docs/xmeml.md §5);
        # numbered by first use so that the output does not depend on dict order.
        self.masterclip_ids: dict[str, str] = {}

    def build(self) -> etree._Element:
        timeline = self.timeline
        root = etree.Element("xmeml", version="4")
        sequence = etree.SubElement(root, "sequence", self._sequence_attributes())
        _text(sequence, "uuid", "")
        _text(sequence, "duration", timeline.duration_frames)
        sequence.append(_rate_element(self.rate))
        _text(sequence, "name", timeline.name)
        media = etree.SubElement(sequence, "media")
        video = etree.SubElement(media, "video")
        video.append(_video_format(self.rate, timeline.width_px, timeline.height_px))
        for track in timeline.video_tracks:
            video.append(self._track_element(track, "video"))
        audio = _audio_media(media)
        for track_number, track in enumerate(timeline.audio_tracks):
            audio.append(self._track_element(track, "audio", output_channel=track_number % 2 + 1))
        sequence.append(_timecode_element(self.rate, timeline.timecode_frame))
        _labels(sequence, "Forest")
        return root

    def _sequence_attributes(self) -> dict[str, str]:
        # The MZ.* attributes mark a Premiere export (../shared/docs/xmeml.md §1).
        return {
            "id": _unused_id("sequence", self.timeline.assets),
            "MZ.Sequence.PreviewFrameSizeHeight": str(self.timeline.height_px),
            "MZ.Sequence.PreviewFrameSizeWidth": str(self.timeline.width_px),
            "MZ.EditLine": "0",
            "explodedTracks": "true",
        }

    # ----------------------------------------------------------------------- tracks

    def _track_element(self, track: Track, media_type: str, output_channel: int | None = None) -> etree._Element:
        attributes = {"MZ.TrackName": track.name} if track.name else {}
        element = etree.Element("track", attributes)
        for item in _items_in_document_order(track):
            if isinstance(item, Transition):
                element.append(self._transition_element(item, media_type))
            else:
                element.append(self._item_element(item, track.transitions, media_type))
        _text(element, "enabled", _bool(track.enabled))
        _text(element, "locked", "FALSE")
        if output_channel is not None:
            _text(element, "outputchannelindex", output_channel)
        return element

    def _transition_element(self, transition: Transition, media_type: str) -> etree._Element:
        element = etree.Element("transitionitem")
        _text(element, "start", transition.start_frame)
        _text(element, "end", transition.end_frame)
        _text(element, "alignment", transition.alignment)
        cut_offset_frames = transition_cut_frame(transition) - transition.start_frame
        _text(element, "cutPointTicks", self._ticks(cut_offset_frames))
        element.append(_rate_element(self.rate))
        effect = etree.SubElement(element, "effect")
        _text(effect, "name", transition.name)
        _text(effect, "effectid", transition.effect_id)
        _text(effect, "effectcategory", "Dissolve")
        _text(effect, "effecttype", "transition")
        _text(effect, "mediatype", media_type)
        for tag, value in (
            ("wipecode", 0),
            ("wipeaccuracy", 100),
            ("startratio", 0),
            ("endratio", 1),
            ("reverse", "FALSE"),
        ):
            _text(effect, tag, value)
        return element

    def _item_element(self, clip: Clip, transitions: list[Transition], media_type: str) -> etree._Element:
        self.clipitem_count += 1
        item_id = f"clipitem-{self.clipitem_count}"
        asset = self.timeline.assets[clip.asset_id]
        written = retimed_axis(clip)
        start, end = written_edges(written, transitions)
        if asset.kind is AssetKind.GENERATOR:
            return self._generator_element(item_id, written, asset, start, end)
        element = etree.Element("clipitem", {"id": item_id, "frameBlend": "FALSE"})
        self._clip_timing(element, written, asset, start, end)
        # Ticks give the exact source time, on the source axis even when retimed (§2, §4).
        _text(element, "pproTicksIn", self._ticks(clip.in_frame))
        _text(element, "pproTicksOut", self._ticks(clip.out_frame))
        if asset.kind is AssetKind.SEQUENCE:
            element.append(self._nested_sequence_element(asset))
        else:
            self._file_with_attributes(element, asset, media_type)
        if media_type == "audio" and asset.kind is AssetKind.FILE:
            source_track = etree.SubElement(element, "sourcetrack")
            _text(source_track, "mediatype", "audio")
            _text(source_track, "trackindex", 1)
        for filter_element in self._filters(written):
            element.append(filter_element)
        if asset.kind is AssetKind.FILE:
            _logging_info(element)
        _labels(element, "Iris")
        return element

    def _clip_timing(self, element: etree._Element, clip: Clip, asset: Asset, start: int, end: int) -> None:
        """masterclipid … out: the timing block every clipitem opens with."""
        masterclip_id = self.masterclip_ids.setdefault(asset.id, f"masterclip-{len(self.masterclip_ids) + 1}")
        _text(element, "masterclipid", masterclip_id)
        _text(element, "name", clip.name)
        _text(element, "enabled", _bool(clip.enabled))
        if asset.duration_frames is not None:
            _text(element, "duration", round(asset.duration_frames * 100.0 / clip.speed))
        # Clipitem times count sequence frames whatever the media rate (../shared/docs/xmeml.md §2).
        element.append(_rate_element(self.rate))
        for tag, value in (("start", start), ("end", end), ("in", clip.in_frame), ("out", clip.out_frame)):
            _text(element, tag, value)

    def _file_with_attributes(self, element: etree._Element, asset: Asset, media_type: str) -> None:
        """`alphatype` etc. then the file; Premiere adds PAR and anamorphic at a definition."""
        first_use = asset.id not in self.defined_asset_ids
        if media_type == "video":
            _text(element, "alphatype", "none")
            if first_use:
                _text(element, "pixelaspectratio", "square")
                _text(element, "anamorphic", "FALSE")
        if not first_use:
            etree.SubElement(element, "file", id=asset.id)
            return
        self.defined_asset_ids.add(asset.id)
        element.append(_file_definition(asset, self.rate, on_video_track=media_type == "video"))

    def _nested_sequence_element(self, asset: Asset) -> etree._Element:
        """A bare reference, or at first use a minimal definition without tracks."""
        if asset.id in self.defined_asset_ids:
            return etree.Element("sequence", id=asset.id)
        self.defined_asset_ids.add(asset.id)
        rate = asset.rate or self.rate
        element = etree.Element("sequence", id=asset.id)
        if asset.duration_frames is not None:
            _text(element, "duration", asset.duration_frames)
        element.append(_rate_element(rate))
        _text(element, "name", asset.name)
        media = etree.SubElement(element, "media")
        video = etree.SubElement(media, "video")
        width_px = asset.width_px or self.timeline.width_px
        height_px = asset.height_px or self.timeline.height_px
        video.append(_video_format(rate, width_px, height_px))
        _audio_media(media)
        element.append(_timecode_element(rate, asset.timecode_frame or 0))
        return element

    def _generator_element(self, item_id: str, clip: Clip, asset: Asset, start: int, end: int) -> etree._Element:
        """Children as in `otio/premiere_generators.xml`; the effect sits directly inside
        (../shared/docs/xmeml.md §4)."""
        element = etree.Element("generatoritem", id=item_id)
        _text(element, "name", clip.name)
        _text(element, "enabled", _bool(clip.enabled))
        # Premiere gives a generator the synthetic 12-hour length of a still (§4).
        duration_frames = asset.duration_frames or math.ceil(STILL_SECONDS * self.rate.fps)
        _text(element, "duration", duration_frames)
        for tag, value in (("start", start), ("end", end), ("in", clip.in_frame), ("out", clip.out_frame)):
            _text(element, tag, value)
        element.append(_rate_element(self.rate))
        effect = etree.SubElement(element, "effect")
        effect_id = generator_effect_id(asset)
        _text(effect, "name", effect_id)
        _text(effect, "effectid", effect_id)
        _text(effect, "effectcategory", "Matte")
        _text(effect, "effecttype", "generator")
        _text(effect, "mediatype", "video")
        for filter_element in self._filters(clip):
            element.append(filter_element)
        return element

    # ----------------------------------------------------------------------- filters

    def _filters(self, clip: Clip) -> list[etree._Element]:
        """Basic Motion, Crop, Time Remap: each only when it is not the default
        (Premiere omits default filters, ../shared/docs/xmeml.md §6)."""
        filters = []
        if clip.motion is not None and not clip.motion.is_default:
            filters.append(_motion_filter(clip.motion))
        if clip.crop is not None and not clip.crop.is_default:
            filters.append(_crop_filter(clip.crop))
        if clip.speed != 100.0 or clip.reverse:
            filters.append(_time_remap_filter(clip.speed, clip.reverse))
        return filters

    def _ticks(self, frames: int) -> int:
        return frames_to_ticks(frames, self.rate)


# --------------------------------------------------------------------------- timing


def frames_to_ticks(frames: int, rate: Rate) -> int:
    """Premiere ticks for a frame count at `rate` (exact for every xmeml timebase)."""
    ticks_per_frame = Fraction(TICKS_PER_SECOND) / Fraction(rate.timebase)
    if rate.ntsc:
        ticks_per_frame *= Fraction(1001, 1000)
    return round(frames * ticks_per_frame)


def transition_cut_frame(transition: Transition) -> int:
    """Where the picture switches: the end for end/end-black, the start for
    start/start-black, else the middle (frame rounded down, as OpenTimelineIO does)."""
    if transition.alignment in ("end", "end-black"):
        return transition.end_frame
    if transition.alignment in ("start", "start-black"):
        return transition.start_frame
    return (transition.start_frame + transition.end_frame) // 2


def retimed_axis(clip: Clip) -> Clip:
    """The clip with in/out and keyframe `when`s as written: at speed ≠ 100 Premiere
    counts them in retimed frames, so out − in = end − start (../shared/docs/xmeml.md §4,
    Helaften clipitem-10 at 300%: in/out 25..51 for source frames 75..153).

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
        motion=_with_whens(clip.motion, written_when),
        crop=_with_whens(clip.crop, written_when),
    )


def _with_whens(effect: _Effect | None, map_when: Callable[[float], float]) -> _Effect | None:
    """Motion/Crop (or None) with every keyframe `when` passed through `map_when`."""
    if effect is None:
        return None
    changes: dict[str, Param] = {}
    for field in dataclasses.fields(effect):
        param = getattr(effect, field.name)
        if param.keyframes:
            keys = tuple(Keyframe(map_when(k.when), k.value) for k in param.keyframes)
            changes[field.name] = Param(param.value, keys)
    return dataclasses.replace(effect, **changes)


def generator_effect_id(asset: Asset) -> str:
    """The generator effect behind a generator asset: the reader names such assets
    `generator:<effectid>:<name>`; anything else is taken as a colour matte, the one
    generator Premiere writes as a generatoritem (../shared/docs/xmeml.md §4)."""
    parts = asset.id.split(":", 2)
    if len(parts) == 3 and parts[0] == "generator" and parts[1]:
        return parts[1]
    return "Color"


def written_edges(clip: Clip, transitions: list[Transition]) -> tuple[int, int]:
    """The clip's `<start>`/`<end>` as Premiere writes them: -1 where the edge is the
    edge of a transition the clip runs through (../shared/docs/xmeml.md §4).

    The incoming clip starts with the transition and the outgoing one ends with it;
    a reader recovers the edge from `in`/`out` or from the transition. `clip` has
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


def _items_in_document_order(track: Track) -> list[Clip | Transition]:
    """Clips and transitions by position; a transition precedes the clip that starts
    with it, so it sits between the outgoing and the incoming clip as in Premiere."""
    keyed: list[tuple[int, int, int, Clip | Transition]] = []
    for n, clip in enumerate(track.clips):
        keyed.append((clip.start_frame, 1, n, clip))
    for n, transition in enumerate(track.transitions):
        keyed.append((transition.start_frame, 0, n, transition))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


# --------------------------------------------------------------------------- elements


def _file_definition(asset: Asset, sequence_rate: Rate, on_video_track: bool) -> etree._Element:
    """The full `<file>`: name, pathurl, rate, duration, timecode, media (../shared/docs/xmeml.md §5).

    `media/video` is there for picture (a known size, or a use on a video track), with
    no width/height where the size is unknown; `media/audio` where the media has sound.
    """
    element = etree.Element("file", id=asset.id)
    _text(element, "name", asset.name)
    if asset.pathurl is not None:
        _text(element, "pathurl", asset.pathurl)
    media_rate = asset.rate or sequence_rate
    if asset.rate is not None:
        element.append(_rate_element(asset.rate))
    if asset.duration_frames is not None:
        _text(element, "duration", asset.duration_frames)
    if asset.timecode_frame is not None or asset.timecode_string is not None:
        element.append(_file_timecode(asset, media_rate))
    media = etree.SubElement(element, "media")
    if on_video_track or asset.width_px is not None or asset.height_px is not None:
        video = etree.SubElement(media, "video")
        characteristics = etree.SubElement(video, "samplecharacteristics")
        characteristics.append(_rate_element(media_rate))
        if asset.width_px is not None:
            _text(characteristics, "width", asset.width_px)
        if asset.height_px is not None:
            _text(characteristics, "height", asset.height_px)
        _text(characteristics, "anamorphic", "FALSE")
        _text(characteristics, "pixelaspectratio", "square")
        _text(characteristics, "fielddominance", "none")
    if asset.has_audio:
        media.append(_audio_characteristics())
    return element


def _file_timecode(asset: Asset, rate: Rate) -> etree._Element:
    element = etree.Element("timecode")
    element.append(_rate_element(rate))
    if asset.timecode_string is not None:
        _text(element, "string", asset.timecode_string)
    if asset.timecode_frame is not None:
        _text(element, "frame", asset.timecode_frame)
    drop_frame = asset.timecode_string is not None and ";" in asset.timecode_string
    _text(element, "displayformat", "DF" if drop_frame else "NDF")
    reel = etree.SubElement(element, "reel")
    _text(reel, "name", "")
    return element


def _timecode_element(rate: Rate, frame: int) -> etree._Element:
    """A sequence timecode, non-drop-frame (the frame number is what readers use)."""
    element = etree.Element("timecode")
    element.append(_rate_element(rate))
    _text(element, "string", _ndf_timecode(frame, rate.timebase))
    _text(element, "frame", frame)
    _text(element, "displayformat", "NDF")
    return element


def _ndf_timecode(frame: int, timebase: int) -> str:
    seconds, frames = divmod(frame, timebase)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def _rate_element(rate: Rate) -> etree._Element:
    element = etree.Element("rate")
    _text(element, "timebase", rate.timebase)
    _text(element, "ntsc", _bool(rate.ntsc))
    return element


def _video_format(rate: Rate, width_px: int, height_px: int) -> etree._Element:
    """`format/samplecharacteristics` of a sequence, with Premiere's codec block (§1)."""
    element = etree.Element("format")
    characteristics = etree.SubElement(element, "samplecharacteristics")
    characteristics.append(_rate_element(rate))
    characteristics.append(_codec_element())
    for tag, value in (
        ("width", width_px),
        ("height", height_px),
        ("anamorphic", "FALSE"),
        ("pixelaspectratio", "square"),
        ("fielddominance", "none"),
        ("colordepth", 24),
    ):
        _text(characteristics, tag, value)
    return element


def _codec_element() -> etree._Element:
    # Premiere names FCP 7 here whatever it is (../shared/docs/xmeml.md §1).
    codec = etree.Element("codec")
    _text(codec, "name", "Apple ProRes 422")
    app = etree.SubElement(codec, "appspecificdata")
    value: object  # the loops below hold text, then numbers
    for tag, value in (("appname", "Final Cut Pro"), ("appmanufacturer", "Apple Inc."), ("appversion", "7.0")):
        _text(app, tag, value)
    qtcodec = etree.SubElement(etree.SubElement(app, "data"), "qtcodec")
    for tag, value in (
        ("codecname", "Apple ProRes 422"),
        ("codectypename", "Apple ProRes 422"),
        ("codectypecode", "apcn"),
        ("codecvendorcode", "appl"),
        ("spatialquality", 1024),
        ("temporalquality", 0),
        ("keyframerate", 0),
        ("datarate", 0),
    ):
        _text(qtcodec, tag, value)
    return codec


def _audio_media(media: etree._Element) -> etree._Element:
    """The sequence's `media/audio` header: two outputs, 48 kHz, 16 bit."""
    audio = etree.SubElement(media, "audio")
    _text(audio, "numOutputChannels", 2)
    audio_format = etree.SubElement(audio, "format")
    audio_format.append(_sample_characteristics())
    outputs = etree.SubElement(audio, "outputs")
    for index in (1, 2):
        group = etree.SubElement(outputs, "group")
        _text(group, "index", index)
        _text(group, "numchannels", 1)
        _text(group, "downmix", 0)
        channel = etree.SubElement(group, "channel")
        _text(channel, "index", index)
    return audio


def _audio_characteristics() -> etree._Element:
    audio = etree.Element("audio")
    audio.append(_sample_characteristics())
    _text(audio, "channelcount", 2)
    return audio


def _sample_characteristics() -> etree._Element:
    element = etree.Element("samplecharacteristics")
    _text(element, "depth", 16)
    _text(element, "samplerate", 48000)
    return element


def _logging_info(parent: etree._Element) -> None:
    info = etree.SubElement(parent, "logginginfo")
    for tag in ("description", "scene", "shottake", "lognote"):
        _text(info, tag, "")


def _labels(parent: etree._Element, label: str) -> None:
    _text(etree.SubElement(parent, "labels"), "label2", label)


# --------------------------------------------------------------------------- filters


def _motion_filter(motion: Motion) -> etree._Element:
    """Basic Motion as newer Premiere writes it, anchor point and anti-flicker at their
    defaults (../shared/docs/xmeml.md §6)."""
    effect = _filter_effect("Basic Motion", "basic")
    effect.append(_scalar_parameter("scale", "Scale", motion.scale, 0, 1000))
    effect.append(_scalar_parameter("rotation", "Rotation", motion.rotation, -8640, 8640))
    effect.append(_center_parameter("center", "Center", motion.center_x, motion.center_y))
    effect.append(_center_parameter("centerOffset", "Anchor Point", Param(0.0), Param(0.0)))
    effect.append(_scalar_parameter("antiflicker", "Anti-flicker Filter", Param(0.0), "0.0", "1.0"))
    return _filter_of(effect)


def _crop_filter(crop: Crop) -> etree._Element:
    """Crop: each side a percent of the source frame; Premiere names them in lowercase."""
    effect = _filter_effect("Crop", "crop")
    for side in ("left", "right", "top", "bottom"):
        effect.append(_scalar_parameter(side, side, getattr(crop, side), 0, 100))
    return _filter_of(effect)


def _time_remap_filter(speed: float, reverse: bool) -> etree._Element:
    """Constant speed change (../shared/docs/xmeml.md §4); no graphdict, which needs the source
    length in retimed frames."""
    effect = _filter_effect("Time Remap", "timeremap")
    effect.append(_scalar_parameter("variablespeed", "variablespeed", Param(0.0), 0, 1))
    effect.append(_scalar_parameter("speed", "speed", Param(speed), -100000, 100000))
    for parameter_id, flag in (("reverse", reverse), ("frameblending", False)):
        parameter = _parameter(parameter_id, parameter_id)
        _text(parameter, "value", _bool(flag))
        effect.append(parameter)
    return _filter_of(effect)


def _filter_of(effect: etree._Element) -> etree._Element:
    """The `<filter>` that `_filter_effect` made around `effect`."""
    parent = effect.getparent()
    assert parent is not None  # _filter_effect always makes one
    return parent


def _filter_effect(name: str, effect_id: str) -> etree._Element:
    """`<filter><effect>` with the header every Premiere motion effect has; returns the effect."""
    effect = etree.SubElement(etree.Element("filter"), "effect")
    for tag, value in (
        ("name", name),
        ("effectid", effect_id),
        ("effectcategory", "motion"),
        ("effecttype", "motion"),
        ("mediatype", "video"),
        ("pproBypass", "false"),
    ):
        _text(effect, tag, value)
    return effect


def _parameter(parameter_id: str, name: str) -> etree._Element:
    # authoringApp marks a Premiere parameter (../shared/docs/xmeml.md §1).
    parameter = etree.Element("parameter", authoringApp="PremierePro")
    _text(parameter, "parameterid", parameter_id)
    _text(parameter, "name", name)
    return parameter


def _scalar_parameter(
    parameter_id: str, name: str, param: Param, value_min: float | str, value_max: float | str
) -> etree._Element:
    """A scalar with its static value and keys; `when` is a source frame (§7)."""
    parameter = _parameter(parameter_id, name)
    _text(parameter, "valuemin", value_min)
    _text(parameter, "valuemax", value_max)
    _text(parameter, "value", _number(param.value))
    for key in param.keyframes:
        keyframe = etree.SubElement(parameter, "keyframe")
        _text(keyframe, "when", _number(key.when))
        _text(keyframe, "value", _number(key.value))
    return parameter


def _center_parameter(parameter_id: str, name: str, x: Param, y: Param) -> etree._Element:
    """A point parameter: one `<value><horiz/><vert/>` per key, at the union of both
    axes' key times (an axis without keys contributes its static value)."""
    parameter = _parameter(parameter_id, name)
    parameter.append(_point_value(x.value, y.value))
    whens = sorted({k.when for k in x.keyframes} | {k.when for k in y.keyframes})
    for when in whens:
        keyframe = etree.SubElement(parameter, "keyframe")
        _text(keyframe, "when", _number(when))
        keyframe.append(_point_value(x.at(when), y.at(when)))
    return parameter


def _point_value(horiz: float, vert: float) -> etree._Element:
    value = etree.Element("value")
    _text(value, "horiz", _number(horiz))
    _text(value, "vert", _number(vert))
    return value


# --------------------------------------------------------------------------- text


def _text(parent: etree._Element, tag: str, value: object) -> etree._Element:
    element = etree.SubElement(parent, tag)
    element.text = str(value)
    return element


def _bool(flag: bool) -> str:
    return "TRUE" if flag else "FALSE"


def _number(value: float) -> str:
    """Shortest text that reads back as the same float, without an exponent;
    whole numbers without a decimal point, as Premiere writes them ("100", "93.75")."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return format(Decimal(repr(float(value))), "f")


def _unused_id(prefix: str, taken: Mapping[str, object]) -> str:
    n = 1
    while f"{prefix}-{n}" in taken:
        n += 1
    return f"{prefix}-{n}"
