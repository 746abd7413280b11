"""What each page's button runs: a form's fields -> the CLI commands of one job.

Each job kind is a function from the form (a dict of strings) to a `JobPlan`: the steps,
each the argv of one `multitrack VERB` command, paths relative to the workdir (the runner
runs them there), and the files they will write. The app checks every path the form names
with `Workspace.resolve` and the config with the config's own `load_config`, so a bad form is
refused with one line before anything runs. A new verb (`cut`, `attention`) is one more
function here and one entry in `PLANS`.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multitrack.config import load_config
from multitrack.errors import ConfigError, MultitrackError
from multitrack.serve.workspace import ATTENTION_DIR, GENERATED_DIR, PREPARED_DIR, RUNS_DIR, TABLES_DIR, Workspace

BUILT_IN = "built-in defaults"
DEMO = "demo settings"
# the train form's keys: the ones an editor changes; any other goes in "more settings" (key=value lines)
TRAIN_KEYS = (
    "trainer.max_epochs",
    "trainer.batch_size",
    "optim.lr",
    "model.d_model",
    "model.n_layers",
    "model.n_heads",
    "model.dropout",
    "window.length",
    "data.fps",
    "data.split_by",
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


@dataclass
class JobPlan:
    title: str
    steps: list[list[str]]
    outputs: dict[str, str] = field(default_factory=dict)


def plan_ingest(form: dict[str, str], workspace: Workspace) -> JobPlan:
    source = form.get("input") or "."
    workspace.resolve(source)
    name = _name(form.get("name") or _default_name(source), "table name")
    table = f"{TABLES_DIR}/{name}.parquet"
    _refuse_existing(workspace, table, "a frame table")
    return JobPlan(f"ingest {source}", [["ingest", source, "-o", table, "--no-progress"]], {"table": table})


def plan_train(form: dict[str, str], workspace: Workspace) -> JobPlan:
    """prepare the table, train on it, evaluate the bundle against the baselines."""
    table = form.get("table", "")
    workspace.resolve(table)
    name = _name(form.get("name") or f"run-{time.strftime('%Y%m%d-%H%M%S')}", "run name")
    prepared, run_dir = f"{PREPARED_DIR}/{name}", f"{RUNS_DIR}/{name}"
    for path in (prepared, run_dir):
        _refuse_existing(workspace, path, "a folder")
    config_args = config_arguments(form, workspace)
    steps = [
        ["prepare", table, "-o", prepared, "--no-progress", *config_args],
        ["train", "--data", prepared, "--run-dir", run_dir, *config_args],
        *_evaluate_steps(run_dir, prepared),
    ]
    outputs = {"run": run_dir, "prepared": prepared, "report": f"{run_dir}/evaluation/report.html"}
    return JobPlan(f"train {name} on {table}", steps, outputs)


def plan_resume(form: dict[str, str], workspace: Workspace) -> JobPlan:
    """train --resume last on the run's own prepared folder, then evaluate again."""
    run_dir, prepared = form.get("run", ""), form.get("prepared", "")
    if not (workspace.resolve(run_dir) / "checkpoints" / "last.ckpt").is_file():
        raise MultitrackError(f"{run_dir}: no checkpoints/last.ckpt to resume from")
    workspace.resolve(prepared)
    steps = [
        ["train", "--data", prepared, "--run-dir", run_dir, "--resume", "last"],
        *_evaluate_steps(run_dir, prepared),
    ]
    outputs = {"run": run_dir, "prepared": prepared, "report": f"{run_dir}/evaluation/report.html"}
    return JobPlan(f"resume {run_dir}", steps, outputs)


def plan_generate(form: dict[str, str], workspace: Workspace) -> JobPlan:
    bundle, prompt = form.get("bundle", ""), form.get("prompt", "")
    workspace.resolve(bundle)
    workspace.resolve(prompt)
    options = {"--seconds": form.get("seconds") or "30", "--temperature": form.get("temperature") or "1"}
    options["--seed"] = form.get("seed") or "0"
    if form.get("prompt_seconds"):
        options["--prompt-seconds"] = form["prompt_seconds"]
    for option, value in options.items():
        _number(option, value)
    out = f"{GENERATED_DIR}/{Path(prompt).stem} continued {time.strftime('%Y%m%d-%H%M%S')}.xml"
    argv = ["generate", bundle, "--prompt", prompt, *[part for item in options.items() for part in item], "-o", out]
    return JobPlan(f"continue {prompt}", [argv], {"timeline": out, "prompt": prompt})


