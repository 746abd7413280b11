"""What `multitrack tune` leaves beside its study: best.yaml, the trials table and Optuna's plots.

Read from the study alone, so a finished or interrupted study can be reported again at any time.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from multitrack.train.search_space import Dimension

BEST_FILE = "best.yaml"
TABLE_FILE = "trials.csv"
HISTORY_FILE = "history.png"
IMPORTANCE_FILE = "importance.png"


def write_report(
    study: optuna.Study, study_dir: Path, space: list[Dimension], objective: str
) -> tuple[dict[str, Path], list[str]]:
    """Write best.yaml, trials.csv and the plots; returns what was written and why anything was not."""
    outputs: dict[str, Path] = {}
    messages: list[str] = []
    complete = complete_trials(study)
    outputs["table"] = write_table(trial_rows(study, space), study_dir / TABLE_FILE)
    if not complete:
        messages.append(f"no trial completed: no {BEST_FILE}, {HISTORY_FILE} or {IMPORTANCE_FILE}")
        return outputs, messages
    outputs["best"] = write_best_config(study, study_dir, objective)
    outputs["history"] = write_history_plot(study, study_dir / HISTORY_FILE, objective)
    if len(complete) < 2:
        messages.append(f"{IMPORTANCE_FILE} needs 2 or more complete trials, the study has {len(complete)}")
    else:
        try:
            outputs["importance"] = write_importance_plot(study, study_dir / IMPORTANCE_FILE, objective)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # e.g. every complete trial scored the same
            messages.append(f"{IMPORTANCE_FILE} not written: optuna could not rank the parameters ({exc})")
    return outputs, messages


def complete_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    complete = [trial for trial in complete_trials(study) if trial.value is not None]
    return min(complete, key=lambda trial: (trial.value, trial.number)) if complete else None


def write_best_config(study: optuna.Study, study_dir: Path, objective: str) -> Path:
    """The best trial's resolved config.yaml, with where it came from in a comment."""
    best = best_trial(study)
    assert best is not None  # called when a trial completed
    run_dir = study_dir / best.user_attrs["run_dir"]
    header = (
        f"# multitrack tune: trial {best.number} of {study_dir}, the lowest {objective} "
        f"({best.value:.6g}) of {len(complete_trials(study))} complete trials; run folder {run_dir}\n"
    )
    path = study_dir / BEST_FILE
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(header + (run_dir / "config.yaml").read_text())
    temporary.replace(path)
    return path


def trial_rows(study: optuna.Study, space: list[Dimension]) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, each searched key, epochs, reason, run folder."""
    trials = study.get_trials(deepcopy=False)
    retried_as = {
        trial.system_attrs["retry_history"][-1]: trial.number
        for trial in trials
        if trial.system_attrs.get("retry_history")
    }
    rows = []
    for trial in trials:
        row: dict[str, Any] = {"number": trial.number, "state": trial.state.name, "value": trial.value}
        row.update({dimension.key: trial.params.get(dimension.key) for dimension in space})
        row["epochs"] = trial.user_attrs.get("epochs")
        row["reason"] = trial_reason(trial, retried_as.get(trial.number))
        row["run_dir"] = trial.user_attrs.get("run_dir")
        rows.append(row)
    return rows


def trial_reason(trial: FrozenTrial, retried_as: int | None) -> str:
    reason = trial.user_attrs.get("reason")
    if reason:
        return str(reason)
    if trial.state == TrialState.FAIL:
        if retried_as is not None:
            return f"its process stopped mid-trial (killed or interrupted: no heartbeat); retried as trial {retried_as}"
        return "ended without a result (killed too often, or an unexpected error: see the log)"
    if trial.state == TrialState.WAITING:
        return "queued"
    return ""


def write_table(rows: list[dict[str, Any]], path: Path) -> Path:
    columns = list(rows[0]) if rows else ["number", "state", "value", "epochs", "reason", "run_dir"]
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows({key: "" if value is None else value for key, value in row.items()} for row in rows)
    return path


def format_table(rows: list[dict[str, Any]]) -> str:
    """The trials table as fixed-width text (the run folder is left to trials.csv)."""
    if not rows:
        return "(no trials)"
    columns = [column for column in rows[0] if column != "run_dir"]
    cells = [[_cell(row[column]) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def write_history_plot(study: optuna.Study, path: Path, objective: str) -> Path:
    from matplotlib.ticker import MaxNLocator
    from optuna.visualization.matplotlib import plot_optimization_history

    plt = _pyplot()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # optuna's matplotlib plots are "experimental"
        axes = plot_optimization_history(study, target_name=objective)
        axes.set_title(f"{objective} per trial (lower is better)")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        _save(plt, axes, path, (10, 5))
    return path


def write_importance_plot(study: optuna.Study, path: Path, objective: str) -> Path:
    from optuna.visualization.matplotlib import plot_param_importances

    plt = _pyplot()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        axes = plot_param_importances(study, target_name=objective)
        axes.set_title(f"Which searched keys explain {objective}", loc="left")
        _save(plt, axes, path, (9, 0.6 * len(study.best_trial.params) + 2))
    return path


def _pyplot() -> Any:
    """pyplot on the file-only Agg backend: tune runs on servers with no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, axes: Any, path: Path, size_inches: tuple[float, float]) -> None:
    figure = axes.figure  # optuna draws on a figure of its own
    figure.set_size_inches(*size_inches)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
