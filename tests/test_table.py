import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from framegen import constant_timeline, random_timeline, write_frame_table
from multitrack.errors import DataError
from multitrack.features.table import VIDEO, ColumnGroup, Feature, FrameTable, FrameTableWriter, TimelineColumns


def test_reads_back_what_was_written_across_row_groups(tmp_path):
    timelines = [random_timeline("a", 20, tracks=3, seed=1), random_timeline("b", 13, tracks=3, seed=2)]
    path = write_frame_table(tmp_path / "f.parquet", timelines, rows_per_group=7)  # groups cut through timelines
    table = FrameTable.open(path)
    assert table.timeline_ids == ["a", "b"] and table.frames == {"a": 20, "b": 13}
    assert table.segments["b"] == [(2, 6, 1), (3, 0, 7), (4, 0, 5)]  # rows 20..32 in groups of 7
    for timeline in timelines:
        arrays = table.read_timeline(timeline.id)
        assert np.array_equal(arrays.active, timeline.active)
        assert np.array_equal(arrays.asset, timeline.asset)
        assert np.array_equal(arrays.values, timeline.values)


def test_max_tracks_keeps_the_bottom_tracks(tmp_path):
    timeline = random_timeline("a", 10, tracks=3, seed=1)
    table = FrameTable.open(write_frame_table(tmp_path / "f.parquet", [timeline]), max_tracks=2)
    assert (table.tracks, table.table_tracks) == (2, 3)
    assert np.array_equal(table.read_timeline("a").values, timeline.values[:, :2])


