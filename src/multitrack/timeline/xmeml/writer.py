"""Timeline -> xmeml version 4, written the way Premiere Pro writes it.

Every element kind is written with the children Premiere gives it, in Premiere's order
(`otio/premiere_example.xml`; filters and keyframes as in `nrk/Helaften…`, generator
items as in `otio/premiere_generators.xml`); tests/test_writer.py checks this against
those files. What the model does not hold (labels, logging info, codec block) is
written with Premiere's defaults. The output depends on the Timeline only: the same
Timeline gives the same bytes, the sequence uuid included.

Layout of a written document (../shared/docs/xmeml.md §1, §3–§7):
- one `<sequence>` under `<xmeml version="4">`; video tracks V1 first, then audio;
- each asset defined in full at its first use (`assets.file_definition`), then referenced
  by a bare `<file id/>` (or `<sequence id/>` for a nested sequence, written as a minimal
  definition without tracks); generator assets as `<generatoritem>` with a generator `<effect>`;
- clip edges that lie on a transition's edge written as -1, and at speed ≠ 100 in/out and
  keyframe `when`s on the retimed axis (§4: the writing side of `timing`);
- Basic Motion and Crop filters only when they differ from the defaults (§6), their
  keyframe `when` on the clip's source axis (§7); a speed change as a Time Remap filter
  (`effects.filter_elements`).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from pathlib import Path

from lxml import etree

from multitrack.errors import XmemlError
from multitrack.timeline.model import Asset, AssetKind, Clip, Param, Rate, Timeline, Track, Transition
from multitrack.timeline.xmeml.assets import (
    file_definition,
    generator_effect_id,
    rate_element,
    sample_characteristics,
    timecode_element,
)
from multitrack.timeline.xmeml.document import add_text, flag_text
from multitrack.timeline.xmeml.effects import filter_elements
from multitrack.timeline.xmeml.timing import (
    document_order,
    frames_to_ticks,
    retimed_axis,
    retimed_duration,
    still_frames,
    transition_cut_frame,
    written_edges,
)

__all__ = ["write_xmeml", "xmeml_bytes"]

_NOT_XML_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n'
# Fixed namespace so that the content hash always maps to the same sequence uuid.
_UUID_NAMESPACE = uuid.UUID("5a1f1c6e-7d0b-4c1e-9a43-6d2f0f6b7c11")


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
        add_text(sequence, "uuid", "")
        add_text(sequence, "duration", timeline.duration_frames)
        sequence.append(rate_element(self.rate))
        add_text(sequence, "name", timeline.name)
        media = etree.SubElement(sequence, "media")
        video = etree.SubElement(media, "video")
        video.append(_video_format(self.rate, timeline.width_px, timeline.height_px))
        for track in timeline.video_tracks:
            video.append(self._track_element(track, "video"))
        audio = _audio_media(media)
        for track_number, track in enumerate(timeline.audio_tracks):
            audio.append(self._track_element(track, "audio", output_channel=track_number % 2 + 1))
        sequence.append(timecode_element(self.rate, timeline.timecode_frame))
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
        attributes.update(_audio_type_attributes(track))
        element = etree.Element("track", attributes)
        for item in document_order(track):
            if isinstance(item, Transition):
                element.append(self._transition_element(item, media_type))
            else:
                element.append(self._item_element(item, track.transitions, media_type))
        add_text(element, "enabled", flag_text(track.enabled))
        add_text(element, "locked", "FALSE")
        if output_channel is not None:
            add_text(element, "outputchannelindex", output_channel)
        return element

    def _transition_element(self, transition: Transition, media_type: str) -> etree._Element:
        element = etree.Element("transitionitem")
        add_text(element, "start", transition.start_frame)
        add_text(element, "end", transition.end_frame)
        add_text(element, "alignment", transition.alignment)
        cut_offset_frames = transition_cut_frame(transition) - transition.start_frame
        add_text(element, "cutPointTicks", self._ticks(cut_offset_frames))
        element.append(rate_element(self.rate))
        effect = etree.SubElement(element, "effect")
        add_text(effect, "name", transition.name)
        add_text(effect, "effectid", transition.effect_id)
        add_text(effect, "effectcategory", "Dissolve")
        add_text(effect, "effecttype", "transition")
        add_text(effect, "mediatype", media_type)
        for tag, value in (
            ("wipecode", 0),
            ("wipeaccuracy", 100),
            ("startratio", 0),
            ("endratio", 1),
            ("reverse", "FALSE"),
        ):
            add_text(effect, tag, value)
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
        add_text(element, "pproTicksIn", self._ticks(clip.in_frame))
        add_text(element, "pproTicksOut", self._ticks(clip.out_frame))
        if asset.kind is AssetKind.SEQUENCE:
            element.append(self._nested_sequence_element(asset))
        else:
            self._file_with_attributes(element, asset, media_type)
        if media_type == "audio" and asset.kind is AssetKind.FILE:
            source_track = etree.SubElement(element, "sourcetrack")
            add_text(source_track, "mediatype", "audio")
            add_text(source_track, "trackindex", clip.source_channel)
        for filter_element in filter_elements(written):
            element.append(filter_element)
        if asset.kind is AssetKind.FILE:
            _logging_info(element)
        _labels(element, "Iris")
        return element

    def _clip_timing(self, element: etree._Element, clip: Clip, asset: Asset, start: int, end: int) -> None:
        """masterclipid … out: the timing block every clipitem opens with."""
        masterclip_id = self.masterclip_ids.setdefault(asset.id, f"masterclip-{len(self.masterclip_ids) + 1}")
        add_text(element, "masterclipid", masterclip_id)
        add_text(element, "name", clip.name)
        add_text(element, "enabled", flag_text(clip.enabled))
        if asset.duration_frames is not None:
            add_text(element, "duration", retimed_duration(asset.duration_frames, clip.speed))
        # Clipitem times count sequence frames whatever the media rate (../shared/docs/xmeml.md §2).
        element.append(rate_element(self.rate))
        for tag, value in (("start", start), ("end", end), ("in", clip.in_frame), ("out", clip.out_frame)):
            add_text(element, tag, value)

    def _file_with_attributes(self, element: etree._Element, asset: Asset, media_type: str) -> None:
        """`alphatype` etc. then the file; Premiere adds PAR and anamorphic at a definition."""
        first_use = asset.id not in self.defined_asset_ids
        if media_type == "video":
            add_text(element, "alphatype", "none")
            if first_use:
                add_text(element, "pixelaspectratio", "square")
                add_text(element, "anamorphic", "FALSE")
        if not first_use:
            etree.SubElement(element, "file", id=asset.id)
            return
        self.defined_asset_ids.add(asset.id)
        element.append(file_definition(asset, self.rate, on_video_track=media_type == "video"))

    def _nested_sequence_element(self, asset: Asset) -> etree._Element:
        """A bare reference, or at first use a minimal definition without tracks."""
        if asset.id in self.defined_asset_ids:
            return etree.Element("sequence", id=asset.id)
        self.defined_asset_ids.add(asset.id)
        rate = asset.rate or self.rate
        element = etree.Element("sequence", id=asset.id)
        if asset.duration_frames is not None:
            add_text(element, "duration", asset.duration_frames)
        element.append(rate_element(rate))
        add_text(element, "name", asset.name)
        media = etree.SubElement(element, "media")
        video = etree.SubElement(media, "video")
        width_px = asset.width_px or self.timeline.width_px
        height_px = asset.height_px or self.timeline.height_px
        video.append(_video_format(rate, width_px, height_px))
        _audio_media(media)
        element.append(timecode_element(rate, asset.timecode_frame or 0))
        return element

    def _generator_element(self, item_id: str, clip: Clip, asset: Asset, start: int, end: int) -> etree._Element:
        """Children as in `otio/premiere_generators.xml`; the effect sits directly inside
        (../shared/docs/xmeml.md §4)."""
        element = etree.Element("generatoritem", id=item_id)
        add_text(element, "name", clip.name)
        add_text(element, "enabled", flag_text(clip.enabled))
        # Premiere gives a generator the synthetic 12-hour length of a still (§4).
        duration_frames = asset.duration_frames or still_frames(self.rate)
        add_text(element, "duration", duration_frames)
        for tag, value in (("start", start), ("end", end), ("in", clip.in_frame), ("out", clip.out_frame)):
            add_text(element, tag, value)
        element.append(rate_element(self.rate))
        effect = etree.SubElement(element, "effect")
        effect_id = generator_effect_id(asset)
        add_text(effect, "name", effect_id)
        add_text(effect, "effectid", effect_id)
        add_text(effect, "effectcategory", "Matte")
        add_text(effect, "effecttype", "generator")
        add_text(effect, "mediatype", "video")
        for filter_element in filter_elements(clip):
            element.append(filter_element)
        return element

    def _ticks(self, frames: int) -> int:
        return frames_to_ticks(frames, self.rate)


# --------------------------------------------------------------------------- elements


def _video_format(rate: Rate, width_px: int, height_px: int) -> etree._Element:
    """`format/samplecharacteristics` of a sequence, with Premiere's codec block (§1)."""
    element = etree.Element("format")
    characteristics = etree.SubElement(element, "samplecharacteristics")
    characteristics.append(rate_element(rate))
    characteristics.append(_codec_element())
    for tag, value in (
        ("width", width_px),
        ("height", height_px),
        ("anamorphic", "FALSE"),
        ("pixelaspectratio", "square"),
        ("fielddominance", "none"),
        ("colordepth", 24),
    ):
        add_text(characteristics, tag, value)
    return element


