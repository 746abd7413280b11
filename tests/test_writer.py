"""The xmeml writer: Premiere's document layout, round trips through our reader,
OpenTimelineIO's reading of the same files, and element order against real exports."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
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
from multitrack.timeline.xmeml import write_xmeml, xmeml_bytes
from multitrack.timeline.xmeml.timing import frames_to_ticks
from strategies import timelines

PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SAFE_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
TICKS_PER_FRAME_25 = 10_160_640_000  # 254016000000 / 25


# --------------------------------------------------------------------------- fixtures


def _key(when: float, value: float) -> Keyframe:
    return Keyframe(float(when), float(value))


def interview_timeline() -> Timeline:
    """A 25 fps two-camera cut with a dissolve, a keyed PiP still, a nested title,
    a disabled clip and track, and one audio track. Expectations below are by hand."""
    assets = {
        "file-1": Asset(
            "file-1",
            "cam_a.mov",
            AssetKind.FILE,
            "file://localhost/Volumes/Media/cam_a.mov",
            3840,
            2160,
            Rate(25),
            5000,
            900000,
            "10:00:00:00",
            True,
        ),
        "file-2": Asset(
            "file-2",
            "cam b & co.mov",
            AssetKind.FILE,
            "file://localhost/Volumes/Media/cam%20b%20%26%20co.mov",
            1920,
            1080,
            Rate(50),
            4000,
            0,
            "00:00:00:00",
            True,
        ),
        "file-3": Asset(
            "file-3",
            "logo.png",
            AssetKind.FILE,
            "file://localhost/Volumes/Media/logo.png",
            314,
            478,
            Rate(25),
            1080000,
            0,
            "00:00:00:00",
            False,
        ),
        "sequence-2": Asset(
            "sequence-2",
            "Titles",
            AssetKind.SEQUENCE,
            rate=Rate(25),
            width_px=1920,
            height_px=1080,
            duration_frames=500,
        ),
    }
    pip_motion = Motion(
        scale=Param(50.0, (_key(90000, 50), _key(90100, 80))),
        center_x=Param(0.5, (_key(90000, 0.5), _key(90100, 0.25))),
        center_y=Param(-0.25, (_key(90000, -0.25), _key(90100, -0.125))),
    )
    v1 = Track(
        clips=[
            Clip("file-1", 0, 110, 1000, 1110, "cam_a.mov"),
            Clip("file-2", 90, 200, 490, 600, "cam b & co.mov"),
            Clip("file-1", 200, 250, 1300, 1350, "cam_a.mov", enabled=False),
        ],
        transitions=[Transition(90, 110, "center")],
        name="V1",
    )
    v2 = Track(
        clips=[
            Clip("file-3", 20, 120, 90000, 90100, "logo.png", motion=pip_motion, crop=Crop(left=Param(10.0))),
            Clip("sequence-2", 150, 200, 0, 50, "Titles", motion=Motion(scale=Param(150.0))),
        ],
        name="V2",
    )
    v3 = Track(
        clips=[Clip("file-2", 0, 30, 0, 30, "cam b & co.mov"), Clip("sequence-2", 40, 60, 100, 120, "Titles")],
        enabled=False,
    )
    a1 = Track(
        clips=[Clip("file-1", 0, 110, 1000, 1110, "cam_a.mov"), Clip("file-2", 110, 200, 510, 600, "cam b & co.mov")],
        name="A1",
    )
    return Timeline("Interview <cut>", Rate(25), 1920, 1080, 250, [v1, v2, v3], [a1], assets, timecode_frame=90000)


def _root(timeline: Timeline) -> etree._Element:
    return etree.fromstring(xmeml_bytes(timeline), SAFE_PARSER)


def _items(root: etree._Element, media: str, track_number: int) -> list[etree._Element]:
    track = root.findall(f"sequence/media/{media}/track")[track_number - 1]
    return [c for c in track if c.tag in ("clipitem", "generatoritem", "transitionitem")]


def _read_back(timeline: Timeline, tmp_path: Path) -> list[Timeline]:
    from multitrack.timeline.xmeml import read_xmeml  # the other half of the round trip

    path = tmp_path / "written.xml"
    write_xmeml(timeline, path)
    return read_xmeml(path)


# --------------------------------------------------------------------------- the document


def test_document_opens_like_a_premiere_export():
    written = xmeml_bytes(interview_timeline())
    assert written.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n<xmeml version="4">\n\t<sequence id="sequence-1"'
    )


def test_written_file_parses_with_the_safe_parser(tmp_path):
    path = tmp_path / "cut.xml"
    write_xmeml(interview_timeline(), path)
    tree = etree.parse(str(path), SAFE_PARSER)
    assert tree.docinfo.doctype == "<!DOCTYPE xmeml>"
    assert tree.docinfo.encoding == "UTF-8"
    root = tree.getroot()
    assert (root.tag, root.get("version")) == ("xmeml", "4")
    assert len(root.findall("sequence")) == 1
    sequence = root.find("sequence")
    assert sequence.findtext("name") == "Interview <cut>"
    assert sequence.findtext("duration") == "250"
    assert sequence.findtext("rate/timebase") == "25" and sequence.findtext("rate/ntsc") == "FALSE"
    assert sequence.findtext("media/video/format/samplecharacteristics/width") == "1920"
    assert sequence.findtext("timecode/frame") == "90000"
    assert sequence.findtext("timecode/string") == "01:00:00:00"
    assert [t.get("MZ.TrackName") for t in sequence.findall("media/video/track")] == ["V1", "V2", None]


@pytest.mark.parametrize(
    ("asset_id", "tag", "uses"),
    [
        ("file-1", "file", 3),  # V1 twice, A1 once
        ("file-2", "file", 3),  # V1, V3, A1
        ("file-3", "file", 1),
        ("sequence-2", "sequence", 2),  # V2, V3
    ],
)
def test_each_asset_is_defined_at_first_use_then_referenced_bare(asset_id, tag, uses):
    elements = [e for e in _root(interview_timeline()).iter(tag) if e.get("id") == asset_id]
    assert len(elements) == uses
    assert len(elements[0]) > 0, "the first use carries the definition"
    assert all(len(e) == 0 for e in elements[1:])


def test_file_definition_holds_name_path_rate_timecode_and_media_size():
    file_el = next(e for e in _root(interview_timeline()).iter("file") if e.get("id") == "file-2")
    assert file_el.findtext("name") == "cam b & co.mov"
    assert file_el.findtext("pathurl") == "file://localhost/Volumes/Media/cam%20b%20%26%20co.mov"
    assert file_el.findtext("rate/timebase") == "50"
    assert file_el.findtext("duration") == "4000"
    assert file_el.findtext("timecode/string") == "00:00:00:00"
    assert file_el.findtext("media/video/samplecharacteristics/width") == "1920"
    assert file_el.findtext("media/video/samplecharacteristics/height") == "1080"
    assert file_el.find("media/audio") is not None
    still = next(e for e in _root(interview_timeline()).iter("file") if e.get("id") == "file-3")
    assert still.find("media/audio") is None, "logo.png has no audio"


def test_clips_next_to_a_transition_get_minus_one_edges():
    clip_a, dissolve, clip_b, clip_c = _items(_root(interview_timeline()), "video", 1)
    assert [clip_a.findtext(t) for t in ("start", "end", "in", "out")] == ["0", "-1", "1000", "1110"]
    assert dissolve.tag == "transitionitem"
    assert [dissolve.findtext(t) for t in ("start", "end", "alignment")] == ["90", "110", "center"]
    # The cut is the middle of 90..110: 10 frames after the start.
    assert dissolve.findtext("cutPointTicks") == str(10 * TICKS_PER_FRAME_25)
    assert dissolve.findtext("effect/effectid") == "Cross Dissolve"
    assert [clip_b.findtext(t) for t in ("start", "end", "in", "out")] == ["-1", "200", "490", "600"]
    assert [clip_c.findtext(t) for t in ("start", "end")] == ["200", "250"]
    assert clip_a.findtext("pproTicksIn") == str(1000 * TICKS_PER_FRAME_25)


def test_fades_from_and_to_black_mark_the_faded_edge(tmp_path):
    timeline = interview_timeline()
    track = timeline.video_tracks[0]
    track.transitions = [Transition(0, 10, "start-black"), *track.transitions, Transition(240, 250, "end-black")]
    items = _items(_root(timeline), "video", 1)
    assert [e.tag for e in items] == [
        "transitionitem",
        "clipitem",
        "transitionitem",
        "clipitem",
        "clipitem",
        "transitionitem",
    ]
    fade_in, clip_a, _, _, clip_c, fade_out = items
    assert (clip_a.findtext("start"), clip_a.findtext("end")) == ("-1", "-1")
    assert (clip_c.findtext("start"), clip_c.findtext("end")) == ("200", "-1")
    assert fade_in.findtext("cutPointTicks") == "0"
    assert fade_out.findtext("cutPointTicks") == str(10 * TICKS_PER_FRAME_25)
    assert _read_back(timeline, tmp_path) == [timeline]


def _parameter(effect: etree._Element, parameter_id: str) -> etree._Element:
    return next(p for p in effect.iter("parameter") if p.findtext("parameterid") == parameter_id)


def test_motion_and_crop_filters_keep_premiere_values_and_source_axis_keys():
    still = _items(_root(interview_timeline()), "video", 2)[0]
    motion, crop = (f.find("effect") for f in still.findall("filter"))
    assert (motion.findtext("name"), motion.findtext("effectid")) == ("Basic Motion", "basic")
    assert _parameter(motion, "scale").get("authoringApp") == "PremierePro"
    scale_keys = [(k.findtext("when"), k.findtext("value")) for k in _parameter(motion, "scale").findall("keyframe")]
    assert scale_keys == [("90000", "50"), ("90100", "80")]  # source frames, not timeline ones
    center_keys = [
        (k.findtext("when"), k.findtext("value/horiz"), k.findtext("value/vert"))
        for k in _parameter(motion, "center").findall("keyframe")
    ]
    assert center_keys == [("90000", "0.5", "-0.25"), ("90100", "0.25", "-0.125")]
    assert _parameter(motion, "rotation").findtext("value") == "0"
    assert _parameter(motion, "centerOffset").findtext("value/horiz") == "0"
    assert (crop.findtext("name"), crop.findtext("effectid")) == ("Crop", "crop")
    sides = {s: _parameter(crop, s).findtext("value") for s in ("left", "right", "top", "bottom")}
    assert sides == {"left": "10", "right": "0", "top": "0", "bottom": "0"}


def test_center_keys_are_the_union_of_both_axes():
    clip = Clip(
        "file-1",
        0,
        10,
        0,
        10,
        "a",
        motion=Motion(center_x=Param(0.0, (_key(0, 0.0), _key(10, 1.0))), center_y=Param(0.5)),
    )
    timeline = _single_clip_timeline(clip)
    center = _parameter(_items(_root(timeline), "video", 1)[0], "center")
    keys = [
        (k.findtext("when"), k.findtext("value/horiz"), k.findtext("value/vert")) for k in center.findall("keyframe")
    ]
    assert keys == [("0", "0", "0.5"), ("10", "1", "0.5")]


def _single_clip_timeline(clip: Clip, asset: Asset | None = None) -> Timeline:
    asset = asset or Asset(
        clip.asset_id,
        "a.mov",
        pathurl="file://localhost/a.mov",
        width_px=1280,
        height_px=720,
        rate=Rate(30),
        duration_frames=1000,
        timecode_frame=0,
        timecode_string="00:00:00:00",
    )
    return Timeline("one", Rate(30), 1920, 1080, clip.end_frame, [Track([clip])], assets={asset.id: asset})


def test_default_motion_and_crop_are_not_written():
    clip = Clip("file-1", 0, 10, 0, 10, "a", motion=Motion(), crop=Crop())
    item = _items(_root(_single_clip_timeline(clip)), "video", 1)[0]
    assert item.findall("filter") == []


def test_disabled_clip_and_track_are_written_false():
    root = _root(interview_timeline())
    tracks = root.findall("sequence/media/video/track")
    assert [t.findtext("enabled") for t in tracks] == ["TRUE", "TRUE", "FALSE"]
    assert [c.findtext("enabled") for c in _items(root, "video", 1) if c.tag == "clipitem"] == ["TRUE", "TRUE", "FALSE"]


def test_audio_track_holds_its_clipitems_with_a_source_track():
    root = _root(interview_timeline())
    clips = _items(root, "audio", 1)
    assert [(c.findtext("start"), c.findtext("end")) for c in clips] == [("0", "110"), ("110", "200")]
    assert [c.findtext("sourcetrack/mediatype") for c in clips] == ["audio", "audio"]
    assert all(c.find("filter") is None for c in clips)


def test_nested_sequence_is_a_minimal_definition_with_its_frame_size():
    nested = _items(_root(interview_timeline()), "video", 2)[1].find("sequence")
    assert nested.get("id") == "sequence-2"
    assert nested.findtext("name") == "Titles"
    assert nested.findtext("duration") == "500"
    assert nested.findtext("media/video/format/samplecharacteristics/width") == "1920"
    assert nested.findall("media/video/track") == []


def test_generator_asset_is_a_generatoritem_with_a_color_effect():
    matte = Asset("generator:Color:Blue Matte", "Blue Matte", AssetKind.GENERATOR)
    clip = Clip(matte.id, 5, 50, 86313, 86358, "Blue Matte")
    item = _items(_root(_single_clip_timeline(clip, matte)), "video", 1)[0]
    assert item.tag == "generatoritem"
    assert item.find("file") is None
    assert [item.findtext(t) for t in ("name", "start", "end", "in", "out")] == [
        "Blue Matte",
        "5",
        "50",
        "86313",
        "86358",
    ]
    assert item.findtext("duration") == str(12 * 3600 * 30)  # a still's 12 hours
    assert item.findtext("effect/effectid") == "Color"
    assert item.findtext("effect/effecttype") == "generator"


def test_retimed_clip_counts_retimed_frames_and_keys(tmp_path):
    # 200%: source frames 100..160 play over timeline 0..30, so in/out are 50..80.
    clip = Clip(
        "file-1",
        0,
        30,
        100,
        160,
        "fast",
        speed=200.0,
        motion=Motion(scale=Param(120.0, (_key(120, 120), _key(140, 150)))),
    )
    timeline = _single_clip_timeline(clip)
    item = _items(_root(timeline), "video", 1)[0]
    assert [item.findtext(t) for t in ("in", "out", "duration")] == ["50", "80", "500"]
    assert item.findtext("pproTicksIn") == str(frames_to_ticks(100, Rate(30)))
    assert [k.findtext("when") for k in _parameter(item, "scale").findall("keyframe")] == ["60", "70"]
    assert _parameter(item, "speed").findtext("value") == "200"
    [read] = _read_back(timeline, tmp_path)
    assert read.warnings and "time-remapped" in read.warnings[0]  # the reader counts them
    assert dataclasses.replace(read, warnings=[]) == timeline


def test_same_timeline_gives_the_same_bytes_and_another_a_new_uuid():
    first, again = xmeml_bytes(interview_timeline()), xmeml_bytes(interview_timeline())
    assert first == again
    other = interview_timeline()
    other.name = "Interview (alt)"
    uuids = {etree.fromstring(b, SAFE_PARSER).findtext("sequence/uuid") for b in (first, xmeml_bytes(other))}
    assert len(uuids) == 2


@pytest.mark.parametrize(
    ("frames", "rate", "ticks"),
    [
        (1, Rate(25), 10_160_640_000),
        (50, Rate(30), 423_360_000_000),  # premiere_example clipitem-1: pproTicksOut 846720000000 = 100 f
        (1, Rate(24, True), 10_594_584_000),  # 254016000000 * 1001 / 24000
        (-1, Rate(60, True), -4_237_833_600),
    ],
)
def test_frames_to_ticks(frames, rate, ticks):
    assert frames_to_ticks(frames, rate) == ticks


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (100.0, "100"),
        (93.75, "93.75"),
        (-0.0, "0"),
        (1e-7, "0.0000001"),
        (0.0270833, "0.0270833"),
    ],
)
def test_numbers_are_written_without_exponent_or_trailing_zero(value, text):
    clip = Clip("file-1", 0, 10, 0, 10, "a", motion=Motion(rotation=Param(value), scale=Param(99.0)))
    item = _items(_root(_single_clip_timeline(clip)), "video", 1)[0]
    assert _parameter(item, "rotation").findtext("value") == text


@pytest.mark.parametrize(
    ("clip", "message"),
    [
        (Clip("nope", 0, 10, 0, 10), r"timeline 'one': video track 1 clip 1: asset 'nope' is not in"),
        (
            Clip("file-1", 0, 10, 0, 10, name="bell\x07"),
            r"video track 1 clip 1 name: holds '\\x07', which XML cannot represent",
        ),
        (Clip("file-1", 0, 10, 0, 10, speed=0.0), r"speed must be a positive percent, got 0.0"),
        (Clip("file-1", 10, 10, 0, 0), r"video track 1 clip 1: end 10 is not after start 10"),
        (
            Clip("file-1", 0, 10, 0, 10, motion=Motion(scale=Param(math.nan))),
            r"motion.scale holds a value that is not finite",
        ),
    ],
)
def test_timelines_that_cannot_be_written_are_refused(clip, message):
    timeline = _single_clip_timeline(dataclasses.replace(clip, asset_id="file-1"))
    timeline.video_tracks[0].clips = [clip]
    with pytest.raises(XmemlError, match=message):
        xmeml_bytes(timeline)


# --------------------------------------------------------------------------- round trip


def test_hand_made_timeline_reads_back_equal(tmp_path):
    timeline = interview_timeline()
    assert _read_back(timeline, tmp_path) == [timeline]


@PROPERTY_SETTINGS
@given(timeline=timelines())
def test_any_generated_timeline_reads_back_equal(tmp_path_factory, timeline):
    assert _read_back(timeline, tmp_path_factory.mktemp("rt")) == [timeline]


# --------------------------------------------------------------------------- OpenTimelineIO

# Where OpenTimelineIO puts the cut inside a transition (otio_fcp_adapter's
# _transition_cut_point): the end, the start, or the middle rounded down.
_CUT_AT = {
    "end": lambda t: t.end_frame,
    "end-black": lambda t: t.end_frame,
    "start": lambda t: t.start_frame,
    "start-black": lambda t: t.start_frame,
}


def _cut_frame(transition: Transition) -> int:
    at = _CUT_AT.get(transition.alignment)
    return at(transition) if at else (transition.start_frame + transition.end_frame) // 2


def _expected_otio_spans(timeline: Timeline, track: Track) -> list[tuple[str, int, int]]:
    """OpenTimelineIO trims the clips on either side of a transition to its cut point."""
    spans = []
    for clip in sorted(track.clips, key=lambda c: c.start_frame):
        start, end = clip.start_frame, clip.end_frame
        for t in track.transitions:
            if t.start_frame == clip.start_frame and clip.end_frame > t.end_frame:
                start = _cut_frame(t)
            if t.end_frame == clip.end_frame and clip.start_frame < t.start_frame:
                end = _cut_frame(t)
        asset = timeline.assets[clip.asset_id]
        label = asset.pathurl if asset.kind is AssetKind.FILE else asset.name
        spans.append((label, start, end))
    return spans


def _otio_spans(path: Path, fps: float) -> list[list[tuple[str, int, int]]]:
    import opentimelineio as otio  # optional test extra, imported where used

    otio_timeline = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    tracks = []
    for otio_track in otio_timeline.tracks:
        spans = []
        for item in otio_track:
            if isinstance(item, otio.schema.Clip):
                reference = item.media_reference
                label = getattr(reference, "target_url", None) or item.name
            elif isinstance(item, otio.schema.Stack):  # a nested sequence
                label = item.name
            else:
                continue  # gaps and transitions
            span = item.range_in_parent()
            spans.append(
                (
                    label,
                    round(span.start_time.value_rescaled_to(fps)),
                    round(span.end_time_exclusive().value_rescaled_to(fps)),
                )
            )
        tracks.append(spans)
    return tracks


def _assert_otio_finds_the_same_clips(timeline: Timeline, path: Path) -> None:
    write_xmeml(timeline, path)
    expected = [_expected_otio_spans(timeline, t) for t in timeline.video_tracks + timeline.audio_tracks]
    assert _otio_spans(path, timeline.rate.fps) == expected


def test_opentimelineio_finds_the_hand_made_clips_in_place(tmp_path):
    timeline = interview_timeline()
    _assert_otio_finds_the_same_clips(timeline, tmp_path / "cut.xml")
    # By hand: OpenTimelineIO cuts the 90..110 dissolve at frame 100.
    assert _expected_otio_spans(timeline, timeline.video_tracks[0]) == [
        ("file://localhost/Volumes/Media/cam_a.mov", 0, 100),
        ("file://localhost/Volumes/Media/cam%20b%20%26%20co.mov", 100, 200),
        ("file://localhost/Volumes/Media/cam_a.mov", 200, 250),
    ]


@PROPERTY_SETTINGS
@given(timeline=timelines())
def test_opentimelineio_finds_generated_clips_in_place(tmp_path_factory, timeline):
    _assert_otio_finds_the_same_clips(timeline, tmp_path_factory.mktemp("otio") / "t.xml")


# --------------------------------------------------------------------------- structure

# Premiere exports in the real corpus that fix each element's children and their order.
# premiere_example.xml is the reference; the others add what it lacks: filters with
# keyframes and time remap (Helaften), generatoritems (premiere_generators), filters on
# nested-sequence clips (tomat).
PRIMARY_REFERENCE = "otio/premiere_example.xml"
EXTRA_REFERENCES = ("otio/premiere_generators.xml", "nrk/Helaften_del-1-MASTER-v3.xml", "nrk/tomat master v4.xml")
# Children that repeat zero or more times: never required to be present.
REPEATED_TAGS = frozenset(
    {"track", "clipitem", "generatoritem", "transitionitem", "marker", "link", "filter", "parameter", "keyframe"}
)
# A track's items follow the timeline, not a grammar: one class for ordering.
TRACK_ITEM_TAGS = frozenset({"clipitem", "generatoritem", "transitionitem"})


def element_key(element: etree._Element) -> str:
    """The element's tag path from its nearest enclosing sequence, e.g.
    `sequence/media/video/track/clipitem/file`; a sequence is keyed by its parent
    (`xmeml/sequence`, `clipitem/sequence`), and a bare `id` reference gets `#ref`."""
    if element.tag == "sequence" or element.getparent() is None:
        parent = element.getparent()
        key = element.tag if parent is None else f"{parent.tag}/{element.tag}"
    else:
        parts = [element.tag]
        for ancestor in element.iterancestors():
            parts.append(ancestor.tag)
            if ancestor.tag == "sequence":
                break
        key = "/".join(reversed(parts))
    if element.get("id") is not None and len(element) == 0:
        key += "#ref"
    return key


def child_tags(element: etree._Element) -> list[str]:
    """Child tags with runs of one tag collapsed (three `<link>`s are one `link`)."""
    tags: list[str] = []
    for child in element:
        if isinstance(child.tag, str) and (not tags or tags[-1] != child.tag):
            tags.append(child.tag)
    return tags


def _ordering_tags(key: str, tags: list[str]) -> list[str]:
    if key.endswith("/track"):
        tags = ["item" if t in TRACK_ITEM_TAGS else t for t in tags]
        tags = [t for i, t in enumerate(tags) if i == 0 or tags[i - 1] != t]
    return tags


@dataclasses.dataclass
class ChildGrammar:
    """What the references show for one element key."""

    tags: set[str] = dataclasses.field(default_factory=set)
    before: set[tuple[str, str]] = dataclasses.field(default_factory=set)  # a seen before b
    required: set[str] | None = None  # children every reference instance has


def build_grammar(corpus: Path) -> dict[str, ChildGrammar]:
    grammar: dict[str, ChildGrammar] = {}
    required_from: dict[str, str] = {}
    for name in (PRIMARY_REFERENCE, *EXTRA_REFERENCES):
        root = etree.parse(str(corpus / name), SAFE_PARSER).getroot()
        for element in root.iter(tag=etree.Element):
            key = element_key(element)
            tags = child_tags(element)
            entry = grammar.setdefault(key, ChildGrammar())
            entry.tags.update(tags)
            order = _ordering_tags(key, tags)
            entry.before.update((a, b) for i, a in enumerate(order) for b in order[i + 1 :] if a != b)
            # Required children come from the primary reference where it has the key.
            if required_from.setdefault(key, name) == name:
                present = set(tags) - REPEATED_TAGS
                entry.required = present if entry.required is None else entry.required & present
    return grammar


def structure_problems(document: etree._Element, grammar: dict[str, ChildGrammar]) -> list[str]:
    """Every way the document's children differ from the references, one line each."""
    problems = []
    for element in document.iter(tag=etree.Element):
        key = element_key(element)
        entry = grammar.get(key)
        if entry is None:
            problems.append(f"{key}: no reference export has this element")
            continue
        tags = child_tags(element)
        problems += [f"{key}: <{t}> never appears here in the references" for t in tags if t not in entry.tags]
        problems += [f"{key}: lacks <{t}>" for t in sorted(entry.required - set(tags))]
        order = _ordering_tags(key, tags)
        problems += [
            f"{key}: <{a}> before <{b}> is never seen in the references"
            for i, a in enumerate(order)
            for b in order[i + 1 :]
            if a != b and (a, b) not in entry.before
        ]
    return sorted(set(problems))


