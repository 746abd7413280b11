"""What the model attends to when it predicts a frame (`multitrack attention`, report.html).

The prediction of frame F comes from the query at frame F-1 over the window the model reads,
frames max(0, F-W) .. F-1 (W = the bundle's window): each layer's weights over those frames
(`MultitrackTransformer.attention`, heads averaged or one row per head) are drawn above the
timeline strip of the same frames, with frame F (the predicted one) at the right after a red
line, so one sees which earlier shots the model looked at when it decided a cut.

A timeline file is read as `generate` reads a prompt: its first sequence's frame arrays,
resampled to the model's rate (`model_rate`, as `prepare` resamples), and encoded with the
bundle's statistics (`FrameCodec`); what each frame remembers (frames since each track was on
top, the cuts so far from the track on top) is counted from the timeline's start, as
`prepare` stores it.
"""

from __future__ import annotations

import html
import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from multitrack.data.resample import Resampler, frame_rate
from multitrack.errors import MultitrackError
from multitrack.evaluate.metrics import Excerpt
from multitrack.evaluate.plots import draw_strip, used_tracks
from multitrack.evaluate.report import STYLE, png_tag
from multitrack.features.frames import timeline_frames
from multitrack.features.vocabulary import Frames, top_track
from multitrack.model.inputs import count_cuts_from_top, frames_since_on_top
from multitrack.sample.codec import FrameCodec
from multitrack.timeline.xmeml import read_xmeml
from multitrack.train.bundle import Bundle, model_rate

REPORT_CUTS = 3  # report.html shows the attention at the test split's first cuts
CUT_COLOUR, WEIGHT_COLOUR, HEADS_CMAP = "#d62728", "#1f77b4", "Blues"


@dataclass
class TimelineAtModelRate:
    """A timeline's frames as a bundle reads them."""

    frames: Frames  # frame-table units, at the model's rate
    fps: float  # the model's rate
    source: str
    asset_names: list[str] = field(default_factory=list)  # asset number n is asset_names[n - 1]
    warnings: list[str] = field(default_factory=list)


@dataclass
class AttentionView:
    """The model's attention when it predicts one frame."""

    frame: int  # F, the predicted frame
    start: int  # the window's first frame
    fps: float
    frames: Frames  # frames start .. F: the window and, last, the predicted frame
    weights: list[np.ndarray]  # per layer (nh, F - start): the query at F-1 over the window
    visible_prob: np.ndarray  # (C,) the model's chance of each class on top at F (0 none, j track j-1)
    source: str
    asset_names: list[str] = field(default_factory=list)

    @property
    def tops(self) -> tuple[int, int]:
        """The class on top at F-1 and at F."""
        top = top_track(self.frames.active[-2:])
        return int(top[0]), int(top[1])

    def shown(self, row: int) -> str:
        """What is on screen at one of `frames`' rows: the track on top and its asset."""
        top = int(top_track(self.frames.active[row : row + 1 if row != -1 else None])[0])
        if not top:
            return "nothing"
        number = int(self.frames.asset[row, top - 1])
        return f"V{top} {self.asset_names[number - 1] if 0 < number <= len(self.asset_names) else number}"

    def caption(self) -> str:
        before, after = self.tops
        shown_before, shown_after = self.shown(-2), self.shown(-1)
        change = f"{shown_before} → {shown_after}, a cut" if shown_before != shown_after else f"{shown_after} stays"
        other = 1.0 - float(self.visible_prob[before])
        given_a_cut = f" ({self.visible_prob[after] / other:.2f} of that)" if after != before and other > 0 else ""
        return (
            f"{self.source}: frame {self.frame} ({self.frame / self.fps:.2f} s at {self.fps:g} fps), {change}; "
            f"the model gave another track on top {other:.2f} and V{after} on top {self.visible_prob[after]:.2f}"
            f"{given_a_cut}; it read frames {self.start}..{self.frame - 1}"
        )


