"""Training with Lightning on a tiny prepared folder: run folder, resume, faults, fine-tuning."""

from __future__ import annotations

import csv
import errno
import json
import math
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

import multitrack.train.module as module_under_test
from framegen import random_timeline, write_frame_table
from multitrack.config import load_config
from multitrack.data.prepare import prepare
from multitrack.errors import BundleError, TrainingError
from multitrack.train.bundle import load_bundle, read_checkpoint, write_bundle
from multitrack.train.callbacks import GradNormWarning
from multitrack.train.trainer import resolve_precision, resolve_run_dir, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_config) -> Path:
    root = tmp_path_factory.mktemp("prepared")
    timelines = [random_timeline(f"ed/t{i}", frames=64, tracks=4, seed=i, folder="ed") for i in range(10)]
    write_frame_table(root / "frames.parquet", timelines)
    return prepare(root / "frames.parquet", root / "prepared", load_config(tiny_config))


def _config(tiny_config, *overrides: str):
    return load_config(tiny_config, list(overrides))


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(checkpoint)["state_dict"]


class StopAfterEpochs(pl.Callback):
    """Ends fit after `epochs` epochs, as a kill at an epoch boundary would (the checkpoints are written)."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True


def test_run_folder_holds_checkpoints_logs_config_and_bundle(prepared, tiny_config, tmp_path):
    config = _config(tiny_config, "trainer.max_epochs=2", "trainer.grad_norm_warn=1e-9")
    with pytest.warns(GradNormWarning, match=r"gradient norm .* exceeds trainer.grad_norm_warn=1e-09 .* clipped to 1"):
        run_dir = train(config, prepared, tmp_path / "run")
    names = {p.name for p in (run_dir / "checkpoints").iterdir()}
    assert {"best.ckpt", "last.ckpt", "epoch000.ckpt", "epoch001.ckpt"} <= names
    assert not [name for name in names if name.startswith(".")]  # no temporary files left
    with open(run_dir / "logs" / "version_0" / "metrics.csv") as file:
        columns = set(next(csv.reader(file)))
    for stage in ("train", "val"):
        for name in ("loss", "active", "asset", "values", "visible", "next_track", "move", "change"):
            assert any(column.startswith(f"{stage}/{name}") for column in columns), (stage, name)
    assert "train/grad_norm" in columns
    assert load_config(run_dir / "config.yaml") == config
    bundle = load_bundle(run_dir / "bundle")
    assert bundle.meta["training"]["epochs"] == 2
    assert math.isfinite(bundle.meta["training"]["best_val_loss"])
    assert set(bundle.meta["training"]["best_val_components"]) == {
        "active",
        "asset",
        "values",
        "visible",
        "next_track",
        "move",
        "change",
    }
    assert bundle.stats.to_dict() == json.loads(
        (prepared / "stats.json").read_text()
    )  # the train split's stats, shipped


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(prepared, tiny_config, tmp_path):
    config = _config(tiny_config, "trainer.max_epochs=4", "trainer.patience=10", "model.dropout=0.2")
    whole = train(config, prepared, tmp_path / "whole")
    interrupted = train(config, prepared, tmp_path / "split", callbacks=[StopAfterEpochs(2)])
    assert read_checkpoint(interrupted / "checkpoints" / "last.ckpt")["epoch"] == 1
    resumed = train(config, prepared, interrupted, resume="last")
    expected, got = _weights(whole / "checkpoints" / "last.ckpt"), _weights(resumed / "checkpoints" / "last.ckpt")
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)
    trained_on = _weights(whole / "checkpoints" / "epoch001.ckpt")["model.head.weight"]
    assert not torch.allclose(trained_on, expected["model.head.weight"])  # epochs 3-4 changed the weights


def test_last_checkpoint_follows_every_epoch_even_without_improvement(prepared, tiny_config, tmp_path):
    # lr 0: the weights never change, so val/loss never improves after the first epoch
    config = _config(tiny_config, "trainer.max_epochs=3", "trainer.patience=10", "optim.lr=0.0")
    run_dir = train(config, prepared, tmp_path / "run")
    assert read_checkpoint(run_dir / "checkpoints" / "best.ckpt")["epoch"] == 0
    assert read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["epoch"] == 2


def test_non_finite_loss_stops_and_names_the_intact_checkpoint(prepared, tiny_config, tmp_path, monkeypatch):
    real_loss = module_under_test.multitask_loss
    training_calls = []

    def loss_turning_nan(prediction, batch, weights, model=None):
        losses = real_loss(prediction, batch, weights, model)
        if torch.is_grad_enabled():  # training steps only; validation runs without grad
            training_calls.append(1)
            if len(training_calls) > steps_per_epoch:
                return losses._replace(total=losses.total * float("nan"))
        return losses

    monkeypatch.setattr(module_under_test, "multitask_loss", loss_turning_nan)
    config = _config(tiny_config, "trainer.max_epochs=3")
    steps_per_epoch = math.ceil(_train_windows(prepared) / config.trainer.batch_size)
    with pytest.raises(
        TrainingError,
        match=r"non-finite training loss at epoch 2, step \d+: .*last good checkpoint \(left intact\): .*last\.ckpt",
    ):
        train(config, prepared, tmp_path / "run")
    last = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert last["epoch"] == 0
    assert all(torch.isfinite(tensor).all() for tensor in last["state_dict"].values())


def test_failed_checkpoint_write_keeps_the_previous_one(prepared, tiny_config, tmp_path, monkeypatch):
    real_save = torch.save
    saves = []

    def disk_fills_up(obj, file, *args, **kwargs):
        saves.append(1)
        if len(saves) > 3:  # epoch 1 writes best, epoch000 and last; then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, file, *args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_fills_up)
    with pytest.raises(TrainingError, match=r"last\.ckpt|best\.ckpt|epoch001\.ckpt"):
        try:
            train(_config(tiny_config, "trainer.max_epochs=2"), prepared, tmp_path / "run")
        except TrainingError as exc:
            assert "could not write checkpoint: No space left on device" in str(exc)
            raise
    checkpoints = tmp_path / "run" / "checkpoints"
    assert read_checkpoint(checkpoints / "last.ckpt")["epoch"] == 0
    assert not [p for p in checkpoints.iterdir() if p.name.startswith(".")]


def test_init_from_starts_from_the_bundle_weights(prepared, tiny_config, tmp_path):
    source = train(_config(tiny_config, "trainer.max_epochs=1"), prepared, tmp_path / "source") / "bundle"
    frozen = _config(tiny_config, "trainer.max_epochs=1", "optim.lr=0", "trainer.seed=7")
    tuned = train(frozen, prepared, tmp_path / "tuned", init_from=source)
    before, after = load_bundle(source).model.state_dict(), load_bundle(tuned / "bundle").model.state_dict()
    for name in before:
        assert torch.equal(before[name], after[name]), name  # lr 0: the run kept exactly what it started from
    fresh = load_bundle(train(frozen, prepared, tmp_path / "fresh") / "bundle").model.state_dict()
    assert not torch.equal(fresh["head.weight"], before["head.weight"])


def test_init_from_a_bundle_of_another_shape_fails_clearly(prepared, tiny_config, tmp_path):
    source = load_bundle(train(_config(tiny_config, "trainer.max_epochs=1"), prepared, tmp_path / "s") / "bundle")
    wider = _config(tiny_config, "model.d_model=48")
    write_bundle(tmp_path / "wide", type(source.model)(wider.model, 4, 8, 16), wider, _data_info(source), {})
    with pytest.raises(
        BundleError, match=r"--init-from .*wide: tensor \S+ has shape \[48, \d+\] but the model .* needs \[32, \d+\]"
    ):
        train(_config(tiny_config, "trainer.max_epochs=1"), prepared, tmp_path / "t", init_from=tmp_path / "wide")


def test_precision_is_bf16_only_on_a_gpu(monkeypatch):
    assert resolve_precision("16-mixed", "cpu") == "16-mixed"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_precision(None, "auto") == "32-true"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_precision(None, "auto") == "bf16-mixed"
    assert resolve_precision(None, "cpu") == "32-true"


def test_run_dir_follows_the_resumed_checkpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("MULTITRACK_RUN_DIR", raising=False)
    assert resolve_run_dir(tmp_path / "given", None) == tmp_path / "given"
    assert resolve_run_dir(None, tmp_path / "r" / "checkpoints" / "epoch001.ckpt") == (tmp_path / "r").resolve()
    assert resolve_run_dir(None, None).parent == Path("runs")


def _train_windows(prepared: Path) -> int:
    import numpy as np

    return len(np.load(prepared / "train" / "windows.npy"))


def _data_info(bundle):
    from multitrack.train.module import DataInfo

    meta = bundle.meta
    return DataInfo(
        meta["max_tracks"], meta["asset_classes"], meta["stats"], meta["data_fingerprint"], meta["features"]
    )
