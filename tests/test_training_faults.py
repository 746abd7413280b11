"""Faults during data preparation and training stop loudly and lose nothing (issue 5, item 5).

Faults are injected from outside the code under test: a NaN in the frame table, a
callback that poisons a weight or blows up the gradients (through `train(callbacks=...)`),
and a disk that fills up while a checkpoint is written.
"""

from __future__ import annotations

import errno
import math
import re
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from framegen import prepare_tiny, random_timeline, write_frame_table
from multitrack.cli import main
from multitrack.config import load_config
from multitrack.errors import TrainingError
from multitrack.train.bundle import load_bundle, read_checkpoint
from multitrack.train.callbacks import GradNormWarning
from multitrack.train.trainer import train

pytestmark = pytest.mark.slow

EXPLOSION = 1e6  # gradients multiplied by this at one step
CLIP = 50  # above the tiny model's ordinary gradient norms, so only the explosion is clipped
WARN_ABOVE = 100


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # tiny models on 2 shared cores: OpenMP threads spin-waiting on each other cost ~10x
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    timelines = [random_timeline(f"ed/t{i}", frames=48, tracks=3, seed=i, folder="ed") for i in range(6)]
    return prepare_tiny(tmp_path_factory.mktemp("prepared"), ["data.max_tracks=3"], timelines)


def _config(tiny_config, *overrides: str):
    return load_config(tiny_config, ["trainer.max_epochs=2", *overrides])


def _all_finite(checkpoint: dict) -> bool:
    return all(torch.isfinite(tensor).all() for tensor in checkpoint["state_dict"].values())


# --- NaN in the data ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_value_in_the_table_stops_prepare_naming_timeline_frame_and_column(bad, tmp_path, capsys):
    timelines = [random_timeline(f"ed/t{i}", frames=30, tracks=2, seed=i, folder="ed") for i in range(4)]
    timelines[2].values[17, 1, 1] = bad  # timeline ed/t2, frame 17, track V2, pos_x
    frames = write_frame_table(tmp_path / "frames.parquet", timelines)
    status = main(["prepare", str(frames), "-o", str(tmp_path / "prepared"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == (
        f"multitrack prepare: error: {frames}: timeline 'ed/t2', frame 17, column v02_pos_x: value is {bad}\n"
    )
    assert not (tmp_path / "prepared").exists() and not list(tmp_path.glob(".prepared*"))


# --- non-finite loss ------------------------------------------------------------------------------


class PoisonWeightAtEpoch(pl.Callback):
    """Writes NaN into the output bias as `epoch` (0-based) starts: the next loss is NaN."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                pl_module.model.head.bias.fill_(math.nan)


def test_non_finite_loss_stops_with_the_last_good_checkpoint_named_and_intact(prepared, tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    expected = (
        rf"^non-finite training loss at epoch 2, step \d+: training stopped before the update; "
        rf"last good checkpoint \(left intact\): {re.escape(str(last))}$"
    )
    with pytest.raises(TrainingError, match=expected):
        train(_config(tiny_config), prepared, run_dir, callbacks=[PoisonWeightAtEpoch(1)])
    checkpoint = read_checkpoint(last)
    assert checkpoint["epoch"] == 0 and _all_finite(checkpoint)
    assert not (run_dir / "bundle").exists()
    resumed = train(_config(tiny_config), prepared, run_dir, resume="last")  # the named checkpoint carries on
    assert load_bundle(resumed / "bundle").meta["training"]["epochs"] == 2


# --- gradient explosion ---------------------------------------------------------------------------


class ExplodeGradientsAtStep(pl.Callback):
    """Multiplies every gradient by EXPLOSION after backward at one step; records norms after clipping."""

    def __init__(self, step: int):
        self.step = step
        self.norm_after_clipping: dict[int, float] = {}

    def on_after_backward(self, trainer, pl_module):
        if trainer.global_step == self.step:
            for param in pl_module.parameters():
                if param.grad is not None:
                    param.grad.mul_(EXPLOSION)

    def on_before_zero_grad(self, trainer, pl_module, optimizer):
        # after the optimizer step, before the grads are cleared: what the step applied
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            self.norm_after_clipping[trainer.global_step - 1] = float(norm)


def test_gradient_explosion_is_clipped_and_reported(prepared, tiny_config, tmp_path):
    explode = ExplodeGradientsAtStep(step=1)
    config = _config(
        tiny_config, "trainer.max_epochs=1", f"trainer.gradient_clip_val={CLIP}", f"trainer.grad_norm_warn={WARN_ABOVE}"
    )
    with pytest.warns(GradNormWarning) as caught:
        run_dir = train(config, prepared, tmp_path / "run", callbacks=[explode])
    [warning] = [str(w.message) for w in caught if issubclass(w.category, GradNormWarning)]  # that step only
    assert re.fullmatch(
        rf"gradient norm [\d.e+]+ exceeds trainer\.grad_norm_warn={WARN_ABOVE} at epoch 1, step 1, "
        rf"clipped to {CLIP}",
        warning,
    ), warning
    applied = explode.norm_after_clipping
    assert applied[1] == pytest.approx(CLIP, rel=1e-4)  # the exploded step was clipped to exactly the limit
    assert applied[0] < CLIP  # an ordinary step was not touched
    assert _all_finite(read_checkpoint(run_dir / "checkpoints" / "last.ckpt"))


# --- a full disk while saving a checkpoint -----------------------------------------------------------


def test_disk_full_while_saving_a_checkpoint_keeps_the_previous_one(
    prepared, tiny_config, tmp_path, monkeypatch, capsys
):
    real_save = torch.save
    saves: list[Path] = []

    def fills_the_disk(obj, file, *args, **kwargs):
        saves.append(Path(file.name))
        if len(saves) <= 3:  # epoch 1: best, last, epoch000
            return real_save(obj, file, *args, **kwargs)
        file.write(b"PK\x03\x04 half a checkpoint")  # a partial write, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", fills_the_disk)
    checkpoints = tmp_path / "run" / "checkpoints"
    with pytest.raises(TrainingError) as caught:
        train(_config(tiny_config), prepared, tmp_path / "run")
    failed_target = saves[3].name.split(".tmp-")[0].lstrip(".")
    assert str(caught.value) == (
        f"{checkpoints / failed_target}: could not write checkpoint: No space left on "
        f"device; the previous checkpoints in {checkpoints} are unchanged"
    )
    assert sorted(path.name for path in checkpoints.iterdir()) == ["best.ckpt", "epoch000.ckpt", "last.ckpt"]
    last = read_checkpoint(checkpoints / "last.ckpt")
    assert last["epoch"] == 0 and _all_finite(last)
    monkeypatch.undo()
    assert main(["export", str(checkpoints / "last.ckpt"), "-o", str(tmp_path / "bundle")]) == 0  # usable
    capsys.readouterr()
