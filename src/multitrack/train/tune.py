"""Hyperparameter search with Optuna: a resumable study whose trials are normal training runs.

    STUDY_DIR/
      study.db          the Optuna study (SQLite): the same command resumes it
      trials/NNNN/      trial NNNN's run folder (config.yaml, checkpoints, logs, bundle)
      best.yaml         the best trial's resolved config: `multitrack train --config STUDY_DIR/best.yaml`
      trials.csv        number, state, value, one column per searched key, epochs, reason
      history.png       the objective of each trial and the best so far (optimisation history)
      importance.png    how much of the objective each searched key explains (2+ complete trials)

`trials` is the study's total: trials that completed, were pruned or failed with a reason (a
non-finite loss, out of memory) are done; a trial a killed process left running is failed by
the storage heartbeat and queued again with the same parameters; the rest are run now.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import optuna
import torch
from lightning.pytorch.callbacks import Callback
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from multitrack.config import Config, config_to_dict
from multitrack.errors import ConfigError, TrainingError
from multitrack.train.module import LOSS_NAMES
from multitrack.train.search_space import Dimension, with_value
from multitrack.train.trainer import train

# the default objective: the unweighted validation losses of the three feature groups, so a
# trial cannot win by shrinking a loss weight (the weighted val/loss moves with the weights)
OBJECTIVE_COMPONENTS = ("active", "asset", "values")
OBJECTIVE_NAME = "+".join(f"val/{name}" for name in OBJECTIVE_COMPONENTS)
OBJECTIVE_KEY = "tune/objective"  # the per-epoch figure the pruner reads
STUDY_NAME = "multitrack"
STUDY_FILE = "study.db"
TRIALS_DIR = "trials"
PRUNE_WARMUP_EPOCHS = 1  # never prune on the first epoch's figure alone
MAX_RETRIES = 2  # a trial whose process is killed this many times more is given up
GRACE_HEARTBEATS = 3  # a running trial silent for this many heartbeats was killed
TRIAL_FAILURES = (TrainingError, torch.cuda.OutOfMemoryError, MemoryError)


@dataclass(frozen=True)
class TuneOptions:
    trials: int  # the study's total
    timeout_s: float | None = None  # start no trial after this many seconds of this run
    metric: str | None = None  # "val/<name>" to minimise; None: OBJECTIVE_NAME
    seed: int = 0
    startup_trials: int = 4  # random trials before TPE models the results
    heartbeat_s: int = 10


@dataclass
class TuneResult:
    study: optuna.Study
    study_dir: Path
    ran: int  # trials run by this call
    retried: list[int]  # trials a killed process had left running, queued again
    outputs: dict[str, Path]  # what was written: best, table, history, importance
    messages: list[str]  # what could not be written, and why


def tune(
    data_dir: str | Path, study_dir: str | Path, space: list[Dimension], config: Config, options: TuneOptions
) -> TuneResult:
    """Run the trials the study in `study_dir` still lacks, then write its best config, table and plots."""
    from multitrack.train.study_report import write_report

    study_dir = Path(study_dir)
    objective = Objective.named(options.metric)
    config = single_process(config)
    study = open_study(
        study_dir, options, lambda trial: trial.params.get("trainer.max_epochs", config.trainer.max_epochs)
    )
    record_settings(study, study_dir, space, config, objective.name)
    retried = settle_killed_trials(study, options.heartbeat_s * GRACE_HEARTBEATS)
    missing = options.trials - count_done(study)
    if missing > 0:
        runner = TrialRunner(Path(data_dir), study_dir, space, config, objective)
        study.optimize(runner, n_trials=missing, timeout=options.timeout_s, catch=TRIAL_FAILURES, gc_after_trial=True)
    outputs, messages = write_report(study, study_dir, space, objective.name)
    return TuneResult(study, study_dir, max(0, missing), retried, outputs, messages)


@dataclass(frozen=True)
class Objective:
    """What a trial is scored by: `components` summed at the bundle's (best) epoch, lower is better."""

    name: str
    components: tuple[str, ...]

    @classmethod
    def named(cls, metric: str | None) -> Objective:
        if metric is None:
            return cls(OBJECTIVE_NAME, OBJECTIVE_COMPONENTS)
        known = [f"val/{name}" for name in LOSS_NAMES]
        if metric not in known:
            raise ConfigError(f"--metric {metric}: expected one of {', '.join(known)} (all minimised)")
        return cls(metric, (metric.removeprefix("val/"),))

    def of_summary(self, training: dict[str, Any]) -> float | None:
        """The objective from a bundle's training summary; None when the run has no finite figure."""
        figures = {"loss": training.get("best_val_loss"), **training.get("best_val_components", {})}
        values = [figures.get(name) for name in self.components]
        if any(value is None or not math.isfinite(value) for value in values):
            return None
        return float(sum(values))  # type: ignore[arg-type]  # checked above: no None is left