@pytest.mark.parametrize(("bad", "shown"), [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_value_names_timeline_frame_and_column(tmp_path, bad, shown):
    broken = constant_timeline("ed/b", 10, tracks=2)
    broken.values[7, 1, 1] = bad  # v02_pos_x at frame 7
    broken.values[8, 0, 0] = bad  # a later frame: not the one reported
    path = write_frame_table(tmp_path / "f.parquet", [constant_timeline("ed/a", 5, tracks=2), broken])
    table = FrameTable.open(path)
    table.read_timeline("ed/a")
    with pytest.raises(DataError, match=rf"f.parquet: timeline 'ed/b', frame 7, column v02_pos_x: value is {shown}$"):
        table.read_timeline("ed/b")


def test_null_value_is_reported(tmp_path):
    path = write_frame_table(tmp_path / "f.parquet", [constant_timeline("a", 4)])
    table = pq.read_table(path)
    column = table.column("v01_crop_top").to_pylist()
    column[2] = None
    pq.write_table(table.set_column(table.schema.get_field_index("v01_crop_top"), "v01_crop_top", [column]), path)
    with pytest.raises(DataError, match=r"timeline 'a', frame 2, column v01_crop_top: value is missing"):
        FrameTable.open(path).read_timeline("a")


def test_rows_out_of_order_are_reported(tmp_path):
    timeline = constant_timeline("a", 4)
    path = write_frame_table(tmp_path / "f.parquet", [timeline, timeline])  # the same id twice
    with pytest.raises(DataError, match=r"timeline 'a': row 4 holds frame 0, expected 4"):
        FrameTable.open(path).read_timeline("a")


def test_active_must_be_binary(tmp_path):
    timeline = constant_timeline("a", 4)
    timeline.active[3, 1] = 2
    with pytest.raises(DataError, match=r"timeline 'a', frame 3, column v02_active: expected 0 or 1, got 2"):
        FrameTable.open(write_frame_table(tmp_path / "f.parquet", [timeline])).read_timeline("a")


def test_missing_column_and_missing_file(tmp_path):
    path = write_frame_table(tmp_path / "f.parquet", [constant_timeline("a", 4)])
    pq.write_table(pq.read_table(path).drop_columns(["v02_crop_left"]), path)
    with pytest.raises(DataError, match=r"f.parquet: column 'v02_crop_left' is missing"):
        FrameTable.open(path)
    with pytest.raises(DataError, match=r"nope.parquet: frame table not found"):
        FrameTable.open(tmp_path / "nope.parquet")


# The version and the column groups (features/table/columns.py): the key is spelled out, so a rename is caught.
VERSION_KEY = b"multitrack.frame_table.version"
TRANSITIONS = ColumnGroup(  # a later video group, as DESIGN.md §2 "Versions" plans one
    "transitions", "v", (Feature("opacity", np.dtype(np.float32), 1.0), Feature("transition", np.dtype(np.int8))), 3
)


def test_the_writer_records_the_version_and_the_reader_reads_back_its_rows(tmp_path):
    timeline = random_timeline("ed/a", 12, tracks=2, seed=3)
    timeline.values[:, 0, 3] = 0  # v01_crop_left all zero: packed as None
    by_track = [[timeline.active[:, t], timeline.asset[:, t], *timeline.values[:, t].T] for t in range(2)]
    columns = [np.ascontiguousarray(column) if column.any() else None for track in by_track for column in track]
    path = tmp_path / "f.parquet"
    with FrameTableWriter(path, max_tracks=3) as writer:  # V3 is empty: zeros
        writer.write("ed/a", TimelineColumns(timeline.frames, columns, entry={}))
    metadata = pq.ParquetFile(path).metadata.metadata
    assert metadata[VERSION_KEY] == b"2" and metadata[b"multitrack.frame_table.format"] == b"multitrack-frame-table"
    table = FrameTable.open(path)
    assert (table.version, table.tracks, table.defaulted, table.audio_tracks) == (2, 3, (), 24)
    arrays = table.read_timeline("ed/a")
    assert np.array_equal(arrays.active, np.pad(timeline.active, ((0, 0), (0, 1))))
    assert np.array_equal(arrays.asset, np.pad(timeline.asset, ((0, 0), (0, 1))))
    assert np.array_equal(arrays.values, np.pad(timeline.values, ((0, 0), (0, 1), (0, 0))))


def test_a_table_without_a_version_reads_as_version_1(tmp_path):
    timeline = random_timeline("a", 10, tracks=2, seed=1)
    path = write_frame_table(tmp_path / "f.parquet", [timeline], version=None)  # as written before versions
    assert VERSION_KEY not in (pq.ParquetFile(path).metadata.metadata or {})
    table = FrameTable.open(path)
    assert table.version == 1
    assert np.array_equal(table.read_timeline("a").values, timeline.values)


def test_a_newer_version_is_refused_naming_the_file_and_both_versions(tmp_path):
    path = write_frame_table(tmp_path / "f.parquet", [constant_timeline("a", 4)], version=3)
    with pytest.raises(
        DataError, match=r"f.parquet: frame table version 3 is newer than this multitrack reads \(version 2\)"
    ):
        FrameTable.open(path)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({VERSION_KEY: b"one"}, r"frame table version b'one' in its metadata is not a positive integer"),
        ({VERSION_KEY: b"0"}, r"frame table version b'0' in its metadata is not a positive integer"),
        ({b"multitrack.frame_table.format": b"other"}, r"its metadata names the format b'other'"),
    ],
)
def test_a_bad_version_or_another_format_is_refused(tmp_path, metadata, message):
    path = write_frame_table(tmp_path / "f.parquet", [constant_timeline("a", 4)])
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata(table.schema.metadata | metadata), path)
    with pytest.raises(DataError, match=rf"f.parquet: {message}"):
        FrameTable.open(path)


def test_a_group_newer_than_the_table_reads_as_its_defaults(tmp_path):
    timeline = random_timeline("a", 10, tracks=3, seed=1)
    path = write_frame_table(tmp_path / "f.parquet", [timeline])  # version 1: no transitions group
    table = FrameTable.open(path, max_tracks=2, groups=(VIDEO, TRANSITIONS))
    assert table.defaulted == ("transitions",) and not any("opacity" in name for name in table.columns)
    group = table.read_group("a", TRANSITIONS)
    assert group["opacity"].dtype == np.float32 and group["transition"].dtype == np.int8
    assert np.array_equal(group["opacity"], np.ones((10, 2))) and np.array_equal(group["transition"], np.zeros((10, 2)))
    assert np.array_equal(table.read_timeline("a").values, timeline.values[:, :2])  # the video group as before
    assert np.array_equal(table.read_group("a", VIDEO)["asset"], timeline.asset[:, :2])


