"""read_xmeml on the variants real exports contain that the shared corpus may not.

Each test writes one tiny xmeml and states the outcome: a value read (through the reader
and, where it matters, the frame features as ingest computes them), or a clean one-line
`XmemlError` naming the file, the element and the reason. Format facts: ../shared/docs/xmeml.md.
"""

from __future__ import annotations

import pytest

from multitrack.errors import XmemlError
from multitrack.features.frames import timeline_frames
from multitrack.timeline.model import AssetKind, Rate
from xmemlgen import (
    angle,
    bin_,
    clipitem,
    document,
    file_def,
    file_ref,
    generatoritem,
    master_clip,
    motion,
    multiclip,
    multiclip_ref,
    param,
    point,
    rate,
    sequence,
    sequence_ref,
    timecode,
    track,
    transition,
)

FILE_1 = file_def()  # file-1.mov, 1280x720, 5000 frames, no rate


def spans(timeline, track_index=0):
    return [(c.start_frame, c.end_frame) for c in timeline.video_tracks[track_index].clips]


# --- assets: where <file> is defined, and what it says ---------------------------------------


def test_file_defined_later_in_another_sequence(read):
    # ../shared/docs/xmeml.md §5: collect all ids first, wherever they sit
    first = sequence(track(clipitem(0, 10, 0, 10, file_ref("file-9"))), name="A")
    second = sequence(track(clipitem(0, 10, 0, 10, file_def("file-9", width=640, height=360))), name="B", id="s2")
    timeline_a, timeline_b = read(document(first, bin_(second)))
    asset = timeline_a.assets["file-9"]
    assert (asset.width_px, asset.height_px) == (640, 360)
    assert timeline_b.assets["file-9"] == asset


def test_file_defined_in_a_bin_master_clip(read):
    clip = clipitem(0, 10, 0, 10, file_def("file-4", width=720, height=576))
    master = bin_(master_clip(track(clip, enabled=None), id="m1", name="m"))
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, file_ref("file-4")))), master))
    assert timeline.assets["file-4"].width_px == 720


def test_file_without_media_size_uses_the_sequence_size_and_is_counted(read):
    # DESIGN.md §2: where the media size is unknown the sequence size stands in, counted
    clip = clipitem(0, 10, 0, 10, file_def("file-1", width=None), filters=motion(param("scale", 50, name=None)))
    [timeline] = read(document(sequence(track(clip))))
    assert timeline.assets["file-1"].width_px is None
    frames = timeline_frames(timeline)
    assert frames.media_size_unknown == 1
    assert frames.values[0, 0, 0] == pytest.approx(0.5)  # 50 % of a sequence-wide frame


def test_partial_file_definition_before_the_full_one(read):
    # A tool that repeats <name> in a reference must not hide the size given later
    partial = file_def("file-1", duration=None, width=None)  # <file id><name>file-1.mov</name></file>
    video = track(clipitem(0, 10, 0, 10, partial), clipitem(10, 20, 0, 10, file_def()))
    [timeline] = read(document(sequence(video)))
    assert timeline.assets["file-1"].width_px == 1280


def test_duplicate_file_ids_keep_the_first_definition(read):
    video = track(
        clipitem(0, 10, 0, 10, file_def("file-1", width=1280, height=720)),
        clipitem(10, 20, 0, 10, file_def("file-1", width=640, height=360)),
    )
    [timeline] = read(document(sequence(video)))
    assert timeline.assets["file-1"].width_px == 1280


def test_duplicate_clipitem_ids_are_separate_clips(read):
    video = track(clipitem(0, 10, 0, 10, FILE_1, id="clipitem-1"), clipitem(10, 20, 0, 10, file_ref(), id="clipitem-1"))
    [timeline] = read(document(sequence(video)))
    assert spans(timeline) == [(0, 10), (10, 20)]


# --- rates -------------------------------------------------------------------------------


def test_rate_missing_on_clip_and_file_uses_sequence_frames(read):
    # ../shared/docs/xmeml.md §2: clip times are sequence frames whatever the clip or file declares
    [timeline] = read(document(sequence(track(clipitem(5, 30, 100, 125, FILE_1)), rate=rate(30, True))))
    clip = timeline.video_tracks[0].clips[0]
    assert (clip.start_frame, clip.end_frame, clip.in_frame) == (5, 30, 100)
    assert timeline.rate == Rate(30, True) and timeline.assets["file-1"].rate is None


@pytest.mark.parametrize(
    "ntsc, expected",
    [
        ("TRUE", True),
        ("true", True),
        ("True", True),
        (" TRUE\n", True),
        ("FALSE", False),
        ("false", False),
        ("False", False),
    ],
)
def test_ntsc_casing_and_whitespace(read, ntsc, expected):
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1)), rate=rate(30, ntsc))))
    assert timeline.rate == Rate(30, expected)