class ObjectiveMonitor(Callback):
    """Puts each epoch's objective (its components summed) where the pruning callback reads it.

    Runs before the pruning callback (Lightning calls callbacks in order), after the module's
    epoch means reached `callback_metrics`.
    """

    def __init__(self, objective: Objective):
        self.objective = objective
        self.epochs = 0  # validation epochs seen
        self.last: float | None = None  # the latest epoch's objective

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        parts = [metrics.get(f"val/{name}") for name in self.objective.components]
        self.epochs += 1
        if all(part is not None for part in parts):
            figure = torch.stack([torch.as_tensor(part).float() for part in parts]).sum()
            metrics[OBJECTIVE_KEY] = figure
            self.last = float(figure)


class TrialRunner:
    """The objective Optuna calls: one trial -> one training run under STUDY_DIR/trials/NNNN."""

    def __init__(self, data_dir: Path, study_dir: Path, space: list[Dimension], config: Config, objective: Objective):
        self.data_dir = data_dir
        self.study_dir = study_dir
        self.space = space
        self.config = config
        self.objective = objective

    def __call__(self, trial: optuna.Trial) -> float:
        params = {dimension.key: dimension.suggest(trial) for dimension in self.space}
        run_dir = self.study_dir / TRIALS_DIR / f"{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir.relative_to(self.study_dir)))
        trial.set_user_attr("reason", None)  # a retried trial inherits its killed original's attributes
        monitor = ObjectiveMonitor(self.objective)
        try:
            train(with_value(self.config, params), self.data_dir, run_dir, callbacks=[monitor, pruning_callback(trial)])
        except optuna.TrialPruned:
            trial.set_user_attr("epochs", monitor.epochs)
            figure = "" if monitor.last is None else f" {monitor.last:.4g}"
            trial.set_user_attr(
                "reason",
                f"pruned after epoch {monitor.epochs}: its {self.objective.name}{figure} was above the median "
                "of the earlier trials' at that epoch",
            )
            raise
        except TRIAL_FAILURES as exc:
            trial.set_user_attr("reason", failure_reason(exc))
            raise
        finally:  # Ctrl-C inside fit ends the process (Lightning exits): the heartbeat retries the trial
            if torch.cuda.is_available():
                torch.cuda.empty_cache()  # an out-of-memory trial must not starve the next
        return self._score(trial, run_dir)

    def _score(self, trial: optuna.Trial, run_dir: Path) -> float:
        training = json.loads((run_dir / "bundle" / "bundle.json").read_text())["training"]
        trial.set_user_attr("epochs", training.get("epochs"))
        trial.set_user_attr("best_epoch", training.get("best_epoch"))
        trial.set_user_attr("val", {"loss": training.get("best_val_loss"), **training.get("best_val_components", {})})
        value = self.objective.of_summary(training)
        if value is None:
            reason = f"no finite {self.objective.name} in any validation epoch"
            trial.set_user_attr("reason", reason)
            raise TrainingError(reason)
        return value


def pruning_callback(trial: optuna.Trial) -> Callback:
    """optuna-integration's Lightning pruner: reports each epoch's objective, raises TrialPruned."""
    from optuna_integration import PyTorchLightningPruningCallback

    callback: Callback = PyTorchLightningPruningCallback(trial, monitor=OBJECTIVE_KEY)
    return callback


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return f"out of memory: {exc}".strip().rstrip(":")
    return str(exc)


def single_process(config: Config) -> Config:
    """Trials train one after another in this process: DDP's launcher would re-run the command."""
    settings = config.trainer
    devices = settings.devices
    if "ddp" in settings.strategy or settings.num_nodes != 1 or (isinstance(devices, list) and len(devices) > 1):
        raise ConfigError("tune trains each trial in this process on one device: drop trainer.strategy=ddp, devices")
    if isinstance(devices, int) and devices > 1:
        raise ConfigError(f"trainer.devices={devices}: tune trains each trial on one device")
    if devices == "auto":
        return replace(config, trainer=replace(settings, devices=1))
    return config


class BudgetPruner(optuna.pruners.BasePruner):
    """A pruner that never prunes at a trial's last epoch: that would save nothing and lose its result."""

    def __init__(self, pruner: optuna.pruners.BasePruner, final_epochs: Callable[[FrozenTrial], int]):
        self.pruner = pruner
        self.final_epochs = final_epochs  # the epochs a trial trains

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step  # the epoch reported, counted from 0
        if step is not None and step + 1 >= self.final_epochs(trial):
            return False
        return self.pruner.prune(study, trial)


