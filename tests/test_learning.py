"""Training learns: the real module, optimiser and schedule overfit one fixed batch.

The other training tests check files, resumes and faults, which all pass for a model
whose weights never move. This one fails then: 50 optimiser steps on one batch, through
the Lightning module's own `training_step` and `configure_optimizers` (AdamW, warm-up,
clipping), must bring that batch's loss below half its starting value, and a control with
the learning rate at 0 shows that the same steps leave it where it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

from framegen import prepare_tiny
from multitrack.config import Config, load_config
from multitrack.data.datamodule import MultitrackDataModule
from multitrack.data.prepared import open_prepared
from multitrack.model.losses import multitask_loss
from multitrack.train.module import MultitrackModule
from multitrack.train.trainer import data_info

pytestmark = pytest.mark.slow

STEPS = 50


class SameBatch(IterableDataset):
    """One batch, `steps` times: what the optimiser sees is all it must fit."""

    def __init__(self, batch: dict[str, torch.Tensor], steps: int):
        self.batch, self.steps = batch, steps

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return (self.batch for _ in range(self.steps))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    return prepare_tiny(tmp_path_factory.mktemp("learning"))


def batch_loss(module: MultitrackModule, batch: dict[str, torch.Tensor]) -> float:
    """The batch's loss as training computes it (train mode: the value head is scored given the
    true change, as the optimiser sees it), with the same dropout draws before and after."""
    module.train()
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(0)
        return float(multitask_loss(module(batch), batch, module.config.loss).total)


def overfit(prepared: Path, config: Config) -> tuple[float, float]:
    """(loss before, loss after) STEPS optimiser steps on the first training batch."""
    pl.seed_everything(0, workers=True)
    data = MultitrackDataModule(prepared, config.trainer.batch_size, seed=0)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    module = MultitrackModule(config, data_info(open_prepared(prepared)))
    before = batch_loss(module, batch)
    trainer = pl.Trainer(
        max_steps=STEPS,
        accelerator="cpu",
        devices=1,
        gradient_clip_val=config.trainer.gradient_clip_val,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, train_dataloaders=DataLoader(SameBatch(batch, STEPS), batch_size=None))
    assert trainer.global_step == STEPS
    return before, batch_loss(module, batch)


def test_fifty_steps_on_one_batch_halve_its_loss(prepared, tiny_config):
    before, after = overfit(prepared, load_config(tiny_config))
    assert after < 0.5 * before, f"loss {before:.4f} -> {after:.4f} after {STEPS} steps"


def test_with_learning_rate_zero_the_loss_stays(prepared, tiny_config):
    # the control: the halving above comes from the updates, not from how the loss is measured
    before, after = overfit(prepared, load_config(tiny_config, ["optim.lr=0"]))
    assert after == pytest.approx(before, rel=1e-6)
