"""`multitrack prepare FRAMES -o DIR --like BUNDLE`, then `evaluate BUNDLE --data DIR --baselines` (issue 20).

End to end on tiny tables: a bundle trained on one table (prepared at data.fps 10 while the
training config says nothing of fps: the bundle records the prepared folder's data settings),
another table prepared like it (the whole table as test, with the bundle's statistics, classes,
rate, tracks and window), scored with the baselines fitted on the folder the bundle was trained on.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import shutil

import numpy as np
import pytest

from framegen import random_timeline, tiny_corpus, write_frame_table
from multitrack.cli import build_parser, main
from multitrack.config import load_config
from multitrack.data.prepare import prepare
from multitrack.data.prepared import open_prepared
from multitrack.errors import BundleError, DataError
from multitrack.evaluate.evaluate import EvaluateOptions, evaluate
from multitrack.train.bundle import load_bundle

OPTIONS = EvaluateOptions(prompt_seconds=0.5, horizon_seconds=1.0, samples=2, max_prompts=3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_config):
    """A bundle trained one epoch on table A (8 timelines, 25 fps), prepared at data.fps 10."""
    root = tmp_path_factory.mktemp("like")
    frames = write_frame_table(root / "a.parquet", tiny_corpus(8, tracks=3, seed=0))
    prepared = root / "prepared_a"
    args = ["--config", str(tiny_config), "--set", "data.fps=10", "--no-progress"]
    assert main(["prepare", str(frames), "-o", str(prepared), *args]) == 0
    run = root / "run"
    assert main(["train", "--config", str(tiny_config), "--data", str(prepared), "--run-dir", str(run)]) == 0
    return root, prepared, run / "bundle"


@pytest.fixture(scope="module")
def like_dir(trained):
    """Table B (5 other timelines at 30 fps, written without a version: the seed's columns)
    prepared like the bundle."""
    root, _, bundle = trained
    timelines = [random_timeline(f"show_b/tl_{i}", 90 + 10 * i, tracks=3, seed=50 + i, fps=30.0) for i in range(5)]
    frames = write_frame_table(root / "b.parquet", timelines, version=None)
    out = root / "prepared_b"
    assert main(["prepare", str(frames), "-o", str(out), "--like", str(bundle), "--no-progress"]) == 0
    return out


def test_the_bundle_records_the_data_settings_it_was_prepared_with(trained):
    _, prepared, bundle = trained
    config = load_bundle(bundle).config
    assert config.data.fps == 10.0  # from the prepared folder; the tiny config has none
    assert config.data.asset_classes == open_prepared(prepared).asset_classes == 8


def test_like_prepares_the_whole_table_as_test_with_the_bundle_settings(trained, like_dir):
    _, _, bundle_dir = trained
    bundle = load_bundle(bundle_dir)
    data = open_prepared(like_dir, verify_hashes=True)
    assert [len(data.splits[name].timelines) for name in ("train", "val", "test")] == [0, 0, 5]
    assert set(data.info["splits"].values()) == {"test"}
    assert (data.asset_classes, data.max_tracks) == (bundle.meta["asset_classes"], bundle.meta["max_tracks"])
    assert data.info["window"] == {"length": bundle.config.window.length, "stride": bundle.config.window.stride}
    np.testing.assert_array_equal(data.stats.mean, bundle.stats.mean)
    np.testing.assert_array_equal(data.stats.std, bundle.stats.std)
    test = data.splits["test"]
    assert [t["fps"] for t in test.timelines] == [10.0] * 5  # 30 fps resampled to the bundle's rate
    assert [t["frames"] for t in test.timelines] == [math.ceil((90 + 10 * i) / 3) for i in range(5)]
    assert data.info["like"] == {"fingerprint": bundle.meta["data_fingerprint"]}
    assert int(np.asarray(test.arrays()["asset"]).max()) <= bundle.meta["asset_classes"] - 1


def test_evaluate_scores_the_bundle_with_the_baselines_of_its_training_data(trained, like_dir):
    root, prepared, bundle = trained
    options = dataclasses.replace(OPTIONS, baselines=str(prepared))
    metrics = evaluate(bundle, like_dir, root / "eval", options)
    for name in ("model", "persistence", "markov", "semi_markov"):
        figures = metrics[name]["all_frames"]
        assert metrics[name]["n_frames"] == metrics["model"]["n_frames"] > 0
        for key in ("active_log_loss", "asset_accuracy", "active_accuracy"):
            assert math.isfinite(figures[key]), (name, key)
        assert metrics[name]["rollout"] is not None
    assert metrics["settings"]["baselines_fingerprint"] == open_prepared(prepared).fingerprint
    assert json.loads((root / "eval" / "metrics.json").read_text())["model"]["n_frames"] > 0


def test_evaluate_without_baselines_names_the_option(trained, like_dir, capsys):
    root, _, bundle = trained
    assert main(["evaluate", str(bundle), "--data", str(like_dir), "-o", str(root / "no_baselines")]) == 1
    message = capsys.readouterr().err
    assert "no train split to fit the baselines on" in message and "--baselines PREPARED_DIR" in message


def test_baselines_from_another_folder_than_the_bundle_was_trained_on_are_refused(trained, like_dir, tiny_config):
    root, prepared, bundle = trained
    other = prepare(
        write_frame_table(root / "c.parquet", tiny_corpus(6, tracks=3, seed=3)),
        root / "prepared_c",
        load_config(tiny_config, ["data.fps=10"]),
    )
    fingerprints = (open_prepared(other).fingerprint[:12], open_prepared(prepared).fingerprint[:12])
    options = dataclasses.replace(OPTIONS, baselines=str(other))
    with pytest.raises(
        DataError, match=rf"fingerprint {fingerprints[0]}….*not the one the bundle .* \({fingerprints[1]}…\)"
    ):
        evaluate(bundle, like_dir, root / "wrong_baselines", options)


def test_a_table_with_another_track_count_is_refused(trained):
    root, _, bundle = trained
    frames = write_frame_table(root / "two_tracks.parquet", tiny_corpus(3, tracks=2, seed=9))
    with pytest.raises(DataError, match=r"two_tracks\.parquet: the table has 2 video tracks, but the model .* reads 3"):
        _prepare_like(frames, root / "refused", bundle)


def test_a_bundle_with_another_value_schema_is_refused(trained, tmp_path):
    root, _, bundle = trained
    edited = _edited_bundle(bundle, tmp_path, lambda meta: meta["features"]["value_features"].append("opacity"))
    with pytest.raises(
        DataError, match=r"reads the values \[.*'crop_bottom', 'opacity'\], but this multitrack prepares"
    ):
        _prepare_like(root / "b.parquet", tmp_path / "refused", edited)


def test_a_bundle_whose_config_disagrees_with_its_asset_classes_is_refused(trained, tmp_path):
    root, _, bundle = trained
    edited = _edited_bundle(bundle, tmp_path, lambda meta: meta["config"]["data"].update(asset_classes=16))
    with pytest.raises(BundleError, match=r"the model has 8 asset classes, but its config says data.asset_classes=16"):
        _prepare_like(root / "b.parquet", tmp_path / "refused", edited)


def test_like_takes_no_config_or_overrides(trained, capsys):
    root, _, bundle = trained
    command = ["prepare", str(root / "b.parquet"), "-o", str(root / "x"), "--like", str(bundle), "--set", "data.fps=5"]
    assert main(command) == 1
    assert "--like takes every data and window setting from the bundle" in capsys.readouterr().err


def test_a_like_folder_is_not_for_training(trained, like_dir, tiny_config, capsys):
    root, _, _ = trained
    assert main(["train", "--config", str(tiny_config), "--data", str(like_dir), "--run-dir", str(root / "no")]) == 1
    assert "prepared --like a bundle, it holds only a test split" in capsys.readouterr().err


def _prepare_like(frames, out, bundle):
    """`multitrack prepare FRAMES -o OUT --like BUNDLE`, letting its error out (main prints it)."""
    args = build_parser().parse_args(["prepare", str(frames), "-o", str(out), "--like", str(bundle), "--no-progress"])
    return importlib.import_module(args.verb_module).run(args)


def _edited_bundle(bundle, tmp_path, edit):
    """A copy of the bundle with bundle.json changed by `edit` (the weights' hash still holds)."""
    copy = tmp_path / "edited_bundle"
    shutil.copytree(bundle, copy)
    meta = json.loads((copy / "bundle.json").read_text())
    edit(meta)
    (copy / "bundle.json").write_text(json.dumps(meta))
    return copy