def open_study(study_dir: Path, options: TuneOptions, final_epochs: Callable[[FrozenTrial], int]) -> optuna.Study:
    """The study in STUDY_DIR/study.db, created or loaded, with a heartbeat and a seeded TPE sampler."""
    database = study_dir / STUDY_FILE
    if not database.exists() and any((study_dir / TRIALS_DIR).glob("*")):
        raise ConfigError(f"{study_dir}: holds trial run folders but no {STUDY_FILE}: use an empty --study folder")
    study_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # the heartbeat is "experimental" since optuna 2.9
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{database}",
            engine_kwargs={"connect_args": {"timeout": 60}},  # the heartbeat thread writes too
            heartbeat_interval=options.heartbeat_s,
            grace_period=options.heartbeat_s * GRACE_HEARTBEATS,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES),
        )
    median = optuna.pruners.MedianPruner(n_startup_trials=options.startup_trials, n_warmup_steps=PRUNE_WARMUP_EPOCHS)
    study = optuna.create_study(
        storage=storage,
        study_name=STUDY_NAME,
        direction="minimize",
        pruner=BudgetPruner(median, final_epochs),
        load_if_exists=True,
    )
    study.sampler = optuna.samplers.TPESampler(
        seed=run_seed(options.seed, len(study.trials)), n_startup_trials=options.startup_trials
    )
    return study


def run_seed(seed: int, trials_so_far: int) -> int:
    """The sampler's seed for this run: a resumed study must not draw its first trials' parameters again."""
    if trials_so_far == 0:
        return seed
    return int(np.random.SeedSequence([seed, trials_so_far]).generate_state(1)[0])


def record_settings(study: optuna.Study, study_dir: Path, space: list[Dimension], config: Config, metric: str) -> None:
    """A new study records what it searches; a resumed one must search the same, or its figures mix."""
    settings = {
        "metric": metric,
        "space": [dimension.to_dict() for dimension in space],
        "config": json.loads(json.dumps(config_to_dict(config))),
    }
    recorded = {name: study.user_attrs[name] for name in settings if name in study.user_attrs}
    if not recorded:
        for name, value in settings.items():
            study.set_user_attr(name, value)
        return
    differences = [name for name in settings if recorded.get(name) != settings[name]]
    if differences:
        details = "; ".join(_difference(name, recorded.get(name), settings[name]) for name in differences)
        raise ConfigError(
            f"{study_dir / STUDY_FILE}: the study was started with other settings ({details}): "
            "rerun it with its own --config/--set/--space/--metric, or use a new --study folder"
        )


def _difference(name: str, before: Any, now: Any) -> str:
    if name == "config" and isinstance(before, dict) and isinstance(now, dict):
        keys = [
            f"{section}.{key}: {before.get(section, {}).get(key)!r} then, {value!r} now"
            for section, values in now.items()
            for key, value in values.items()
            if before.get(section, {}).get(key) != value
        ]
        return "config " + ", ".join(keys[:3])
    return f"{name}: {before!r} then, {now!r} now"


def settle_killed_trials(study: optuna.Study, grace_s: int, sleep: Callable[[float], None] = time.sleep) -> list[int]:
    """Fail the trials a killed process left running (each is queued again with its parameters).

    A trial's heartbeat is only stale `grace_s` after its last beat, and a rerun usually comes
    sooner after a kill: a running trial that is not stale yet is waited out once.
    """
    running = _running(study)
    if not running:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
        if _running(study):
            print(
                f"multitrack tune: trial {', '.join(map(str, _running(study)))} is marked running: "
                f"waiting {grace_s} s for its heartbeat to tell a killed process from a live one",
                flush=True,
            )
            sleep(grace_s + 2)  # SQLite's timestamps are whole seconds
            optuna.storages.fail_stale_trials(study)
    settled = [number for number in running if number not in _running(study)]
    for number in settled:
        print(f"multitrack tune: trial {number} was left running by a killed process: it runs again", flush=True)
    return settled


def _running(study: optuna.Study) -> list[int]:
    return [trial.number for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]


def count_done(study: optuna.Study) -> int:
    """Trials that count towards `--trials`: complete, pruned, or failed with a recorded reason."""
    return sum(1 for trial in study.get_trials(deepcopy=False) if is_done(trial))


def is_done(trial: FrozenTrial) -> bool:
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and bool(trial.user_attrs.get("reason"))