def test_a_group_the_table_has_is_read_and_a_partial_one_is_refused(tmp_path):
    path = write_frame_table(tmp_path / "f.parquet", [constant_timeline("a", 4, tracks=2)])
    table = pq.read_table(path)
    added = [("v01_opacity", [0.5] * 4, pa.float32()), ("v02_opacity", [1.0] * 4, pa.float32())]
    for name, values, arrow_type in [*added, ("v01_transition", [1] * 4, pa.int8())]:
        table = table.append_column(name, pa.array(values, arrow_type))
    pq.write_table(table, path)
    with pytest.raises(DataError, match=r"f.parquet: column 'v02_transition' is missing \(the table has 2 tracks\)"):
        FrameTable.open(path, groups=(VIDEO, TRANSITIONS))
    pq.write_table(table.append_column("v02_transition", pa.array([2] * 4, pa.int8())), path)
    group = FrameTable.open(path, groups=(VIDEO, TRANSITIONS)).read_group("a", TRANSITIONS)
    assert group["opacity"].tolist() == [[0.5, 1.0]] * 4 and group["transition"].tolist() == [[1, 2]] * 4


def test_a_group_of_the_tables_own_version_must_be_there(tmp_path):
    path = write_frame_table(tmp_path / "f.parquet", [constant_timeline("a", 4, tracks=2)])
    seed_group = ColumnGroup("transitions", "v", TRANSITIONS.features, version=1)  # as if version 1 had it
    with pytest.raises(DataError, match=r"column 'v01_opacity' is missing"):
        FrameTable.open(path, groups=(VIDEO, seed_group))


# --- the audio group (version 2) ------------------------------------------------------------


def test_a_version_1_table_reads_every_audio_track_as_unheard(tmp_path):
    timeline = random_timeline("a", 10, tracks=2, seed=4)
    path = write_frame_table(tmp_path / "f.parquet", [timeline])  # framegen writes version 1: video only
    table = FrameTable.open(path)
    assert (table.version, table.defaulted, table.has_audio, table.audio_tracks) == (1, ("audio",), False, 24)
    arrays = table.read_timeline("a", audio=True)
    assert np.array_equal(arrays.values, timeline.values)
    audio = arrays.audio
    assert audio is not None and audio.loudness_db.shape == (10, 24)
    assert (audio.loudness_db == -90).all() and audio.loudness_db.dtype == np.float32
    for name in ("active", "asset", "gain_db", "speech", "heard"):
        assert not getattr(audio, name).any(), name
    assert FrameTable.open(path, max_audio_tracks=3).read_audio("a").heard.shape == (10, 3)


def test_audio_columns_round_trip_with_defaults_for_empty_tracks(tmp_path):
    frames = 6
    video = [np.ones(frames, np.int8), np.full(frames, 1, np.int32), *([None] * 7)]
    loudness = np.linspace(-60, -10, frames).astype(np.float32)
    speech = np.array([0, 0.5, 1, 1, 0, 0], np.float32)
    heard = np.array([1, 1, 1, 1, 1, 0], np.int8)
    audio_track = [np.ones(frames, np.int8), np.full(frames, 2, np.int32), np.full(frames, -6, np.float32)]
    audio_columns = [*audio_track, loudness, speech, heard]
    path = tmp_path / "f.parquet"
    with FrameTableWriter(path, max_tracks=1, max_audio_tracks=2) as writer:
        writer.write("a", TimelineColumns(frames, video, {}, audio_columns=[None] * 6 + audio_columns))
    assert pq.read_schema(path).names[-12:-6] == [
        "a01_active",
        "a01_asset",
        "a01_gain_db",
        "a01_loudness_db",
        "a01_speech",
        "a01_heard",
    ]
    table = FrameTable.open(path)
    assert (table.audio_tracks, table.has_audio) == (2, True)
    audio = table.read_audio("a")
    assert (audio.loudness_db[:, 0] == -90).all() and not audio.heard[:, 0].any()  # A1 empty: the defaults
    assert np.array_equal(audio.loudness_db[:, 1], loudness) and np.array_equal(audio.speech[:, 1], speech)
    assert np.array_equal(audio.heard[:, 1], heard) and (audio.gain_db[:, 1] == -6).all()
    assert audio.asset.dtype == np.int64 and (audio.asset[:, 1] == 2).all()


def test_a_bad_audio_value_names_the_column(tmp_path):
    path = tmp_path / "f.parquet"
    frames = 4
    bad_heard = np.array([0, 1, 2, 1], np.int8)
    with FrameTableWriter(path, max_tracks=1, max_audio_tracks=1) as writer:
        writer.write("a", TimelineColumns(frames, [None] * 9, {}, audio_columns=[None] * 5 + [bad_heard]))
    with pytest.raises(DataError, match=r"timeline 'a', frame 2, column a01_heard: expected 0 or 1, got 2"):
        FrameTable.open(path).read_timeline("a", audio=True)
    FrameTable.open(path).read_timeline("a")  # video only: the audio columns are not read
