"""Small callbacks Lightning does not ship: RNG states in checkpoints, gradient-norm watch,
and a record of the windows each rank trained on (for the DDP test)."""

from __future__ import annotations

import math
import random
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from multitrack.errors import TrainingError
from multitrack.train.module import last_good_checkpoint


class GradNormWarning(UserWarning):
    """The gradient norm before clipping exceeded `trainer.grad_norm_warn`."""


class LastCheckpoint(ModelCheckpoint):
    """checkpoints/last.ckpt at the end of every epoch, whatever val/loss did.

    Lightning's `save_last` writes last.ckpt only when another checkpoint is saved in the same
    epoch, so after an epoch that does not improve, `--resume last` would go back in time. A
    class of its own gives it a checkpoint state key of its own beside the other ModelCheckpoints.
    """

    def __init__(self, dirpath: Path):
        super().__init__(
            dirpath=dirpath,
            filename="last",
            save_top_k=1,
            every_n_epochs=1,
            enable_version_counter=False,
            auto_insert_metric_name=False,
        )


class RngStateCallback(pl.Callback):
    """Saves python, numpy and torch RNG states in each checkpoint and restores them on resume.

    Lightning restores weights, optimizer, schedule and loop counters but not the global RNGs,
    so without this a resumed run draws different dropout masks than an uninterrupted one.
    Between the end-of-epoch checkpoint and the next epoch's first batch, Lightning draws
    from the global generator a different number of times in a continuing run (a new train
    loader iterator) than in a resumed one, so the states recorded with the epoch's last
    checkpoint are applied at the next epoch's first batch, in both runs alike.
    States are stored as tensors and tuples of ints, which `torch.load(weights_only=True)` reads.
    """

    def __init__(self) -> None:
        self._epoch = -1  # the epoch being trained, recorded with the states
        self._recorded: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        legacy_state = np.random.get_state()
        assert isinstance(legacy_state, tuple)  # the global RandomState's MT19937 state, in its legacy form
        kind, keys, position, has_gauss, cached_gaussian = legacy_state
        state = {
            "epoch": self._epoch,
            "python": random.getstate(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached_gaussian),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        self._recorded = state
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._recorded = state_dict

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch = trainer.current_epoch

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        state = self._recorded
        if batch_idx != 0 or state is None or state["epoch"] != trainer.current_epoch - 1:
            return
        self._recorded = None
        random.setstate(_as_tuples(state["python"]))
        kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


class GradNormMonitor(pl.Callback):
    """Logs the total gradient norm (before clipping) every step, warns above a threshold and
    stops on a non-finite norm before the optimizer applies it."""

    def __init__(self, warn_above: float, clip_at: float | None):
        self.warn_above = warn_above
        self.clip_at = clip_at

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        grads = [p.grad.detach() for p in pl_module.parameters() if p.grad is not None]
        if not grads:
            return
        norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
        pl_module.log("train/grad_norm", norm, on_step=True, on_epoch=False)
        if not math.isfinite(norm):
            raise TrainingError(
                f"non-finite gradient norm at epoch {trainer.current_epoch + 1}, step {trainer.global_step}: "
                f"training stopped before the update; {last_good_checkpoint(trainer)}"
            )
        if norm > self.warn_above and trainer.is_global_zero:
            clipped = f", clipped to {self.clip_at:g}" if self.clip_at else ""
            warnings.warn(
                f"gradient norm {norm:.4g} exceeds trainer.grad_norm_warn={self.warn_above:g} "
                f"at epoch {trainer.current_epoch + 1}, step {trainer.global_step}{clipped}",
                GradNormWarning,
                stacklevel=2,
            )


def _as_tuples(value: Any) -> Any:
    # random.setstate needs tuples; a checkpoint round trip may hand back lists
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
