import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multitrack.cli import main
from multitrack.features import ingest as ingest_module
from multitrack.features.frames import TimelineFrames
from multitrack.features.ingest import ingest
from multitrack.features.manifest import manifest_path
from multitrack.features.packing import timeline_columns
from multitrack.features.schema import VALUE_FEATURES
from multitrack.features.table import column_names, frame_table_schema
from multitrack.features.table import writer as table_writer
from multitrack.timeline.model import Rate
from xmemlgen import (
    RATE_25,
    clipitem,
    crop,
    document,
    effect,
    file_def,
    file_ref,
    format_,
    motion,
    param,
    point,
    project,
    sequence,
    track,
    transition,
)

# Premiere's details, as it exports them: effects, parameters, clips, files, the sequence's format
EFFECT = {"category": "motion", "type": "motion", "mediatype": "video"}
SCALE = {"name": "Scale", "valuemin": 0, "valuemax": 1000, "authoring_app": "PremierePro"}
CROP_LEFT = {"name": "left", "valuemin": 0, "valuemax": 100, "authoring_app": "PremierePro"}
CLIP = {"enabled": True, "duration": 1000, "rate": RATE_25}
FILE = {"rate": RATE_25, "duration": 1000, "video_rate": RATE_25}
FORMAT = format_(1920, 1080, rate=RATE_25, pixelaspectratio="square")

# center keys on the source axis: h 0 at source 110, 0.3 at source 120.
KEYED_CENTER = param(
    "center", point(0, 0), [(110, point(0, 0)), (120, point(0.3, 0))], name="Center", authoring_app="PremierePro"
)
TRANSITION = transition(
    24, 30, rate=RATE_25, effect=effect("Cross Dissolve", category="Dissolve", type="transition", mediatype="video")
)

# A 1920x1080, 25 fps, 50-frame interview:
# V1  wide.mov (3840x2160) frames 0..29 at 50%, a transition over 24..29 (-1 edges), then
#     close.mov (1280x720) frames 24..49 at 150% with keyed center, source in 100.
# V2  still.png (no media size) frames 10..19 at 40% with crop left 25; a disabled clip at 30..39.
# V3  a disabled track holding wide.mov over 0..39.
WIDE = file_def("file-1", "wide.mov", pathurl="file://localhost/media/wide.mov", width=3840, height=2160, **FILE)
CLOSE = file_def("file-2", "close.mov", pathurl="file://localhost/media/close.mov", width=1280, height=720, **FILE)
STILL = file_def("file-3", "still.png", pathurl="file://localhost/media/still.png", width=None, **FILE)
AT_50 = motion(param("scale", 50, **SCALE), **EFFECT)
AT_150_KEYED = motion(param("scale", 150, **SCALE), KEYED_CENTER, **EFFECT)
AT_40_CROPPED = motion(param("scale", 40, **SCALE), **EFFECT) + crop(param("left", 25, **CROP_LEFT), **EFFECT)
INTERVIEW = document(
    sequence(
        track(
            clipitem(0, -1, 0, 30, WIDE, id="clipitem-1", name="wide.mov", filters=AT_50, **CLIP),
            TRANSITION,
            clipitem(-1, 50, 100, 126, CLOSE, id="clipitem-2", name="close.mov", filters=AT_150_KEYED, **CLIP),
            locked=False,
        ),
        track(
            clipitem(10, 20, 0, 10, STILL, id="clipitem-3", name="still.png", filters=AT_40_CROPPED, **CLIP),
            clipitem(30, 40, 0, 10, file_ref("file-1"), id="clipitem-4", name="wide.mov", **CLIP | {"enabled": False}),
            locked=False,
        ),
        track(
            clipitem(0, 40, 0, 40, file_ref("file-2"), id="clipitem-5", name="close.mov", **CLIP),
            enabled=False,
            locked=False,
        ),
        name="Interview",
        duration=50,
        format=FORMAT,
    )
)

