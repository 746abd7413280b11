"""`multitrack demo`: the whole pipeline from nothing, on a synthetic editors' archive.

synth -> ingest -> prepare -> train -> evaluate -> generate, each stage handing off
through files in WORKDIR, exactly as the verbs do when run one by one. The test split
holds editor profiles never seen in training (`data.split_by: folder`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from multitrack.commands.argtypes import non_negative_int, positive_int, positive_seconds
from multitrack.config import add_override_argument

# What the demo changes from the default config: whole editors per split (8 train, 2 val,
# 2 test of 12), a 10 fps timebase so a 100-frame window spans 10 s (several shots), and a
# short, faster schedule that fits a few minutes of CPU. Changes keep their natural weight
# in the loss (loss.change_weight 1): counting them three times made the model cut too often
# when it samples (docs/decisions.md, "demo: loss.change_weight 1").
DEMO_OVERRIDES = [
    "data.split_by=folder",
    "data.split=[0.7, 0.15, 0.15]",
    "data.fps=10",
    "trainer.max_epochs=12",
    "optim.lr=1e-3",
    "optim.warmup_steps=30",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("demo"),
        metavar="DIR",
        help="where every stage writes its output (default ./demo)",
    )
    parser.add_argument(
        "--timelines", type=positive_int, default=110, metavar="N", help="synthetic timelines to write (default 110)"
    )
    parser.add_argument(
        "--editors",
        type=positive_int,
        default=12,
        metavar="E",
        help="editor profiles (default 12: 8 train, 2 val, 2 test)",
    )
    parser.add_argument(
        "--min-seconds",
        type=positive_seconds,
        default=40.0,
        metavar="A",
        help="shortest timeline in seconds (default 40)",
    )
    parser.add_argument(
        "--max-seconds",
        type=positive_seconds,
        default=90.0,
        metavar="B",
        help="longest timeline in seconds (default 90)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        metavar="S",
        help="seed of the corpus, the split, training and sampling (default 0)",
    )
    parser.add_argument("--jobs", type=positive_int, default=2, metavar="N", help="ingest processes (default 2)")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML config under the demo's own settings (e.g. configs/tiny.yaml for a smoke run); default: built-in",
    )
    add_override_argument(parser, "trainer.max_epochs=20 (applied after the demo's own)")


def run(args: argparse.Namespace) -> int:
    from multitrack.config import load_config

    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    config = load_config(args.config, DEMO_OVERRIDES + list(args.overrides))
    paths = {
        "corpus": workdir / "corpus",
        "frames": workdir / "frames.parquet",
        "prepared": workdir / "prepared",
        "run": workdir / "run",
        "evaluation": workdir / "evaluation",
        "generated": workdir / "generated.xml",
    }
    timings: dict[str, float] = {}
    with _stage("synth", timings):
        _synth(args, paths["corpus"])
    with _stage("ingest", timings):
        _ingest(paths["corpus"], paths["frames"], args.jobs)
    with _stage("prepare", timings):
        from multitrack.data.prepare import prepare

        prepare(paths["frames"], paths["prepared"], config, progress=True)
    with _stage("train", timings):
        from multitrack.train.trainer import train

        train(config, paths["prepared"], run_dir=paths["run"])
    bundle = paths["run"] / "bundle"
    with _stage("evaluate", timings):
        metrics = _evaluate(bundle, paths["prepared"], paths["evaluation"], args.seed)
    with _stage("generate", timings):
        prompt = _first_test_timeline(paths["prepared"], paths["corpus"])
        _generate(bundle, prompt, paths["generated"], args.seed)
    _print_summary(paths, timings, metrics, prompt)
    return 0


class _stage:
    """Prints the stage's name and records its wall time."""

    def __init__(self, name: str, timings: dict[str, float]):
        self.name, self.timings = name, timings

    def __enter__(self):
        print(f"\n== {self.name}", file=sys.stderr, flush=True)
        self.started = time.perf_counter()

    def __exit__(self, *exc_info):
        self.timings[self.name] = time.perf_counter() - self.started
        return False


def _synth(args: argparse.Namespace, corpus: Path) -> None:
    from tqdm import tqdm

    from multitrack.synth import synth_corpus

    with tqdm(total=args.timelines, unit="timeline", desc="synth", file=sys.stderr) as bar:
        synth_corpus(
            corpus,
            args.timelines,
            args.seed,
            args.editors,
            args.min_seconds,
            args.max_seconds,
            on_written=lambda _: bar.update(),
        )


def _ingest(corpus: Path, frames: Path, jobs: int) -> None:
    from multitrack.errors import MultitrackError
    from multitrack.features.ingest import ingest

    report = ingest([corpus], frames, jobs=jobs)
    if not report.ok:
        raise MultitrackError(f"ingest: {report.failed} synthetic files failed; see {report.manifest_path}")


def _evaluate(bundle: Path, prepared: Path, out_dir: Path, seed: int) -> dict:
    from multitrack.evaluate.evaluate import EvaluateOptions, evaluate

    options = EvaluateOptions(
        prompt_seconds=10.0, horizon_seconds=30.0, samples=4, seed=seed, max_prompts=24, progress=True
    )
    return evaluate(bundle, prepared, out_dir, options)


def _first_test_timeline(prepared: Path, corpus: Path) -> Path:
    """The corpus file of the first test timeline: generation continues an unseen editor's cut."""
    entries = json.loads((prepared / "test" / "timelines.json").read_text())
    return corpus / f"{entries[0]['id']}.xml"


def _generate(bundle: Path, prompt: Path, out_path: Path, seed: int) -> None:
    from multitrack.generate.generate import generate

    generate(bundle, prompt, seconds=30.0, out_path=out_path, prompt_seconds=10.0, seed=seed)


HEADLINE = [
    ("change_frames", "active_log_loss", "lower"),
    ("change_frames", "asset_log_loss", "lower"),
    ("all_frames", "asset_log_loss", "lower"),
    ("all_frames", "active_accuracy", "higher"),
    ("all_frames", "asset_accuracy", "higher"),
    ("all_frames", "position_mae_px", "lower"),
    ("cuts", "next_track_accuracy", "higher"),
    ("rollout", "shot_length_w1_seconds", "lower"),
    ("rollout", "track_share_tv", "lower"),
]
PREDICTORS = ("model", "persistence", "markov", "semi_markov")


def _print_summary(paths: dict[str, Path], timings: dict[str, float], metrics: dict, prompt: Path) -> None:
    print(
        "\nmultitrack demo: done in "
        + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items())
        + f" (total {sum(timings.values()):.0f}s)"
    )
    for name, path in paths.items():
        print(f"  {name:<11} {path}")
    print(f"  {'report':<11} {paths['evaluation'] / 'report.html'}")
    print(f"  {'prompt':<11} {prompt}")
    print("\nTest split (editors unseen in training):")
    print(f"  {'figure':<36}" + "".join(f"{p:>13}" for p in PREDICTORS))
    for group, key, better in HEADLINE:
        row = [_figure(metrics.get(p), group, key) for p in PREDICTORS]
        print(f"  {group + '.' + key + ' (' + better + ')':<36}" + "".join(f"{_fmt(v):>13}" for v in row))


def _figure(metrics: dict | None, group: str, key: str):
    value = (metrics or {}).get(group) or {}
    return value.get(key) if isinstance(value, dict) else None


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"
