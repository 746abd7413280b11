"""A clipitem's filters, both ways: Basic Motion, Crop, Time Remap (../shared/docs/xmeml.md §6, §7, §4)
and, on audio clips, Audio Levels and Gain (docs/xmeml-audio.md).

Reading (`read_effects`): parameters are matched on `parameterid`, never on `name` (Premiere
writes lowercase names such as `left`). Keyframes keep their `when` on the clip's source
axis, sorted, including keys outside [in, out]; FCP7's Bezier handles are ignored, i.e.
taken as linear. Writing (`filter_elements`): each filter as newer Premiere writes it, only
when it differs from the defaults. A keyframe `when` is moved between axes by `timing`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lxml import etree

from multitrack.errors import XmemlError
from multitrack.timeline.model import AudioGain, Clip, Crop, Keyframe, Motion, Param
from multitrack.timeline.xmeml.document import XmemlDocument, add_text, flag_text, number_text
from multitrack.timeline.xmeml.timing import WhenMap, map_whens

_MOTION_DEFAULTS = Motion()
_CROP_DEFAULTS = Crop()
_AUDIO_DEFAULTS = AudioGain()
AUDIO_LEVELS_ID = "audiolevels"  # Audio Levels: parameter `level`, linear (docs/xmeml-audio.md)
GAIN_ID = "{61756678, 4761696e, 4b657947}"  # Premiere's Gain filter (Audio Unit 'aufx' 'Gain' 'KeyG')
GAIN_PARAMETER = "Gain(dB)"


@dataclass(frozen=True)
class TimeRemap:
    """A `timeremap` filter: constant `speed_percent` (> 0) and direction.

    `graph` is the graphdict: clip-axis frame -> source frame (../shared/docs/xmeml.md §4).
    """

    speed_percent: float
    reverse: bool
    variable: bool
    graph: Param | None


@dataclass(frozen=True)
class ClipEffects:
    motion: Motion | None = None
    crop: Crop | None = None
    remap: TimeRemap | None = None
    audio: AudioGain | None = None

    def with_whens_mapped(self, map_when: WhenMap) -> ClipEffects:
        """The same effects with every keyframe `when` passed through `map_when`."""
        return replace(
            self,
            motion=map_whens(self.motion, map_when),
            crop=map_whens(self.crop, map_when),
            audio=map_whens(self.audio, map_when),
        )


def read_effects(doc: XmemlDocument, filters: list[etree._Element]) -> ClipEffects:
    """The first enabled Basic Motion, Crop, Time Remap, Audio Levels and Gain among a clip's
    `<filter>`s; None = defaults. A disabled filter (`<enabled>FALSE`) does nothing."""
    found: dict[str, etree._Element] = {}
    for filter_el in filters:
        effect, enabled = None, True
        for child in filter_el:
            if child.tag == "effect":
                effect = child
            elif child.tag == "enabled":  # Resolve writes it (../shared/docs/xmeml.md §6)
                enabled = doc.flag(child)
        if effect is None or not enabled:
            continue
        effect_id = (effect.findtext("effectid") or "").strip()
        if effect_id in ("basic", "crop", "timeremap", AUDIO_LEVELS_ID, GAIN_ID):
            found.setdefault(effect_id, effect)
    motion = _read_motion(doc, found["basic"]) if "basic" in found else None
    crop = _read_crop(doc, found["crop"]) if "crop" in found else None
    # A missing filter means the defaults (../shared/docs/xmeml.md §6), and Resolve and FCP7 write
    # default filters on every clip: keep None for "default" so both spellings read alike.
    return ClipEffects(
        motion=None if motion is None or motion.is_default else motion,
        crop=None if crop is None or crop.is_default else crop,
        remap=_read_remap(doc, found["timeremap"]) if "timeremap" in found else None,
        audio=_read_audio(doc, found.get(AUDIO_LEVELS_ID), found.get(GAIN_ID)),
    )


def _read_audio(doc: XmemlDocument, levels: etree._Element | None, gain: etree._Element | None) -> AudioGain | None:
    """Audio Levels' linear `level` and Gain's `Gain(dB)`; None when both are absent or at unity."""
    audio = _AUDIO_DEFAULTS
    if levels is not None and "level" in (parameters := _parameters(levels)):
        audio = replace(audio, level=read_param(doc, parameters["level"], 1.0))
    if gain is not None and GAIN_PARAMETER in (parameters := _parameters(gain)):
        audio = replace(audio, gain_db=read_param(doc, parameters[GAIN_PARAMETER], 0.0))
    return None if audio.is_default else audio


def _parameters(effect: etree._Element) -> dict[str, etree._Element]:
    by_id: dict[str, etree._Element] = {}
    for parameter in effect.iterchildren("parameter"):
        parameter_id = (parameter.findtext("parameterid") or "").strip()
        by_id.setdefault(parameter_id, parameter)
    return by_id


def _read_motion(doc: XmemlDocument, effect: etree._Element) -> Motion:
    parameters = _parameters(effect)
    motion = _MOTION_DEFAULTS
    if "scale" in parameters:
        motion = replace(motion, scale=read_param(doc, parameters["scale"], 100.0))
    if "rotation" in parameters:
        motion = replace(motion, rotation=read_param(doc, parameters["rotation"], 0.0))
    if "center" in parameters:
        center_x, center_y = read_point_param(doc, parameters["center"])
        motion = replace(motion, center_x=center_x, center_y=center_y)
    return motion


def _read_crop(doc: XmemlDocument, effect: etree._Element) -> Crop:
    parameters = _parameters(effect)
    sides = {
        side: read_param(doc, parameters[side], 0.0)
        for side in ("left", "right", "top", "bottom")
        if side in parameters
    }
    return replace(_CROP_DEFAULTS, **sides)


def _read_remap(doc: XmemlDocument, effect: etree._Element) -> TimeRemap:
    parameters = _parameters(effect)
    speed = read_param(doc, parameters["speed"], 100.0).value if "speed" in parameters else 100.0
    reverse = _flag_value(doc, parameters.get("reverse"))
    variable = _flag_value(doc, parameters.get("variablespeed"))
    graph = read_param(doc, parameters["graphdict"], 0.0) if "graphdict" in parameters else None
    # Premiere's speed range is -100000..100000; a negative speed plays backwards.
    return TimeRemap(abs(speed), reverse != (speed < 0), variable, graph)


def _flag_value(doc: XmemlDocument, parameter: etree._Element | None) -> bool:
    """`reverse` is TRUE/FALSE, `variablespeed` is 0/1."""
    if parameter is None:
        return False
    value = parameter.find("value")
    return doc.flag(value) if value is not None else False


# --- reading parameters and keyframes ----------------------------------------------------


def read_param(doc: XmemlDocument, parameter: etree._Element, default: float) -> Param:
    """A scalar parameter: static `<value>` plus `<keyframe>`s sorted by `when`."""
    static_el, keys = None, []
    for child in parameter:
        if child.tag == "value":
            static_el = child
        elif child.tag == "keyframe":
            when, value_el = _keyframe_parts(doc, child)
            keys.append(Keyframe(when, doc.number(value_el)))
    static_value = _static_value(doc.number, static_el, keys)
    return _param(static_value, keys, default)


def read_point_param(doc: XmemlDocument, parameter: etree._Element) -> tuple[Param, Param]:
    """A `<value><horiz/><vert/></value>` parameter (Basic Motion center) as two Params."""
    static_el, keys_x, keys_y = None, [], []
    for child in parameter:
        if child.tag == "value":
            static_el = child
        elif child.tag == "keyframe":
            when, value_el = _keyframe_parts(doc, child)
            x, y = _point(doc, value_el)
            keys_x.append(Keyframe(when, x))
            keys_y.append(Keyframe(when, y))
    static_point = _static_value(lambda value_el: _point(doc, value_el), static_el, keys_x)
    static_x, static_y = static_point if static_point else (None, None)
    return _param(static_x, keys_x, 0.0), _param(static_y, keys_y, 0.0)


def _static_value(parse, static_el: etree._Element | None, keys: list[Keyframe]):
    """The parsed static `<value>`; None when absent, or unreadable beside keyframes.

    With keyframes the static value is unreliable and never used (../shared/docs/xmeml.md §7), so a
    malformed one (a `center` without `<vert>`) is no reason to refuse the file.
    """
    if static_el is None:
        return None
    try:
        return parse(static_el)
    except XmemlError:
        if not keys:
            raise
        return None


def _param(static_value: float | None, keys: list[Keyframe], default: float) -> Param:
    keys.sort(key=lambda key: key.when)  # stable: equal whens keep document order
    if static_value is None:
        static_value = keys[0].value if keys else default
    return Param(static_value, tuple(keys))


def _keyframe_parts(doc: XmemlDocument, keyframe: etree._Element) -> tuple[float, etree._Element]:
    when_el = value_el = None
    for child in keyframe:
        if child.tag == "when":
            when_el = child
        elif child.tag == "value":
            value_el = child
    if when_el is None:
        raise doc.error(keyframe, "keyframe has no <when>")
    if value_el is None:
        raise doc.error(keyframe, "keyframe has no <value>")
    return doc.number(when_el), value_el


def _point(doc: XmemlDocument, value: etree._Element) -> tuple[float, float]:
    horiz = value.find("horiz")
    vert = value.find("vert")
    if horiz is None or vert is None:
        raise doc.error(value, f"expected <horiz> and <vert>, got {(value.text or '').strip()!r}")
    return doc.number(horiz), doc.number(vert)


# --- writing ---------------------------------------------------------------------------------


def filter_elements(clip: Clip) -> list[etree._Element]:
    """Basic Motion, Crop, Time Remap: each only when it is not the default (Premiere omits
    default filters, ../shared/docs/xmeml.md §6). `clip` has its `when`s as written
    (`timing.retimed_axis`)."""
    filters = []
    if clip.motion is not None and not clip.motion.is_default:
        filters.append(_motion_filter(clip.motion))
    if clip.crop is not None and not clip.crop.is_default:
        filters.append(_crop_filter(clip.crop))
    if clip.speed != 100.0 or clip.reverse:
        filters.append(_time_remap_filter(clip.speed, clip.reverse))
    if clip.audio is not None and not clip.audio.is_default:
        filters.extend(_audio_filters(clip.audio))
    return filters


def _audio_filters(audio: AudioGain) -> list[etree._Element]:
    """Audio Levels (the linear level) and Gain (dB), each only when not at unity, as
    Premiere writes them (nrk/Helaften…: docs/xmeml-audio.md)."""
    filters = []
    if audio.level != _AUDIO_DEFAULTS.level:
        effect = etree.SubElement(etree.Element("filter"), "effect")
        for tag, value in (
            ("name", "Audio Levels"),
            ("effectid", AUDIO_LEVELS_ID),
            ("effectcategory", AUDIO_LEVELS_ID),
            ("effecttype", AUDIO_LEVELS_ID),
            ("mediatype", "audio"),
        ):
            add_text(effect, tag, value)
        effect.append(_scalar_parameter("level", "Level", audio.level, 0, "3.98109"))
        filters.append(_filter_of(effect))
    if audio.gain_db != _AUDIO_DEFAULTS.gain_db:
        effect = etree.SubElement(etree.Element("filter"), "effect")
        for tag, value in (("name", "Gain"), ("effectid", GAIN_ID), ("effecttype", "filter"), ("mediatype", "audio")):
            add_text(effect, tag, value)
        effect.append(_scalar_parameter(GAIN_PARAMETER, GAIN_PARAMETER, audio.gain_db, -96, 96))
        filters.append(_filter_of(effect))
    return filters


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
        add_text(parameter, "value", flag_text(flag))
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
        add_text(effect, tag, value)
    return effect


def _parameter(parameter_id: str, name: str) -> etree._Element:
    # authoringApp marks a Premiere parameter (../shared/docs/xmeml.md §1).
    parameter = etree.Element("parameter", authoringApp="PremierePro")
    add_text(parameter, "parameterid", parameter_id)
    add_text(parameter, "name", name)
    return parameter


def _scalar_parameter(
    parameter_id: str, name: str, param: Param, value_min: float | str, value_max: float | str
) -> etree._Element:
    """A scalar with its static value and keys; `when` is a source frame (§7)."""
    parameter = _parameter(parameter_id, name)
    add_text(parameter, "valuemin", value_min)
    add_text(parameter, "valuemax", value_max)
    add_text(parameter, "value", number_text(param.value))
    for key in param.keyframes:
        keyframe = etree.SubElement(parameter, "keyframe")
        add_text(keyframe, "when", number_text(key.when))
        add_text(keyframe, "value", number_text(key.value))
    return parameter


def _center_parameter(parameter_id: str, name: str, x: Param, y: Param) -> etree._Element:
    """A point parameter: one `<value><horiz/><vert/>` per key, at the union of both
    axes' key times (an axis without keys contributes its static value)."""
    parameter = _parameter(parameter_id, name)
    parameter.append(_point_value(x.value, y.value))
    whens = sorted({k.when for k in x.keyframes} | {k.when for k in y.keyframes})
    for when in whens:
        keyframe = etree.SubElement(parameter, "keyframe")
        add_text(keyframe, "when", number_text(when))
        keyframe.append(_point_value(x.at(when), y.at(when)))
    return parameter


def _point_value(horiz: float, vert: float) -> etree._Element:
    value = etree.Element("value")
    add_text(value, "horiz", number_text(horiz))
    add_text(value, "vert", number_text(vert))
    return value
