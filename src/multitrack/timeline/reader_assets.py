"""Small readers of xmeml values and assets: rate, frame size, timecode, `<file>`, generators.

Files and nested sequences declare rates that are informative only (docs/xmeml.md §2:
every clip time is at the sequence rate), so those are read leniently: unreadable means
unknown. A sequence's own rate is read strictly.
"""

from __future__ import annotations

import math

from multitrack.errors import XmemlError
from multitrack.timeline.model import Asset, AssetKind, Rate
from multitrack.timeline.reader_document import XmemlDocument, shown

def read_rate(doc: XmemlDocument, rate_el) -> Rate:
    """`<rate><timebase>N</timebase><ntsc>TRUE|FALSE</ntsc></rate>`; ntsc may be missing."""
    timebase_el = rate_el.find("timebase")
    if timebase_el is None:
        raise doc.error(rate_el, "rate has no <timebase>", "timebase")
    timebase = positive_integer(timebase_el.text)
    if timebase is None:
        raise doc.error(timebase_el, f"timebase must be a positive integer, got {shown(timebase_el.text)}")
    ntsc_el = rate_el.find("ntsc")
    return Rate(timebase, doc.flag(ntsc_el) if ntsc_el is not None else False)


def positive_integer(text: str | None) -> int | None:
    """`25` or `25.0`; None for anything else (0, -1, 29.97, nan, abc)."""
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
    """A full `<file>` definition (docs/xmeml.md §5)."""
    fields = first_children(file_el, ("name", "pathurl", "rate", "duration", "timecode", "media"))
    name = element_text(fields.get("name"))
    pathurl = element_text(fields.get("pathurl")) or None
    video_el, audio_el = media_parts(fields.get("media"))
    size = read_size(doc, video_el.find("samplecharacteristics")) if video_el is not None else None
    timecode_el = fields.get("timecode")
    return Asset(
        id=file_el.get("id") or pathurl or f"file@line{file_el.sourceline}",
        name=name,
        kind=AssetKind.FILE,
        pathurl=pathurl,
        width_px=size[0] if size else None,
        height_px=size[1] if size else None,
        rate=lenient_rate(doc, fields.get("rate")),
        duration_frames=lenient_frame(doc, fields.get("duration")),
        timecode_frame=timecode_frame(doc, timecode_el),
        timecode_string=timecode_string(timecode_el),
        has_audio=audio_el is not None,
    )


def read_generator_asset(fields: dict) -> Asset:
    """A generatoritem (colour matte, bars, text): its `<effect>` sits directly inside it (§4)."""
    effect = fields.get("effect")
    effect_id = element_text(effect.find("effectid")) if effect is not None else ""
    effect_name = element_text(effect.find("name")) if effect is not None else ""
    name = element_text(fields.get("name")) or effect_name
    return Asset(id=f"generator:{effect_id or effect_name}:{name}", name=name, kind=AssetKind.GENERATOR)


def read_size(doc: XmemlDocument, characteristics) -> tuple[int, int] | None:
    """width x height of a samplecharacteristics block; absent or zero means unknown."""
    if characteristics is None:
        return None
    width_el, height_el = characteristics.find("width"), characteristics.find("height")
    if width_el is None or height_el is None:
        return None
    width, height = doc.frame(width_el), doc.frame(height_el)
    if width <= 0 or height <= 0:
        return None
    return width, height


def timecode_string(timecode_el) -> str | None:
    return (element_text(timecode_el.find("string")) or None) if timecode_el is not None else None


def timecode_frame(doc: XmemlDocument, timecode_el) -> int | None:
    return lenient_frame(doc, timecode_el.find("frame")) if timecode_el is not None else None


def media_parts(media_el) -> tuple:
    if media_el is None:
        return None, None
    return media_el.find("video"), media_el.find("audio")


def track_elements(media_kind_el) -> list:
    return list(media_kind_el.iterchildren("track")) if media_kind_el is not None else []


def first_children(element, tags: tuple[str, ...]) -> dict:
    found: dict = {}
    for child in element:
        if child.tag in tags and child.tag not in found:
            found[child.tag] = child
    return found


def element_text(element) -> str:
    """An element's text as written (names may hold `&#13;` or be empty, docs/xmeml.md §8)."""
    if element is None or element.text is None:
        return ""
    return element.text.strip(" \t\n")
