"""`multitrack tune`: the search space's checks, a study end to end, resuming it (after a SIGKILL
too), and trials that fail or are pruned while the study goes on. Tiny config, tiny data."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from optuna.trial import TrialState

import multitrack.train.tune as tune_module
from framegen import prepare_tiny
from multitrack.cli import main
from multitrack.config import load_config
from multitrack.errors import ConfigError
from multitrack.train.search_space import load_space, parse_space
from multitrack.train.tune import BudgetPruner, Objective, TuneOptions, count_done, open_study, tune

ROOT = Path(__file__).resolve().parents[1]
SPACE = {
    "optim.lr": {"log_uniform": ["1e-4", 3.0e-3]},  # "1e-4": how YAML 1.1 reads it
    "model.n_layers": {"int": [1, 2]},
    "model.dropout": {"uniform": [0.0, 0.3]},
    "loss.values": {"choice": [1.0, 10.0]},
}
WAIT_LIMIT_S = 300
CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # as tests/conftest.py sets for this process


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    return prepare_tiny(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def space_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("space") / "space.yaml"
    path.write_text(yaml.safe_dump(SPACE))
    return path


def _tune_args(prepared: Path, study: Path, space: Path, trials: int, *extra: str) -> list[str]:
    paths = ["--data", str(prepared), "--study", str(study), "--space", str(space)]
    settings = ["--config", str(ROOT / "configs" / "tiny.yaml"), "--trials", str(trials), "--startup-trials", "2"]
    return ["tune", *paths, *settings, *extra]


def _study(study_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name="multitrack", storage=f"sqlite:///{study_dir / 'study.db'}")


# -- the search space ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"data.fps": {"uniform": [5, 25]}}, r"data\.fps: data\.\* is fixed by the prepared folder"),
        ({"window.length": {"int": [50, 100]}}, r"window\.length: window\.\* is fixed by the prepared folder"),
        ({"model.n_layer": {"int": [2, 6]}}, r"unknown key 'model\.n_layer' \(known in model: .*n_layers"),
        ({"optimizer.lr": {"uniform": [0.1, 0.2]}}, r"unknown key 'optimizer'"),
        ({"model": {"int": [2, 6]}}, r"model: expected a dotted config key"),
        ({"model.n_layers": {"int": [6, 2]}}, r"model\.n_layers: int: low 6 must be below high 2"),
        ({"model.dropout": {"uniform": [0.3, 0.3]}}, r"model\.dropout: uniform: low 0\.3 must be below high 0\.3"),
        ({"optim.lr": {"log_uniform": [0, 1e-3]}}, r"optim\.lr: log_uniform: low 0 must be above 0"),
        ({"model.dropout": {"choice": []}}, r"model\.dropout: choice: expected a non-empty list"),
        ({"model.n_layers": {"uniform": [2, 6]}}, r"model\.n_layers: expected int, got 2\.0, which uniform"),
        ({"model.n_layers": {"int": [2.5, 6]}}, r"model\.n_layers: int: bounds must be integers"),
        ({"model.dropout": {"choice": [0.1, "high"]}}, r"model\.dropout: expected float, got 'high', which choice"),
        ({"optim.lr": {"uniform": ["fast", 1]}}, r"optim\.lr: uniform: bounds must be finite numbers, got 'fast'"),
        ({"model.dropout": {"normal": [0, 1]}}, r"model\.dropout: expected one of \{uniform: …\}"),
        ({"model.dropout": {"uniform": [0, 0.1], "int": [0, 1]}}, r"model\.dropout: expected one of"),
        ({"optim.betas": {"choice": [[0.9, 0.95]]}}, r"optim\.betas: choice: \[0\.9, 0\.95\] is not a number"),
        ([1, 2], r"expected a mapping of config keys to ranges"),
    ],
)
def test_a_bad_space_is_refused_naming_the_key(raw, match, tiny_config):
    with pytest.raises(ConfigError, match=match):
        parse_space(raw, load_config(tiny_config))


def test_a_space_file_error_names_the_file(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("data.split_by: {choice: [timeline, folder]}\n")
    with pytest.raises(ConfigError, match=rf"^{path}: data\.split_by: data\.\* is fixed"):
        load_space(path, load_config())
    with pytest.raises(ConfigError, match=rf"{tmp_path / 'missing.yaml'}: cannot read search space"):
        load_space(tmp_path / "missing.yaml", load_config())


def test_the_shipped_space_fits_the_default_and_tiny_configs(tiny_config):
    for config in (load_config(), load_config(tiny_config)):
        keys = {dimension.key for dimension in load_space(ROOT / "configs" / "search.yaml", config)}
        assert {"optim.lr", "model.n_layers", "model.dropout", "loss.values"} <= keys


def test_the_objective_is_the_unweighted_sum_or_a_named_figure():
    training = {"best_val_loss": 9.0, "best_val_components": {"active": 0.5, "asset": 0.25, "values": 0.125}}
    assert Objective.named(None).of_summary(training) == 0.875
    assert Objective.named("val/loss").of_summary(training) == 9.0
    assert Objective.named("val/asset").components == ("asset",)
    assert Objective.named(None).of_summary({"best_val_loss": None, "best_val_components": {}}) is None
    with pytest.raises(ConfigError, match=r"--metric val/accuracy: expected one of val/loss, val/active"):
        Objective.named("val/accuracy")


# -- a study end to end, and resuming it -----------------------------------------------------


@pytest.fixture(scope="module")
def finished_study(prepared, space_file, tmp_path_factory) -> Path:
    study_dir = tmp_path_factory.mktemp("tune") / "study"
    assert main(_tune_args(prepared, study_dir, space_file, 2)) == 0
    return study_dir


@pytest.mark.slow
def test_a_study_writes_trial_runs_best_config_table_and_plots(finished_study, prepared, tmp_path):
    study = _study(finished_study)
    assert [trial.state for trial in study.trials] == [TrialState.COMPLETE] * 2
    for trial in study.trials:
        run_dir = finished_study / trial.user_attrs["run_dir"]
        assert run_dir == finished_study / "trials" / f"{trial.number:04d}"
        assert {"config.yaml", "checkpoints", "logs", "bundle"} <= {path.name for path in run_dir.iterdir()}
        training = json.loads((run_dir / "bundle" / "bundle.json").read_text())["training"]
        components = training["best_val_components"]
        # the objective ignores the loss weights (loss.values is searched): the unweighted sum
        assert trial.value == pytest.approx(components["active"] + components["asset"] + components["values"])
        # pruning saw the same figure every epoch
        assert len(trial.intermediate_values) == training["epochs"]
        assert trial.intermediate_values[training["best_epoch"] - 1] == pytest.approx(trial.value, rel=1e-5)
        assert load_config(run_dir / "config.yaml").loss.values == trial.params["loss.values"]

    best = min(study.trials, key=lambda trial: trial.value)
    config = load_config(finished_study / "best.yaml")
    assert config.optim.lr == pytest.approx(best.params["optim.lr"])
    assert config.model.n_layers == best.params["model.n_layers"]
    run = ["train", "--config", str(finished_study / "best.yaml"), "--data", str(prepared)]
    assert main([*run, "--run-dir", str(tmp_path / "again"), "--set", "trainer.max_epochs=1"]) == 0
    assert (tmp_path / "again" / "bundle" / "model.safetensors").is_file()

    with open(finished_study / "trials.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["number"] for row in rows] == ["0", "1"]
    assert {"state", "value", "optim.lr", "model.n_layers", "model.dropout", "loss.values", "reason"} <= set(rows[0])
    assert float(rows[best.number]["value"]) == pytest.approx(best.value)
    for name in ("history.png", "importance.png"):
        assert (finished_study / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_a_rerun_runs_only_the_missing_trials(finished_study, prepared, space_file, capsys):
    assert main(_tune_args(prepared, finished_study, space_file, 2)) == 0
    printed = capsys.readouterr().out
    assert "2 of 2 trials done" in printed and "optim.lr" in printed and "COMPLETE" in printed
    assert len(_study(finished_study).trials) == 2

    assert main(_tune_args(prepared, finished_study, space_file, 3)) == 0
    study = _study(finished_study)
    assert [trial.state for trial in study.trials] == [TrialState.COMPLETE] * 3
    assert sorted(path.name for path in (finished_study / "trials").iterdir()) == ["0000", "0001", "0002"]
    params = [tuple(trial.params.values()) for trial in study.trials]
    assert len(set(params)) == 3  # the resumed sampler did not draw the first trials again


def test_the_study_prunes_by_the_median_but_never_at_a_trials_last_epoch(tmp_path):
    study = open_study(tmp_path, TuneOptions(trials=1), final_epochs=lambda trial: 3)
    assert isinstance(study.pruner, BudgetPruner) and isinstance(study.pruner.pruner, optuna.pruners.MedianPruner)


@pytest.mark.slow
def test_a_rerun_with_other_settings_is_refused(finished_study, prepared, space_file, capsys):
    trials = len(_study(finished_study).trials)
    with pytest.raises(ConfigError, match=r"other settings \(config trainer\.max_epochs: 2 then, 3 now\)"):
        tune_module.tune(
            prepared,
            finished_study,
            load_space(space_file, load_config(ROOT / "configs" / "tiny.yaml")),
            load_config(ROOT / "configs" / "tiny.yaml", ["trainer.max_epochs=3"]),
            TuneOptions(trials=5),
        )
    assert main(_tune_args(prepared, finished_study, space_file, 5, "--metric", "val/loss")) == 1
    error = capsys.readouterr().err
    assert (
        "study.db: the study was started with other settings (metric: 'val/active+val/asset+val/values' then" in error
    )
    assert len(_study(finished_study).trials) == trials


@pytest.mark.slow
def test_a_study_killed_mid_trial_resumes_and_retries_the_killed_trial(prepared, space_file, tmp_path, capsys):
    study_dir = tmp_path / "study"
    # the kill lands as trial 1's first epoch ends (tiny.yaml: 2 epochs a trial), trial 0 done
    args = _tune_args(prepared, study_dir, space_file, 2, "--heartbeat", "2")  # stale 6 s after the last beat
    process = subprocess.Popen(
        [sys.executable, "-m", "multitrack", *args], env=CHILD_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while not (study_dir / "trials" / "0001" / "checkpoints" / "last.ckpt").exists():
            assert process.poll() is None, f"tune ended (status {process.returncode}) before trial 1 trained"
            assert time.monotonic() < deadline, f"trial 1 did not train in {WAIT_LIMIT_S} s"
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    before = _study(study_dir).trials
    assert [trial.state for trial in before] == [TrialState.COMPLETE, TrialState.RUNNING]
    first_bundle = study_dir / "trials" / "0000" / "bundle" / "bundle.json"
    first_written = first_bundle.stat().st_mtime_ns

    # the same command again, at once (in this process, which has torch imported already): trial 1's
    # heartbeat is not 6 s old yet, so the rerun waits it out before it calls the trial killed
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "trial 1 is marked running: waiting 6 s for its heartbeat" in printed
    assert "trial 1 was left running by a killed process: it runs again" in printed

    after = _study(study_dir).trials
    assert [trial.state for trial in after] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert after[0].params == before[0].params and first_bundle.stat().st_mtime_ns == first_written  # not repeated
    assert after[2].params == before[1].params  # the killed trial, again
    assert after[2].system_attrs["failed_trial"] == 1
    assert count_done(_study(study_dir)) == 2
    assert (
        "its process stopped mid-trial (killed or interrupted: no heartbeat); retried as trial 2"
        in (study_dir / "trials.csv").read_text()
    )


# -- failures -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_non_finite_loss_fails_the_trial_with_its_reason_and_the_study_goes_on(prepared, tmp_path, capsys):
    space = tmp_path / "huge_lr.yaml"
    space.write_text("optim.lr: {log_uniform: [1.0e+29, 1.0e+30]}\n")
    assert main(_tune_args(prepared, tmp_path / "study", space, 2)) == 0
    study = _study(tmp_path / "study")
    assert [trial.state for trial in study.trials] == [TrialState.FAIL, TrialState.FAIL]
    for trial in study.trials:
        assert trial.user_attrs["reason"].startswith("non-finite training loss at epoch 1")
    assert count_done(study) == 2
    assert "no trial completed: no best.yaml" in capsys.readouterr().out
    assert not (tmp_path / "study" / "best.yaml").exists()
    assert "non-finite training loss" in (tmp_path / "study" / "trials.csv").read_text()


@pytest.mark.slow
def test_out_of_memory_and_pruned_trials_are_recorded_and_the_study_goes_on(
    prepared, space_file, tiny_config, tmp_path, monkeypatch
):
    real_train, real_pruning = tune_module.train, tune_module.pruning_callback
    calls = []

    def train(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_train(*args, **kwargs)

    def pruning_callback(trial):
        if trial.number == 1:
            monkeypatch.setattr(trial, "should_prune", lambda: True)  # as the median pruner may decide
        return real_pruning(trial)

    monkeypatch.setattr(tune_module, "train", train)
    monkeypatch.setattr(tune_module, "pruning_callback", pruning_callback)
    config = load_config(tiny_config)
    result = tune(prepared, tmp_path / "study", load_space(space_file, config), config, TuneOptions(trials=3))

    trials = result.study.trials
    assert [trial.state for trial in trials] == [TrialState.FAIL, TrialState.PRUNED, TrialState.COMPLETE]
    assert trials[0].user_attrs["reason"] == "out of memory: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert trials[1].user_attrs["reason"].startswith("pruned after epoch 1: its val/active+val/asset+val/values ")
    pruned = tmp_path / "study" / "trials" / "0001"
    assert (pruned / "config.yaml").is_file() and not (pruned / "bundle").exists()  # stopped where it was pruned
    assert count_done(result.study) == 3 and result.ran == 3
    assert set(result.outputs) == {"table", "best", "history"}
    assert result.messages == ["importance.png needs 2 or more complete trials, the study has 1"]


def test_no_trial_is_pruned_at_its_last_epoch():
    class AlwaysPrune(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    study = optuna.create_study(pruner=BudgetPruner(AlwaysPrune(), final_epochs=lambda trial: 3))
    trial = study.ask()
    decisions = []
    for epoch in range(3):
        trial.report(1.0, step=epoch)
        decisions.append(trial.should_prune())
    assert decisions == [True, True, False]  # pruning after the budget's last epoch would save nothing
