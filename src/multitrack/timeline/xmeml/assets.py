"""xmeml values and assets, both ways: rate, frame size, timecode, `<file>`, generators.

Reading: files and nested sequences declare rates that are informative only
(../shared/docs/xmeml.md §2: every clip time is at the sequence rate), so those are read
leniently: unreadable means unknown. A sequence's own rate is read strictly.
Writing: `<rate>`, `<timecode>` and the full `<file>` definition as Premiere writes them.
"""

from __future__ import annotations

import math

from lxml import etree

from multitrack.errors import XmemlError
from multitrack.timeline.model import Asset, AssetKind, Rate
from multitrack.timeline.xmeml.document import XmemlDocument, add_text, flag_text, shown


def read_rate(doc: XmemlDocument, rate_el) -> Rate:
    """`<rate><timebase>N</timebase><ntsc>TRUE|FALSE</ntsc></rate>`; ntsc may be missing."""
    parts = first_children(rate_el)
    timebase_el = parts.get("timebase")
    if timebase_el is None:
        raise doc.error(rate_el, "rate has no <timebase>", "timebase")
    timebase = positive_integer(timebase_el.text)
    if timebase is None:
        raise doc.error(timebase_el, f"timebase must be a positive integer, got {shown(timebase_el.text)}")
    ntsc_el = parts.get("ntsc")
    # ntsc is missing from FCP7 v1 file rates (../shared/docs/xmeml.md §2); an empty <ntsc/> says as little
    ntsc = doc.flag(ntsc_el) if ntsc_el is not None and element_text(ntsc_el) else False
    return Rate(timebase, ntsc)


def positive_integer(text: str | None) -> int | None:
    """`25` or `25.0`; None for anything else (0, -1, 29.97, nan, abc)."""
    if text is None:
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value <= 0 or value != int(value):
        return None
    return int(value)


def lenient_rate(doc: XmemlDocument, rate_el) -> Rate | None:
    """A file's or nested sequence's rate is informative only (§2): unreadable means unknown."""
    if rate_el is None:
        return None
    try:
        return read_rate(doc, rate_el)
    except XmemlError:
        return None


def lenient_frame(doc: XmemlDocument, element) -> int | None:
    if element is None:
        return None
    try:
        return doc.frame(element)
    except XmemlError:
        return None


def read_file_asset(doc: XmemlDocument, file_el) -> Asset:
    """A full `<file>` definition (../shared/docs/xmeml.md §5)."""
    fields = first_children(file_el)
    name = element_text(fields.get("name"))
    pathurl = element_text(fields.get("pathurl")) or None
    video_el, audio_el = media_parts(fields.get("media"))
    size = read_size(doc, first_children(video_el).get("samplecharacteristics")) if video_el is not None else None
    timecode_frame, timecode_string = timecode_parts(doc, fields.get("timecode"))
    return Asset(
        id=file_el.get("id") or pathurl or f"file@line{file_el.sourceline}",
        name=name,
        kind=AssetKind.FILE,
        pathurl=pathurl,
        width_px=size[0] if size else None,
        height_px=size[1] if size else None,
        rate=lenient_rate(doc, fields.get("rate")),
        duration_frames=lenient_frame(doc, fields.get("duration")),
        timecode_frame=timecode_frame,
        timecode_string=timecode_string,
        has_audio=audio_el is not None,
    )


def read_generator_asset(fields: dict) -> Asset:
    """A generatoritem (colour matte, bars, text): its `<effect>` sits directly inside it (§4)."""
    effect = fields.get("effect")
    effect_id = element_text(effect.find("effectid")) if effect is not None else ""
    effect_name = element_text(effect.find("name")) if effect is not None else ""
    name = element_text(fields.get("name")) or effect_name
    return Asset(id=f"generator:{effect_id or effect_name}:{name}", name=name, kind=AssetKind.GENERATOR)


def generator_effect_id(asset: Asset) -> str:
    """Writing: the generator effect behind a generator asset: `read_generator_asset` names
    such assets `generator:<effectid>:<name>`; anything else is taken as a colour matte, the
    one generator Premiere writes as a generatoritem (../shared/docs/xmeml.md §4)."""
    parts = asset.id.split(":", 2)
    if len(parts) == 3 and parts[0] == "generator" and parts[1]:
        return parts[1]
    return "Color"


def read_size(doc: XmemlDocument, characteristics) -> tuple[int, int] | None:
    """width x height of a samplecharacteristics block; absent or zero means unknown."""
    if characteristics is None:
        return None
    parts = first_children(characteristics)
    width_el, height_el = parts.get("width"), parts.get("height")
    if width_el is None or height_el is None:
        return None
    width, height = doc.frame(width_el), doc.frame(height_el)
    if width <= 0 or height <= 0:
        return None
    return width, height


