"""The cut evaluation's results (`multitrack evaluate-cut`, commands/cut_harness.py): the figures
over seeds with their 95% intervals, the printed table, how often `cut` paired right, and a
picture per session (each speaker's speech, the editor's angles, the oracle's and each
predictor's on one time axis).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multitrack.evaluate.cut_metrics import cut_frames

if TYPE_CHECKING:
    from multitrack.commands.cut_harness import Session

PREDICTORS = ("rules_agreement", "rules_cut_f1", "rules_true_pairing", "semi_markov", "oracle")
FIGURES = ("shown_agreement", "cut_f1", "next_angle_accuracy", "shot_length_w1_seconds", "wide_share_abs_diff")
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def summarise(per_seed: list[dict]) -> dict:
    """{protocol: {predictor: {'overall' | editor: {figure: {mean, ci95, seeds}}}}}: each seed's
    mean over sessions, then over the seeds their mean and 95% interval half-width."""
    values: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    for seed in per_seed:
        grouped: dict = defaultdict(list)
        for row in seed["sessions"]:
            grouped[(row["protocol"], row["predictor"], "overall")].append(row)
            grouped[(row["protocol"], row["predictor"], row["editor"])].append(row)
        for (protocol, predictor, who), rows in grouped.items():
            for figure in FIGURES:
                found = [r[figure] for r in rows if r[figure] is not None]
                if found:
                    values[protocol][predictor][who][figure].append(float(np.mean(found)))
    return {
        protocol: {
            predictor: {
                who: {figure: interval(seeds) for figure, seeds in figures.items()} for who, figures in whos.items()
            }
            for predictor, whos in predictors.items()
        }
        for protocol, predictors in values.items()
    }


def pairing_summary(per_seed: list[dict]) -> dict:
    """{protocol: {'sessions', 'true', 'sources': {source: count}}} over every seed's sessions: how
    often the pairing `cut` chose is synth's true one."""
    found: dict = {}
    for seed in per_seed:
        for row in seed["sessions"]:
            if row["predictor"] != PREDICTORS[0]:
                continue
            entry = found.setdefault(row["protocol"], {"sessions": 0, "true": 0, "sources": {}})
            entry["sessions"] += 1
            entry["true"] += int(row["pairing_true"])
            entry["sources"][row["pairing"]] = entry["sources"].get(row["pairing"], 0) + 1
    return found


def interval(values: Sequence[float]) -> dict:
    """Mean and the 95% interval's half-width (Student's t; None from a single value)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return {"mean": mean, "ci95": None, "seeds": len(values)}
    t = T_975.get(len(values) - 1, 1.96)
    return {"mean": mean, "ci95": float(t * np.std(values, ddof=1) / math.sqrt(len(values))), "seeds": len(values)}


def summary_lines(results: dict, figures: Sequence[str] = ("shown_agreement", "cut_f1")) -> list[str]:
    """The per-editor and overall table of `summary`, one line per protocol, who and predictor."""
    lines = [f"{'protocol':<8} {'editor':<18} {'predictor':<20}" + "".join(f"{f:>24}" for f in figures)]
    for protocol, predictors in results["summary"].items():
        whos = sorted({who for by_who in predictors.values() for who in by_who}, key=lambda w: (w != "overall", w))
        for who in whos:
            label = who + (" (control)" if who == results.get("control_editor") else "")
            for predictor in PREDICTORS:
                cell = predictors.get(predictor, {}).get(who)
                if cell is None:
                    continue
                text = "".join(f"{_cell(cell.get(f)):>24}" for f in figures)
                lines.append(f"{protocol:<8} {label:<18} {predictor:<20}{text}")
    for protocol, entry in results.get("pairing", {}).items():
        sources = ", ".join(f"{k} {v}" for k, v in sorted(entry["sources"].items()))
        lines.append(f"{protocol}: cut's pairing is the true one on {entry['true']} of {entry['sessions']} ({sources})")
    return lines


def _cell(value: dict | None) -> str:
    if value is None:
        return "-"
    half = "" if value["ci95"] is None else f" ± {value['ci95']:.3f}"
    return f"{value['mean']:.3f}{half} (n={value['seeds']})"


def draw_session(session: Session, protocol: str, cuts: dict[str, np.ndarray], fps: float, out_dir: Path) -> Path:
    """Each speaker's speech, the editor's angles, the oracle's and each predictor's on one time axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [f"speaker {i + 1}" for i in range(len(session.speech))] + ["editor", *cuts]
    n_cameras = session.truth.pairing.n_cameras
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(12, 0.45 * len(rows) + 1.2))
    for i, turns in enumerate(session.speech):
        ax.broken_barh([(a, b - a) for a, b in turns], (i - 0.4, 0.8), color="0.35")
    for j, shown in enumerate([session.truth.shown, *cuts.values()]):
        y = len(session.speech) + j
        edges = np.concatenate([[0], cut_frames(shown), [len(shown)]])
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            camera = int(shown[a])
            ax.broken_barh(
                [(a / fps, (b - a) / fps)], (y - 0.4, 0.8), color=colours(camera % 10) if camera >= 0 else "w"
            )
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    wide = session.truth.pairing.wide
    ax.set_title(
        f"{session.name} ({session.editor}, {protocol}): {n_cameras} cameras, colour = camera"
        + (f", camera {wide} the wide" if wide is not None else "")
    )
    fig.tight_layout()
    path = out_dir / f"cut_{session.name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
