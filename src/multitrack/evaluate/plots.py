"""The evaluation's PNG plots (matplotlib, no display needed).

- timeline strips: tracks × time coloured by asset, with the visible clip's scale and
  position curves underneath, for the editor's frames after a prompt against a model
  rollout and a semi-Markov rollout from the same prompt;
- training curves from the run's CSV log (the bundle sits in RUN_DIR/bundle, Lightning's CSV
  logger writes RUN_DIR/logs/version_N/metrics.csv);
- per-track bars of the next-frame figures for the model and the baselines.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: evaluate runs on servers without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from multitrack.evaluate.metrics import POS_X, POS_Y, SCALE, Excerpt, Frames, visible_tracks  # noqa: E402

STRIP_EXAMPLES = 3
PER_TRACK_FIGURES = ("active_f1", "asset_accuracy", "iou")
PREDICTOR_COLOURS = {"model": "#1f77b4", "persistence": "#7f7f7f", "markov": "#ff7f0e", "semi_markov": "#2ca02c"}


def write_plots(out_dir: Path, metrics: dict, split, truth: list[Excerpt], samples: dict[str, list[Excerpt]], bundle_dir: Path) -> list[tuple[str, Path]]:
    """Write every plot that has data; returns (title, path) in report order."""
    images = []
    per_prompt = len(samples["model"]) // len(truth) if truth else 0
    for index in range(min(STRIP_EXAMPLES, len(truth))):
        panels = [("editor", truth[index]), ("model, sample 1", samples["model"][index * per_prompt])]
        panels.append(("semi-Markov, sample 1", samples["semi_markov"][index * per_prompt]))
        path = out_dir / f"strip_{index + 1}.png"
        plot_strips(path, panels, f"Rollout {index + 1}: the editor's frames after the prompt against sampled continuations")
        images.append((f"Rollout {index + 1}", path))
    log = find_training_log(bundle_dir)
    if log is not None and plot_training_curves(out_dir / "training_curves.png", log):
        images.append(("Training curves", out_dir / "training_curves.png"))
    plot_per_track(out_dir / "per_track.png", metrics)
    images.append(("Per-track next-frame figures", out_dir / "per_track.png"))
    return images


def plot_strips(path: Path, panels: list[tuple[str, Excerpt]], title: str) -> None:
    """One strip (tracks × time, coloured by asset) and one curve axis per panel."""
    n_tracks = max(1, max(_used_tracks(excerpt.frames) for _, excerpt in panels))
    figure, axes = plt.subplots(
        2 * len(panels), 1, figsize=(11, 2.6 * len(panels)), sharex=True,
        gridspec_kw={"height_ratios": [max(1.0, 0.35 * n_tracks), 1.2] * len(panels)},
    )
    for number, (label, excerpt) in enumerate(panels):
        _draw_strip(axes[2 * number], excerpt, n_tracks, label)
        _draw_curves(axes[2 * number + 1], excerpt)
    axes[-1].set_xlabel("seconds after the prompt")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _used_tracks(frames: Frames) -> int:
    used = np.flatnonzero(frames.active.any(axis=0))
    return int(used[-1]) + 1 if used.size else 0


def _draw_strip(axis, excerpt: Excerpt, n_tracks: int, label: str) -> None:
    frames = excerpt.frames
    shown = np.where(frames.active[:, :n_tracks], frames.asset[:, :n_tracks], 0).T.astype(float)  # (T, N)
    shown[shown == 0] = np.nan  # empty cells stay white
    seconds = len(frames) / excerpt.fps
    axis.imshow(shown, aspect="auto", origin="lower", cmap="tab20", vmin=1, vmax=20,
                interpolation="nearest", extent=(0, seconds, 0.5, n_tracks + 0.5))
    axis.set_yticks(range(1, n_tracks + 1), [f"V{t}" for t in range(1, n_tracks + 1)], fontsize=7)
    axis.set_ylabel(label, fontsize=8)


def _draw_curves(axis, excerpt: Excerpt) -> None:
    """Scale and position of the visible clip (the topmost active track) over time."""
    frames = excerpt.frames
    track = visible_tracks(frames.active)
    rows = np.arange(len(frames))
    seconds = rows / excerpt.fps
    for column, name in ((SCALE, "scale"), (POS_X, "pos_x"), (POS_Y, "pos_y")):
        curve = np.where(track >= 0, frames.values[rows, np.maximum(track, 0), column], np.nan)
        axis.plot(seconds, curve, linewidth=1, label=name)
    axis.legend(fontsize=6, loc="upper right", ncol=3)
    axis.tick_params(labelsize=7)


def find_training_log(bundle_dir: Path) -> Path | None:
    """The newest metrics.csv under the run folder that holds the bundle, if any."""
    run_dir = Path(bundle_dir).resolve().parent
    logs = sorted(run_dir.glob("logs/*/metrics.csv"), key=lambda p: p.stat().st_mtime)
    return logs[-1] if logs else None


def plot_training_curves(path: Path, csv_path: Path) -> bool:
    """Every loss column of the CSV log against the step; False when there is none to draw."""
    import pandas as pd

    try:
        log = pd.read_csv(csv_path)
    except (OSError, ValueError):
        return False
    columns = [c for c in log.columns if "loss" in c and log[c].notna().any()]
    if not columns or "step" not in log.columns:
        return False
    figure, axis = plt.subplots(figsize=(9, 4))
    for column in columns:
        series = log[["step", column]].dropna()
        axis.plot(series["step"], series[column], label=column, linewidth=1, marker="." if len(series) < 30 else None)
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.set_yscale("log")
    axis.legend(fontsize=7, ncol=2)
    axis.set_title(f"Training curves ({csv_path.parent.name})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def plot_per_track(path: Path, metrics: dict) -> None:
    """Grouped bars per track (tracks the split uses) for each predictor."""
    predictors = [name for name in PREDICTOR_COLOURS if name in metrics]
    tracks = [t for t, f in metrics["model"]["per_track"].items() if f["asset_accuracy"] is not None]
    figure, axes = plt.subplots(1, len(PER_TRACK_FIGURES), figsize=(4 * len(PER_TRACK_FIGURES), 3.2))
    width = 0.8 / max(1, len(predictors))
    for axis, figure_name in zip(axes, PER_TRACK_FIGURES):
        for number, name in enumerate(predictors):
            heights = [metrics[name]["per_track"][t][figure_name] or 0.0 for t in tracks]
            axis.bar(np.arange(len(tracks)) + number * width, heights, width, label=name, color=PREDICTOR_COLOURS[name])
        axis.set_xticks(np.arange(len(tracks)) + width * (len(predictors) - 1) / 2, tracks, fontsize=7)
        axis.set_title(figure_name, fontsize=9)
        axis.set_ylim(0, 1.05)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncol=len(predictors), fontsize=8)
    figure.tight_layout(rect=(0, 0, 1, 0.9))
    figure.savefig(path, dpi=90)
    plt.close(figure)
