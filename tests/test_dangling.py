"""References to nothing (issue 20): an id referenced and defined nowhere never refuses a file.

Premiere leaves `<file id="file-29"/>` for offline media. Each kind of reference the reader
follows (`timeline/xmeml/references.py`) is tested here: the clip keeps its place and timing
with an asset of unknown media, the timeline's warnings name the missing ids once, and the
frame table counts the asset in `media_size_unknown`. Only unknown *timing* refuses a file.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from lxml import etree

from multitrack.cli import main
from multitrack.errors import XmemlError
from multitrack.features.frames import timeline_frames
from multitrack.features.ingest import ingest
from multitrack.features.manifest import manifest_path
from multitrack.timeline.model import AssetKind
from multitrack.timeline.xmeml import xmeml_bytes
from xmemlgen import (
    angle,
    clipitem,
    document,
    file_def,
    file_ref,
    master_clip,
    multiclip,
    multiclip_ref,
    sequence,
    sequence_ref,
    track,
    transition,
)

FILE_1 = file_def()  # file-1.mov, 1280x720


def spans(timeline, track_index=0):
    return [(c.start_frame, c.end_frame, c.in_frame, c.out_frame) for c in timeline.video_tracks[track_index].clips]


def dangling_warnings(timeline):
    return [w for w in timeline.warnings if "never defined in the file" in w]


def test_undefined_file_keeps_its_clips_in_place_with_one_warning(read):
    video = track(
        clipitem(0, 10, 0, 10, FILE_1),
        clipitem(10, 30, 100, 120, file_ref("file-29")),
        clipitem(30, 40, 0, 10, file_ref("file-1")),
        clipitem(40, 45, 7, 12, file_ref("file-29")),
    )
    upper = track(clipitem(5, 25, 3, 23, file_ref("file-29")))
    [timeline] = read(document(sequence(video, upper, duration=50)))
    assert spans(timeline) == [(0, 10, 0, 10), (10, 30, 100, 120), (30, 40, 0, 10), (40, 45, 7, 12)]
    asset = timeline.assets["file-29"]
    assert (asset.id, asset.name, asset.kind, asset.pathurl, asset.width_px) == (
        "file-29",
        "file-29",
        AssetKind.FILE,
        None,
        None,
    )
    [warning] = dangling_warnings(timeline)  # three clips, one warning
    assert "file id 'file-29';" in warning and "unknown size" in warning
    frames = timeline_frames(timeline)
    assert frames.active[:45, 0].all() and frames.asset[[0, 10, 30, 40], 0].tolist() == [1, 2, 1, 2]
    assert frames.asset[5, 1] == 2  # the same offline asset on V2
    assert [(a.id, a.width_px) for a in frames.assets] == [("file-1", 1280), ("file-29", None)]
    assert frames.media_size_unknown == 1


def test_several_missing_ids_are_listed_in_one_warning_in_the_order_met(read):
    clips = [clipitem(10 * n, 10 * n + 10, 0, 10, file_ref(f"file-{n}")) for n in (7, 3, 7, 5)]
    [timeline] = read(document(sequence(track(*clips), duration=40)))
    [warning] = dangling_warnings(timeline)
    assert "file ids 'file-7', 'file-3', 'file-5';" in warning
    assert timeline_frames(timeline).media_size_unknown == 3


def test_a_long_list_of_missing_ids_is_cut_short(read):
    clips = [clipitem(n, n + 1, 0, 1, file_ref(f"f{n}")) for n in range(25)]
    [timeline] = read(document(sequence(track(*clips), duration=25)))
    [warning] = dangling_warnings(timeline)
    assert "'f19' and 5 more;" in warning and "'f20'" not in warning


def test_undefined_nested_sequence_is_offline_media(read):
    video = track(clipitem(0, 20, 5, 25, sequence_ref("sequence-7")), clipitem(20, 30, 0, 10, FILE_1))
    [timeline] = read(document(sequence(video, duration=30)))
    assert spans(timeline) == [(0, 20, 5, 25), (20, 30, 0, 10)]
    asset = timeline.assets["sequence-7"]
    assert (asset.name, asset.kind, asset.width_px, asset.sequence) == ("sequence-7", AssetKind.FILE, None, None)
    [warning] = dangling_warnings(timeline)
    assert "sequence id 'sequence-7';" in warning
    assert timeline_frames(timeline).media_size_unknown == 1


def test_missing_ids_inside_a_nested_sequence_are_named_by_every_timeline_using_it(read):
    inner = sequence(track(clipitem(0, 10, 0, 10, file_ref("file-404"))), id="sequence-2", name="nest", duration=10)
    first = sequence(track(clipitem(0, 10, 0, 10, inner), clipitem(10, 20, 0, 10, file_ref("file-9"))), name="A")
    second = sequence(track(clipitem(0, 10, 0, 10, sequence_ref("sequence-2"))), id="sequence-3", name="B")
    timeline_a, timeline_b = read(document(first, second))
    [warning_a] = dangling_warnings(timeline_a)
    assert "file ids 'file-404', 'file-9';" in warning_a
    [warning_b] = dangling_warnings(timeline_b)
    assert "file id 'file-404';" in warning_b and "file-9" not in warning_b
    nested = timeline_b.assets["sequence-2"].sequence
    assert nested.assets["file-404"].width_px is None and dangling_warnings(nested)


def test_bare_multiclip_defined_nowhere_is_offline_media(read):
    video = track(clipitem(0, 20, 0, 20, multiclip_ref("multiclip-9")))
    [timeline] = read(document(sequence(video, duration=20)))
    assert spans(timeline) == [(0, 20, 0, 20)]
    assert timeline.assets["multiclip-9"].width_px is None
    [warning] = dangling_warnings(timeline)
    assert "multiclip id 'multiclip-9';" in warning
    assert not any("neither a file nor a nested sequence" in w for w in timeline.warnings)


def cameras(active_angle, second_file):
    """An FCP7 multiclip of two angles: cam 1 shows file-1, cam 2 `second_file`."""
    files = (file_def("file-1", width=1280, height=720), second_file)
    angles = [
        angle(
            master_clip(track(clipitem(0, 500, 0, 500, shown), enabled=None), name=f"cam {n}"),
            name=f"cam {n}",
            active=n == active_angle,
        )
        for n, shown in enumerate(files, start=1)
    ]
    return multiclip(*angles, id="multiclip-1")


def test_bare_multiclip_is_the_multiclip_defined_elsewhere(read):
    # the reference comes first; the definition, later, shows its second angle
    video = track(
        clipitem(0, 20, 0, 20, multiclip_ref("multiclip-1")),
        clipitem(20, 40, 20, 40, cameras(2, file_def("file-2", width=2560, height=1440))),
    )
    [timeline] = read(document(sequence(video, duration=40)))
    assert [c.asset_id for c in timeline.video_tracks[0].clips] == ["file-2", "file-2"]
    assert timeline.warnings == []


def test_active_angle_referencing_an_undefined_file(read):
    video = track(clipitem(0, 20, 0, 20, cameras(2, file_ref("file-77"))))
    [timeline] = read(document(sequence(video, duration=20)))
    assert [c.asset_id for c in timeline.video_tracks[0].clips] == ["file-77"]
    [warning] = dangling_warnings(timeline)
    assert "file id 'file-77';" in warning


@pytest.mark.parametrize("reference", ["<file/>", "<sequence/>"])
def test_reference_with_neither_id_nor_definition_is_a_clip_without_media(read, reference):
    clip = clipitem(0, 10, 0, 10, reference, extra="<masterclipid>masterclip-4</masterclipid>")
    [timeline] = read(document(sequence(track(clip, clipitem(10, 20, 0, 10, FILE_1)), duration=20)))
    assert spans(timeline) == [(0, 10, 0, 10), (10, 20, 0, 10)]
    assert timeline.video_tracks[0].clips[0].asset_id == "masterclip-4"
    assert any(w.startswith("1 clipitem(s) have neither a file nor a nested sequence") for w in timeline.warnings)


def test_audio_clip_with_an_undefined_file_is_kept(read):
    audio = track(clipitem(0, 40, 0, 40, file_ref("file-404")), clipitem(40, 80, 0, 40, file_ref()))
    [timeline] = read(document(sequence(track(clipitem(0, 40, 0, 40, FILE_1)), audio=audio)))
    assert [c.asset_id for c in timeline.audio_tracks[0].clips] == ["file-404", "file-1"]
    [warning] = dangling_warnings(timeline)
    assert "file id 'file-404';" in warning


def test_links_to_missing_clips_are_not_read(read):
    # <link> says which audio items belong to a video item; the reader follows none of them
    link = "<link><linkclipref>clipitem-999</linkclipref><mediatype>audio</mediatype></link>"
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, FILE_1, extra=link)), duration=10)))
    assert spans(timeline) == [(0, 10, 0, 10)] and timeline.warnings == []


def test_minus_one_edge_without_its_transition_takes_in_and_out(read):
    # the transition the -1 edges belong to is missing: each clip's other edge and out − in place it
    video = track(clipitem(0, -1, 0, 30, FILE_1), clipitem(-1, 60, 10, 40, file_ref()))
    [timeline] = read(document(sequence(video, duration=60)))
    assert spans(timeline) == [(0, 30, 0, 30), (30, 60, 10, 40)]


def test_transition_with_no_clip_beside_it_is_kept(read):
    [timeline] = read(document(sequence(track(transition(0, 10), clipitem(20, 30, 0, 10, FILE_1)), duration=30)))
    assert [(t.start_frame, t.end_frame) for t in timeline.video_tracks[0].transitions] == [(0, 10)]
    assert spans(timeline) == [(20, 30, 0, 10)]


def test_unknown_timing_still_refuses_the_file(read):
    # no reference can place a clip whose edges are both -1 without a transition beside it
    with pytest.raises(XmemlError, match=r"video/track/clipitem \(line \d+\): start and end are both -1"):
        read(document(sequence(track(clipitem(-1, -1, 0, 40, file_ref("file-29"))))))


def test_offline_media_is_written_back_as_a_defined_file(read, tmp_path):
    [timeline] = read(document(sequence(track(clipitem(0, 10, 0, 10, file_ref("file-29"))), duration=10)))
    [again] = read(xmeml_bytes(timeline), name="again.xml")
    assert spans(again) == [(0, 10, 0, 10)]
    assert again.assets["file-29"].width_px is None and dangling_warnings(again) == []


# --- a real export with one definition removed ----------------------------------------------------

REAL_FILE = "otio/premiere_example.xml"  # a Premiere export: file-1 defined once, referenced 11 times


def without_first_video_file_definition(path) -> tuple[bytes, str]:
    """The file's bytes with the body of the first `<file>` defined on a video clip removed, so
    only references to its id remain; and that id."""
    root = etree.fromstring(path.read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True))
    definition = next(
        element
        for element in root.iter("file")
        if len(element) and element.get("id") and any(a.tag == "video" for a in element.iterancestors())
    )
    for child in list(definition):
        definition.remove(child)
    definition.text = None
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"), definition.get("id")


def test_real_export_with_a_definition_removed_ingests_with_the_id_named(real_corpus, tmp_path):
    original = real_corpus / REAL_FILE
    data, ident = without_first_video_file_definition(original)
    assert f'<file id="{ident}"/>'.encode() in data and data.count(f'id="{ident}"'.encode()) >= 2
    broken = tmp_path / "input" / "offline.xml"
    broken.parent.mkdir()
    broken.write_bytes(data)
    out = tmp_path / "frames.parquet"
    assert main(["ingest", str(broken.parent), "-o", str(out), "--no-progress"]) == 0
    [entry] = json.loads(manifest_path(out).read_text())["files"]
    assert entry["error"] is None
    [timeline] = entry["timelines"]
    assert any("never defined in the file" in w and f"'{ident}'" in w for w in timeline["warnings"])
    [asset] = [a for a in timeline["assets"] if a["id"] == ident]
    assert (asset["width"], asset["height"], asset["pathurl"]) == (None, None, None)

    # everything but the removed media's size is as in the original, read in place
    reference = tmp_path / "reference.parquet"
    report = ingest([original], reference, progress=False)
    assert report.failed == 0
    [expected] = json.loads(manifest_path(reference).read_text())["files"][0]["timelines"]
    assert timeline["frames"] == expected["frames"]
    assert timeline["media_size_unknown"] == expected["media_size_unknown"] + 1
    got, want = pq.read_table(out), pq.read_table(reference)
    for column in want.column_names:
        if column.endswith(("_active", "_asset", "_crop_left", "_crop_right", "_crop_top", "_crop_bottom")):
            assert np.array_equal(got.column(column).to_numpy(), want.column(column).to_numpy()), column
