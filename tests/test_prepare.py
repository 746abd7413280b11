import json

import numpy as np
import pytest

from framegen import constant_timeline, prepare_tiny, random_timeline, tiny_corpus, write_frame_table
from multitrack.cli import main
from multitrack.config import load_config
from multitrack.data.normalize import load_stats
from multitrack.data.prepare import prepare
from multitrack.data.prepared import file_sha256, open_prepared, split_digest
from multitrack.errors import ConfigError, DataError


def _config(*overrides):
    return load_config(None, ["window.length=8", "window.stride=4", *overrides])


def _arrays_by_timeline(prepared):
    """{timeline id: (split, arrays)} over all splits."""
    return {
        entry["id"]: (split.name, split.timeline_arrays(i))
        for split in prepared.splits.values()
        for i, entry in enumerate(split.timelines)
    }


def test_every_timeline_lands_in_exactly_one_split(tmp_path):
    corpus = tiny_corpus(10, seed=1)
    prepared = open_prepared(prepare_tiny(tmp_path, timelines=corpus), verify_hashes=True)
    seen = [entry["id"] for split in prepared.splits.values() for entry in split.timelines]
    assert sorted(seen) == sorted(t.id for t in corpus)
    assert {tid: split for tid, (split, _) in _arrays_by_timeline(prepared).items()} == prepared.info["splits"]
    assert [prepared.info["counts"][name]["timelines"] for name in ("train", "val", "test")] == [6, 2, 2]  # 60/20/20


def test_arrays_hold_normalised_values_and_folded_assets(tmp_path):
    corpus = tiny_corpus(6, seed=2)
    prepared = open_prepared(prepare_tiny(tmp_path, ["data.asset_classes=4"], timelines=corpus))
    stats = prepared.stats
    for timeline in corpus:
        split, arrays = _arrays_by_timeline(prepared)[timeline.id]
        assert np.array_equal(arrays["active"], timeline.active)
        assert np.array_equal(arrays["asset"], np.minimum(timeline.asset, 3))  # K=4: ids 3, 4, 5 -> 3
        on = timeline.active > 0
        expected = (timeline.values - stats.mean) / stats.std
        assert np.allclose(arrays["values"][on], expected[on], atol=1e-5)
        # an inactive track holds what it last showed (NormStats.apply carries it): compare
        # every inactive row with the last active row of its track before it
        for row, track in zip(*np.nonzero(~on), strict=True):
            earlier = np.flatnonzero(on[:row, track])
            if earlier.size:
                assert np.allclose(arrays["values"][row, track], expected[earlier[-1], track], atol=1e-5)
    entry = prepared.splits["train"].timelines[0]
    assert entry["fps"] == 25.0 and entry["width"] == 1920 and entry["assets"][0]["width"] == 3840


def test_timeline_history_counts_from_each_timeline_start(tmp_path):
    # a: V1 on top, V2 over it at frames 2-3, V1 again; b: V2 alone. b follows a in the split's
    # rows but counts from its own first frame (32767: never on top)
    a = constant_timeline("a", 6)
    a.active[2:4, 1], a.asset[2:4, 1] = 1, 2
    b = constant_timeline("b", 3)
    b.active[:, 0], b.active[:, 1], b.asset[:, 0], b.asset[:, 1] = 0, 1, 0, 1
    out = prepare(write_frame_table(tmp_path / "f.parquet", [a, b]), tmp_path / "p", _config("data.split=[1, 0, 0]"))
    never = 32767
    arrays = _arrays_by_timeline(open_prepared(out, verify_hashes=True))
    since = {tid: split_arrays["since_on_top"].tolist() for tid, (_, split_arrays) in arrays.items()}
    assert since == {
        "a": [[0, never], [0, never], [1, 0], [2, 0], [0, 1], [0, 2]],
        "b": [[never, 0], [never, 0], [never, 0]],
    }
    # the cuts so far from the track on top now: back on V1, its one cut so far went to V2
    cuts = {tid: split_arrays["cuts_from_top"].tolist() for tid, (_, split_arrays) in arrays.items()}
    assert cuts == {"a": [[0, 0], [0, 0], [0, 0], [0, 0], [0, 1], [0, 1]], "b": [[0, 0]] * 3}


