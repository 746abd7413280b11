"""Small composable builders of xmeml (FCP7 XML) text for the tests.

Every function returns one element as a `str`; compose them and hand the result to `document`:

    from xmemlgen import clipitem, document, file_def, motion, param, point, sequence, track

    clip = clipitem(0, 50, 100, 150, file_def(width=3840, height=2160),
                    filters=motion(param("scale", 50), param("center", point(0.1, 0))))
    text = document(sequence(track(clip), name="interview", duration=50))  # str
    data = document(sequence(track(clip)), bom=True, codec="utf-8")  # bytes, with a BOM

Conventions, the same in every function:

- Each element's children come out in one fixed order, with no whitespace between them;
  `document` puts its declaration, DOCTYPE, `<xmeml>` and each body item on lines of their own.
- A value argument is written as given (`str()`), never escaped, so `&#13;`, `&xxe;` or a
  control character reach the file as written; True/False are written TRUE/FALSE.
  `None` leaves the element out; `""` writes it empty (`<ntsc/>`).
- An argument that takes XML (`rate=`, `file=`, `format=`, `timecode=`, `filters=`, `audio=`,
  `media=`, `extra=`...) is inserted as is: pass another builder's result, or any raw XML for
  the odd cases; `""` or `None` inserts nothing. Several items may be given as a list.
- `extra=` is the escape hatch: raw XML placed just before the element's closing tag (or
  where its docstring says).
- A default of `AUTO` is derived from the other arguments, as its docstring says.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = [
    "AUTO",
    "CROSS_DISSOLVE",
    "FILE_1_REF",
    "FORMAT_1080",
    "RATE_25",
    "angle",
    "bin_",
    "clipitem",
    "crop",
    "document",
    "effect",
    "file_def",
    "file_ref",
    "filter_",
    "format_",
    "generatoritem",
    "keyframe",
    "master_clip",
    "motion",
    "multiclip",
    "multiclip_ref",
    "one_clip",
    "param",
    "point",
    "project",
    "rate",
    "samplecharacteristics",
    "sequence",
    "sequence_ref",
    "time_remap",
    "timecode",
    "track",
    "transition",
]


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO: Final = _Auto()
"""The default of an argument derived from the others (e.g. a file's name from its id)."""

Value = str | int | float | bool | None
XML = str | Iterable[str] | None


# --- primitives --------------------------------------------------------------------


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def _xml(content: XML) -> str:
    """Raw XML: a string as is, several joined, None nothing."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(content)


def _attrs(**attributes: Value) -> str:
    return "".join(f' {key}="{_text(value)}"' for key, value in attributes.items() if value is not None)


def _element(tag: str, content: XML = "", **attributes: Value) -> str:
    """`<tag attr="...">content</tag>` around raw XML, `<tag/>` when the content is empty."""
    inner = _xml(content)
    return f"<{tag}{_attrs(**attributes)}>{inner}</{tag}>" if inner else f"<{tag}{_attrs(**attributes)}/>"


def _leaf(tag: str, text: Value) -> str:
    """A leaf element holding a value: nothing for None, `<tag/>` for ""."""
    if text is None:
        return ""
    return _element(tag, _text(text))


# --- rates, sizes, timecodes -----------------------------------------------------------------


def rate(timebase: Value = 25, ntsc: Value = False) -> str:
    """`<rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>`; `ntsc=None` leaves it out, "" writes `<ntsc/>`."""
    return _element("rate", _leaf("timebase", timebase) + _leaf("ntsc", ntsc))


def samplecharacteristics(
    width: Value = 1920, height: Value = 1080, *, rate: XML = None, pixelaspectratio: Value = None, extra: XML = ""
) -> str:
    return _element(
        "samplecharacteristics",
        _xml(rate)
        + _leaf("width", width)
        + _leaf("height", height)
        + _leaf("pixelaspectratio", pixelaspectratio)
        + _xml(extra),
    )


def format_(width: Value = 1920, height: Value = 1080, **samplecharacteristics_fields) -> str:
    """A sequence's `<format>`: its frame size (`rate=`, `pixelaspectratio=` as in `samplecharacteristics`)."""
    return _element("format", samplecharacteristics(width, height, **samplecharacteristics_fields))


def timecode(string: Value = None, frame: Value = None, *, rate: XML = None, displayformat: Value = None) -> str:
    return _element(
        "timecode", _xml(rate) + _leaf("string", string) + _leaf("frame", frame) + _leaf("displayformat", displayformat)
    )


RATE_25: Final = rate()  # the default rate of a sequence
FORMAT_1080: Final = format_()  # the default format of a sequence

# --- media files --------------------------------------------------------------------------------


def file_def(
    id: str | None = "file-1",
    name: Value | _Auto = AUTO,
    *,
    pathurl: Value = None,
    rate: XML = None,
    duration: Value = 5000,
    timecode: XML = None,
    width: Value = 1280,
    height: Value = 720,
    video_rate: XML = None,
    audio_channels: Value = None,
    extra: XML = "",
) -> str:
    """A full `<file id>` definition; `name` AUTO is `<id>.mov`.

    `<media>` holds a `<video>` of width x height (`video_rate`: a rate inside its
    samplecharacteristics) unless `width` is None, and an `<audio>` when `audio_channels` is
    given; with neither there is no `<media>`. `extra` goes before `<media>`.
    """
    name = f"{id}.mov" if isinstance(name, _Auto) else name
    video = "" if width is None else _element("video", samplecharacteristics(width, height, rate=video_rate))
    audio = "" if audio_channels is None else _element("audio", _leaf("channelcount", audio_channels))
    media = _element("media", video + audio) if video or audio else ""
    body = (
        _leaf("name", name)
        + _leaf("pathurl", pathurl)
        + _xml(rate)
        + _leaf("duration", duration)
        + _xml(timecode)
        + _xml(extra)
        + media
    )
    return _element("file", body, id=id)


def file_ref(id: str = "file-1") -> str:
    """A bare reference to a file defined elsewhere: `<file id="file-1"/>`."""
    return _element("file", id=id)


def sequence_ref(id: str = "sequence-1") -> str:
    """A bare reference to a nested sequence defined elsewhere."""
    return _element("sequence", id=id)


def multiclip_ref(id: str = "multiclip-1") -> str:
    """A bare reference to a multiclip defined elsewhere."""
    return _element("multiclip", id=id)


FILE_1_REF: Final = file_ref()  # what a clipitem shows by default

# --- effects -----------------------------------------------------------------------------------


def point(horiz: Value, vert: Value) -> str:
    """The value of a two-dimensional parameter such as Basic Motion's center."""
    return _leaf("horiz", horiz) + _leaf("vert", vert)


def keyframe(when: Value, value: Value, *, extra: XML = "") -> str:
    """`<keyframe><when/><value/>extra</keyframe>`; `extra` e.g. FCP7's bezier handles."""
    return _element("keyframe", _leaf("when", when) + _leaf("value", value) + _xml(extra))


def param(
    parameterid: Value,
    value: Value = None,
    keys: Iterable[tuple[Value, Value] | str] = (),
    *,
    name: Value | _Auto = AUTO,
    valuemin: Value = None,
    valuemax: Value = None,
    authoring_app: str | None = None,
    extra: XML = "",
) -> str:
    """A `<parameter>`: static `<value>` (None: none), then one `<keyframe>` per (when, value) in `keys`.

    `name` AUTO repeats the parameterid; a key may also be a ready `keyframe(...)`; a value
    may be XML such as `point(h, v)`; `authoring_app` is the `authoringApp` attribute.
    """
    name = parameterid if isinstance(name, _Auto) else name
    keys_xml = "".join(key if isinstance(key, str) else keyframe(*key) for key in keys)
    body = (
        _leaf("parameterid", parameterid)
        + _leaf("name", name)
        + _leaf("valuemin", valuemin)
        + _leaf("valuemax", valuemax)
        + _leaf("value", value)
        + keys_xml
        + _xml(extra)
    )
    return _element("parameter", body, authoringApp=authoring_app)


def effect(
    effectid: Value,
    *parameters: str,
    name: Value | _Auto = AUTO,
    category: Value = None,
    type: Value = None,
    mediatype: Value = None,
    extra: XML = "",
) -> str:
    """An `<effect>` (name AUTO: the effectid) with its effectcategory, effecttype and mediatype if given."""
    name = effectid if isinstance(name, _Auto) else name
    body = (
        _leaf("name", name)
        + _leaf("effectid", effectid)
        + _leaf("effectcategory", category)
        + _leaf("effecttype", type)
        + _leaf("mediatype", mediatype)
        + "".join(parameters)
        + _xml(extra)
    )
    return _element("effect", body)


def filter_(effectid: Value, *parameters: str, enabled: Value = None, **effect_fields) -> str:
    """A clip's `<filter>`: an optional `<enabled>`, then `effect(effectid, *parameters, **effect_fields)`."""
    return _element("filter", _leaf("enabled", enabled) + effect(effectid, *parameters, **effect_fields))


def motion(*parameters: str, name: Value = "Basic Motion", **filter_fields) -> str:
    """The Basic Motion filter (effectid `basic`): scale, rotation, center... parameters."""
    return filter_("basic", *parameters, name=name, **filter_fields)


def crop(*parameters: str, name: Value = "Crop", **filter_fields) -> str:
    """The Crop filter (effectid `crop`): left, right, top, bottom parameters, in percent."""
    return filter_("crop", *parameters, name=name, **filter_fields)


def time_remap(
    speed: Value,
    reverse: Value = False,
    graph: Iterable[tuple[Value, Value] | str] = (),
    *,
    variablespeed: Value = 0,
    name: Value = "Time Remap",
    **filter_fields,
) -> str:
    """The Time Remap filter: speed in percent, reverse, and graphdict keys (when -> source frame)."""
    return filter_(
        "timeremap",
        param("variablespeed", variablespeed),
        param("speed", speed),
        param("reverse", reverse),
        param("graphdict", 0, graph),
        name=name,
        **filter_fields,
    )


CROSS_DISSOLVE: Final = effect("Cross Dissolve")

# --- track items -------------------------------------------------------------------------------


def clipitem(
    start: Value,
    end: Value,
    in_: Value = 0,
    out: Value | _Auto = AUTO,
    file: XML = FILE_1_REF,
    *,
    id: str | None = None,
    name: Value = "a.mov",
    enabled: Value = None,
    duration: Value = None,
    rate: XML = None,
    filters: XML = "",
    extra: XML = "",
    tag: str = "clipitem",
) -> str:
    """A `<clipitem>`: start/end on the timeline, in/out in the source (`out` AUTO: in + end - start).

    `file` is what the clip shows: `file_def(...)`, `file_ref(...)`, a nested `sequence(...)`,
    `sequence_ref(...)`, a `multiclip(...)`, raw XML, or "" for none. `start=None` (or any
    frame None) leaves that element out; `tag` writes another element, e.g. "generatoritem".
    """
    if isinstance(out, _Auto):
        out = int(in_) + int(end) - int(start)
    body = (
        _leaf("name", name)
        + _leaf("enabled", enabled)
        + _leaf("duration", duration)
        + _xml(rate)
        + _leaf("start", start)
        + _leaf("end", end)
        + _leaf("in", in_)
        + _leaf("out", out)
        + _xml(file)
        + _xml(filters)
        + _xml(extra)
    )
    return _element(tag, body, id=id)


def generatoritem(
    start: Value,
    end: Value,
    in_: Value = 0,
    out: Value | _Auto = AUTO,
    *,
    effect: XML = "",
    extra: XML = "",
    **clipitem_fields,
) -> str:
    """A `<generatoritem>` (colour matte, slug...): no file, its `effect(...)` directly inside it."""
    return clipitem(start, end, in_, out, "", tag="generatoritem", extra=_xml(effect) + _xml(extra), **clipitem_fields)


def transition(
    start: Value,
    end: Value,
    alignment: Value = "center",
    *,
    rate: XML = None,
    effect: XML = CROSS_DISSOLVE,
    extra: XML = "",
) -> str:
    """A `<transitionitem>` over [start, end), by default a Cross Dissolve."""
    body = (
        _leaf("start", start)
        + _leaf("end", end)
        + _leaf("alignment", alignment)
        + _xml(rate)
        + _xml(effect)
        + _xml(extra)
    )
    return _element("transitionitem", body)


def track(*items: str, enabled: Value = True, locked: Value = None, extra: XML = "") -> str:
    """A `<track>` holding clipitems and transitions, then `<enabled>` (None: left out) and `<locked>`."""
    return _element("track", "".join(items) + _leaf("enabled", enabled) + _leaf("locked", locked) + _xml(extra))


# --- sequences and containers --------------------------------------------------------------


def sequence(
    *video_tracks: str,
    id: str | None = "sequence-1",
    name: Value = "cut",
    duration: Value = 100,
    rate: XML = RATE_25,
    timecode: XML = None,
    format: XML = FORMAT_1080,
    audio: XML = None,
    media: XML | _Auto = AUTO,
    extra: XML = "",
) -> str:
    """A `<sequence>`: duration, rate, name, timecode, `extra`, then `<media>`.

    `media` AUTO is `<media><video>format + video_tracks</video><audio>audio</audio></media>`,
    the `<audio>` only when `audio` is not None (a track or a list of tracks; "" for an empty one).
    """
    if isinstance(media, _Auto):
        audio_xml = "" if audio is None else _element("audio", audio)
        media = _element("media", _element("video", _xml(format) + "".join(video_tracks)) + audio_xml)
    body = _leaf("duration", duration) + _xml(rate) + _leaf("name", name) + _xml(timecode) + _xml(extra) + _xml(media)
    return _element("sequence", body, id=id)


def master_clip(*video_tracks: str, id: str | None = None, name: Value = "m") -> str:
    """A bin's master `<clip>`: `<media><video>` holding the given tracks."""
    return _element("clip", _leaf("name", name) + _element("media", _element("video", "".join(video_tracks))), id=id)


def angle(clip: XML, *, name: Value, active: Value = None) -> str:
    """A multiclip `<angle>`: its name, `<activevideoangle>` (None: left out), then the clip it shows."""
    return _element("angle", _leaf("name", name) + _leaf("activevideoangle", active) + _xml(clip))


def multiclip(
    *angles: str, id: str | None = "multiclip-1", name: Value = "mc", collapsed: Value = True, synctype: Value = 1
) -> str:
    """An FCP7 multicam `<multiclip>` holding `angle(...)`s."""
    body = _leaf("name", name) + _leaf("collapsed", collapsed) + _leaf("synctype", synctype) + "".join(angles)
    return _element("multiclip", body, id=id)


def bin_(*items: str, name: Value = "b") -> str:
    """A `<bin>` whose `<children>` are sequences, clips or bins."""
    return _element("bin", _leaf("name", name) + _element("children", "".join(items)))


def project(*items: str, name: Value = "p") -> str:
    """A `<project>` whose `<children>` are sequences, clips or bins."""
    return _element("project", _leaf("name", name) + _element("children", "".join(items)))


# --- the document ------------------------------------------------------------------------------


def document(
    *body: str,
    version: Value = "4",
    encoding: str | None = "UTF-8",
    declaration: str | None | _Auto = AUTO,
    doctype: str | None = "<!DOCTYPE xmeml>",
    bom: bool = False,
    codec: str | None = None,
    sep: str = "\n",
) -> str | bytes:
    """The whole file: declaration, DOCTYPE, `<xmeml version>`, body items, `</xmeml>`, each on a line.

    `declaration` AUTO is `<?xml version="1.0" encoding="...">` (no encoding when it is None);
    None or "" leaves out the declaration, or the DOCTYPE. `sep` joins the lines ("" puts it all
    on line 1). `bom` starts the text with U+FEFF. The result is a str, or bytes encoded with
    `codec` when one is given (Python's "utf-16" writes its own BOM: leave `bom` False there).
    """
    if isinstance(declaration, _Auto):
        declaration = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else '<?xml version="1.0"?>'
    lines = [declaration, doctype, f'<xmeml version="{_text(version)}">', *body, "</xmeml>"]
    text = ("\ufeff" if bom else "") + sep.join(line for line in lines if line) + "\n"
    return text if codec is None else text.encode(codec)


def one_clip(clip: str, **sequence_fields) -> str:
    """`document(sequence(track(clip), **sequence_fields))`: the smallest whole timeline."""
    return document(sequence(track(clip), **sequence_fields))