A_MOV = file_def("file-1", "a.mov", pathurl="file://localhost/media/a.mov", width=1920, height=1080, **FILE)
TWO_SEQUENCES = document(
    sequence(
        track(clipitem(0, 5, 0, 5, A_MOV, id="clipitem-1", **CLIP), locked=False), name="A", duration=5, format=FORMAT
    ),
    sequence(
        track(clipitem(0, 3, 0, 3, file_ref("file-1"), id="clipitem-2", **CLIP), locked=False),
        id="sequence-2",
        name="B",
        duration=3,
        format=FORMAT,
    ),
)

NO_SEQUENCE = document(project(name="x"), doctype=None)


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    (root / "editor01").mkdir(parents=True)
    (root / "editor01" / "interview.xml").write_text(INTERVIEW, encoding="utf-8")
    (root / "two.xml").write_text(TWO_SEQUENCES, encoding="utf-8")
    return root


def read_table(path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def cell(table: pd.DataFrame, timeline: str, frame: int, column: str):
    rows = table[(table.timeline == timeline) & (table.frame == frame)]
    assert len(rows) == 1
    return rows.iloc[0][column]


def test_hand_computed_cells(corpus, tmp_path):
    out = tmp_path / "frames.parquet"
    report = ingest([corpus], out, max_tracks=3, progress=False)
    assert (report.files, report.failed, report.timelines) == (2, 0, 3)
    table = read_table(out)
    tl = "editor01/interview"
    assert (table.timeline == tl).sum() == 50  # N = sequence duration 50 = last clip end
    # wide.mov 3840 px at 50% in a 1920 sequence: scale 50 * 3840 / 1920 / 100 = 1.0; asset 1 (first at frame 0).
    assert (cell(table, tl, 0, "v01_active"), cell(table, tl, 0, "v01_asset")) == (1, 1)
    assert cell(table, tl, 23, "v01_scale") == pytest.approx(1.0)
    # Frames 24..29 are in the transition: the incoming close.mov (true start 50 - 26 = 24) wins.
    # close.mov 1280 px at 150%: scale 150 * 1280 / 1920 / 100 = 1.0; asset 3 (first at frame 24).
    assert cell(table, tl, 24, "v01_asset") == 3
    # Timeline frame t shows source 100 + (t - 24): frame 39 -> source 115, halfway between the
    # keys (h 0 at 110, 0.3 at 120) -> h 0.15 -> pos_x 0.15 * 1280 / 1920 = 0.1.
    assert cell(table, tl, 39, "v01_pos_x") == pytest.approx(0.1, rel=1e-6)
    assert cell(table, tl, 30, "v01_pos_x") == 0.0  # source 106: before the first key, held at 0
    assert cell(table, tl, 49, "v01_pos_x") == pytest.approx(0.2, rel=1e-6)  # source 125: held at 0.3
    # still.png has no media size: 1920x1080 stands in, so scale 40% -> 0.4; asset 2 (first at frame 10).
    assert (cell(table, tl, 15, "v02_asset"), cell(table, tl, 15, "v02_scale")) == (2, pytest.approx(0.4))
    assert cell(table, tl, 15, "v02_crop_left") == pytest.approx(25.0)
    # The disabled clip on V2 and everything on the disabled V3 are no clip.
    assert cell(table, tl, 35, "v02_active") == 0 and cell(table, tl, 35, "v02_asset") == 0
    assert table.loc[table.timeline == tl, ["v03_active", "v03_asset", "v03_scale"]].to_numpy().sum() == 0


def test_columns_and_types(corpus, tmp_path):
    out = tmp_path / "frames.parquet"
    ingest([corpus], out, progress=False)
    schema = pq.read_schema(out)
    assert schema.names == column_names(20)
    assert schema.field("timeline").type == pa.string()
    assert schema.field("frame").type == pa.int64()
    assert schema.field("v07_active").type == pa.int8()
    assert schema.field("v07_asset").type == pa.int32()
    assert all(schema.field(f"v20_{name}").type == pa.float32() for name in ("scale", "pos_x", "crop_bottom"))
    table = read_table(out)
    assert not table.isna().any().any()
    assert table.groupby("timeline").frame.apply(lambda frames: frames.tolist() == list(range(len(frames)))).all()


def test_manifest_shape(corpus, tmp_path):
    out = tmp_path / "frames.parquet"
    ingest([corpus], out, max_tracks=3, progress=False)
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest_path(out).name == "frames.manifest.json"
    assert set(manifest) == {"format", "version", "max_tracks", "max_audio_tracks", "columns", "files", "summary"}
    assert (manifest["format"], manifest["version"], manifest["max_tracks"]) == ("multitrack-manifest", 1, 3)
    assert (manifest["max_audio_tracks"], manifest["columns"]) == (24, column_names(3))
    assert manifest["summary"] == {
        "files": 2,
        "failed": 0,
        "timelines": 3,
        "frames": 50 + 5 + 3,
        "media": {"found": 0, "missing": 0, "unreadable": 0},  # no audio tracks: nothing heard
    }
    interview = manifest["files"][0]  # sorted by path: editor01/interview.xml before two.xml
    assert interview["path"] == "editor01/interview.xml"
    assert interview["sha256"] == hashlib.sha256(INTERVIEW.encode()).hexdigest()
    assert interview["error"] is None
    (entry,) = interview["timelines"]
    assert set(entry) == {
        "id",
        "name",
        "folder",
        "timebase",
        "ntsc",
        "fps",
        "width",
        "height",
        "frames",
        "role",
        "tracks_kept",
        "tracks_dropped",
        "assets",
        "media_size_unknown",
        "audio_tracks_kept",
        "audio_tracks_dropped",
        "audio_tracks",
        "warnings",
    }
    assert (entry["audio_tracks_kept"], entry["audio_tracks_dropped"], entry["audio_tracks"]) == (0, 0, [])
    assert (entry["id"], entry["name"], entry["folder"]) == ("editor01/interview", "Interview", "editor01")
    rate_and_size = (entry["timebase"], entry["ntsc"], entry["fps"], entry["width"], entry["height"])
    assert rate_and_size == (25, False, 25.0, 1920, 1080)
    counts = (entry["frames"], entry["tracks_kept"], entry["tracks_dropped"], entry["media_size_unknown"])
    assert counts == (50, 3, 0, 1)
    assert [(a["number"], a["id"], a["name"], a["width"], a["height"]) for a in entry["assets"]] == [
        (1, "file-1", "wide.mov", 3840, 2160),
        (2, "file-3", "still.png", None, None),
        (3, "file-2", "close.mov", 1280, 720),
    ]
    assert entry["assets"][0]["pathurl"] == "file://localhost/media/wide.mov"
    assert [t["id"] for t in manifest["files"][1]["timelines"]] == ["two#A", "two#B"]


def test_bad_file_is_reported_and_the_rest_written(corpus, tmp_path, capsys):
    (corpus / "editor01" / "broken.xml").write_text(NO_SEQUENCE, encoding="utf-8")
    out = tmp_path / "frames.parquet"
    status = main(["ingest", str(corpus), "-o", str(out), "--no-progress"])
    assert status == 1
    stderr = capsys.readouterr().err
    assert re.search(r"skipped .*broken\.xml: .*sequence", stderr)
    assert set(read_table(out).timeline) == {"editor01/interview", "two#A", "two#B"}
    manifest = json.loads(manifest_path(out).read_text())
    broken = next(f for f in manifest["files"] if f["path"] == "editor01/broken.xml")
    assert "broken.xml" in broken["error"] and broken["timelines"] == []
    assert manifest["summary"]["failed"] == 1


def test_usage_errors_exit_2(corpus, tmp_path, capsys):
    out = str(tmp_path / "frames.parquet")
    assert main(["ingest", str(tmp_path / "nope"), "-o", out]) == 2
    assert "input not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["ingest", str(corpus), "-o", out, "--jobs", "0"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main(["ingest", str(corpus)])  # -o is required
    assert exited.value.code == 2
    assert not (tmp_path / "frames.parquet").exists()


def test_success_exits_0_and_leaves_no_temporary_files(corpus, tmp_path):
    out = tmp_path / "out" / "frames.parquet"
    assert main(["ingest", str(corpus), "-o", str(out), "--no-progress", "--max-tracks", "2"]) == 0
    assert sorted(path.name for path in out.parent.iterdir()) == ["frames.manifest.json", "frames.parquet"]
    assert pq.read_schema(out).names == column_names(2)


def test_jobs_2_gives_the_same_table(corpus, tmp_path):
    for index in range(3):  # enough files for the pool to interleave
        (corpus / f"copy{index}.xml").write_text(INTERVIEW, encoding="utf-8")
    ingest([corpus], tmp_path / "one.parquet", max_tracks=3, progress=False)
    ingest([corpus], tmp_path / "two.parquet", max_tracks=3, jobs=2, progress=False)
    assert pq.read_table(tmp_path / "one.parquet").equals(pq.read_table(tmp_path / "two.parquet"))
    one = json.loads(manifest_path(tmp_path / "one.parquet").read_text())
    two = json.loads(manifest_path(tmp_path / "two.parquet").read_text())
    assert one == two


def test_csv_holds_the_same_rows(corpus, tmp_path):
    out = tmp_path / "frames.parquet"
    report = ingest([corpus], out, max_tracks=2, csv=True, progress=False)
    assert report.csv_path == tmp_path / "frames.csv"
    from_csv = pd.read_csv(report.csv_path)
    from_parquet = read_table(out)
    assert list(from_csv.columns) == column_names(2)
    np.testing.assert_allclose(
        from_csv.iloc[:, 1:].to_numpy(float), from_parquet.iloc[:, 1:].to_numpy(float), rtol=1e-6
    )
    assert from_csv.timeline.tolist() == from_parquet.timeline.tolist()


def test_files_given_directly_and_colliding_ids(corpus, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "two.xml").write_text(TWO_SEQUENCES, encoding="utf-8")
    out = tmp_path / "frames.parquet"
    ingest([corpus / "editor01" / "interview.xml", corpus, other], out, max_tracks=1, progress=False)
    manifest = json.loads(manifest_path(out).read_text())
    ids = [t["id"] for f in manifest["files"] for t in f["timelines"]]
    # A file given directly is named by its file name; the second interview and two.xml get a suffix.
    assert ids == ["interview", "editor01/interview", "two#A", "two#B", "two#A (2)", "two#B (2)"]
    assert manifest["files"][0]["timelines"][0]["folder"] == ""
    assert set(read_table(out).timeline) == set(ids)


def test_max_frames_refuses_a_long_timeline(corpus, tmp_path, capsys):
    out = tmp_path / "frames.parquet"
    status = main(["ingest", str(corpus), "-o", str(out), "--max-frames", "10", "--no-progress"])
    assert status == 1
    assert re.search(r"interview\.xml: sequence 'Interview': 50 frames .* limit of 10 frames", capsys.readouterr().err)
    assert set(read_table(out).timeline) == {"two#A", "two#B"}  # 5 and 3 frames pass


def test_only_bad_files_give_an_empty_table_and_exit_1(tmp_path):
    (tmp_path / "broken.xml").write_text(NO_SEQUENCE, encoding="utf-8")
    out = tmp_path / "out" / "frames.parquet"
    assert main(["ingest", str(tmp_path / "broken.xml"), "-o", str(out), "--no-progress"]) == 1
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.schema.names == column_names(20)
    summary = json.loads(manifest_path(out).read_text())["summary"]
    assert summary == {
        "files": 1,
        "failed": 1,
        "timelines": 0,
        "frames": 0,
        "media": {"found": 0, "missing": 0, "unreadable": 0},
    }


def test_table_is_streamed_in_bounded_row_groups(corpus, tmp_path, monkeypatch):
    ingest([corpus], tmp_path / "whole.parquet", max_tracks=3, progress=False)
    monkeypatch.setattr("multitrack.features.table.writer.ROWS_PER_BATCH", 16)
    out = tmp_path / "frames.parquet"
    ingest([corpus], out, max_tracks=3, progress=False)
    metadata = pq.ParquetFile(out).metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    # 58 rows in batches of at most 16, flushed once 16 rows are buffered: never above 2 x 16.
    assert sum(sizes) == 58 and len(sizes) > 1 and max(sizes) < 32
    assert pq.read_table(out).equals(pq.read_table(tmp_path / "whole.parquet"))


def test_flush_limits_shrink_with_the_bytes_still_to_come(monkeypatch):
    monkeypatch.setattr(ingest_module, "ROWS_PER_BATCH", 300)
    monkeypatch.setattr(ingest_module, "MIN_TAIL_ROWS", 10)
    monkeypatch.setattr(ingest_module, "TAIL_SHARE", 0.5)
    # 40 bytes; after each file 30, 20, 10, 0 are still to come: the tail is the last 20
    assert ingest_module.flush_limits([10, 10, 10, 10]) == [300, 300, 150, 10]
    assert ingest_module.flush_limits([0, 0]) == [10, 10]
    assert ingest_module.flush_limits([]) == []


def test_writer_flush_writes_a_row_group_of_at_least_min_rows(tmp_path):
    out = tmp_path / "frames.parquet"
    with table_writer.FrameTableWriter(out, 3) as writer:
        writer.write("T", timeline_columns(two_track_frames()))  # 4 rows, buffered
        writer.flush(min_rows=5)
        writer.write("U", timeline_columns(two_track_frames()))
        writer.flush(min_rows=8)  # 8 rows buffered: one row group
        writer.write("V", timeline_columns(two_track_frames()))
    metadata = pq.ParquetFile(out).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [8, 4]
    assert read_table(out).timeline.tolist() == ["T"] * 4 + ["U"] * 4 + ["V"] * 4


def test_jobs_1_and_2_write_the_same_bytes_with_shrinking_row_groups(tmp_path, monkeypatch):
    for name in ("a.xml", "b.xml"):
        (tmp_path / name).write_text(TWO_SEQUENCES, encoding="utf-8")  # 5 + 3 rows, the same bytes
    monkeypatch.setattr(ingest_module, "ROWS_PER_BATCH", 16)
    monkeypatch.setattr(ingest_module, "MIN_TAIL_ROWS", 1)
    monkeypatch.setattr(ingest_module, "TAIL_SHARE", 1.0)  # the limit shrinks from the first file on
    for jobs in (1, 2):
        ingest([tmp_path / "a.xml", tmp_path / "b.xml"], tmp_path / f"j{jobs}.parquet", jobs=jobs, progress=False)
    assert (tmp_path / "j1.parquet").read_bytes() == (tmp_path / "j2.parquet").read_bytes()
    metadata = pq.ParquetFile(tmp_path / "j2.parquet").metadata
    # after a.xml half the bytes are still to come: a limit of 16 x 1/2 rows flushes its 8
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [8, 8]


def test_a_failed_run_leaves_no_outputs(corpus, tmp_path, monkeypatch):
    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr("multitrack.features.ingest._record", fail)
    out = tmp_path / "out" / "frames.parquet"
    with pytest.raises(RuntimeError, match="disk full"):
        ingest([corpus], out, csv=True, progress=False)
    assert list(out.parent.iterdir()) == []


def test_jobs_2_reports_a_bad_file_in_order(corpus, tmp_path, capsys):
    (corpus / "editor01" / "broken.xml").write_text(NO_SEQUENCE, encoding="utf-8")
    out = tmp_path / "frames.parquet"
    assert main(["ingest", str(corpus), "-o", str(out), "--jobs", "2", "--no-progress"]) == 1
    assert "broken.xml" in capsys.readouterr().err
    manifest = json.loads(manifest_path(out).read_text())
    assert [f["path"] for f in manifest["files"]] == ["editor01/broken.xml", "editor01/interview.xml", "two.xml"]
    assert [f["error"] is None for f in manifest["files"]] == [False, True, True]


def test_jobs_2_converts_a_bounded_window_ahead_in_input_order(tmp_path, monkeypatch):
    for index in range(7):
        (tmp_path / f"t{index}.xml").write_text(TWO_SEQUENCES, encoding="utf-8")
    submitted = []

    class CountingPool(ingest_module.ProcessPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            submitted.extend(task[0].relative for task in args[0])  # a chunk of (file, max_tracks, max_frames, audio)
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(ingest_module, "IN_FLIGHT_PER_JOB", 2)
    files = ingest_module.find_inputs([tmp_path])
    ahead = []
    for done, result in enumerate(ingest_module.convert_files(files, 3, None, jobs=2), start=1):
        assert result.error is None and result.input.relative == f"t{done - 1}.xml"
        ahead.append(len(submitted) - done)  # converted or converting, not yet handed to the writer
    # a window of 2 x 2 files: 3 more are submitted before the first result comes back
    assert submitted == [f"t{index}.xml" for index in range(7)] and max(ahead) == 3


def two_track_frames(max_tracks: int = 3) -> TimelineFrames:
    """4 frames: V1 shows asset 1 at scale 0.5 on frames 0-1 with pos_x -0.0; V2 is empty."""
    active = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=np.int8)  # (K=2, N=4)
    asset = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=np.int32)  # (K, N)
    values = np.zeros((2, 7, 4), dtype=np.float32)  # (K, 7, N)
    values[0, 0, :2] = 0.5  # v01_scale
    values[0, 1, :] = -0.0  # v01_pos_x: zero, but not +0.0 bit for bit
    return TimelineFrames("T", Rate(25), 1920, 1080, max_tracks, active, asset, values, warnings=["w"])


