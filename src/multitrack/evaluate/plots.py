"""The evaluation's PNG plots (matplotlib, no display needed).

- timeline strips: tracks × time coloured by asset, with the visible clip's scale and
  position curves underneath, for the editor's frames after a prompt against a model
  rollout and a semi-Markov rollout from the same prompt;
- training curves, the total loss and beside it each component, from the run's CSV log (the
  bundle sits in RUN_DIR/bundle, Lightning's CSV logger writes RUN_DIR/logs/version_N/metrics.csv);
- per-track bars of the next-frame figures for the model and the baselines.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

# Files only: evaluate runs on servers without a display. The backend must be chosen before
# pyplot is imported, hence the imports below it (E402).
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after matplotlib.use
import numpy as np  # noqa: E402 - after matplotlib.use
from matplotlib.ticker import MaxNLocator  # noqa: E402 - after matplotlib.use

from multitrack.evaluate.metrics import POS_X, POS_Y, SCALE, Excerpt  # noqa: E402 - as above
from multitrack.features.vocabulary import Frames, top_track  # noqa: E402 - as above
from multitrack.model.losses import COMPONENTS  # noqa: E402 - as above; logged as train/<name>, val/<name>

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from multitrack.evaluate.evaluate import SplitFrames

STRIP_EXAMPLES = 3
PER_TRACK_FIGURES = ("active_f1", "asset_accuracy", "iou")
STRIP_INCHES_PER_TRACK = 0.13
MAX_TRACK_LABELS = 12
LOSS_QUANTITIES = ("loss", *COMPONENTS)  # one colour each in the training curves
PREDICTOR_COLOURS = {"model": "#1f77b4", "persistence": "#7f7f7f", "markov": "#ff7f0e", "semi_markov": "#2ca02c"}


def write_plots(
    out_dir: Path,
    metrics: Mapping[str, Any],
    split: SplitFrames,
    truth: list[Excerpt],
    samples: dict[str, list[Excerpt]],
    bundle_dir: Path,
) -> list[tuple[str, Path]]:
    """Write every plot that has data; returns (title, path) in report order."""
    images = []
    per_prompt = len(samples["model"]) // len(truth) if truth else 0
    for index in range(min(STRIP_EXAMPLES, len(truth))):
        panels = [("editor", truth[index]), ("model, sample 1", samples["model"][index * per_prompt])]
        panels.append(("semi-Markov, sample 1", samples["semi_markov"][index * per_prompt]))
        path = out_dir / f"strip_{index + 1}.png"
        plot_strips(
            path, panels, f"Rollout {index + 1}: the editor's frames after the prompt against sampled continuations"
        )
        images.append((f"Rollout {index + 1}", path))
    log = find_training_log(bundle_dir)
    if log is not None and plot_training_curves(out_dir / "training_curves.png", log):
        images.append(("Training curves", out_dir / "training_curves.png"))
    plot_per_track(out_dir / "per_track.png", metrics)
    images.append(("Per-track next-frame figures", out_dir / "per_track.png"))
    return images


def plot_strips(path: Path, panels: list[tuple[str, Excerpt]], title: str) -> None:
    """One strip (tracks × time, coloured by asset) and one curve axis per panel."""
    n_tracks = max(1, max(used_tracks(excerpt.frames) for _, excerpt in panels))
    # the strip grows with the tracks so that each keeps a readable row (DPI 90: ~12 px)
    strip_inches, curve_inches = max(1.0, STRIP_INCHES_PER_TRACK * n_tracks), 0.8
    height_inches = len(panels) * (strip_inches + curve_inches) + 1.2  # + title, x label, legend
    figure, axes = plt.subplots(
        2 * len(panels),
        1,
        figsize=(11, height_inches),
        sharex=True,
        gridspec_kw={"height_ratios": [strip_inches, curve_inches] * len(panels)},
    )
    for number, (label, excerpt) in enumerate(panels):
        draw_strip(axes[2 * number], excerpt, n_tracks, label)
        _draw_curves(axes[2 * number + 1], excerpt)
    axes[-1].set_xlabel("seconds after the prompt")
    figure.suptitle(f"{title}\n(colour: asset; curves: the visible clip's scale and position)", fontsize=10)
    # one legend for every curve axis, under the figure, where it hides no curve
    handles, labels = axes[1].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    figure.tight_layout(rect=(0, 0.4 / height_inches, 1, 1))
    figure.savefig(path, dpi=90)
    plt.close(figure)


def track_ticks(n_tracks: int) -> list[int]:
    """Track numbers to label on a strip: all up to MAX_TRACK_LABELS, else V1 and every
    2nd, 5th or 10th track, so the labels never overlap."""
    step = next((s for s in (1, 2, 5, 10) if n_tracks / s <= MAX_TRACK_LABELS), -(-n_tracks // MAX_TRACK_LABELS))
    return sorted({1, *range(step, n_tracks + 1, step)})


def used_tracks(frames: Frames) -> int:
    """Tracks up to the highest one on in any frame: the track on top of all the frames at once."""
    return int(top_track(frames.active.any(axis=0, keepdims=True))[0])


def draw_strip(axis: Axes, excerpt: Excerpt, n_tracks: int, label: str, start_seconds: float = 0.0) -> None:
    """Tracks × time coloured by asset, the excerpt's first frame at `start_seconds`."""
    frames = excerpt.frames
    shown = np.where(frames.active[:, :n_tracks], frames.asset[:, :n_tracks], 0).T.astype(float)  # (T, N)
    shown[shown == 0] = np.nan  # empty cells stay white
    seconds = len(frames) / excerpt.fps
    axis.imshow(
        shown,
        aspect="auto",
        origin="lower",
        cmap="tab20",
        vmin=1,
        vmax=20,
        interpolation="nearest",
        extent=(start_seconds, start_seconds + seconds, 0.5, n_tracks + 0.5),
    )
    ticks = track_ticks(n_tracks)
    axis.set_yticks(ticks, [f"V{t}" for t in ticks], fontsize=7)
    axis.set_ylabel(label.replace(", ", ",\n"), fontsize=8)  # two short lines fit a low strip