def test_stats_come_from_the_training_split_only(tmp_path):
    corpus = tiny_corpus(10, seed=3)
    first = open_prepared(prepare_tiny(tmp_path / "a", timelines=corpus))
    held_out = {tid for tid, split in first.info["splits"].items() if split != "train"}
    for timeline in corpus:
        if timeline.id in held_out:
            timeline.values *= 10  # wildly different val/test values
    second = open_prepared(prepare_tiny(tmp_path / "b", timelines=corpus))
    assert second.info["splits"] == first.info["splits"]
    assert (tmp_path / "a/prepared/stats.json").read_text() == (tmp_path / "b/prepared/stats.json").read_text()
    assert second.fingerprint == first.fingerprint  # the training arrays did not change either
    assert second.info["split_sha256"]["val"] != first.info["split_sha256"]["val"]


def test_split_by_folder_keeps_editors_together(tmp_path):
    prepared = open_prepared(prepare_tiny(tmp_path, ["data.split_by=folder"], timelines=tiny_corpus(12, editors=4)))
    folders = {}
    for split in prepared.splits.values():
        for entry in split.timelines:
            assert folders.setdefault(entry["folder"], split.name) == split.name
    assert sorted(folders.values()) == ["test", "train", "train", "val"]  # 4 editors at 60/20/20


def test_small_corpus_still_fills_every_split(tmp_path):
    prepared = open_prepared(prepare_tiny(tmp_path, ["data.split=[0.8, 0.1, 0.1]"], timelines=tiny_corpus(3)))
    assert [split.rows > 0 for split in prepared.splits.values()] == [True, True, True]


def test_windows_and_fingerprint(tmp_path):
    corpus = [constant_timeline("a", 20), constant_timeline("b", 5), constant_timeline("c", 9)]
    out = prepare(write_frame_table(tmp_path / "f.parquet", corpus), tmp_path / "p", _config("data.split=[1, 0, 0]"))
    prepared = open_prepared(out)
    train = prepared.splits["train"]
    assert [(e["id"], e["row_offset"], e["frames"]) for e in train.timelines] == [
        ("a", 0, 20),
        ("b", 20, 5),
        ("c", 25, 9),
    ]
    # a: 9-frame windows every 4 frames at 0, 4, 8 and a tail at 12..19; b: one short window; c: one full one.
    windows = np.load(out / "train/windows.npy").tolist()
    assert windows == [[0, 9], [4, 9], [8, 9], [12, 8], [20, 5], [25, 9]]
    names = ("active.npy", "asset.npy", "values.npy", "since_on_top.npy", "cuts_from_top.npy", "windows.npy")
    hashes = {name: file_sha256(out / "train" / name) for name in names}
    assert prepared.fingerprint == split_digest(hashes)
    assert prepared.splits["val"].rows == 0 and prepared.splits["val"].windows == 0


def test_resampling_to_data_fps(tmp_path):
    timeline = random_timeline("a", 10, tracks=2, seed=4, fps=25.0)
    out = prepare(
        write_frame_table(tmp_path / "f.parquet", [timeline]),
        tmp_path / "p",
        _config("data.fps=50", "data.split=[1, 0, 0]"),
    )
    train = open_prepared(out).splits["train"]
    entry = train.timelines[0]
    assert (entry["frames"], entry["fps"], entry["source_frames"], entry["source_fps"]) == (20, 50.0, 10, 25.0)
    assert np.array_equal(train.timeline_arrays(0)["asset"], np.repeat(timeline.asset, 2, axis=0))
    assert json.loads((out / "prepared.json").read_text())["fps"] == 50.0


def test_max_tracks(tmp_path):
    frames = write_frame_table(tmp_path / "f.parquet", tiny_corpus(4, tracks=3))
    assert open_prepared(prepare(frames, tmp_path / "two", _config("data.max_tracks=2"))).max_tracks == 2
    assert open_prepared(prepare(frames, tmp_path / "all", _config("data.max_tracks=20"))).max_tracks == 3


