"""read_xmeml on tiny inline xmeml, one rule of ../shared/docs/xmeml.md per test, plus hostile files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bad_inputs import recording_http_server
from multitrack.errors import XmemlError
from multitrack.timeline.model import AssetKind, Rate
from multitrack.timeline.xmeml import read_xmeml
from xmemlgen import (
    bin_,
    clipitem,
    crop,
    document,
    effect,
    file_def,
    file_ref,
    filter_,
    format_,
    generatoritem,
    keyframe,
    motion,
    one_clip,
    param,
    point,
    project,
    rate,
    sequence,
    sequence_ref,
    time_remap,
    timecode,
    track,
    transition,
)

# a 1280x720 file with audio, 25 fps (no <ntsc>), timecode 01:00:00:00
FILE_1_FIELDS = {
    "name": "a.mov",
    "pathurl": "file://localhost/D%3a/a.mov",
    "rate": rate(25, ntsc=None),
    "duration": 5000,
    "timecode": timecode("01:00:00:00", 90000),
    "audio_channels": 2,
}
FILE_1 = file_def("file-1", **FILE_1_FIELDS)
# a sequence holding nothing but its name: what the hostile files around an entity hold
NAME_ONLY = {"id": None, "duration": None, "rate": None, "media": None}


# --- document skeleton ----------------------------------------------------------------------


def test_bom_file_reads_name_rate_size_duration(read):
    [timeline] = read(document(sequence(track(clipitem(0, 50, 0, 50, FILE_1)), duration=75), bom=True))
    assert (timeline.name, timeline.rate, timeline.duration_frames) == ("cut", Rate(25, False), 75)
    assert (timeline.width_px, timeline.height_px) == (1920, 1080)
    assert timeline.warnings == []


@pytest.mark.parametrize("version", ["1", "3", "4", "5"])
def test_known_versions_read_without_warning(read, version):
    [timeline] = read(document(sequence(track(clipitem(0, 50, 0, 50, FILE_1))), version=version))
    assert timeline.video_tracks[0].clips[0].end_frame == 50
    assert timeline.warnings == []


def test_unknown_version_reads_with_warning(read):
    [timeline] = read(document(sequence(track(clipitem(0, 50, 0, 50, FILE_1))), version="9"))
    assert any("version '9'" in w for w in timeline.warnings)


def test_sequences_in_project_and_bin_containers_are_timelines(read):
    inner = sequence(track(clipitem(0, 10, 0, 10, FILE_1)), name="in bin", id="s2")
    data = document(
        sequence(track(clipitem(0, 20, 0, 20, FILE_1)), name="top"),
        project(bin_(inner)),
    )
    assert [t.name for t in read(data)] == ["top", "in bin"]


def test_sequence_nested_in_clipitem_is_an_asset_not_a_timeline(read):
    nested = sequence(
        track(clipitem(0, 30, 0, 30, FILE_1)),
        name="nest",
        id="sequence-2",
        format=format_(1280, 720),
    )
    data = document(sequence(track(clipitem(0, 30, 0, 30, file=nested, name="nest"))))
    [timeline] = read(data)
    asset = timeline.assets["sequence-2"]
    assert (asset.kind, asset.name, asset.width_px, asset.height_px) == (AssetKind.SEQUENCE, "nest", 1280, 720)
    assert asset.sequence.video_tracks[0].clips[0].asset_id == "file-1"


@pytest.mark.parametrize(
    "ntsc, fps",
    [
        ("TRUE", 24000 / 1001),
        ("True", 24000 / 1001),
        ("FALSE", 24.0),
        ("False", 24.0),
        (None, 24.0),  # no <ntsc>
    ],
)
def test_rate_ntsc_spellings(read, ntsc, fps):
    [timeline] = read(document(sequence(track(clipitem(0, 5, 0, 5, FILE_1)), rate=rate(24, ntsc))))
    assert timeline.rate.fps == pytest.approx(fps)


def test_clip_times_are_sequence_frames_whatever_the_clip_rate(read):
    # ../shared/docs/xmeml.md §2: a 30/TRUE clipitem in a 25 fps sequence keeps its numbers as is
    [timeline] = read(one_clip(clipitem(10, 898, 0, 888, FILE_1, rate=rate(30, True))))
    clip = timeline.video_tracks[0].clips[0]
    assert (clip.start_frame, clip.end_frame, clip.in_frame, clip.out_frame) == (10, 898, 0, 888)


def test_names_keep_carriage_returns_and_may_be_empty(read):
    data = document(sequence(track(clipitem(0, 5, 0, 5, FILE_1, name="Title&#13;line 2")), name=""))
    [timeline] = read(data)
    assert timeline.name == ""
    assert timeline.video_tracks[0].clips[0].name == "Title\rline 2"


def test_hiero_whole_number_floats_are_frames(read):
    [timeline] = read(one_clip(clipitem(0, 50, "0.0", "50.0", FILE_1)))
    assert timeline.video_tracks[0].clips[0].out_frame == 50


# --- -1 edges, transitions, enabled flags -----------------------------------------------------


def test_minus_one_edges_come_from_the_transition(read):
    # clip A ends inside the transition, clip B starts inside it (../shared/docs/xmeml.md §4)
    video = track(clipitem(0, -1, 0, 60, FILE_1), transition(50, 60), clipitem(-1, 120, 10, 80))
    [timeline] = read(document(sequence(video)))
    track_0 = timeline.video_tracks[0]
    assert [(c.start_frame, c.end_frame) for c in track_0.clips] == [(0, 60), (50, 120)]
    assert [(t.start_frame, t.end_frame, t.name) for t in track_0.transitions] == [(50, 60, "Cross Dissolve")]


def test_transition_wins_over_an_off_by_one_out(read):
    # out − in says 61, the transition says 60 (OTIO issue #287)
    video = track(clipitem(0, -1, 0, 61, FILE_1), transition(50, 60), clipitem(60, 100, 0, 40))
    [timeline] = read(document(sequence(video)))
    assert timeline.video_tracks[0].clips[0].end_frame == 60


def test_minus_one_without_transition_uses_out_minus_in(read):
    video = track(clipitem(10, -1, 100, 130, FILE_1), clipitem(-1, 90, 0, 50))
    [timeline] = read(document(sequence(video)))
    assert [(c.start_frame, c.end_frame) for c in timeline.video_tracks[0].clips] == [(10, 40), (40, 90)]


def test_both_edges_minus_one_between_two_transitions(read):
    video = track(
        clipitem(0, -1, 0, 30, FILE_1),
        transition(20, 30),
        clipitem(-1, -1, 5, 35),
        transition(45, 55),
        clipitem(-1, 80, 0, 35),
    )
    [timeline] = read(document(sequence(video)))
    assert [(c.start_frame, c.end_frame) for c in timeline.video_tracks[0].clips] == [(0, 30), (20, 55), (45, 80)]


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(10, 200), min_size=2, max_size=6), data=st.data())
def test_minus_one_edges_recover_the_true_edges(tmp_path_factory, lengths, data):
    """Invariant: clips butted together with centred transitions, written with -1 inside each
    transition (as Premiere does), read back at their true timeline edges."""
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    halves = [data.draw(st.integers(1, min(lengths[i], lengths[i + 1]) // 2)) for i in range(len(lengths) - 1)]
    items, expected = [], []
    for i, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        true_start = start - halves[i - 1] if i > 0 else start
        true_end = start + length + halves[i] if i < len(halves) else start + length
        expected.append((true_start, true_end))
        items.append(
            clipitem(
                -1 if i > 0 else true_start,
                -1 if i < len(halves) else true_end,
                100,
                100 + true_end - true_start,
                FILE_1 if i == 0 else file_ref("file-1"),
            )
        )
        if i < len(halves):
            cut = start + length
            items.append(transition(cut - halves[i], cut + halves[i]))
    path = tmp_path_factory.mktemp("edges") / "t.xml"
    path.write_text(document(sequence(track(*items))), encoding="utf-8")
    clips = read_xmeml(path)[0].video_tracks[0].clips
    assert [(c.start_frame, c.end_frame) for c in clips] == expected


def test_disabled_clip_and_track_keep_their_flags(read):
    video = track(clipitem(0, 10, 0, 10, FILE_1, enabled=False)) + track(clipitem(0, 10, 0, 10), enabled=False)
    [timeline] = read(document(sequence(video)))
    assert [t.enabled for t in timeline.video_tracks] == [True, False]
    assert [t.clips[0].enabled for t in timeline.video_tracks] == [False, True]


def test_fcp7_reversed_span_is_flipped_with_a_warning(read):
    # nrk/dnpr…: in 17, out 3, start 3019, end 3005
    [timeline] = read(document(sequence(track(clipitem(3019, 3005, 17, 3, FILE_1)))))
    clip = timeline.video_tracks[0].clips[0]
    assert (clip.start_frame, clip.end_frame, clip.in_frame, clip.out_frame, clip.reverse) == (3005, 3019, 3, 17, True)
    assert any("reversed" in w for w in timeline.warnings)


# --- assets -----------------------------------------------------------------------------------


def test_file_defined_after_its_first_reference(read):
    video = track(clipitem(0, 10, 0, 10, file_ref("file-1")), clipitem(10, 20, 0, 10, FILE_1))
    [timeline] = read(document(sequence(video)))
    asset = timeline.assets["file-1"]
    assert (asset.name, asset.pathurl, asset.width_px, asset.height_px) == (
        "a.mov",
        "file://localhost/D%3a/a.mov",
        1280,
        720,
    )
    assert (asset.timecode_frame, asset.timecode_string, asset.duration_frames) == (90000, "01:00:00:00", 5000)
    assert asset.rate == Rate(25, False) and asset.has_audio


def test_nested_sequence_defined_after_its_first_reference(read):
    nested = sequence(track(clipitem(0, 30, 0, 30, FILE_1)), name="nest", id="sequence-2")
    video = track(clipitem(0, 30, 0, 30, sequence_ref("sequence-2")), clipitem(30, 60, 0, 30, file=nested))
    [timeline] = read(document(sequence(video)))
    assert [c.asset_id for c in timeline.video_tracks[0].clips] == ["sequence-2", "sequence-2"]
    assert timeline.assets["sequence-2"].kind is AssetKind.SEQUENCE


def test_generatoritem_is_a_generator_asset_without_file(read):
    generator = generatoritem(0, 48, 86313, 86361, name="Color Matte", effect=effect("Color", type="generator"))
    [timeline] = read(document(sequence(track(generator))))
    clip = timeline.video_tracks[0].clips[0]
    asset = timeline.assets[clip.asset_id]
    assert (asset.kind, asset.name, asset.pathurl) == (AssetKind.GENERATOR, "Color Matte", None)


def test_still_with_twelve_hour_duration_keeps_source_frames(read):
    still = file_def("file-1", **FILE_1_FIELDS | {"duration": 1080000})
    keys = [(90000, 100), (90088, 120)]
    extra = motion(param("scale", 100, keys))
    [timeline] = read(document(sequence(track(clipitem(0, 88, 90001, 90089, still, filters=extra)))))
    clip = timeline.video_tracks[0].clips[0]
    assert (clip.in_frame, clip.out_frame) == (90001, 90089)
    assert timeline.assets["file-1"].duration_frames == 1080000
    assert [(k.when, k.value) for k in clip.motion.scale.keyframes] == [(90000.0, 100.0), (90088.0, 120.0)]


def test_audio_tracks_are_read_with_their_file_ids(read):
    audio = track(clipitem(0, 40, 0, 40, file_ref("file-1")))
    [timeline] = read(document(sequence(track(clipitem(0, 40, 0, 40, FILE_1)), audio=audio)))
    assert [c.asset_id for c in timeline.audio_tracks[0].clips] == ["file-1"]


def test_clip_without_file_or_sequence_is_kept_with_a_warning(read):
    video = track(clipitem(0, 10, 0, 10, FILE_1), clipitem(10, 20, 0, 10, file="<masterclipid>m-3</masterclipid>"))
    [timeline] = read(document(sequence(video)))
    assert timeline.video_tracks[0].clips[1].asset_id == "m-3"
    assert any("neither a file nor a nested sequence" in w for w in timeline.warnings)


# --- frame size fallback ----------------------------------------------------------------------


def test_missing_frame_size_falls_back_to_first_video_file(read):
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1)), format="")))
    assert (timeline.width_px, timeline.height_px) == (1280, 720)
    assert any("first video file's size 1280x720" in w for w in timeline.warnings)


def test_missing_frame_size_without_file_size_is_1080p(read):
    bare_file = file_def("file-1", "a.mxf", duration=None, width=None)
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, bare_file)), format="")))
    assert (timeline.width_px, timeline.height_px) == (1920, 1080)
    assert any("using 1920x1080" in w for w in timeline.warnings)


# --- effects and keyframes --------------------------------------------------------------------


def test_basic_motion_is_matched_on_parameterid(read):
    center = param("center", point(-1.94149, 0.25), name="Mitte")
    extra = motion(param("scale", 93.75, name="Skalierung"), param("rotation", -31), center, name="Bewegung")
    [timeline] = read(one_clip(clipitem(0, 50, 0, 50, FILE_1, filters=extra)))
    read_back = timeline.video_tracks[0].clips[0].motion
    assert (read_back.scale.value, read_back.rotation.value) == (93.75, -31.0)
    assert (read_back.center_x.value, read_back.center_y.value) == (-1.94149, 0.25)


def test_crop_sides_with_lowercase_names(read):
    extra = crop(param("left", 45), param("right", 64), param("top", 41), param("bottom", 0))
    [timeline] = read(one_clip(clipitem(0, 50, 0, 50, FILE_1, filters=extra)))
    sides = timeline.video_tracks[0].clips[0].crop
    assert [sides.left.value, sides.right.value, sides.top.value, sides.bottom.value] == [45, 64, 41, 0]


def test_no_filter_means_none_and_other_effects_are_ignored(read):
    extra = filter_("opacity", param("opacity", 50))
    clip = read(one_clip(clipitem(0, 50, 0, 50, FILE_1, filters=extra)))[0].video_tracks[0].clips[0]
    assert (clip.motion, clip.crop, clip.speed) == (None, None, 100.0)


def test_default_valued_filters_read_as_absent(read):
    # Resolve writes default Basic Motion and Crop on every clip (../shared/docs/xmeml.md §6)
    extra = motion(param("scale", 100), param("rotation", 0)) + crop(param("left", 0), param("right", 0))
    clip = read(one_clip(clipitem(0, 50, 0, 50, FILE_1, filters=extra)))[0].video_tracks[0].clips[0]
    assert (clip.motion, clip.crop) == (None, None)


def test_disabled_resolve_filter_is_ignored(read):
    extra = crop(param("left", 45), enabled=False)
    assert read(one_clip(clipitem(0, 50, 0, 50, FILE_1, filters=extra)))[0].video_tracks[0].clips[0].crop is None


def test_keyframes_sorted_outside_keys_kept_static_value_kept(read):
    # Helaften opacity-style keys outside [in, out], written out of order
    extra = motion(param("scale", 50, [(57, 110), (-78277, 100), (20, 105)]))
    scale = read(one_clip(clipitem(0, 50, 9, 59, FILE_1, filters=extra)))[0].video_tracks[0].clips[0].motion.scale
    assert [(k.when, k.value) for k in scale.keyframes] == [(-78277, 100), (20, 105), (57, 110)]
    assert scale.value == 50


def test_fcp7_bezier_handles_are_ignored(read):
    handles = "<inscale>2</inscale><outscale>1</outscale><inbez><horiz>0.3</horiz><vert>0</vert></inbez>"
    keys = [keyframe(291, 0, extra=handles), keyframe(294, 30, extra=handles)]
    # the static value after the keys and their interpolation, as FCP7 writes it
    parameter = param("top", keys=keys, extra="<interpolation><name>FCPCurve</name></interpolation><value>0</value>")
    top = read(one_clip(clipitem(0, 10, 291, 301, FILE_1, filters=crop(parameter))))[0]
    top_param = top.video_tracks[0].clips[0].crop.top
    assert [(k.when, k.value) for k in top_param.keyframes] == [(291, 0), (294, 30)]
    assert top_param.at(292.5) == pytest.approx(15.0)


def test_keyframed_center_without_static_value(read):
    center = param("center", keys=[(1414, point(0, 0)), (1589, point(0.5, 0.359773))], name="Center")
    clip = read(one_clip(clipitem(0, 50, 0, 50, FILE_1, filters=motion(center))))[0].video_tracks[0].clips[0]
    assert [(k.when, k.value) for k in clip.motion.center_y.keyframes] == [(1414, 0), (1589, 0.359773)]
    assert [k.value for k in clip.motion.center_x.keyframes] == [0, 0.5]


def test_time_remap_maps_in_out_and_keys_to_the_source_axis(read):
    # Helaften clipitem-10: 300 %, in/out 25..51 retimed, graphdict maps 25 -> 75
    extra = time_remap(300, graph=[(0, 0), (25, 75), (51, 153), (397, 1191)])
    extra += motion(param("scale", 100, [(25, 100), (35, 200)]))
    [timeline] = read(one_clip(clipitem(409, 435, 25, 51, FILE_1, filters=extra)))
    clip = timeline.video_tracks[0].clips[0]
    assert (clip.speed, clip.reverse, clip.in_frame, clip.out_frame) == (300, False, 75, 153)
    # the key written at when 35 still lands on timeline frame 409 + (35 − 25) = 419
    assert clip.motion.scale.at(clip.source_frame(419)) == pytest.approx(200)
    assert clip.motion.scale.at(clip.source_frame(414)) == pytest.approx(150)
    assert any("1 time-remapped clip" in w for w in timeline.warnings)


def test_reversed_remap_keeps_an_ascending_source_span(read):
    # nrk/NGxx13: reverse at 20 %, graphdict 3699 -> 73.4, 3747 -> 63.8
    extra = time_remap(20, True, [(0, 814.2), (3699, 73.3999), (3747, 63.7999), (4061, 1.1999)])
    [timeline] = read(one_clip(clipitem(8, 56, 3699, 3747, FILE_1, filters=extra)))
    clip = timeline.video_tracks[0].clips[0]
    assert (clip.reverse, clip.speed, clip.in_frame, clip.out_frame) == (True, 20, 64, 74)


@settings(max_examples=60, deadline=None)
@given(
    speed=st.sampled_from([10, 50, 80, 150, 300, 461.842]),
    in_frame=st.integers(0, 5000),
    length=st.integers(1, 300),
    key_offset=st.integers(-50, 350),
)
def test_remapped_keys_land_on_start_plus_when_minus_in(tmp_path_factory, speed, in_frame, length, key_offset):
    """Invariant: whatever the speed, a key written at `when` acts at timeline start + (when − in)."""
    path = tmp_path_factory.mktemp("remap") / "t.xml"
    extra = time_remap(speed) + motion(param("rotation", 0, [(in_frame + key_offset, 7)]))
    clip = clipitem(100, 100 + length, in_frame, in_frame + length, FILE_1, filters=extra)
    path.write_text(one_clip(clip), encoding="utf-8")
    clip = read_xmeml(path)[0].video_tracks[0].clips[0]
    [key] = clip.motion.rotation.keyframes
    assert clip.source_frame(100 + key_offset) == pytest.approx(key.when)


@settings(max_examples=40, deadline=None)
@given(keys=st.lists(st.tuples(st.integers(-100, 1000), st.integers(0, 100)), min_size=1, max_size=8))
def test_keyframes_read_back_sorted_and_complete(tmp_path_factory, keys):
    path = tmp_path_factory.mktemp("keys") / "t.xml"
    path.write_text(one_clip(clipitem(0, 50, 0, 50, FILE_1, filters=crop(param("left", 0, keys)))), encoding="utf-8")
    left = read_xmeml(path)[0].video_tracks[0].clips[0].crop.left
    whens = [k.when for k in left.keyframes]
    assert whens == sorted(whens)
    assert sorted((k.when, k.value) for k in left.keyframes) == sorted((float(w), float(v)) for w, v in keys)


# --- errors: one line naming file, element and reason -----------------------------------------


@pytest.mark.parametrize(
    "value, got", [("abc", "'abc'"), ("nan", "'nan'"), ("inf", "'inf'"), ("1e999", "'1e999'"), ("", "nothing")]
)
def test_error_for_non_integer_frame_names_path_and_line(read, value, got):
    video = track(clipitem(0, 10, 0, 10, FILE_1)) + track(clipitem(value, 10, 0, 10))
    with pytest.raises(
        XmemlError,
        match=rf"t\.xml: sequence/media/video/track\[2\]/clipitem/start "
        rf"\(line \d+\): expected an integer frame, got {got}$",
    ):
        read(document(sequence(video)))


@pytest.mark.parametrize("value, shown", [("nan", "'nan'"), ("inf", "'inf'"), ("-inf", "'-inf'"), (" ", "''")])
def test_error_for_non_finite_effect_value(read, value, shown):
    with pytest.raises(
        XmemlError,
        match=rf"filter/effect/parameter/value \(line \d+\): expected a number, "
        rf"got {shown}$",
    ):
        read(one_clip(clipitem(0, 50, 0, 50, FILE_1, filters=motion(param("scale", value)))))


def test_error_for_nested_sequence_containing_itself(read):
    inner = sequence(track(clipitem(0, 5, 0, 5, sequence_ref("sequence-3"))), id="sequence-3")
    data = document(sequence(track(clipitem(0, 5, 0, 5, inner))))
    with pytest.raises(XmemlError, match=r"nested sequence 'sequence-3' contains itself$"):
        read(data)


def test_error_for_nested_cycle_through_another_sequence(read):
    four = sequence(track(clipitem(0, 5, 0, 5, sequence_ref("sequence-3"))), id="sequence-4")
    three = sequence(track(clipitem(0, 5, 0, 5, four)), id="sequence-3")
    data = document(sequence(track(clipitem(0, 5, 0, 5, three))))
    with pytest.raises(XmemlError, match=r"nested sequence 'sequence-3' contains itself via sequence-4$"):
        read(data)


@pytest.mark.parametrize("timebase", ["0", "-25", "29.97", "abc"])
def test_error_for_bad_timebase(read, timebase):
    with pytest.raises(
        XmemlError,
        match=rf"rate/timebase \(line \d+\): timebase must be a positive integer, "
        rf"got '{timebase}'",
    ):
        read(document(sequence(track(clipitem(0, 5, 0, 5, FILE_1)), rate=rate(timebase, ntsc=None))))


def test_error_for_missing_rate(read):
    with pytest.raises(XmemlError, match=r"sequence/rate \(line \d+\): sequence has no <rate>"):
        read(document(sequence(track(clipitem(0, 5, 0, 5, FILE_1)), rate="")))


def test_error_for_start_after_end(read):
    with pytest.raises(XmemlError, match=r"clipitem \(line \d+\): start 100 after end 50$"):
        read(document(sequence(track(clipitem(100, 50, 0, 10, FILE_1)))))


def test_error_for_both_edges_minus_one_without_transition(read):
    with pytest.raises(XmemlError, match="start and end are both -1 and no transition"):
        read(document(sequence(track(clipitem(-1, -1, 0, 10, FILE_1)))))


def test_error_for_missing_start(read):
    clip = clipitem(None, 10, 0, 10, FILE_1)  # no <start>
    with pytest.raises(XmemlError, match=r"clipitem/start \(line \d+\): clipitem has no <start>"):
        read(document(sequence(track(clip))))


def test_error_for_file_without_sequence(read):
    data = document(project(), encoding=None, sep="")  # all on line 1
    with pytest.raises(XmemlError, match=r"t\.xml: xmeml \(line 1\): holds no <sequence>"):
        read(data)


def test_error_for_wrong_root(read):
    with pytest.raises(XmemlError, match=r"root element is <fcpxml>, expected <xmeml>"):
        read(b"<fcpxml version='1.9'><resources/></fcpxml>")


def test_error_for_truncated_xml_names_the_line(read):
    data = document(sequence(track(clipitem(0, 5, 0, 5, FILE_1))))[:-40]
    with pytest.raises(XmemlError, match=r"t\.xml: document: not well-formed XML \(line \d+: "):
        read(data)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "file is empty"),
        (b"\xef\xbb\xbf \n", "file is empty"),
        (bytes(range(256)), r"not XML: starts with b'\\x00"),
    ],
)
def test_error_for_empty_or_binary_file(read, data, reason):
    with pytest.raises(XmemlError, match=rf"document: {reason}"):
        read(data)


def test_error_for_missing_file(tmp_path):
    with pytest.raises(XmemlError, match=r"nothere\.xml: file: cannot be read"):
        read_xmeml(tmp_path / "nothere.xml")


def test_error_messages_are_one_line(read):
    with pytest.raises(XmemlError) as caught:
        read(document(sequence(track(clipitem(0, 5, 0, 5, FILE_1)), rate=rate("a\nb", ntsc=None))))
    assert "\n" not in str(caught.value) and "'a\\nb'" in str(caught.value)


# --- hostile input: nothing expanded, nothing fetched ----------------------------------------


def test_xxe_local_file_is_refused_without_reading_it(read, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doctype = f'<!DOCTYPE xmeml [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    data = document(sequence(name="&xxe;", **NAME_ONLY), encoding=None, doctype=doctype, sep="")
    with pytest.raises(XmemlError, match=r"DOCTYPE: declares entities \('xxe'\)") as caught:
        read(data)
    assert "TOP-SECRET" not in str(caught.value)


def test_billion_laughs_is_refused(read):
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    doctype = f'<!DOCTYPE xmeml [<!ENTITY l0 "lol">{levels}]>'
    data = document(sequence(name="&l9;", **NAME_ONLY), encoding=None, doctype=doctype, sep="")
    # libxml2 stops the expansion itself before our DOCTYPE check; told in the same terms
    with pytest.raises(
        XmemlError,
        match=r"t\.xml: DOCTYPE: declares entities that expand beyond the parser's "
        r"limit \(an entity bomb\)",
    ):
        read(data)


@pytest.fixture
def http_requests():
    """A local HTTP server that records every request it gets."""
    with recording_http_server() as served:
        yield served


def test_external_entity_on_a_url_is_never_fetched(read, http_requests):
    base, seen = http_requests
    doctype = f'<!DOCTYPE xmeml [<!ENTITY % ext SYSTEM "{base}/x.dtd"> %ext;]>'
    data = document(sequence(name="&leak;", **NAME_ONLY), encoding=None, doctype=doctype, sep="")
    with pytest.raises(XmemlError, match="declares entities"):
        read(data)
    assert seen == []


def test_external_dtd_is_not_loaded_and_a_plain_file_still_reads(read, http_requests):
    base, seen = http_requests
    data = document(
        sequence(track(clipitem(0, 5, 0, 5, FILE_1))), doctype=f'<!DOCTYPE xmeml SYSTEM "{base}/xmeml.dtd">'
    )
    assert read(data)[0].video_tracks[0].clips[0].end_frame == 5
    assert seen == []


def test_entity_from_an_external_dtd_file_is_not_expanded(read, tmp_path):
    dtd = tmp_path / "x.dtd"
    dtd.write_text('<!ENTITY leak "LEAKED">')
    doctype = f'<!DOCTYPE xmeml SYSTEM "file://{dtd}">'
    data = document(sequence(name="&leak;", **NAME_ONLY), encoding=None, doctype=doctype, sep="")
    with pytest.raises(XmemlError, match=r"uses entity 'leak' from an external DTD") as caught:
        read(data)
    assert "LEAKED" not in str(caught.value)


def test_deep_nesting_is_a_clear_error(read):
    data = document("<a>" * 5000 + "</a>" * 5000, declaration=None, doctype=None, sep="")
    with pytest.raises(
        XmemlError,
        match=r"t\.xml: document \(line 1\): elements nested deeper than 256 levels, "
        r"the parser's limit against hostile files$",
    ):
        read(data)


def test_latin1_declaration_reads(read):
    data = document(
        sequence(track(clipitem(0, 5, 0, 5, FILE_1)), name="bl\xe5"), encoding="ISO-8859-1", codec="latin-1"
    )
    assert read(data)[0].name == "blå"


def test_unsupported_encoding_is_a_clear_error(read):
    data = document(sequence(track(clipitem(0, 5, 0, 5, FILE_1))), encoding="x-klingon")
    with pytest.raises(XmemlError, match="not well-formed XML .*Unsupported encoding"):
        read(data)


def test_control_character_in_a_name_is_a_clear_error(read):
    with pytest.raises(XmemlError, match=r"not well-formed XML \(line \d+: xmlParseCharRef"):
        read(document(sequence(track(clipitem(0, 5, 0, 5, FILE_1)), name="bad&#1;name")))


def test_thousand_video_tracks_read(read):
    video = track(clipitem(0, 5, 0, 5, FILE_1)) + track(clipitem(0, 5, 0, 5)) * 999
    [timeline] = read(document(sequence(video)))
    assert len(timeline.video_tracks) == 1000


# --- the real corpus (../shared/corpus/real), read in place -----------------------------------


def test_every_real_file_reads_except_the_empty_one(real_corpus):
    files = sorted(real_corpus.rglob("*.xml"))
    assert len(files) >= 20
    for path in files:
        if path.name == "EMPTY_SEQUENCE.xml":
            with pytest.raises(XmemlError, match=r"EMPTY_SEQUENCE\.xml: xmeml \(line 3\): holds no <sequence>"):
                read_xmeml(path)
            continue
        timelines = read_xmeml(path)
        assert timelines, path
        for timeline in timelines:
            assert timeline.rate.timebase > 0 and timeline.width_px > 0, path
            clips = [c for t in timeline.video_tracks + timeline.audio_tracks for c in t.clips]
            assert all(0 <= c.start_frame <= c.end_frame for c in clips), path
            assert all(c.asset_id in timeline.assets for c in clips), path


def test_real_premiere_example_facts(real_corpus):
    [timeline] = read_xmeml(real_corpus / "otio" / "premiere_example.xml")
    assert (timeline.name, timeline.rate, timeline.width_px, timeline.height_px) == (
        "sc01_sh010_layerA",
        Rate(30, False),
        1280,
        720,
    )
    v2 = timeline.video_tracks[1]
    assert [(c.start_frame, c.end_frame, c.asset_id) for c in v2.clips][-1] == (636, 956, "sequence-2")
    assert timeline.assets["sequence-2"].kind is AssetKind.SEQUENCE
    assert [(t.start_frame, t.end_frame, t.alignment) for t in v2.transitions] == [(538, 557, "end-black")]
    assert timeline.assets["file-1"].pathurl == "file://localhost/D%3a/media/sc01_sh010_anim.mov"


def test_real_ntsc_generators_and_disabled_tracks(real_corpus):
    [generators] = read_xmeml(real_corpus / "otio" / "premiere_generators.xml")
    assert generators.rate == Rate(24, True)
    assert [a.name for a in generators.assets.values() if a.kind is AssetKind.GENERATOR] == ["Blue Matte"]
    [tags] = read_xmeml(real_corpus / "otio" / "empty_name_tags.xml")
    assert (len(tags.video_tracks), sum(not t.enabled for t in tags.video_tracks)) == (12, 9)
    assert sum(not c.enabled for t in tags.video_tracks for c in t.clips) == 26
    [enable] = read_xmeml(real_corpus / "otio" / "premiere_enable_property.xml")
    assert [(t.name, t.enabled) for t in enable.video_tracks] == [
        ("base", True),
        ("overlay_1", True),
        ("disabled_track", False),
    ]


def test_real_helaften_clip_keyframes(real_corpus):
    # ../shared/docs/xmeml.md §7: Helaften clipitem-291, in 13, out 288, keys at 13, 39, 91, 287
    [timeline] = read_xmeml(real_corpus / "nrk" / "Helaften_del-1-MASTER-v3.xml")
    clip = timeline.video_tracks[1].clips[34]
    assert (clip.name, clip.in_frame, clip.out_frame) == ("20160523_223257.mp4", 13, 288)
    assert [k.when for k in clip.motion.center_y.keyframes] == [13, 39, 91, 287]
    # 0.0270833 × 1920 = 52 px: center normalised by the media size (../shared/docs/xmeml.md §6)
    keyed = timeline.video_tracks[1].clips[
        [c.name for c in timeline.video_tracks[1].clips].index("20160520_075448.mp4")
    ]
    assert keyed.motion.center_y.keyframes[0].value == pytest.approx(0.0270833)
    remapped = [c for t in timeline.video_tracks for c in t.clips if c.speed == 300]
    assert [(c.start_frame, c.in_frame, c.out_frame) for c in remapped] == [(409, 75, 153)]


def test_real_dnpr_crop_wipe_keyframes(real_corpus):
    [timeline] = read_xmeml(real_corpus / "nrk" / "dnpr6370211-alt-offline.hg.xml")
    [clip] = [c for c in timeline.video_tracks[1].clips if c.name == "AA1480_01"]
    assert (clip.start_frame, clip.end_frame, clip.in_frame) == (7908, 7918, 291)
    assert [(k.when, k.value) for k in clip.crop.top.keyframes] == [(291, 0), (294, 30), (298, 75), (300, 100)]
    assert clip.crop.top.at(clip.source_frame(7908 + 5)) == pytest.approx(52.5)  # 30 + (296 − 294)/4 × 45


def test_real_many_tracks_and_forward_references(real_corpus):
    [knut] = read_xmeml(real_corpus / "nrk" / "msub20000112-knut.xml")
    assert len(knut.video_tracks) == 34
    [tomat] = read_xmeml(real_corpus / "nrk" / "tomat master v4.xml")
    nested = tomat.assets["sequence-52"].sequence
    # file-297 is first referenced bare inside sequence-52 and defined later (../shared/docs/xmeml.md §5)
    file_297 = nested.assets["file-297"]
    assert file_297.pathurl.endswith("/N42A0927.MOV") and (file_297.width_px, file_297.height_px) == (1920, 1080)


def test_real_v3_project_file_without_frame_size(real_corpus):
    [timeline] = read_xmeml(real_corpus / "nrk" / "Are-og-Odin.xml")
    assert (timeline.name, timeline.duration_frames, timeline.width_px) == ("Are-og-Odin", 5453, 1920)
    assert any("no frame size" in w for w in timeline.warnings)