def timecode_parts(doc: XmemlDocument, timecode_el) -> tuple[int | None, str | None]:
    """A `<timecode>`'s frame and string (../shared/docs/xmeml.md §4: kept apart from in/out)."""
    if timecode_el is None:
        return None, None
    parts = first_children(timecode_el)
    return lenient_frame(doc, parts.get("frame")), element_text(parts.get("string")) or None


def media_parts(media_el) -> tuple:
    """The `<video>` and `<audio>` children of a `<media>` (either may be None)."""
    if media_el is None:
        return None, None
    parts = first_children(media_el)
    return parts.get("video"), parts.get("audio")


def track_elements(media_kind_el) -> list:
    return list(media_kind_el.iterchildren("track")) if media_kind_el is not None else []


def first_children(element) -> dict:
    """{tag: first child with that tag}: one pass, cheaper than a find() per tag."""
    found: dict = {}
    for child in element:
        if child.tag not in found:
            found[child.tag] = child
    return found


def element_text(element) -> str:
    """An element's text as written (names may hold `&#13;` or be empty, ../shared/docs/xmeml.md §8)."""
    if element is None or element.text is None:
        return ""
    return element.text.strip(" \t\n")


# --- writing ---------------------------------------------------------------------------------


def rate_element(rate: Rate) -> etree._Element:
    element = etree.Element("rate")
    add_text(element, "timebase", rate.timebase)
    add_text(element, "ntsc", flag_text(rate.ntsc))
    return element


def timecode_element(rate: Rate, frame: int) -> etree._Element:
    """A sequence timecode, non-drop-frame (the frame number is what readers use)."""
    element = etree.Element("timecode")
    element.append(rate_element(rate))
    add_text(element, "string", _ndf_timecode(frame, rate.timebase))
    add_text(element, "frame", frame)
    add_text(element, "displayformat", "NDF")
    return element


def _ndf_timecode(frame: int, timebase: int) -> str:
    seconds, frames = divmod(frame, timebase)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def file_definition(asset: Asset, sequence_rate: Rate, on_video_track: bool) -> etree._Element:
    """The full `<file>`: name, pathurl, rate, duration, timecode, media (../shared/docs/xmeml.md §5).

    `media/video` is there for picture (a known size, or a use on a video track), with
    no width/height where the size is unknown; `media/audio` where the media has sound.
    """
    element = etree.Element("file", id=asset.id)
    add_text(element, "name", asset.name)
    if asset.pathurl is not None:
        add_text(element, "pathurl", asset.pathurl)
    media_rate = asset.rate or sequence_rate
    if asset.rate is not None:
        element.append(rate_element(asset.rate))
    if asset.duration_frames is not None:
        add_text(element, "duration", asset.duration_frames)
    if asset.timecode_frame is not None or asset.timecode_string is not None:
        element.append(_file_timecode(asset, media_rate))
    media = etree.SubElement(element, "media")
    if on_video_track or asset.width_px is not None or asset.height_px is not None:
        video = etree.SubElement(media, "video")
        characteristics = etree.SubElement(video, "samplecharacteristics")
        characteristics.append(rate_element(media_rate))
        if asset.width_px is not None:
            add_text(characteristics, "width", asset.width_px)
        if asset.height_px is not None:
            add_text(characteristics, "height", asset.height_px)
        add_text(characteristics, "anamorphic", "FALSE")
        add_text(characteristics, "pixelaspectratio", "square")
        add_text(characteristics, "fielddominance", "none")
    if asset.has_audio:
        media.append(_audio_characteristics())
    return element


def _file_timecode(asset: Asset, rate: Rate) -> etree._Element:
    element = etree.Element("timecode")
    element.append(rate_element(rate))
    if asset.timecode_string is not None:
        add_text(element, "string", asset.timecode_string)
    if asset.timecode_frame is not None:
        add_text(element, "frame", asset.timecode_frame)
    drop_frame = asset.timecode_string is not None and ";" in asset.timecode_string
    add_text(element, "displayformat", "DF" if drop_frame else "NDF")
    reel = etree.SubElement(element, "reel")
    add_text(reel, "name", "")
    return element


def _audio_characteristics() -> etree._Element:
    audio = etree.Element("audio")
    audio.append(sample_characteristics())
    add_text(audio, "channelcount", 2)
    return audio


def sample_characteristics() -> etree._Element:
    """Audio `samplecharacteristics`: 48 kHz, 16 bit."""
    element = etree.Element("samplecharacteristics")
    add_text(element, "depth", 16)
    add_text(element, "samplerate", 48000)
    return element
