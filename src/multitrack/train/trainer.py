"""Training assembly: config + prepared folder -> a Lightning Trainer run -> run folder + bundle.

    RUN_DIR/
      config.yaml               the resolved config
      checkpoints/best.ckpt     lowest val/loss        (Lightning checkpoints: for resuming only)
      checkpoints/last.ckpt     end of the newest epoch
      checkpoints/epochNNN.ckpt every trainer.save_every epochs
      logs/version_N/metrics.csv  every loss component, train and val; grad norm; learning rate
                                (N = 0 for the first launch, +1 for each --resume)
      tensorboard/version_N/    when tensorboard is installed
      bundle/                   model.safetensors + bundle.json from best.ckpt (DESIGN.md §4)

Everything the loop does (checkpoints, early stopping, clipping, precision, DDP, logging)
is Lightning's; this module only chooses and configures it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from multitrack.config import Config, DataConfig, WindowConfig, save_config
from multitrack.data.datamodule import MultitrackDataModule
from multitrack.data.prepared import PreparedData
from multitrack.errors import BundleError, ConfigError, DataError
from multitrack.train.bundle import (
    AtomicCheckpointIO,
    export_checkpoint,
    load_bundle,
    load_weights,
    read_checkpoint,
    training_summary,
)
from multitrack.train.callbacks import GradNormMonitor, LastCheckpoint, RngStateCallback
from multitrack.train.module import DataInfo, MultitrackModule

RUNS_DIR = Path("runs")
RUN_DIR_ENV = "MULTITRACK_RUN_DIR"  # shared with the processes Lightning's ddp launcher starts
CHECKPOINTS = "checkpoints"


def train(
    config: Config,
    data_dir: str | Path,
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    init_from: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
) -> Path:
    """Train on a prepared folder; returns the run folder (its `bundle/` holds the model).

    `resume` is "last" (the run folder's last.ckpt) or a checkpoint path; `init_from` a bundle
    whose weights start the run (fine-tuning). `callbacks` are added to the Trainer's own.
    """
    run_dir = resolve_run_dir(run_dir, resume)
    checkpoint = resolve_checkpoint(resume, run_dir)
    trainer_config = config.trainer
    datamodule = MultitrackDataModule(
        data_dir, trainer_config.batch_size, trainer_config.num_workers, trainer_config.seed
    )
    if "like" in datamodule.prepared.info:
        raise DataError(
            f"{data_dir}: prepared --like a bundle, it holds only a test split, for 'multitrack evaluate'; "
            f"prepare the table without --like to train on it"
        )
    config = adopt_prepared_window(config, datamodule.prepared)
    pl.seed_everything(trainer_config.seed, workers=True)
    module = MultitrackModule(config, data_info(datamodule.prepared))
    if init_from is not None:
        init_from_bundle(module, init_from)
    trainer = build_trainer(config, run_dir, callbacks)
    _save_resolved_config(config, run_dir)
    with _run_dir_shared_with_workers(run_dir):
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(checkpoint) if checkpoint else None)
    if trainer.is_global_zero:
        write_final_bundle(trainer, run_dir)
    return run_dir


def build_trainer(config: Config, run_dir: Path, extra_callbacks: Sequence[Callback] = ()) -> pl.Trainer:
    settings = config.trainer
    precision = resolve_precision(settings.precision, settings.accelerator)
    return pl.Trainer(
        default_root_dir=run_dir,
        max_epochs=settings.max_epochs,
        accelerator=settings.accelerator,
        devices=settings.devices,
        num_nodes=settings.num_nodes,
        strategy=settings.strategy,
        precision=precision,  # type: ignore[arg-type]  # a Literal to lightning, which checks the str itself
        gradient_clip_val=settings.gradient_clip_val,
        log_every_n_steps=settings.log_every_n_steps,
        limit_train_batches=settings.limit_train_batches,
        deterministic=settings.deterministic,
        callbacks=[*standard_callbacks(config, run_dir), *extra_callbacks],
        logger=build_loggers(run_dir),
        plugins=[AtomicCheckpointIO()],
    )


def standard_callbacks(config: Config, run_dir: Path) -> list[Callback]:
    settings = config.trainer
    checkpoints = run_dir / CHECKPOINTS
    callbacks: list[Callback] = [
        # the first ModelCheckpoint is trainer.checkpoint_callback: best by val/loss
        ModelCheckpoint(
            dirpath=checkpoints,
            filename="best",
            monitor="val/loss",
            mode="min",
            save_top_k=1,
            auto_insert_metric_name=False,
        ),
        LastCheckpoint(checkpoints),
        ModelCheckpoint(
            dirpath=checkpoints,
            filename="epoch{epoch:03d}",
            every_n_epochs=settings.save_every,
            save_top_k=-1,
            auto_insert_metric_name=False,
        ),
        EarlyStopping(monitor="val/loss", mode="min", patience=settings.patience, check_finite=True),
        RngStateCallback(),
        GradNormMonitor(settings.grad_norm_warn, settings.gradient_clip_val),
        LearningRateMonitor(logging_interval="step"),
    ]
    return callbacks


def build_loggers(run_dir: Path) -> list[Logger]:
    # each launch (the first, every resume) logs into the next logs/version_N: Lightning's CSV
    # writer would otherwise delete the metrics.csv of the run it resumes
    loggers: list[Logger] = [CSVLogger(run_dir, name="logs")]
    if importlib.util.find_spec("tensorboard") is not None:
        loggers.append(TensorBoardLogger(run_dir, name="tensorboard", default_hp_metric=False))
    return loggers


def resolve_precision(precision: str | None, accelerator: str) -> str:
    """bf16 mixed precision on a GPU unless the config says otherwise; full precision on CPU."""
    if precision is not None:
        return precision
    on_gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return "bf16-mixed" if on_gpu else "32-true"


def resolve_run_dir(run_dir: str | Path | None, resume: str | Path | None) -> Path:
    """The run folder: as given; else the resumed checkpoint's; else the launcher's; else runs/<timestamp>."""
    if run_dir is not None:
        return Path(run_dir)
    if resume is not None and str(resume) != "last":
        return Path(resume).resolve().parent.parent  # RUN_DIR/checkpoints/X.ckpt
    if os.environ.get(RUN_DIR_ENV):
        return Path(os.environ[RUN_DIR_ENV])
    if resume is not None:
        runs = sorted(p.parent.parent for p in RUNS_DIR.glob(f"*/{CHECKPOINTS}/last.ckpt"))
        if not runs:
            raise ConfigError(f"--resume last: no run under {RUNS_DIR}/ has {CHECKPOINTS}/last.ckpt; pass --run-dir")
        return runs[-1]
    return RUNS_DIR / datetime.now().strftime("%Y%m%d-%H%M%S")


def resolve_checkpoint(resume: str | Path | None, run_dir: Path) -> Path | None:
    if resume is None:
        return None
    path = run_dir / CHECKPOINTS / "last.ckpt" if str(resume) == "last" else Path(resume)
    if not path.is_file():
        raise ConfigError(f"--resume {resume}: no checkpoint at {path}")
    return path


def adopt_prepared_window(config: Config, prepared: PreparedData) -> Config:
    """The window the data was cut with is the window the model trains on, and the data settings
    it was prepared with (data.fps, asset classes, ...) are the ones the bundle records: generate
    and `prepare --like` read them from there."""
    window = WindowConfig(**prepared.info["window"])
    if window != config.window:
        print(f"multitrack train: using the prepared folder's window {window} (config had {config.window})")
    data = DataConfig(**prepared.info["data"])
    if data != config.data:
        print(f"multitrack train: recording the prepared folder's data settings {data} (config had {config.data})")
    return dataclasses.replace(config, window=window, data=data)


def data_info(prepared: PreparedData) -> DataInfo:
    return DataInfo(
        max_tracks=prepared.max_tracks,
        asset_classes=prepared.asset_classes,
        stats=prepared.stats.to_dict(),
        fingerprint=prepared.fingerprint,
        features={"features": prepared.info["features"], "value_features": prepared.info["value_features"]},
    )


def init_from_bundle(module: MultitrackModule, bundle_dir: str | Path) -> None:
    """Start from a bundle's weights; a model of another shape fails naming the tensor."""
    bundle = load_bundle(bundle_dir)
    for key, here in (("max_tracks", module.data.max_tracks), ("asset_classes", module.data.asset_classes)):
        if bundle.meta[key] != here:
            raise BundleError(
                f"{bundle_dir}: --init-from: the bundle has {key}={bundle.meta[key]}, the data has {here}"
            )
    load_weights(module.model, bundle.model.state_dict(), source=f"--init-from {bundle_dir}")


def write_final_bundle(trainer: pl.Trainer, run_dir: Path) -> Path | None:
    """RUN_DIR/bundle from the best checkpoint, summarising the whole run."""
    callback = trainer.checkpoint_callback
    best = getattr(callback, "best_model_path", "") or getattr(callback, "last_model_path", "")
    if not best:
        return None
    summary = {
        **training_summary(read_checkpoint(best)),
        "epochs": trainer.current_epoch,
        "checkpoint": Path(best).name,
    }
    return export_checkpoint(best, run_dir / "bundle", training=summary)


@rank_zero_only
def _save_resolved_config(config: Config, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.yaml")


@contextmanager
def _run_dir_shared_with_workers(run_dir: Path):
    # Lightning's ddp launcher re-runs the command line in new processes; without this each
    # would pick its own runs/<timestamp>
    previous = os.environ.get(RUN_DIR_ENV)
    os.environ[RUN_DIR_ENV] = str(run_dir)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = previous
