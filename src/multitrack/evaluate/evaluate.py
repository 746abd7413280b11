"""`evaluate`: score a model bundle against the baselines on one split of a prepared folder.

1. Load the bundle and the prepared folder; check they describe the same tracks, classes and values.
2. Read the split (and the training split the baselines are fitted on: the folder's own, or that of
   `options.baselines`, see `baselines_data`) into frame-table units.
3. Next-frame figures for the model (teacher forcing) and each baseline on the same rows.
4. Rollouts: from prompts of `prompt_seconds` in each timeline, sample `horizon_seconds`
   several times with the model and with each baseline, and compare with the editor's frames.
5. Write metrics.json, the plots (with the model's attention at the split's first cuts,
   `multitrack.evaluate.attention`) and report.html into the output folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from multitrack.data.prepared import PreparedData, open_prepared
from multitrack.errors import DataError
from multitrack.evaluate.attention import TimelineAtModelRate, write_cut_attention
from multitrack.evaluate.baselines import BASELINES, BaselineStats, fit_baselines, predict_next_frame
from multitrack.evaluate.baselines import rollout as baseline_rollout
from multitrack.evaluate.metrics import Excerpt, rollout_distances, score_predictor
from multitrack.evaluate.plots import write_plots
from multitrack.evaluate.predict import predict_timelines
from multitrack.evaluate.report import write_report
from multitrack.features.vocabulary import Frames
from multitrack.sample.codec import FrameCodec
from multitrack.sample.rollout import rollout
from multitrack.train.bundle import Bundle, load_bundle

PREDICTORS = ("model", *BASELINES)
DEFAULT_FPS = 25.0  # a prepared folder made without a manifest does not know its rate


@dataclass
class EvaluateOptions:
    split: str = "test"
    prompt_seconds: float = 10.0
    horizon_seconds: float = 30.0
    samples: int = 4  # rollouts per prompt
    temperature: float = 1.0
    seed: int = 0
    tolerance_frames: int = 2  # cut_f1 matches a predicted cut within ± this many frames
    max_prompts: int = 32
    progress: bool = False
    baselines: str | None = None  # prepared folder whose train split fits the baselines; None: the data's own


@dataclass
class SplitFrames:
    """One split of a prepared folder in frame-table units, with per-row context."""

    frames: Frames
    first: np.ndarray  # (N,) True at each timeline's first row
    fps: np.ndarray  # (N,)
    aspect: np.ndarray  # (N, T) sequence aspect / media aspect of the asset shown
    timelines: list[dict[str, Any]]  # the prepared split's timeline entries (JSON)
    aspect_tables: list[np.ndarray]  # per timeline: (K,) that ratio per asset class
    since_on_top: np.ndarray  # (N, T) int16, as prepare stored it (counted from each timeline's start)
    cuts_from_top: np.ndarray  # (N, T) int16, as prepare stored it

    def timeline(self, index: int) -> tuple[int, int]:
        entry = self.timelines[index]
        return int(entry["row_offset"]), int(entry["frames"])


@dataclass
class Prompt:
    timeline: int  # index into SplitFrames.timelines
    start_row: int  # absolute row of the prompt's first frame
    prompt_frames: int
    horizon_frames: int


def evaluate(
    bundle_dir: str | Path, data_dir: str | Path, out_dir: str | Path, options: EvaluateOptions | None = None
) -> dict[str, Any]:
    """Score the bundle on `options.split`; write metrics.json, plots and report.html; return the metrics."""
    options = options or EvaluateOptions()
    bundle = load_bundle(bundle_dir)
    # hashes too: an edited or corrupted array would otherwise be scored without a word
    data = open_prepared(data_dir, verify_hashes=True)
    check_compatible(bundle, data, Path(bundle_dir), Path(data_dir), options.split)
    split = load_split(data, options.split)
    fitted_on = baselines_data(bundle, data, Path(bundle_dir), Path(data_dir), options.baselines)
    train = load_split(fitted_on, "train")
    baseline_stats = fit_baselines(train.frames, train.first, train.fps, data.asset_classes)

    metrics = next_frame_metrics(bundle, split, baseline_stats, options)
    prompts = choose_prompts(split, options)
    truth, samples = run_rollouts(bundle, split, baseline_stats, prompts, options)
    for name in PREDICTORS:
        metrics[name]["rollout"] = rollout_distances(truth, samples[name]) if truth else None
    metrics["settings"] = settings(bundle, data, options, prompts) | {"baselines_fingerprint": fitted_on.fingerprint}

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    images = write_plots(out_dir, metrics, split, truth, samples, Path(bundle_dir))
    images += write_cut_attention(out_dir, bundle, split_timelines(split))
    write_report(out_dir / "report.html", metrics, images)
    return metrics


def check_compatible(bundle: Bundle, data: PreparedData, bundle_dir: Path, data_dir: Path, split: str) -> None:
    if split not in data.splits:
        raise DataError(f"{data_dir}: no split {split!r} (it has {', '.join(data.splits)})")
    if not data.splits[split].timelines:
        raise DataError(f"{data_dir}: split {split!r} holds no timelines")
    if bundle.model.max_tracks != data.max_tracks or bundle.model.asset_classes != data.asset_classes:
        raise DataError(
            f"{data_dir}: prepared for {data.max_tracks} tracks and {data.asset_classes} asset classes, but "
            f"the bundle {bundle_dir} models {bundle.model.max_tracks} tracks and {bundle.model.asset_classes} classes"
        )
    values = (bundle.meta.get("features") or {}).get("value_features")
    if values is not None and list(values) != list(data.info.get("value_features", values)):
        raise DataError(
            f"{data_dir}: prepared with the values {data.info['value_features']}, but the bundle {bundle_dir} "
            f"reads {values}"
        )


def baselines_data(
    bundle: Bundle, data: PreparedData, bundle_dir: Path, data_dir: Path, baselines: str | Path | None
) -> PreparedData:
    """The prepared folder whose train split the baselines are fitted on (DESIGN.md §3).

    By default the data's own; `baselines` names another, which must be the one the bundle
    was trained on (its train split's fingerprint is the bundle's `data_fingerprint`). A
    folder prepared `--like` a bundle holds only a test split, so it needs `baselines`.
    """
    expected = str(bundle.meta.get("data_fingerprint", ""))
    if baselines is None:
        if data.splits["train"].timelines:
            return data
        raise DataError(
            f"{data_dir}: no train split to fit the baselines on (prepared --like a bundle, it holds the "
            f"whole table as test); pass --baselines PREPARED_DIR, the prepared folder the bundle "
            f"{bundle_dir} was trained on (train split fingerprint {expected[:12]}…)"
        )
    fitted = open_prepared(baselines, verify_hashes=True)
    if fitted.fingerprint != expected:
        raise DataError(
            f"{baselines}: its train split (fingerprint {fitted.fingerprint[:12]}…) is not the one the bundle "
            f"{bundle_dir} was trained on ({expected[:12]}…): --baselines takes the folder the bundle was trained on"
        )
    if (fitted.max_tracks, fitted.asset_classes) != (data.max_tracks, data.asset_classes):
        raise DataError(
            f"{baselines}: prepared for {fitted.max_tracks} tracks and {fitted.asset_classes} asset classes, "
            f"but {data_dir} for {data.max_tracks} and {data.asset_classes}"
        )
    return fitted


def load_split(data: PreparedData, name: str) -> SplitFrames:
    """A split's rows in frame-table units (the prepared values are de-normalised)."""
    prepared = data.splits[name]
    arrays = prepared.arrays()
    active = np.asarray(arrays["active"]).astype(bool)
    asset = np.asarray(arrays["asset"]).astype(np.int64)
    values = np.where(active[..., None], data.stats.invert(np.asarray(arrays["values"], np.float64)), 0.0)
    first = np.zeros(len(active), dtype=bool)
    fps = np.empty(len(active))
    tables = []
    for entry in prepared.timelines:
        offset, frames = int(entry["row_offset"]), int(entry["frames"])
        first[offset] = frames > 0
        fps[offset : offset + frames] = float(entry.get("fps") or DEFAULT_FPS)
        tables.append(aspect_table(entry, data.asset_classes))
    aspect = np.ones(active.shape)
    for table, entry in zip(tables, prepared.timelines, strict=True):
        rows = slice(int(entry["row_offset"]), int(entry["row_offset"]) + int(entry["frames"]))
        aspect[rows] = table[asset[rows]]
    since_on_top, cuts_from_top = np.asarray(arrays["since_on_top"]), np.asarray(arrays["cuts_from_top"])
    return SplitFrames(
        Frames(active, asset, values), first, fps, aspect, prepared.timelines, tables, since_on_top, cuts_from_top
    )


