"""report.html: one self-contained page (plots embedded as base64 data URIs, no external
files or scripts), so it opens offline and can be mailed as is.

The model-vs-baselines table comes first; the best value in each row is bold.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PREDICTORS = ("model", "persistence", "markov", "semi_markov")

# (section, figure, True when higher is better)
TABLE_ROWS = (
    ("change_frames", "active_log_loss", False),
    ("change_frames", "asset_log_loss", False),
    ("cuts", "next_track_accuracy", True),
    ("all_frames", "active_accuracy", True),
    ("all_frames", "active_f1", True),
    ("all_frames", "active_log_loss", False),
    ("all_frames", "asset_log_loss", False),
    ("all_frames", "asset_accuracy", True),
    ("all_frames", "scale_mae", False),
    ("all_frames", "position_mae_px", False),
    ("all_frames", "crop_mae", False),
    ("all_frames", "iou", True),
    ("change_frames", "active_accuracy", True),
    ("change_frames", "active_f1", True),
    ("change_frames", "asset_accuracy", True),
    ("change_frames", "iou", True),
    ("cuts", "cut_f1", True),
    ("rollout", "shot_length_w1_seconds", False),
    ("rollout", "track_share_tv", False),
    ("rollout", "layout_share_tv", False),
    ("rollout", "zoom_rate_abs_diff", False),
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.best { font-weight: bold; background: #eef6ee; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0 1.5em; }
.note { color: #555; font-size: 13px; }
"""


def figure_value(metrics: Mapping[str, Any], predictor: str, section: str, name: str) -> float | None:
    part = (metrics.get(predictor) or {}).get(section) or {}
    value = part.get(name)
    return None if value is None else float(value)


def comparison_table(metrics: Mapping[str, Any]) -> str:
    """The model-vs-baselines table as HTML, best value per row in bold."""
    predictors = [p for p in PREDICTORS if p in metrics]
    head = "".join(f"<th>{html.escape(p)}</th>" for p in predictors)
    rows = []
    for section, name, higher_is_better in TABLE_ROWS:
        values = [figure_value(metrics, p, section, name) for p in predictors]
        known = [v for v in values if v is not None]
        best = (max(known) if higher_is_better else min(known)) if known else None
        cells = "".join(
            f'<td class="best">{v:.4f}</td>'
            if v is not None and v == best
            else f"<td>{'–' if v is None else f'{v:.4f}'}</td>"
            for v in values
        )
        arrow = "↑" if higher_is_better else "↓"
        rows.append(f"<tr><td>{section}.{name} {arrow}</td>{cells}</tr>")
    return f"<table><tr><th>figure</th>{head}</tr>{''.join(rows)}</table>"


def _counts(metrics: Mapping[str, Any]) -> str:
    model = metrics.get("model", {})
    settings = metrics.get("settings", {})
    parts = [f"{model.get(key)} {key[2:].replace('_', ' ')}" for key in ("n_frames", "n_change_frames", "n_cuts")]
    cuts = model.get("cuts") or {}
    parts.append(f"{cuts.get('n_track_cuts')} cuts between tracks")
    if settings:
        parts.append(
            f"split '{settings.get('split')}', {settings.get('prompts')} prompts "
            f"of {settings.get('prompt_seconds')} s, "
            f"{settings.get('samples')} samples of {settings.get('horizon_seconds')} s at temperature "
            f"{settings.get('temperature')}, seed {settings.get('seed')}, "
            f"cut tolerance ±{settings.get('tolerance_frames')} frames"
        )
    return html.escape("; ".join(parts))


def image_tag(path: Path, title: str) -> str:
    return png_tag(Path(path).read_bytes(), title)


def png_tag(png: bytes, title: str) -> str:
    """A heading and the PNG inline (a data URI)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'


def render_report(metrics: Mapping[str, Any], images: list[tuple[str, Path]]) -> str:
    body = [
        "<h1>multitrack evaluation</h1>",
        comparison_table(metrics),
        f'<p class="note">{_counts(metrics)}. Baselines are fitted on the training split only; '
        "↑ higher is better, ↓ lower is better; rollout rows are distances to the editor's frames.</p>",
        *(image_tag(path, title) for title, path in images),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>multitrack evaluation</title>'
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_report(path: str | Path, metrics: Mapping[str, Any], images: list[tuple[str, Path]]) -> Path:
    path = Path(path)
    path.write_text(render_report(metrics, images), encoding="utf-8")
    return path
