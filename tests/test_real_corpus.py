"""Every file of ../shared/corpus/real ingests, and chosen cells come out as computed by hand.

The expected numbers below were computed from the XML by hand (the arithmetic is in
the comments) with the conversion of DESIGN.md §2; the files are read in place.
"""

import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from multitrack.features.ingest import find_inputs, ingest
from multitrack.features.manifest import manifest_path
from multitrack.features.schema import VALUE_FEATURES

HELAFTEN = "nrk/Helaften_del-1-MASTER-v3"
DNPR = "nrk/dnpr6370211-alt-offline.hg"


@pytest.fixture(scope="module")
def ingested(real_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("real") / "frames.parquet"
    report = ingest([real_corpus], out, progress=False)
    manifest = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    return report, out, manifest


def track_cells(out, timeline: str, track: str, frames: list[int]) -> dict[str, np.ndarray]:
    """Columns of one track at the given frames of one timeline, in `frames` order."""
    columns = ["frame"] + [f"{track}_{name}" for name in ("active", "asset", *VALUE_FEATURES)]
    table = pq.read_table(out, columns=columns, filters=[("timeline", "=", timeline), ("frame", "in", frames)])
    order = np.argsort(table.column("frame").to_numpy())
    assert table.column("frame").to_numpy()[order].tolist() == sorted(frames)
    rank = {frame: i for i, frame in enumerate(sorted(frames))}
    pick = order[[rank[frame] for frame in frames]]
    return {name.split("_", 1)[1]: table.column(name).to_numpy()[pick] for name in columns[1:]}


def test_every_file_ingests_except_the_empty_sequence(real_corpus, ingested):
    report, _, manifest = ingested
    files = {entry["path"]: entry for entry in manifest["files"]}
    assert set(files) == {file.relative for file in find_inputs([real_corpus])}
    empty = files.pop("nrk/EMPTY_SEQUENCE.xml")
    assert "EMPTY_SEQUENCE.xml" in empty["error"] and "no <sequence>" in empty["error"]
    assert all(entry["error"] is None and entry["timelines"] for entry in files.values())
    assert (report.failed, report.files) == (1, len(files) + 1)
    assert report.frames == sum(t["frames"] for entry in files.values() for t in entry["timelines"])


def test_table_has_every_timeline_and_no_nan(ingested):
    _, out, manifest = ingested
    ids = [t["id"] for entry in manifest["files"] for t in entry["timelines"]]
    parquet = pq.ParquetFile(out)
    counts: dict[str, int] = {}
    for batch in parquet.iter_batches(batch_size=65_536):
        for timeline, count in zip(*pc.value_counts(batch.column("timeline")).flatten(), strict=True):
            counts[timeline.as_py()] = counts.get(timeline.as_py(), 0) + count.as_py()
        for name in batch.schema.names[2:]:
            assert not np.isnan(batch.column(name).to_numpy().astype(np.float64)).any(), name
    assert counts == {t["id"]: t["frames"] for entry in manifest["files"] for t in entry["timelines"]}
    assert len(ids) == len(set(ids))


def test_helaften_keyframed_center_on_a_vertical_phone_clip(ingested):
    # clipitem-291 on V2: start 20156, end 20431, in 13 (speed 100), file-50 = 1080x1920 phone
    # footage in a 1920x1080 sequence. Scale 163 static, center h 0, v keyed on the source axis:
    # 13 -> 0.0369792, 39 -> 0.167708, 91 -> 0.096875, 287 -> 0.165625.
    # scale = 163 * 1080 / 1920 / 100 = 0.916875; pos_y = v * 1920 / 1080 = v * 16/9.
    _, out, manifest = ingested
    frames = [20156, 20169, 20208, 20300, 20430, 20431]
    cells = track_cells(out, HELAFTEN, "v02", frames)
    assert cells["active"].tolist() == [1, 1, 1, 1, 1, 0]  # end 20431 is exclusive
    expected_pos_y = [
        0.0369792 * 16 / 9,  # 20156 -> source 13: first key = 0.06574080
        (0.0369792 + 0.167708) / 2 * 16 / 9,  # 20169 -> source 26, halfway 13..39 = 0.18194418
        (0.167708 + 0.096875) / 2 * 16 / 9,  # 20208 -> source 65, halfway 39..91 = 0.23518489
        (0.096875 + 66 / 196 * 0.06875) * 16 / 9,  # 20300 -> source 157 = 91 + 66 of 196 = 0.21337868
        0.165625 * 16 / 9,  # 20430 -> source 287: last key = 0.29444444
        0.0,  # 20431: no clip
    ]
    np.testing.assert_allclose(cells["pos_y"], expected_pos_y, rtol=1e-6)
    np.testing.assert_allclose(
        cells["pos_y"][:5], [0.0657408, 0.18194418, 0.23518489, 0.21337868, 0.29444444], rtol=1e-6
    )
    np.testing.assert_allclose(cells["scale"], [0.916875] * 5 + [0.0], rtol=1e-6)
    assert not cells["pos_x"].any() and not cells["crop_left"].any()
    # The asset number points at file-50 in the manifest, with its media size.
    number = int(cells["asset"][0])
    assert (cells["asset"][:5] == number).all()
    (helaften,) = next(f for f in manifest["files"] if f["path"] == HELAFTEN + ".xml")["timelines"]
    asset = helaften["assets"][number - 1]
    assert (asset["number"], asset["id"], asset["width"], asset["height"]) == (number, "file-50", 1080, 1920)


def test_dnpr_crop_top_wipe(ingested):
    # FCP7 v1 file. Clip "AA1480_01 3" on V2: start 7908, end 7918, in 291; media 1920x1080 = the
    # sequence, so scale 115 % -> 1.15 and center (0.00132802, 0.0306604) unchanged.
    # Crop top keys on the source axis: 291 -> 0, 294 -> 30, 298 -> 75, 300 -> 100; frame t shows
    # source 291 + (t - 7908): 292 -> 10, 293 -> 20, 295 -> 30 + 45/4 = 41.25, 297 -> 63.75, 299 -> 87.5.
    _, out, _ = ingested
    frames = list(range(7907, 7919))
    cells = track_cells(out, DNPR, "v02", frames)
    assert cells["active"].tolist() == [0] + [1] * 10 + [0]
    np.testing.assert_allclose(cells["crop_top"], [0, 0, 10, 20, 30, 41.25, 52.5, 63.75, 75, 87.5, 100, 0], rtol=1e-6)
    np.testing.assert_allclose(cells["scale"][1:11], 1.15, rtol=1e-6)
    np.testing.assert_allclose(cells["pos_x"][1:11], 0.00132802, rtol=1e-6)
    np.testing.assert_allclose(cells["pos_y"][1:11], 0.0306604, rtol=1e-6)


def test_dnpr_crop_left_and_right_wipes(ingested):
    # "AA1483_01 3" on V2: start 8457, in 308, scale 102; crop left keys 312 -> 0, 317 -> 19,
    # 321 -> 42, 324 -> 59, 329 -> 90, 332 -> 100. Frame 8460 -> source 311: held 0;
    # 8463 -> 314: 19 * 2/5 = 7.6; 8468 -> 319: 19 + 23 * 2/4 = 30.5; 8481 -> 332: 100.
    _, out, _ = ingested
    left = track_cells(out, DNPR, "v02", [8457, 8460, 8463, 8468, 8481])
    np.testing.assert_allclose(left["crop_left"], [0, 0, 7.6, 30.5, 100], rtol=1e-6)
    np.testing.assert_allclose(left["scale"], 1.02, rtol=1e-6)
    # "AA1484_01 2" on V2: start 9194, in 380; crop right keys 381 -> 0, 386 -> 20, 391 -> 44,
    # 396 -> 63, 400 -> 80, 405 -> 100. 9194 -> 380: held 0; 9200 -> 386: 20; 9218 -> 404: 80 + 20 * 4/5 = 96.
    right = track_cells(out, DNPR, "v02", [9194, 9200, 9218])
    np.testing.assert_allclose(right["crop_right"], [0, 20, 96], rtol=1e-6)


def test_audio_tracks_are_read_and_unheard_where_the_media_is_not_here(ingested):
    # The corpus holds no media: every heard asset is missing, every audio frame unheard, no error.
    report, out, manifest = ingested
    assert report.failed == 1  # EMPTY_SEQUENCE.xml only, as without audio
    media = manifest["summary"]["media"]
    assert media["found"] == 0 and media["missing"] > 100 and media["unreadable"] == 0
    helaften = next(t for f in manifest["files"] for t in f["timelines"] if t["id"] == HELAFTEN)
    assert (helaften["audio_tracks_kept"], helaften["audio_tracks_dropped"]) == (23, 0)
    types = [(t["premiere_type"], t["exploded_index"], t["exploded_count"]) for t in helaften["audio_tracks"]]
    assert types[:2] == [("Stereo", 0, 2), ("Stereo", 1, 2)]  # a stereo track is two xmeml tracks
    assert all(t["heard_frames"] == 0 and t["speech_share"] is None for t in helaften["audio_tracks"])
    table = pq.read_table(out, columns=[n for n in pq.read_schema(out).names if n.startswith("a")])
    for name in table.column_names:
        column = table.column(name).to_numpy()
        if name.endswith(("_heard", "_speech")):
            assert not column.any(), name
        elif name.endswith("_loudness_db"):
            assert (column == -90).all(), name


def test_helaften_camera_sound_shares_the_video_asset_number_and_levels_become_db(ingested):
    # clipitem-516 on A1 plays file-31 (channel 1) at timeline 11310..12419 from in 25, as
    # clipitem-41 shows it on V1 (11316..12419). Its Audio Levels are 0 (-90 dB) up to source
    # frame 131, then 1.83348 linear over source 141..279 = timeline 11426..11564: 20·log10 = 5.2655 dB.
    _, out, _ = ingested
    frames = [11310, 11400, 11430, 11500, 12000]
    table = pq.read_table(
        out,
        columns=["frame", "v01_asset", "a01_active", "a01_asset", "a01_gain_db"],
        filters=[("timeline", "=", HELAFTEN), ("frame", "in", frames)],
    ).sort_by("frame")
    assert table.column("a01_active").to_pylist() == [1] * 5
    assert table.column("a01_asset").to_pylist()[-1] == table.column("v01_asset").to_pylist()[-1] > 0
    gain = table.column("a01_gain_db").to_numpy()
    assert gain[0] == -90 and gain[2] == pytest.approx(20 * np.log10(1.83348), abs=1e-4)
    assert gain[3] == pytest.approx(20 * np.log10(1.83348), abs=1e-4)


def test_video_columns_do_not_depend_on_audio(real_corpus, ingested, tmp_path):
    _, out, _ = ingested
    video_only = tmp_path / "video.parquet"
    ingest([real_corpus], video_only, progress=False, audio=False, max_audio_tracks=0)
    names = pq.read_schema(video_only).names
    assert not any(name.startswith("a") for name in names)
    assert pq.read_table(video_only).equals(pq.read_table(out, columns=names))