def split_timelines(split: SplitFrames) -> list[TimelineAtModelRate]:
    """Each timeline of the split as the model reads it (the prepared rows are at its rate)."""
    timelines = []
    for index, entry in enumerate(split.timelines):
        offset, frames = split.timeline(index)
        if not frames:
            continue
        assets = sorted(entry.get("assets") or [], key=lambda asset: int(asset.get("number", 0)))
        other = len(split.aspect_tables[index]) - 1  # the prepared assets are classes: K-1 is "other"
        names = [str(asset.get("name") or asset.get("id") or asset.get("number")) for asset in assets][: other - 1]
        names += [str(n) for n in range(len(names) + 1, other)] + ["other"]
        rows = split.frames.rows(slice(offset, offset + frames))
        timelines.append(TimelineAtModelRate(rows, float(split.fps[offset]), str(entry.get("id", index)), names))
    return timelines


def aspect_table(entry: Mapping[str, Any], asset_classes: int) -> np.ndarray:
    """(K,) sequence aspect / media aspect per asset class of one timeline; 1 where unknown.

    Class n < K-1 is the timeline's asset number n; K-1 ("other") may be several assets, so
    it gets the sequence's own shape, like media of unknown size (DESIGN.md §2).
    """
    table = np.ones(asset_classes)
    width, height = entry.get("width"), entry.get("height")
    if not width or not height:
        return table
    for asset in entry.get("assets") or []:
        number = int(asset.get("number", 0))
        if 0 < number < asset_classes - 1 and asset.get("width") and asset.get("height"):
            table[number] = (width / height) / (asset["width"] / asset["height"])
    return table