def test_empty_ntsc_reads_like_a_missing_one(read):
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1)), rate=rate(25, ntsc=""))))  # <ntsc/>
    assert timeline.rate == Rate(25, False)


def test_sequence_rate_only_in_its_timecode(read):
    # FCP7 timecode blocks carry the sequence's own rate (../shared/docs/xmeml.md §1: sequence children)
    own = timecode("01:00:00:00", 86400, rate=rate(24, True), displayformat="NDF")
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1)), rate="", timecode=own)))
    assert timeline.rate == Rate(24, True)
    assert timeline.timecode_frame == 86400
    assert any("<rate>" in w and "timecode" in w for w in timeline.warnings)


def test_sequence_timecode_with_only_a_string(read):
    string_only = timecode("10:00:00:00")
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1)), timecode=string_only)))
    assert (timeline.timecode_frame, spans(timeline)) == (0, [(0, 10)])


def test_sequence_without_any_rate_is_a_clean_error(read):
    with pytest.raises(XmemlError, match=r"t\.xml: sequence/rate \(line \d+\): sequence has no <rate>$"):
        read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1)), rate="")))


# --- -1 edges and transitions (../shared/docs/xmeml.md §4) ---------------------------------------------


def test_minus_one_edges_at_fades_from_and_to_black(read):
    video = track(transition(0, 12, "start-black"), clipitem(-1, -1, 0, 60, FILE_1), transition(50, 60, "end-black"))
    [timeline] = read(document(sequence(video)))
    assert spans(timeline) == [(0, 60)]


def test_minus_one_on_both_sides_of_two_transitions(read):
    video = track(
        clipitem(0, -1, 0, 30, FILE_1),
        transition(20, 30),
        clipitem(-1, -1, 5, 35, file_ref()),
        transition(45, 55),
        clipitem(-1, 80, 0, 35, file_ref()),
    )
    [timeline] = read(document(sequence(video)))
    assert spans(timeline) == [(0, 30), (20, 55), (45, 80)]


# --- enabled flags, empty tracks, audio only ----------------------------------------------------


def test_enabled_missing_on_clip_and_track_means_enabled(read):
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1), enabled=None))))
    assert timeline.video_tracks[0].enabled and timeline.video_tracks[0].clips[0].enabled
    assert timeline_frames(timeline).active[:10, 0].tolist() == [1] * 10


def test_tracks_with_zero_clips(read):
    locked_empty = track(enabled=True, locked=False)
    video = track(enabled=None) + track(clipitem(0, 10, 0, 10, FILE_1)) + locked_empty  # <track/>, ..., ...
    [timeline] = read(document(sequence(video, duration="20")))
    assert [len(t.clips) for t in timeline.video_tracks] == [0, 1, 0]
    frames = timeline_frames(timeline)
    assert frames.active[:, :3].sum(axis=0).tolist() == [0, 10, 0]


def test_audio_only_sequence(read):
    audio = track(clipitem(0, 40, 0, 40, file_def("file-1", width=None)))
    [timeline] = read(document(sequence(audio=audio, format="", duration="40")))
    assert (timeline.video_tracks, len(timeline.audio_tracks)) == ([], 1)
    assert (timeline.width_px, timeline.height_px) == (1920, 1080)
    frames = timeline_frames(timeline)
    assert (frames.frame_count, frames.tracks_kept, int(frames.active.sum())) == (40, 0, 0)


def test_sequence_without_media(read):
    [timeline] = read(document(sequence(media="", duration="25")))
    assert (timeline.video_tracks, timeline.duration_frames) == ([], 25)
    assert timeline_frames(timeline).frame_count == 25


def test_audio_clip_that_cannot_be_placed_does_not_refuse_the_video(read):
    # Audio never reaches the frame table (DESIGN.md §2); both -1 without a transition
    audio = track(clipitem(-1, -1, 0, 40, file_ref()))
    [timeline] = read(document(sequence(track(clipitem(0, 40, 0, 40, FILE_1)), audio=audio)))
    assert spans(timeline) == [(0, 40)]
    assert timeline.audio_tracks[0].clips == []
    assert any(
        w.startswith("1 audio item(s) cannot be read and were dropped") and "audio/track/clipitem" in w
        for w in timeline.warnings
    )


def test_unreadable_video_clip_still_refuses_the_file(read):
    with pytest.raises(XmemlError, match=r"video/track/clipitem \(line \d+\): start and end are both -1"):
        read(document(sequence(track(clipitem(-1, -1, 0, 40, FILE_1)))))


# --- generators, multiclips, links, Premiere extras ---------------------------------------------


