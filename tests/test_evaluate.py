"""`evaluate` end to end on a tiny prepared folder with a tiny random-weight bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from framegen import prepare_tiny, random_timeline
from multitrack.cli import main
from multitrack.config import load_config
from multitrack.data.prepared import open_prepared
from multitrack.errors import DataError
from multitrack.evaluate.evaluate import EvaluateOptions, aspect_table, choose_prompts, evaluate, load_split
from multitrack.model.transformer import MultitrackTransformer
from multitrack.train.bundle import write_bundle
from multitrack.train.module import DataInfo

# 10 timelines of 60..105 frames at 25 fps, 3 tracks; configs/tiny.yaml splits them 6/2/2
CORPUS = [
    random_timeline(f"editor{i % 2}/tl_{i}", 60 + 5 * i, tracks=3, seed=i, folder=f"editor{i % 2}") for i in range(10)
]
OPTIONS = EvaluateOptions(prompt_seconds=0.4, horizon_seconds=0.8, samples=2, max_prompts=3)


def make_bundle(run_dir: Path, prepared: Path, tiny_config: Path, overrides: list[str] | None = None) -> Path:
    config = load_config(tiny_config, overrides)
    data = open_prepared(prepared)
    torch.manual_seed(0)
    model = MultitrackTransformer(config.model, data.max_tracks, data.asset_classes, config.window.length)
    info = DataInfo(data.max_tracks, data.asset_classes, data.stats.to_dict(), data.fingerprint)
    log = run_dir / "logs" / "version_0" / "metrics.csv"
    log.parent.mkdir(parents=True)
    log.write_text("epoch,step,train/loss,val/loss\n0,0,2.0,\n0,1,1.5,\n0,1,,1.7\n1,2,1.2,\n1,3,,1.3\n")
    return write_bundle(run_dir / "bundle", model, config, info, {"epochs": 2})


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_config):
    root = tmp_path_factory.mktemp("evaluate")
    prepared = prepare_tiny(root, timelines=CORPUS)
    bundle = make_bundle(root / "run", prepared, tiny_config)
    out = root / "out"
    metrics = evaluate(bundle, prepared, out, OPTIONS)
    return prepared, bundle, out, metrics


def test_metrics_have_every_predictor_and_figure(setup):
    _, _, out, metrics = setup
    saved = json.loads((out / "metrics.json").read_text())
    assert {"model", "persistence", "markov", "semi_markov"} <= set(saved)
    for name in ("model", "persistence", "markov", "semi_markov"):
        figures = saved[name]
        assert set(figures["all_frames"]) >= {
            "active_accuracy",
            "active_f1",
            "active_log_loss",
            "asset_accuracy",
            "asset_log_loss",
            "scale_mae",
            "position_mae",
            "position_mae_px",
            "crop_mae",
            "iou",
        }
        assert 0 < figures["all_frames"]["asset_log_loss"] < -np.log(1e-7)
        assert set(figures["cuts"]) >= {"next_track_accuracy", "cut_f1", "tolerance_frames"}
        assert set(figures["rollout"]) >= {
            "shot_length_w1_seconds",
            "track_share_tv",
            "layout_share_tv",
            "zoom_rate_abs_diff",
        }
        assert figures["n_frames"] == saved["model"]["n_frames"] > 0
    assert saved["settings"]["prompts"] == 3


def test_persistence_is_perfect_off_the_change_frames(setup):
    _, _, _, metrics = setup
    # persistence only errs where something changes: its all-frame accuracy is 1 - changes' share
    persistence = metrics["persistence"]
    wrong_on_changes = 1 - persistence["change_frames"]["active_accuracy"]
    expected = 1 - wrong_on_changes * persistence["n_change_frames"] / persistence["n_frames"]
    assert persistence["all_frames"]["active_accuracy"] == pytest.approx(expected)


def test_report_is_self_contained(setup):
    _, _, out, _ = setup
    page = (out / "report.html").read_text()
    assert page.index("<table>") < page.index("<img")  # the comparison table comes first
    assert page.count("data:image/png;base64,") == len(list(out.glob("*.png")))
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert (out / "training_curves.png").is_file()
    assert (out / "strip_1.png").is_file() and (out / "per_track.png").is_file()


def test_cli_evaluate(setup, tmp_path, capsys):
    prepared, bundle, _, _ = setup
    code = main(
        [
            "evaluate",
            str(bundle),
            "--data",
            str(prepared),
            "-o",
            str(tmp_path / "cli"),
            "--prompt-seconds",
            "0.4",
            "--horizon-seconds",
            "0.8",
            "--samples",
            "1",
            "--max-prompts",
            "1",
        ]
    )
    assert code == 0
    assert "change_frames.active_log_loss" in capsys.readouterr().out
    assert (tmp_path / "cli" / "report.html").is_file()


def test_bundle_of_another_shape_is_refused(setup, tmp_path, tiny_config):
    prepared, _, _, _ = setup
    other = prepare_tiny(tmp_path / "other", ["data.asset_classes=6"], timelines=CORPUS)
    bundle = make_bundle(tmp_path / "run", other, tiny_config, ["data.asset_classes=6"])
    with pytest.raises(DataError, match="asset classes, but the bundle"):
        evaluate(bundle, prepared, tmp_path / "out", OPTIONS)


def test_a_changed_prepared_array_is_refused(setup, tmp_path):
    prepared, bundle, _, _ = setup
    copy = tmp_path / "prepared"
    shutil.copytree(prepared, copy)
    since = np.load(copy / "test" / "since_on_top.npy")
    since[0, 0] += 1  # same shape and dtype: only its sha256 tells
    np.save(copy / "test" / "since_on_top.npy", since)
    with pytest.raises(DataError, match=r"test/since_on_top.npy does not match the sha256"):
        evaluate(bundle, copy, tmp_path / "out", OPTIONS)


def test_prompts_are_back_to_back_and_capped(setup):
    prepared, _, _, _ = setup
    split = load_split(open_prepared(prepared), "test")
    prompts = choose_prompts(split, EvaluateOptions(prompt_seconds=0.2, horizon_seconds=0.4, max_prompts=100))
    for prompt in prompts:
        offset, frames = split.timeline(prompt.timeline)
        assert prompt.prompt_frames == 5  # 0.2 s at 25 fps
        assert (
            offset <= prompt.start_row
            and prompt.start_row + prompt.prompt_frames + prompt.horizon_frames <= offset + frames
        )
    assert len(choose_prompts(split, EvaluateOptions(prompt_seconds=0.2, horizon_seconds=0.4, max_prompts=2))) == 2


def test_aspect_table():
    entry = {
        "width": 1920,
        "height": 1080,
        "assets": [{"number": 1, "width": 1080, "height": 1920}, {"number": 7, "width": 640, "height": 480}],
    }
    table = aspect_table(entry, asset_classes=4)
    # a portrait phone clip in a 16:9 frame: (16/9) / (9/16); number 7 folds into "other": 1
    np.testing.assert_allclose(table, [1.0, (16 / 9) / (9 / 16), 1.0, 1.0])


def test_report_shows_the_attention_at_the_test_splits_first_cuts(setup):
    prepared, _, out, _ = setup
    split = load_split(open_prepared(prepared), "test")
    expected = []  # (timeline id, frame) where the track on top changes, in the split's order
    for index, entry in enumerate(split.timelines):
        offset, frames = split.timeline(index)
        top = np.where(split.frames.active[offset : offset + frames], np.arange(1, 4), 0).max(axis=1)
        expected += [(entry["id"], f) for f in range(1, frames) if top[f] != top[f - 1] and top[f] and top[f - 1]]
    assert len(expected) >= 3  # random timelines cut often
    page = (out / "report.html").read_text()
    for number, (timeline, frame) in enumerate(expected[:3], start=1):
        assert f"Attention at cut {number} ({timeline}, frame {frame})" in page
        assert (out / f"attention_{number}.png").is_file()
    assert not (out / "attention_4.png").exists()