def read_timeline(bundle: Bundle, path: str | Path) -> TimelineAtModelRate:
    """The file's first sequence at the model's rate."""
    timeline = read_xmeml(path)[0]
    found = timeline_frames(timeline, bundle.model.max_tracks, source=str(path))
    rate_in = frame_rate(timeline.rate.fps)
    rate = model_rate(bundle, timeline.rate.fps)
    rows = Frames(found.active > 0, found.asset, found.values)
    frames = Resampler.between(found.frame_count, rate_in, rate).apply(rows)
    names = [entry.name or entry.id for entry in found.assets]
    return TimelineAtModelRate(frames, float(rate), str(path), names, list(found.warnings))


@torch.no_grad()
def attention_at(bundle: Bundle, timeline: TimelineAtModelRate, frame: int) -> AttentionView:
    """Each layer's attention for the prediction of `frame`, from the frames of the window before it."""
    frames, count = timeline.frames, len(timeline.frames)
    if not 1 <= frame < count:
        raise MultitrackError(
            f"{timeline.source}: frame {frame} is out of range: the timeline has {count} frames at "
            f"{timeline.fps:g} fps as the bundle reads it (frames 1..{count - 1} have a prediction)"
        )
    model = bundle.model.eval()
    start = max(0, frame - model.window_length)
    history = FrameCodec.of(bundle).encode(frames.rows(slice(0, frame)))  # from the start: carried values
    since, cuts = frames_since_on_top(history.active), count_cuts_from_top(history.active)
    window = history.span(start, frame)
    inputs = model.inputs(window.active, window.asset, window.values, since[:, start:frame], cuts[:, start:frame])
    prediction, weights = model.attention(inputs)
    visible = torch.softmax(prediction.visible_logits[0, -1], dim=-1).numpy()
    return AttentionView(
        frame,
        start,
        timeline.fps,
        frames.rows(slice(start, frame + 1)),
        [layer[0, :, -1].numpy() for layer in weights],
        visible,
        timeline.source,
        timeline.asset_names,
    )


def attention_png(
    view: AttentionView, heads: bool = False, seconds: float | None = None, width: float = 11.0, dpi: int = 90
) -> bytes:
    """One axis per layer (bars: heads averaged; with `heads` a row per head) above the strip
    of the same frames; `seconds` shows only the window's last S seconds (the weights are over
    the whole window)."""
    fps, frame = view.fps, view.frame
    shown_from = view.start if seconds is None else max(view.start, frame - max(1, round(seconds * fps)))
    n_heads = view.weights[0].shape[0]
    layer_inches = 0.18 * n_heads + 0.35 if heads else 0.8
    n_tracks = max(1, used_tracks(view.frames))
    strip_inches = max(0.8, 0.13 * n_tracks)
    layers = len(view.weights)
    figure = Figure(figsize=(width, layers * layer_inches + strip_inches + 1.4))  # no pyplot: no global state
    axes = figure.subplots(
        layers + 1,
        1,
        sharex=True,
        gridspec_kw={"height_ratios": [layer_inches] * layers + [strip_inches]},
        squeeze=False,
    )
    axes = axes[:, 0]
    left, right = shown_from / fps, (frame + 1) / fps
    seconds_at = np.arange(shown_from, frame) / fps  # each window frame's start
    # one colour scale for every layer, so a layer that attends evenly looks even
    darkest = max(max(float(weights[:, shown_from - view.start :].max()) for weights in view.weights), 1e-9)
    for number, (axis, weights) in enumerate(zip(axes[:-1], view.weights, strict=True)):
        shown = weights[:, shown_from - view.start :]  # (nh, frames shown)
        if heads:
            axis.imshow(
                shown,
                aspect="auto",
                origin="lower",
                cmap=HEADS_CMAP,
                vmin=0.0,
                vmax=darkest,
                interpolation="nearest",
                extent=(left, frame / fps, 0.5, n_heads + 0.5),
            )
            ticks = range(1, n_heads + 1)
            axis.set_yticks(list(ticks), [f"h{h}" for h in ticks], fontsize=6)
        else:
            mean = shown.mean(axis=0)
            axis.bar(seconds_at, mean, width=1.0 / fps, align="edge", color=WEIGHT_COLOUR, linewidth=0)
            axis.axhline(1.0 / weights.shape[1], color="#999999", linestyle="--", linewidth=0.8)  # uniform
            axis.set_ylim(0, max(float(mean.max()), 1.0 / weights.shape[1]) * 1.15)
            axis.tick_params(labelsize=7)
        axis.set_ylabel(f"layer {number + 1}", fontsize=8)
        axis.axvline(frame / fps, color=CUT_COLOUR, linewidth=1)
    excerpt = Excerpt(view.frames.rows(slice(shown_from - view.start, None)), fps, np.ones(1))
    draw_strip(axes[-1], excerpt, n_tracks, "frames", start_seconds=left)
    axes[-1].axvline(frame / fps, color=CUT_COLOUR, linewidth=1)
    axes[-1].set_xlim(left, right)
    axes[-1].set_xlabel("seconds on the timeline (at the model's rate); red line: the predicted frame", fontsize=8)
    axes[-1].tick_params(labelsize=7)
    _asset_legend(figure, excerpt.frames, view.asset_names)
    how = "one row per head, darker = more weight" if heads else "heads averaged; dashed: uniform attention"
    caption = textwrap.fill(view.caption(), width=int(width * 15))  # ~15 characters an inch at 8 pt
    figure.suptitle(f"{caption}\n(attention of each layer over the frames before it: {how})", fontsize=8)
    figure.tight_layout(rect=(0, 0.35 / figure.get_figheight(), 1, 1))
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=dpi)
    return out.getvalue()