def test_generatoritem_with_no_effect(read):
    generator = generatoritem(0, 48, 0, 48, name="Slug")
    [timeline] = read(document(sequence(track(generator))))
    asset = timeline.assets[timeline.video_tracks[0].clips[0].asset_id]
    assert (asset.kind, asset.name) == (AssetKind.GENERATOR, "Slug")
    assert timeline_frames(timeline).active[:48, 0].sum() == 48


def two_cameras(active_angle):
    """An FCP7 multicam clip: one `<angle>` per camera n, each a clip holding file-n of (1280n)x(720n)."""
    angles = [
        angle(
            master_clip(
                track(clipitem(0, 500, 0, 500, file_def(f"file-{n}", width=1280 * n, height=720 * n)), enabled=None),
                id=f"multiclip-1-{n}",
                name=f"cam {n}",
            ),
            name=f"cam {n}",
            active=n == active_angle,
        )
        for n in (1, 2)
    ]
    return multiclip(*angles, id="multiclip-1")


def test_multiclip_asset_is_the_active_video_angle(read):
    # FCP7 multicam: each cut shows one angle; angle n's file is (1280n)x(720n)
    video = track(
        clipitem(0, 20, 0, 20, file=two_cameras(1)),
        clipitem(20, 40, 20, 40, file=two_cameras(2)),
    )
    [timeline] = read(document(sequence(video)))
    assert [c.asset_id for c in timeline.video_tracks[0].clips] == ["file-1", "file-2"]
    assert timeline.assets["file-2"].width_px == 2560
    frames = timeline_frames(timeline)
    assert frames.asset[[0, 19, 20, 39], 0].tolist() == [1, 1, 2, 2]
    assert timeline.warnings == []


def test_multiclip_without_an_active_angle_is_the_asset_itself(read):
    video = track(
        clipitem(0, 20, 0, 20, file=two_cameras(active_angle=0)),
        clipitem(20, 40, 20, 40, file=multiclip_ref("multiclip-1")),
    )
    [timeline] = read(document(sequence(video)))
    assert [c.asset_id for c in timeline.video_tracks[0].clips] == ["multiclip-1", "multiclip-1"]
    assert timeline.assets["multiclip-1"].name == "mc"
    assert any("2 clipitem(s) have neither a file nor a nested sequence" in w for w in timeline.warnings)
    assert timeline_frames(timeline).active[:40, 0].sum() == 40


def test_linkclipref_and_ppro_ticks_are_ignored(read):
    extra = (
        "<pproTicksIn>2540160000000</pproTicksIn><pproTicksOut>5080320000000</pproTicksOut>"
        "<link><linkclipref>clipitem-2</linkclipref><mediatype>audio</mediatype><trackindex>1</trackindex>"
        "<clipindex>1</clipindex></link>"
    )
    [timeline] = read(document(sequence(track(clipitem(0, 10, 250, 260, FILE_1, extra=extra)))))
    assert timeline.video_tracks[0].clips[0].in_frame == 250


# --- keyframes and Basic Motion center (../shared/docs/xmeml.md §6, §7) ----------------------------------


def test_keyframes_all_before_the_clip_hold_the_last_value(read):
    clip = clipitem(0, 10, 500, 510, FILE_1, filters=motion(param("scale", 80, [(-1000, 100), (5, 200)], name=None)))
    [timeline] = read(document(sequence(track(clip))))
    assert timeline_frames(timeline).values[:10, 0, 0] == pytest.approx([200 * 1280 / 1920 / 100] * 10)


def test_keyframes_all_after_the_clip_hold_the_first_value(read):
    clip = clipitem(0, 10, 0, 10, FILE_1, filters=motion(param("scale", 80, [(900, 150), (1000, 10)], name=None)))
    [timeline] = read(document(sequence(track(clip))))
    assert timeline_frames(timeline).values[:10, 0, 0] == pytest.approx([150 * 1280 / 1920 / 100] * 10)


def test_center_static_value_missing_vert_is_ignored_when_keyed(read):
    # ../shared/docs/xmeml.md §7: with keyframes the static value is unreliable, so a broken one is not fatal
    keyed = param("center", point(0.1, None), [(0, point(0.25, 0)), (10, point(0.25, 0.5))], name="Center")
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1, filters=motion(keyed))))))
    read_back = timeline.video_tracks[0].clips[0].motion
    assert (read_back.center_x.at(5), read_back.center_y.at(5)) == (0.25, 0.25)


def test_scale_static_value_unreadable_beside_keys_is_ignored(read):
    scale = param("scale", "n/a", [(0, 100), (10, 200)], name=None)
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1, filters=motion(scale))))))
    assert timeline.video_tracks[0].clips[0].motion.scale.at(5) == 150


