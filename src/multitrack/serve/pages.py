"""The pages of the top bar: each a name, a title and a function from (workspace, query) to
its template's context. A page for a new verb (`cut`, `attention`) is one function and one
entry in `NAV`, with its template in `templates/`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multitrack.config import Config, config_to_dict
from multitrack.serve.verbs import BUILT_IN, DEMO, TRAIN_KEYS, train_progress
from multitrack.serve.workspace import JOBS_DIR, Inventory, Workspace

Context = dict[str, Any]


def timelines_page(workspace: Workspace, query: dict[str, str]) -> Context:
    found = workspace.inventory()
    folder = query.get("folder", "")
    shown = [p for p in found.timelines if folder in ("", ".") or p.startswith(folder + "/")]
    return {
        "template": "timelines",
        "folders": found.folders,
        "folder": folder,
        "timelines": shown,
        "selected": query.get("path") if query.get("path") in found.timelines else (shown[0] if shown else None),
        "tables": [_table_row(workspace, table) for table in found.tables],
    }


def train_page(workspace: Workspace, query: dict[str, str]) -> Context:
    found = workspace.inventory()
    defaults = config_to_dict(Config())
    keys = [(key, _dotted(defaults, key)) for key in TRAIN_KEYS]
    presets = [BUILT_IN, DEMO, *found.configs, *[f"{run}/config.yaml" for run in found.runs]]
    made_by = _prepared_of_runs(workspace)
    runs = [{"path": run, "prepared": made_by.get(run, _guess_prepared(run, found))} for run in found.runs]
    return {
        "template": "train",
        "tables": found.tables,
        "presets": presets,
        "keys": keys,
        "runs": runs,
        "prepared": found.prepared,
    }


def models_page(workspace: Workspace, query: dict[str, str]) -> Context:
    from multitrack.commands.demo import HEADLINE, PREDICTORS
    from multitrack.evaluate.report import figure_value

    found = workspace.inventory()
    evaluations = [(path, _read(workspace, f"{path}/metrics.json")) for path in found.evaluations]
    models = []
    for bundle in found.bundles:
        meta = _read(workspace, f"{bundle}/bundle.json")
        training = meta.get("training") or {}
        evaluation = next(
            (
                path
                for path, metrics in evaluations
                if (metrics.get("settings") or {}).get("bundle_training") == training
            ),
            None,
        )
        metrics = dict(evaluations)[evaluation] if evaluation else {}
        rows = [
            (f"{group}.{key}", better, [figure_value(metrics, p, group, key) for p in PREDICTORS])
            for group, key, better in HEADLINE
        ]
        report = (
            f"{evaluation}/report.html"
            if evaluation and (workspace.root / evaluation / "report.html").is_file()
            else None
        )
        models.append({"path": bundle, "training": training, "evaluation": evaluation, "rows": rows, "report": report})
    with_bundle = {str(Path(bundle).parent) for bundle in found.bundles}
    unfinished = [{"path": run, **train_progress(workspace.root / run)} for run in found.runs if run not in with_bundle]
    return {"template": "models", "models": models, "predictors": PREDICTORS, "unfinished": unfinished}


def continue_page(workspace: Workspace, query: dict[str, str]) -> Context:
    found = workspace.inventory()
    return {"template": "continue", "bundles": found.bundles, "timelines": found.timelines}


def attention_page(workspace: Workspace, query: dict[str, str]) -> Context:
    """Each bundle with the rate its frames count at (its `data.fps`, or null: the timeline's
    own), so a click on a timeline's picture names the frame the verb means."""
    found = workspace.inventory()
    bundles = [
        {"path": bundle, "fps": _dotted(_read(workspace, f"{bundle}/bundle.json").get("config") or {}, "data.fps")}
        for bundle in found.bundles
    ]
    return {"template": "attention", "bundles": bundles, "timelines": found.timelines}


@dataclass(frozen=True)
class Page:
    name: str  # its path: /NAME
    title: str
    render: Callable[[Workspace, dict[str, str]], Context]


NAV = [
    Page("timelines", "Timelines", timelines_page),
    Page("train", "Train", train_page),
    Page("models", "Models", models_page),
    Page("continue", "Continue", continue_page),
    Page("attention", "Attention", attention_page),
]


def _table_row(workspace: Workspace, table: str) -> Context:
    manifest = _read(workspace, table.removesuffix(".parquet") + ".manifest.json")
    return {"path": table, "summary": manifest.get("summary") or {}}


def _read(workspace: Workspace, relative: str) -> dict[str, Any]:
    try:
        return json.loads((workspace.root / relative).read_text())
    except (OSError, ValueError):
        return {}


def _dotted(tree: dict[str, Any], key: str) -> Any:
    section, name = key.split(".")
    return tree[section][name]


def _prepared_of_runs(workspace: Workspace) -> dict[str, str]:
    """Each run's prepared folder, as the job that trained it recorded."""
    made_by: dict[str, str] = {}
    for job_file in sorted((workspace.root / JOBS_DIR).glob("*/job.json")):
        outputs = _read(workspace, job_file.relative_to(workspace.root).as_posix()).get("outputs") or {}
        if "run" in outputs and "prepared" in outputs:
            made_by[outputs["run"]] = outputs["prepared"]
    return made_by


def _guess_prepared(run: str, found: Inventory) -> str | None:
    """A run the command line made: the prepared folder of the same name, else beside it, else the first."""
    name = Path(run).name
    for candidate in (f"prepared/{name}", str(Path(run).parent / "prepared")):
        if candidate.removeprefix("./") in found.prepared:
            return candidate.removeprefix("./")
    return found.prepared[0] if found.prepared else None