def test_timeline_columns_leaves_out_all_zero_columns():
    frames = two_track_frames()
    packed = timeline_columns(frames)
    assert packed.frame_count == 4 and len(packed.columns) == 2 * 9
    kept = [index for index, column in enumerate(packed.columns) if column is not None]
    assert kept == [0, 1, 2, 3]  # v01 active, asset, scale and the -0.0 pos_x; all of V2 left out
    assert packed.columns[2].tolist() == [0.5, 0.5, 0.0, 0.0]
    assert np.signbit(packed.columns[3]).all()
    assert list(packed.entry)[:3] == ["id", "name", "folder"]
    assert (packed.entry["id"], packed.entry["name"], packed.entry["folder"]) == (None, "T", None)
    assert (packed.entry["frames"], packed.entry["tracks_kept"], packed.entry["warnings"]) == (4, 2, ["w"])


def test_timeline_columns_refuses_arrays_of_another_type():
    frames = two_track_frames()
    frames.track_asset = frames.track_asset.astype(np.int64)
    with pytest.raises(TypeError, match="track_asset is int64, the frame table holds int32"):
        timeline_columns(frames)


def test_frame_batches_fill_left_out_columns_with_their_defaults(monkeypatch):
    monkeypatch.setattr(table_writer, "ROWS_PER_BATCH", 3)  # 4 frames -> batches of 3 and 1 rows
    schema = frame_table_schema(3)
    batches = list(table_writer.frame_batches("T", timeline_columns(two_track_frames()), schema))
    assert [batch.num_rows for batch in batches] == [3, 1]
    table = pa.Table.from_batches(batches, schema=schema)
    assert table.schema == schema
    assert table.column("timeline").to_pylist() == ["T"] * 4
    assert table.column("frame").to_pylist() == [0, 1, 2, 3]
    assert table.column("v01_asset").to_pylist() == [1, 1, 0, 0]
    assert table.column("v01_scale").to_pylist() == [0.5, 0.5, 0.0, 0.0]
    assert np.signbit(table.column("v01_pos_x").to_numpy()).all()
    zero_columns = [name for name in column_names(3)[2:] if name[:3] != "v01" or name.endswith("_crop_bottom")]
    loudness = [name for name in zero_columns if name.endswith("_loudness_db")]  # unheard: -90 dBFS
    assert len(loudness) == 24 and all(table.column(name).to_pylist() == [-90] * 4 for name in loudness)
    assert all(table.column(name).to_pylist() == [0] * 4 for name in zero_columns if name not in loudness)