@pytest.fixture(scope="module")
def premiere_grammar(real_corpus) -> dict[str, ChildGrammar]:
    return build_grammar(real_corpus)


def test_hand_made_document_has_premiere_structure(premiere_grammar):
    assert structure_problems(_root(interview_timeline()), premiere_grammar) == []


def test_every_written_element_kind_is_checked(premiere_grammar):
    """The hand-made timeline writes each element kind the writer can produce."""
    timeline = interview_timeline()
    matte = Asset("generator:Color:Grey", "Grey", AssetKind.GENERATOR)
    timeline.assets[matte.id] = matte
    timeline.video_tracks[2].clips.append(Clip(matte.id, 70, 90, 0, 20, "Grey"))
    timeline.video_tracks[1].clips.append(Clip("file-3", 200, 210, 5, 25, "logo.png", speed=200.0))
    root = _root(timeline)
    keys = {element_key(e) for e in root.iter(tag=etree.Element)}
    for expected in (
        "sequence/media/video/track/generatoritem/effect",
        "sequence/media/video/track/clipitem/filter/effect/parameter/keyframe/value",
        "sequence/media/video/track/transitionitem/effect",
        "clipitem/sequence#ref",
        "sequence/media/audio/track/clipitem/file#ref",
    ):
        assert expected in keys
    assert structure_problems(root, premiere_grammar) == []


def test_structure_check_catches_a_swapped_and_a_missing_child(premiere_grammar):
    root = _root(interview_timeline())
    clipitem = root.find("sequence/media/video/track/clipitem")
    name = clipitem.find("name")
    clipitem.remove(name)
    clipitem.insert(0, name)  # <name> before <masterclipid>
    clipitem.remove(clipitem.find("labels"))
    assert structure_problems(root, premiere_grammar) == [
        "sequence/media/video/track/clipitem: <name> before <masterclipid> is never seen in the references",
        "sequence/media/video/track/clipitem: lacks <labels>",
    ]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timeline=timelines())
def test_generated_documents_have_premiere_structure(premiere_grammar, timeline):
    assert structure_problems(_root(timeline), premiere_grammar) == []