def plan_attention(form: dict[str, str], workspace: Workspace) -> JobPlan:
    """`multitrack attention`: where the model looked when it predicted one frame of a timeline."""
    bundle, timeline = form.get("bundle", ""), form.get("timeline", "")
    workspace.resolve(bundle)
    workspace.resolve(timeline)
    frame = form.get("frame", "")
    if not frame.isdigit():
        raise MultitrackError(f"frame: expected a whole number of frames at the model's rate, got {frame!r}")
    argv = ["attention", bundle, "--timeline", timeline, "--frame", frame]
    if form.get("seconds"):
        _number("--seconds", form["seconds"])
        argv += ["--seconds", form["seconds"]]
    if form.get("heads"):
        argv.append("--heads")
    out = f"{ATTENTION_DIR}/{Path(timeline).stem} frame {frame} {time.strftime('%Y%m%d-%H%M%S')}.png"
    return JobPlan(f"attention at frame {frame} of {timeline}", [[*argv, "-o", out]], {"picture": out})


# job kind -> (plan, the kind it runs as: one at a time per kind)
PLANS: dict[str, tuple[Callable[[dict[str, str], Workspace], JobPlan], str]] = {
    "ingest": (plan_ingest, "ingest"),
    "train": (plan_train, "train"),
    "resume": (plan_resume, "train"),
    "generate": (plan_generate, "generate"),
    "attention": (plan_attention, "attention"),
}


def config_arguments(form: dict[str, str], workspace: Workspace) -> list[str]:
    """--config and --set for prepare and train, checked by the config's own `load_config`."""
    preset = form.get("preset") or BUILT_IN
    config_path: str | None = None
    overrides: list[str] = []
    if preset == DEMO:
        from multitrack.commands.demo import DEMO_OVERRIDES

        overrides += DEMO_OVERRIDES
    elif preset != BUILT_IN:
        workspace.resolve(preset)
        config_path = preset
    overrides += [f"{key}={form[key].strip()}" for key in TRAIN_KEYS if form.get(key, "").strip()]
    overrides += [line.strip() for line in form.get("more", "").splitlines() if line.strip()]
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"{override!r}: expected KEY=VALUE")
    load_config(workspace.resolve(config_path) if config_path else None, overrides)  # ConfigError naming the key
    return (["--config", config_path] if config_path else []) + (["--set", *overrides] if overrides else [])


def train_progress(run_dir: Path) -> dict[str, Any]:
    """Epochs and losses so far, from the run's logs/version_N/metrics.csv (what Lightning's CSVLogger writes)."""
    versions = sorted(run_dir.glob("logs/version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[-1]))
    epochs: dict[int, dict[str, float]] = {}
    for path in versions:  # a resumed run writes the next version; later rows win
        try:
            with open(path, newline="") as file:
                rows = list(csv.DictReader(file))
        except OSError:
            continue
        for row in rows:
            if not row.get("epoch"):
                continue
            entry = epochs.setdefault(int(row["epoch"]), {})
            for key, column in (("train", "train/loss"), ("val", "val/loss")):
                if row.get(column):
                    entry[key] = float(row[column])
    curve = [{"epoch": epoch + 1, **losses} for epoch, losses in sorted(epochs.items()) if losses]
    max_epochs = None
    try:
        max_epochs = load_config(run_dir / "config.yaml").trainer.max_epochs
    except (MultitrackError, OSError):
        pass
    return {"curve": curve, "epoch": len([c for c in curve if "val" in c]), "max_epochs": max_epochs}


def _evaluate_steps(run_dir: str, prepared: str) -> list[list[str]]:
    return [["evaluate", f"{run_dir}/bundle", "--data", prepared, "-o", f"{run_dir}/evaluation"]]


def _name(value: str, what: str) -> str:
    if not _NAME.fullmatch(value):
        raise MultitrackError(f"{value!r}: a {what} is letters, digits, '.', '_' or '-' (at most 80)")
    return value


def _default_name(source: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source).stem if source != "." else "workdir").strip("._-")
    return f"{stem or 'table'}-{time.strftime('%Y%m%d-%H%M%S')}"


def _refuse_existing(workspace: Workspace, relative: str, what: str) -> None:
    if workspace.resolve(relative, must_exist=False).exists():
        raise MultitrackError(f"{relative}: {what} of that name exists; choose another name")


def _number(option: str, value: str) -> None:
    try:
        float(value)
    except ValueError as exc:
        raise MultitrackError(f"{option} {value!r}: expected a number") from exc