def test_nan_stops_prepare_and_writes_nothing(tmp_path):
    corpus = tiny_corpus(5)
    corpus[3].values[11, 2, 4] = np.nan  # v03_crop_right at frame 11
    frames = write_frame_table(tmp_path / "f.parquet", corpus)
    with pytest.raises(DataError, match=rf"timeline '{corpus[3].id}', frame 11, column v03_crop_right: value is nan"):
        prepare(frames, tmp_path / "out", _config())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "f.manifest.json",
        "f.parquet",
    ]  # no output, no staging folder


def test_failed_rerun_keeps_the_previous_folder_and_a_good_one_replaces_it(tmp_path):
    corpus = tiny_corpus(5)
    frames = write_frame_table(tmp_path / "f.parquet", corpus)
    out = prepare(frames, tmp_path / "out", _config())
    before = (out / "prepared.json").read_text()
    with pytest.raises(ConfigError):
        prepare(frames, out, _config("data.asset_classes=1"))
    corpus[0].values[0, 0, 0] = np.inf
    write_frame_table(tmp_path / "f.parquet", corpus)
    with pytest.raises(DataError, match="value is inf"):
        prepare(frames, out, _config())
    assert (out / "prepared.json").read_text() == before
    corpus[0].values[0, 0, 0] = 1.0
    write_frame_table(tmp_path / "f.parquet", corpus)
    prepare(frames, out, _config("data.seed=7"))
    assert json.loads((out / "prepared.json").read_text())["data"]["seed"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.manifest.json", "f.parquet", "out"]


def test_refuses_to_replace_a_folder_that_is_not_prepared(tmp_path):
    frames = write_frame_table(tmp_path / "f.parquet", tiny_corpus(3))
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos/cat.jpg").write_bytes(b"\xff")
    with pytest.raises(DataError, match="photos: exists and is not a prepared folder"):
        prepare(frames, tmp_path / "photos", _config())


def test_without_manifest(tmp_path):
    frames = write_frame_table(tmp_path / "f.parquet", tiny_corpus(4), with_manifest=False)
    prepared = open_prepared(prepare(frames, tmp_path / "p", _config()))
    assert prepared.splits["train"].timelines[0]["fps"] is None
    with pytest.raises(DataError, match=r"split_by='folder' needs the manifest f.manifest.json"):
        prepare(frames, tmp_path / "p", _config("data.split_by=folder"))
    with pytest.raises(DataError, match=r"data.fps=25.0 needs each timeline's rate"):
        prepare(frames, tmp_path / "p", _config("data.fps=25"))


def test_manifest_must_match_the_table(tmp_path):
    frames = write_frame_table(tmp_path / "f.parquet", tiny_corpus(4))
    write_frame_table(tmp_path / "other.parquet", tiny_corpus(2, seed=9))
    (tmp_path / "f.manifest.json").write_text((tmp_path / "other.manifest.json").read_text())
    with pytest.raises(DataError, match=r"f.manifest.json: no entry for timeline 'editor\d/tl_\d+' of the table"):
        prepare(frames, tmp_path / "p", _config())


def test_cli(tmp_path, capsys):
    frames = write_frame_table(tmp_path / "f.parquet", tiny_corpus(5))
    config = tmp_path / "c.yaml"
    config.write_text("window:\n  length: 8\n  stride: 4\n")
    args = ["prepare", str(frames), "-o", str(tmp_path / "p"), "--config", str(config), "--no-progress"]
    assert main(args + ["--set", "data.asset_classes=6"]) == 0
    assert "train 3 timelines" in capsys.readouterr().out
    assert open_prepared(tmp_path / "p").asset_classes == 6
    assert load_stats(tmp_path / "p/stats.json").std.shape == (7,)
    assert main(args + ["--set", "window.stride=9"]) == 1
    assert "window.stride: must be between 1 and window.length (8), got 9" in capsys.readouterr().err


def test_real_corpus_ingested_then_prepared(real_corpus, tmp_path):
    from multitrack.features.ingest import ingest

    picks = {
        "nrk": ("final_cut_pro.xml", "enabled.xml", "Fade inn og ut.xml"),
        "otio": ("premiere_example.xml", "hiero_xml_export.xml"),
    }
    for folder, names in picks.items():  # links, not copies: two editor folders of a few small files
        (tmp_path / "corpus" / folder).mkdir(parents=True)
        for name in names:
            (tmp_path / "corpus" / folder / name).symlink_to(real_corpus / folder / name)
    report = ingest([tmp_path / "corpus"], tmp_path / "frames.parquet", max_tracks=4, progress=False)
    assert report.failed == 0
    config = _config("data.split_by=folder", "data.fps=25", "data.split=[0.5, 0.5, 0]")
    prepared = open_prepared(prepare(tmp_path / "frames.parquet", tmp_path / "p", config), verify_hashes=True)
    entries = {e["id"]: e for split in prepared.splits.values() for e in split.timelines}
    assert len(entries) == 5
    assert {entries[tid]["folder"] for tid in entries if prepared.info["splits"][tid] == "train"} in ({"nrk"}, {"otio"})
    ntsc = entries["nrk/final_cut_pro"]
    # 29.97 fps (30000/1001) sampled at 25 fps: ceil(frames × 25 × 1001 / 30000) rows.
    assert ntsc["source_fps"] == pytest.approx(30000 / 1001)
    assert ntsc["frames"] == -(-ntsc["source_frames"] * 25 * 1001 // 30000) and ntsc["fps"] == 25.0
    for split in prepared.splits.values():
        if split.rows:
            assert np.isfinite(split.arrays()["values"]).all()


def test_a_version_2_table_with_audio_prepares_as_its_video_alone(tmp_path):
    """The model does not hear yet (issue 16): the audio columns change no prepared byte."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    corpus = tiny_corpus(4, tracks=2)
    (tmp_path / "v1").mkdir()
    v1 = write_frame_table(tmp_path / "v1" / "f.parquet", corpus)
    table = pq.read_table(v1)
    rng = np.random.default_rng(0)
    n = table.num_rows
    audio = {
        "a01_active": pa.array(rng.integers(0, 2, n).astype(np.int8)),
        "a01_asset": pa.array(rng.integers(0, 3, n).astype(np.int32)),
        "a01_gain_db": pa.array(rng.normal(0, 3, n).astype(np.float32)),
        "a01_loudness_db": pa.array(rng.uniform(-90, 0, n).astype(np.float32)),
        "a01_speech": pa.array(rng.uniform(0, 1, n).astype(np.float32)),
        "a01_heard": pa.array(rng.integers(0, 2, n).astype(np.int8)),
    }
    for name, column in audio.items():
        table = table.append_column(name, column)
    metadata = table.schema.metadata | {b"multitrack.frame_table.version": b"2"}
    (tmp_path / "v2").mkdir()
    v2 = tmp_path / "v2" / "f.parquet"
    pq.write_table(table.replace_schema_metadata(metadata), v2)
    (tmp_path / "v2" / "f.manifest.json").write_bytes(v1.with_suffix(".manifest.json").read_bytes())
    config = _config("data.fps=50")
    one, two = prepare(v1, tmp_path / "p1", config), prepare(v2, tmp_path / "p2", config)
    for split in ("train", "val", "test"):
        for name in ("active", "asset", "values", "since_on_top", "cuts_from_top", "windows"):
            assert file_sha256(one / split / f"{name}.npy") == file_sha256(two / split / f"{name}.npy"), name
    assert open_prepared(one).fingerprint == open_prepared(two).fingerprint


def test_data_assign_fixes_whole_editors(tmp_path):
    corpus = tiny_corpus(timelines=12, editors=4)
    prepared = open_prepared(
        prepare_tiny(
            tmp_path,
            ["data.split_by=folder", "data.split=[0.9, 0.1, 0.0]", 'data.assign={"folder=editor[12]": test}'],
            timelines=corpus,
        )
    )
    test_ids = {t["id"] for t in prepared.splits["test"].timelines}
    assert test_ids == {t.id for t in corpus if t.folder in ("editor1", "editor2")}
    with pytest.raises(ConfigError, match="matches no timeline"):
        prepare_tiny(tmp_path / "again", ['data.assign={"nobody/*": test}'], timelines=corpus)