def _draw_curves(axis: Axes, excerpt: Excerpt) -> None:
    """Scale and position of the visible clip (the topmost active track) over time."""
    frames = excerpt.frames
    top = top_track(frames.active)  # (N,): 0 none, t + 1 for track t
    rows = np.arange(len(frames))
    seconds = rows / excerpt.fps
    for column, name in ((SCALE, "scale"), (POS_X, "pos_x"), (POS_Y, "pos_y")):
        curve = np.where(top > 0, frames.values[rows, np.maximum(top - 1, 0), column], np.nan)
        axis.plot(seconds, curve, linewidth=1, label=name)
    axis.set_ylabel("visible\nclip", fontsize=7)
    axis.tick_params(labelsize=7)


def find_training_log(bundle_dir: Path) -> Path | None:
    """The newest metrics.csv under the run folder that holds the bundle, if any."""
    run_dir = Path(bundle_dir).resolve().parent
    logs = sorted(run_dir.glob("logs/*/metrics.csv"), key=lambda p: p.stat().st_mtime)
    return logs[-1] if logs else None


def plot_training_curves(path: Path, csv_path: Path) -> bool:
    """The loss columns of the CSV log against the step, and beside them each loss component's
    epoch means (train solid, val dashed) when the log has them; False when there is no loss."""
    import pandas as pd

    try:
        log = pd.read_csv(csv_path)
    except (OSError, ValueError):
        return False
    columns = [c for c in log.columns if "loss" in c and log[c].notna().any()]
    if not columns or "step" not in log.columns:
        return False
    components = [c for c in log.columns if c.split("/")[-1] in COMPONENTS and log[c].notna().any()]
    figure, axes = plt.subplots(1, 2 if components else 1, figsize=(11 if components else 9, 4), squeeze=False)
    _draw_losses(axes[0, 0], log, columns, "loss")
    axes[0, 0].set_title(f"Training curves ({csv_path.parent.name})", fontsize=10)
    if components:
        _draw_losses(axes[0, 1], log, components, "component loss")
        axes[0, 1].set_title("Loss components (epoch means; train solid, val dashed)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def _draw_losses(axis: Axes, log: pd.DataFrame, columns: list[str], y_label: str) -> None:
    for column in columns:
        series = log[["step", column]].dropna()
        name = column.split("/")[-1].removesuffix("_step")
        # one colour per quantity, so train (solid) and val (dashed) of it pair up; per-step
        # values are noisy and drawn faint behind the epoch means
        colour = f"C{LOSS_QUANTITIES.index(name)}" if name in LOSS_QUANTITIES else "C7"
        axis.plot(
            series["step"],
            series[column],
            "--" if column.startswith("val/") else "-",
            color=colour,
            label=column,
            linewidth=1,
            alpha=0.4 if column.endswith("_step") else 1.0,
            marker="." if len(series) < 30 else None,
        )
    axis.set_xlabel("step")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # steps are whole numbers
    axis.set_ylabel(y_label)
    losses = log[columns].to_numpy(dtype=float)
    # a log axis only pays off over a decade; within one its ticks read "3.15 × 10⁻¹"
    if np.nanmin(losses) > 0 and np.nanmax(losses) / np.nanmin(losses) > 10:
        axis.set_yscale("log")
    axis.legend(fontsize=7, ncol=2)


def plot_per_track(path: Path, metrics: Mapping[str, Any]) -> None:
    """Grouped bars per track (tracks the split uses) for each predictor."""
    predictors = [name for name in PREDICTOR_COLOURS if name in metrics]
    tracks = [t for t, f in metrics["model"]["per_track"].items() if f["asset_accuracy"] is not None]
    figure, axes = plt.subplots(1, len(PER_TRACK_FIGURES), figsize=(4 * len(PER_TRACK_FIGURES), 3.2))
    width = 0.8 / max(1, len(predictors))
    for axis, figure_name in zip(axes, PER_TRACK_FIGURES, strict=True):
        for number, name in enumerate(predictors):
            heights = [metrics[name]["per_track"][t][figure_name] or 0.0 for t in tracks]
            axis.bar(np.arange(len(tracks)) + number * width, heights, width, label=name, color=PREDICTOR_COLOURS[name])
        axis.set_xticks(np.arange(len(tracks)) + width * (len(predictors) - 1) / 2, tracks, fontsize=7)
        axis.set_title(figure_name, fontsize=9)
        axis.set_ylim(0, 1.05)
    axes[0].set_ylabel("next-frame score (1 = perfect)", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncol=len(predictors), fontsize=8)
    figure.tight_layout(rect=(0, 0, 1, 0.9))
    figure.savefig(path, dpi=90)
    plt.close(figure)