def _codec_element() -> etree._Element:
    # Premiere names FCP 7 here whatever it is (../shared/docs/xmeml.md §1).
    codec = etree.Element("codec")
    add_text(codec, "name", "Apple ProRes 422")
    app = etree.SubElement(codec, "appspecificdata")
    value: object  # the loops below hold text, then numbers
    for tag, value in (("appname", "Final Cut Pro"), ("appmanufacturer", "Apple Inc."), ("appversion", "7.0")):
        add_text(app, tag, value)
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
        add_text(qtcodec, tag, value)
    return codec


def _audio_media(media: etree._Element) -> etree._Element:
    """The sequence's `media/audio` header: two outputs, 48 kHz, 16 bit."""
    audio = etree.SubElement(media, "audio")
    add_text(audio, "numOutputChannels", 2)
    audio_format = etree.SubElement(audio, "format")
    audio_format.append(sample_characteristics())
    outputs = etree.SubElement(audio, "outputs")
    for index in (1, 2):
        group = etree.SubElement(outputs, "group")
        add_text(group, "index", index)
        add_text(group, "numchannels", 1)
        add_text(group, "downmix", 0)
        channel = etree.SubElement(group, "channel")
        add_text(channel, "index", index)
    return audio


def _audio_type_attributes(track: Track) -> dict[str, str]:
    """Premiere's audio track attributes, where the track has them (docs/xmeml-audio.md)."""
    kind = track.audio_type
    if kind is None:
        return {}
    pairs = (
        ("currentExplodedTrackIndex", kind.exploded_index),
        ("totalExplodedTrackCount", kind.exploded_count),
        ("premiereTrackType", kind.premiere_type),
    )
    return {name: str(value) for name, value in pairs if value is not None}


def _logging_info(parent: etree._Element) -> None:
    info = etree.SubElement(parent, "logginginfo")
    for tag in ("description", "scene", "shottake", "lognote"):
        add_text(info, tag, "")


def _labels(parent: etree._Element, label: str) -> None:
    add_text(etree.SubElement(parent, "labels"), "label2", label)


# --------------------------------------------------------------------------- ids


def _unused_id(prefix: str, taken: Mapping[str, object]) -> str:
    n = 1
    while f"{prefix}-{n}" in taken:
        n += 1
    return f"{prefix}-{n}"
