"""The LightningModule: next-frame loss, logging, AdamW with warm-up and cosine decay.

The module owns tensors only: the data module owns splits and normalisation. What a
bundle needs besides the weights (the resolved config and what describes the prepared
data) travels in the checkpoint under `multitrack` as plain JSON-like values, so a
checkpoint loads with `torch.load(weights_only=True)` and exports to a bundle alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import nn
from torchmetrics import MeanMetric

from multitrack.config import Config, config_to_dict
from multitrack.errors import TrainingError
from multitrack.model.losses import COMPONENTS, LossBreakdown, multitask_loss
from multitrack.model.transformer import MultitrackTransformer

CHECKPOINT_KEY = "multitrack"
LOSS_NAMES = ("loss", *COMPONENTS)  # the order of LossBreakdown


@dataclass
class DataInfo:
    """What the model must know about the prepared data, recorded in checkpoints and bundles."""

    max_tracks: int  # T
    asset_classes: int  # K
    stats: dict[str, dict[str, float]]  # stats.json: per value feature {"mean", "std"}
    fingerprint: str  # sha256 of the prepared train split
    features: dict[str, Any] = field(default_factory=dict)  # feature schema from prepared.json


class MultitrackModule(pl.LightningModule):
    def __init__(self, config: Config, data: DataInfo):
        super().__init__()
        self.config = config
        self.data = data
        self.model = MultitrackTransformer(config.model, data.max_tracks, data.asset_classes, config.window.length)
        # epoch means of the loss and each component, synced across DDP ranks when computed
        self.epoch_means = nn.ModuleDict(
            {f"{stage}_{name}": MeanMetric() for stage in ("train", "val") for name in LOSS_NAMES}
        )
        self.best_val: dict[str, float] = {}  # val losses of the best epoch so far, for the bundle summary

    def forward(self, batch: dict[str, torch.Tensor]):
        # frames 0..L-1 in, predictions for frames 1..L out; the timeline's history counted over
        # the whole timeline (prepared data), or from the window's start when a batch lacks it
        history = {name: batch[name][:, :-1] for name in ("since_on_top", "cuts_from_top") if name in batch}
        inputs = self.model.inputs(batch["active"][:, :-1], batch["asset"][:, :-1], batch["values"][:, :-1], **history)
        return self.model(inputs)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        losses = multitask_loss(self(batch), batch, self.config.loss, self.config.model)
        self._stop_unless_finite(losses.total)
        self._log_losses("train", losses, on_step=True)
        return losses.total

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._log_losses("val", multitask_loss(self(batch), batch, self.config.loss, self.config.model), on_step=False)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        metrics = {name: float(cast(MeanMetric, self.epoch_means[f"val_{name}"]).compute()) for name in LOSS_NAMES}
        if math.isfinite(metrics["loss"]) and metrics["loss"] < self.best_val.get("loss", math.inf):
            self.best_val = {**metrics, "epoch": self.current_epoch + 1}

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        optim = self.config.optim
        optimizer = torch.optim.AdamW(
            decay_parameter_groups(self.model, optim.weight_decay),
            lr=optim.lr,
            betas=cast(tuple[float, float], tuple(optim.betas)),  # the config's [beta1, beta2]
        )
        total_steps = int(self.trainer.estimated_stepping_batches)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: cosine_with_warmup(step, optim.warmup_steps, total_steps, optim.min_lr_ratio)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "config": config_to_dict(self.config),
            "data": self.data.__dict__.copy(),
            "best_val": dict(self.best_val),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.best_val = dict(checkpoint.get(CHECKPOINT_KEY, {}).get("best_val", {}))

    def _log_losses(self, stage: str, losses: LossBreakdown, on_step: bool) -> None:
        for name, value in zip(LOSS_NAMES, losses, strict=True):
            mean = cast(MeanMetric, self.epoch_means[f"{stage}_{name}"])
            mean.update(value.detach())
            self.log(f"{stage}/{name}", mean, on_step=False, on_epoch=True, prog_bar=name == "loss")
            if on_step:  # this rank's value, unsynced: a per-step all-reduce would cost every step
                self.log(f"{stage}/{name}_step", value.detach(), on_step=True, on_epoch=False)

    def _stop_unless_finite(self, loss: torch.Tensor) -> None:
        # every rank must agree, or one rank raises while the others wait in the gradient all-reduce
        finite = self.trainer.strategy.reduce_boolean_decision(bool(torch.isfinite(loss)), all=True)
        if not finite:
            raise TrainingError(
                f"non-finite training loss at epoch {self.current_epoch + 1}, step {self.global_step}: "
                f"training stopped before the update; {last_good_checkpoint(self.trainer)}"
            )


def last_good_checkpoint(trainer: pl.Trainer) -> str:
    """Where the newest checkpoint written before a fault lies, for error messages."""
    saved = [
        getattr(callback, "last_model_path", "") or getattr(callback, "best_model_path", "")
        for callback in trainer.checkpoint_callbacks
    ]
    newest = [path for path in saved if Path(path).name == "last.ckpt"]  # written after every epoch
    path = (newest or [path for path in saved if path] or [""])[0]
    if not path:
        return "no checkpoint was saved yet"
    return f"last good checkpoint (left intact): {path}"


def decay_parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups as in nanoGPT: weight matrices decay; biases, norms and embeddings do not."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, param in model.named_parameters():
        is_matrix = param.dim() >= 2 and not name.endswith("embed.weight")
        (decay if is_matrix else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def cosine_with_warmup(step: int, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """LR multiplier per optimizer step: linear warm-up to 1, then cosine down to `min_ratio`."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