@settings(max_examples=40, deadline=None)
@given(
    kept=st.integers(0, 3),
    frame_count=st.integers(0, 9),
    rows_per_batch=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_frame_batches_hold_the_frame_major_arrays(kept, frame_count, rows_per_batch, seed):
    """Packed, batched and filled with shared zeros, the rows are TimelineFrames' own (N, T) arrays."""
    rng = np.random.default_rng(seed)
    sparse = rng.random((kept, 9, frame_count)) < 0.3  # mostly zero, whole rows often zero
    active = (sparse[:, 0] * 1).astype(np.int8)  # (K, N)
    asset = (sparse[:, 1] * rng.integers(1, 5, (kept, frame_count))).astype(np.int32)  # (K, N)
    values = (sparse[:, 2:] * rng.normal(size=(kept, 7, frame_count))).astype(np.float32)  # (K, 7, N)
    frames = TimelineFrames("T", Rate(25), 1920, 1080, 3, active, asset, values)
    schema = frame_table_schema(3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(table_writer, "ROWS_PER_BATCH", rows_per_batch)
        batches = list(table_writer.frame_batches("T", timeline_columns(frames), schema))
    table = pa.Table.from_batches(batches, schema=schema)
    assert table.column("frame").to_pylist() == list(range(frame_count))
    columns = column_names(3, 0)[2:]  # the video columns
    as_array = {name: table.column(name).to_numpy() for name in columns}
    np.testing.assert_array_equal(np.stack([as_array[n] for n in columns if n.endswith("_active")], 1), frames.active)
    np.testing.assert_array_equal(np.stack([as_array[n] for n in columns if n.endswith("_asset")], 1), frames.asset)
    value_names = [[f"v{t:02d}_{feature}" for feature in VALUE_FEATURES] for t in (1, 2, 3)]
    table_values = np.stack([np.stack([as_array[n] for n in names], 1) for names in value_names], 1)  # (N, T, 7)
    assert table_values.tobytes() == frames.values.tobytes()  # bit for bit, -0.0 included


def test_ingest_leaves_pandas_unimported(corpus, tmp_path):
    """pyarrow's `pa.array` on numpy imports pandas (0.2 s of every ingest); the writer builds from buffers."""
    script = (
        "import sys; from multitrack.features.ingest import ingest; "
        f"ingest([{str(corpus)!r}], {str(tmp_path / 'frames.parquet')!r}, progress=False); "
        "print('pandas' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_task_chunks_are_guided_by_the_bytes_still_waiting():
    tasks = list("abcdefghij")
    # jobs 1: a chunk holds at most a quarter of the waiting bytes (at least one file), 4 files at most.
    # 100 waiting -> budget 25: a (60) alone; 40 -> 10: b c (5 + 5); 30 -> 7.5: d e f (2 each) + g (1);
    # 23 -> 5.75: h (20) alone; 3 -> 0.75: i, then j.
    sizes_bytes = [60, 5, 5, 2, 2, 2, 1, 20, 2, 1]
    assert ingest_module.task_chunks(tasks, sizes_bytes, jobs=1) == [
        ["a"],
        ["b", "c"],
        ["d", "e", "f", "g"],
        ["h"],
        ["i"],
        ["j"],
    ]
    # equal sizes, 10 files, jobs 2: budget 10/8 of a file -> one file a chunk throughout
    assert ingest_module.task_chunks(tasks, [7] * 10, jobs=2) == [[task] for task in tasks]


def test_jobs_2_in_chunks_yields_every_file_once_in_order(tmp_path, monkeypatch):
    for index in range(40):
        (tmp_path / f"t{index:02d}.xml").write_text(TWO_SEQUENCES, encoding="utf-8")
    chunk_sizes = []

    class CountingPool(ingest_module.ProcessPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            chunk_sizes.append(len(args[0]))
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "ProcessPoolExecutor", CountingPool)
    files = ingest_module.find_inputs([tmp_path])
    results = list(ingest_module.convert_files(files, 3, None, jobs=2))
    assert [result.input.relative for result in results] == [f"t{index:02d}.xml" for index in range(40)]
    assert all(len(result.timelines) == 2 for result in results)
    # equal sizes: up to waiting / 8 files, 4 at most: 40, 36, 32 waiting -> 4; 28, 25 -> 3; 22 .. 16 -> 2; then 1
    assert chunk_sizes == [4, 4, 4, 3, 3, 2, 2, 2, 2] + [1] * 14