def _asset_legend(figure: Figure, frames: Frames, names: list[str]) -> None:
    """Under the figure: the colour of each asset the strip shows, by name."""
    from matplotlib.patches import Patch

    numbers = sorted({int(a) for a in np.unique(frames.asset[frames.active]) if a > 0})
    cmap = matplotlib.colormaps["tab20"]  # as `draw_strip` colours asset n: tab20 over 1..20
    labels = [names[n - 1] if n <= len(names) else str(n) for n in numbers]
    handles = [Patch(color=cmap((min(n, 20) - 1) / 19), label=label) for n, label in zip(numbers, labels, strict=True)]
    if handles:
        figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=7, frameon=False)


def attention_html(view: AttentionView, png: bytes) -> str:
    """A self-contained page: the caption and the image inline."""
    title = f"multitrack attention: frame {view.frame}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{png_tag(png, title)}"
        f'<p class="note">{html.escape(view.caption())}.</p></body></html>\n'
    )


def write_attention(
    bundle: Bundle,
    timeline_path: str | Path,
    frame: int,
    out_path: str | Path,
    heads: bool = False,
    seconds: float | None = None,
) -> tuple[AttentionView, list[str]]:
    """The attention for the prediction of `frame` of the file's timeline, as OUT.png or a
    self-contained OUT.html; returns the view and the timeline's warnings."""
    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in (".png", ".html"):
        raise MultitrackError(f"{out_path}: the output must end in .png or .html")
    timeline = read_timeline(bundle, timeline_path)
    view = attention_at(bundle, timeline, frame)
    png = attention_png(view, heads, seconds)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        out_path.write_bytes(png)
    else:
        out_path.write_text(attention_html(view, png), encoding="utf-8")
    return view, timeline.warnings


def first_cuts(frames: Frames, count: int) -> list[int]:
    """The first `count` frames whose top track differs from the frame before's (both on screen)."""
    top = top_track(frames.active)
    cuts = np.flatnonzero((top[1:] != top[:-1]) & (top[1:] > 0) & (top[:-1] > 0)) + 1
    return [int(frame) for frame in cuts[:count]]


def write_cut_attention(
    out_dir: Path, bundle: Bundle, timelines: Sequence[TimelineAtModelRate], count: int = REPORT_CUTS
) -> list[tuple[str, Path]]:
    """Small attention images (heads averaged) at the first `count` cuts of the timelines, in
    order, for report.html: (title, path) each."""
    images: list[tuple[str, Path]] = []
    for timeline in timelines:
        for frame in first_cuts(timeline.frames, count - len(images)):
            path = out_dir / f"attention_{len(images) + 1}.png"
            path.write_bytes(attention_png(attention_at(bundle, timeline, frame), width=7.5, dpi=72))
            images.append((f"Attention at cut {len(images) + 1} ({timeline.source}, frame {frame})", path))
        if len(images) >= count:
            break
    return images