def test_center_missing_vert_without_keys_is_a_clean_error(read):
    broken = param("center", point(0.1, None), name="Center")  # no <vert>
    with pytest.raises(
        XmemlError,
        match=r"t\.xml: .*clipitem/filter/effect/parameter/value \(line \d+\): "
        r"expected <horiz> and <vert>",
    ):
        read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1, filters=motion(broken))))))


def test_center_key_missing_horiz_is_a_clean_error(read):
    broken = param("center", keys=[(0, point(None, 0.5))], name="Center")  # no <horiz>
    with pytest.raises(XmemlError, match=r"keyframe/value \(line \d+\): expected <horiz> and <vert>"):
        read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1, filters=motion(broken))))))


# --- nested sequences ------------------------------------------------------------------------


def test_nested_sequence_referenced_twice_and_from_two_timelines(read):
    nested = sequence(track(clipitem(0, 30, 0, 30, FILE_1)), name="nest", id="sequence-2")
    first = sequence(
        track(
            clipitem(0, 30, 0, 30, file=nested, name="nest"),
            clipitem(30, 60, 0, 30, file=sequence_ref("sequence-2")),
        ),
        name="A",
    )
    second = sequence(track(clipitem(0, 30, 0, 30, file=sequence_ref("sequence-2"))), name="B", id="s3")
    timeline_a, timeline_b = read(document(first, second))
    assert [c.asset_id for c in timeline_a.video_tracks[0].clips] == ["sequence-2", "sequence-2"]
    assert timeline_b.assets["sequence-2"].kind is AssetKind.SEQUENCE
    assert timeline_b.assets["sequence-2"].sequence.name == "nest"


# --- numbers: huge, whitespace ---------------------------------------------------------------


def test_huge_sequence_duration_is_refused_by_the_frame_limit(read):
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1)), duration=str(10**15))))
    with pytest.raises(XmemlError, match=r"exceeds the limit of 2160000 frames \(--max-frames\)$"):
        timeline_frames(timeline, source="t.xml")


def test_huge_clip_end_is_refused_by_the_frame_limit(read):
    [timeline] = read(document(sequence(track(clipitem(0, 10**30, 0, 10**30, FILE_1)))))
    with pytest.raises(XmemlError, match=r"exceeds the limit"):
        timeline_frames(timeline, source="t.xml")


def test_overflowing_float_frame_is_a_clean_error(read):
    with pytest.raises(XmemlError, match=r"sequence/duration \(line \d+\): expected an integer frame, got '1e400'$"):
        read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1)), duration="1e400")))


def test_whitespace_and_newlines_inside_numbers(read):
    spaced_file = file_def(width="\n1280 ")
    scale = motion(param("scale", " 50 ", [(" 0 ", "\n40"), ("10 ", " 60")], name=None))
    clip = clipitem("\n  5\n", " 15 ", "\t0\t", "\n10", spaced_file, name="a", filters=scale)
    spaced_rate = rate("\n 25 \n", "\nFALSE\n")
    [timeline] = read(document(sequence(track(clip), rate=spaced_rate, duration="\n 20 \n")))
    clip_read = timeline.video_tracks[0].clips[0]
    assert (clip_read.start_frame, clip_read.end_frame, timeline.duration_frames) == (5, 15, 20)
    assert timeline.assets["file-1"].width_px == 1280
    assert clip_read.motion.scale.at(5) == pytest.approx(50)


def test_empty_sequence_duration_reads_like_a_missing_one(read):
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1)), duration="")))
    assert timeline.duration_frames == 10
    assert any("no <duration>" in w for w in timeline.warnings)


# --- encodings and DOCTYPE (../shared/docs/xmeml.md §1) ------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_file_with_bom(read, codec):
    # Python's "utf-16" writes a BOM itself; -le and -be do not, so the document starts with one
    timeline_xml = sequence(track(clipitem(0, 10, 0, 10, FILE_1, name="Kråke")), name="Øy")
    [timeline] = read(document(timeline_xml, encoding="UTF-16", bom=codec != "utf-16", codec=codec))
    assert (timeline.name, timeline.video_tracks[0].clips[0].name) == ("Øy", "Kråke")


@pytest.mark.parametrize(
    "doctype",
    ["", "<!DOCTYPE xmeml>", '<!DOCTYPE xmeml SYSTEM "xmeml.dtd">', "<!DOCTYPE xmeml [<!ELEMENT xmeml ANY>]>"],
)
def test_doctype_variants_read(read, doctype):
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1))), doctype=doctype))
    assert spans(timeline) == [(0, 10)]


def test_two_xmeml_roots_is_a_clean_error(read):
    data = document(sequence(track(clipitem(0, 10, 0, 10, FILE_1)))) + '<xmeml version="4"></xmeml>'
    with pytest.raises(XmemlError, match=r"t\.xml: document: not well-formed XML \(line \d+: "):
        read(data)