def next_frame_metrics(
    bundle: Bundle, split: SplitFrames, baseline_stats: BaselineStats, options: EvaluateOptions
) -> dict[str, dict[str, Any]]:
    """score_predictor for the model and every baseline, on the same rows."""
    frames = split.frames
    offsets = [split.timeline(i)[0] for i in range(len(split.timelines))]
    counts = [split.timeline(i)[1] for i in range(len(split.timelines))]
    model_values = bundle.stats.apply(frames.values, frames.active, split.first)  # the model's own normalisation
    history = (split.since_on_top, split.cuts_from_top)  # what prepare counted
    predictions = {
        "model": predict_timelines(
            bundle.model, bundle.stats, frames.active, frames.asset, model_values, *history, offsets, counts
        )
    }
    for name in BASELINES:
        predictions[name] = predict_next_frame(name, baseline_stats, frames, split.first, split.fps)
    return {
        name: score_predictor(frames, prediction, split.first, split.aspect, options.tolerance_frames)
        for name, prediction in predictions.items()
    }


def choose_prompts(split: SplitFrames, options: EvaluateOptions) -> list[Prompt]:
    """Back-to-back (prompt, horizon) stretches of each timeline, taken round-robin over the
    timelines up to max_prompts; a final horizon may be shorter, but at least one second."""
    per_timeline = []
    for index in range(len(split.timelines)):
        offset, frames = split.timeline(index)
        fps = split.fps[offset] if frames else DEFAULT_FPS
        prompt_frames = max(1, round(options.prompt_seconds * fps))
        horizon_frames = max(1, round(options.horizon_seconds * fps))
        stretches, start = [], 0
        while start + prompt_frames + max(1, round(fps)) <= frames:
            horizon = min(horizon_frames, frames - start - prompt_frames)
            stretches.append(Prompt(index, offset + start, prompt_frames, horizon))
            start += prompt_frames + horizon
        per_timeline.append(stretches)
    chosen: list[Prompt] = []
    for round_index in range(max((len(s) for s in per_timeline), default=0)):
        chosen.extend(s[round_index] for s in per_timeline if round_index < len(s))
    return chosen[: options.max_prompts]


def run_rollouts(
    bundle: Bundle, split: SplitFrames, baseline_stats: BaselineStats, prompts: list[Prompt], options: EvaluateOptions
) -> tuple[list[Excerpt], dict[str, list[Excerpt]]]:
    """The editor's continuation of each prompt, and `samples` continuations per predictor."""
    truth: list[Excerpt] = []
    samples: dict[str, list[Excerpt]] = {name: [] for name in PREDICTORS}
    for number, prompt in enumerate(tqdm(prompts, desc="rollouts", unit="prompt", disable=not options.progress)):
        fps = float(split.fps[prompt.start_row])
        table = split.aspect_tables[prompt.timeline]
        after = prompt.start_row + prompt.prompt_frames
        truth.append(Excerpt(split.frames.rows(slice(after, after + prompt.horizon_frames)), fps, table))
        generator = torch.Generator().manual_seed(options.seed * 100_003 + number)
        # the timeline from its start up to the prompt's end, as in training: tracks off in the
        # prompt carry the geometry they last had (`NormStats.apply`), and the frames since each
        # track was on top and the cuts so far count from the start; the model reads its last
        # window, as it reads a prompt that is the timeline's start (`rollout`)
        start, _ = split.timeline(prompt.timeline)
        history = split.frames.rows(slice(start, after))
        codec = FrameCodec.of(bundle)
        sampled = rollout(
            bundle.model,
            codec.encode(history, batch=options.samples),
            prompt.horizon_frames,
            options.temperature,
            generator,
        )
        samples["model"].extend(Excerpt(frames, fps, table) for frames in codec.decode(sampled))
        for name in BASELINES:
            for sample in range(options.samples):
                rng = np.random.default_rng([options.seed, number, sample])
                # the same history the model's prompt was encoded from
                frames = baseline_rollout(name, baseline_stats, history, prompt.horizon_frames, fps, rng)
                samples[name].append(Excerpt(frames, fps, table))
    return truth, samples


def settings(bundle: Bundle, data: PreparedData, options: EvaluateOptions, prompts: list[Prompt]) -> dict[str, Any]:
    return {
        **{key: value for key, value in asdict(options).items() if key not in ("progress", "baselines")},
        "prompts": len(prompts),
        "asset_classes": data.asset_classes,
        "max_tracks": data.max_tracks,
        "window_length": bundle.model.window_length,
        "bundle_training": bundle.meta.get("training"),
    }
