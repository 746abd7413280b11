import numpy as np
import pyarrow.parquet as pq
import pytest

from framegen import constant_timeline, random_timeline, write_frame_table
from multitrack.errors import DataError
from multitrack.features.table import FrameTable


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
