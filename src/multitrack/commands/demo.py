"""`multitrack demo`: the whole pipeline from nothing, on a synthetic editors' archive.

synth -> ingest -> prepare -> train -> evaluate -> generate -> cut, each stage handing off
through files in WORKDIR, exactly as the verbs do when run one by one. The test split
holds 3 editor profiles never seen in training and one podcast session of each other editor
(`data.assign`, drawn from synth.json once the corpus is written: `demo_assign`); the other
timelines are dealt to train and val one by one. The last stage cuts the seen editors' held-out
sessions by the rules fitted on their training edits and prints them beside the oracle's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from multitrack.commands.argtypes import non_negative_int, positive_int, positive_seconds
from multitrack.config import add_override_argument

# What the demo changes from the default config: timelines dealt one by one to train and val
# (the test split is fixed by `demo_assign`), a 10 fps timebase so a 100-frame window spans 10 s (several shots), and a
# short, faster schedule that fits a few minutes of CPU. Changes keep their natural weight
# in the loss (loss.change_weight 1): counting them three times made the model cut too often
# when it samples (docs/decisions.md, "demo: loss.change_weight 1").
DEMO_OVERRIDES = [
    "data.split_by=timeline",
    "data.split=[0.85, 0.15, 0.0]",
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
        help="editor profiles (default 12: 3 held out whole for the test split)",
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
    if not config.data.assign:
        config.data.assign = demo_assign(paths["corpus"])
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
    with _stage("cut", timings):
        cut_rows = _cut(paths["corpus"], config.data.assign, args.seed)
    _print_summary(paths, timings, metrics, prompt)
    _print_cuts(cut_rows)
    return 0


HELD_OUT_EDITORS = 3


def demo_assign(corpus: Path) -> dict[str, str]:
    """`data.assign` for the demo: the last 3 editors that have timelines (never the control
    editor, whose rules the cut stage checks) whole to test, and the first podcast session of
    each other editor with at least two sessions (one left to fit the rules on) to test."""
    manifest = json.loads((corpus / "synth.json").read_text())
    with_timelines = sorted({entry["editor"] for entry in manifest["timelines"]})
    control = {e["name"] for e in manifest["editors"] if (e.get("sound") or {}).get("control")}
    candidates = [e for e in with_timelines if e not in control]
    held = candidates[-min(HELD_OUT_EDITORS, max(0, len(with_timelines) - 2)) :] if len(with_timelines) > 2 else []
    assign = {f"folder={editor}": "test" for editor in held}
    sessions: dict[str, list[str]] = {}
    for session in manifest.get("sessions", []):
        sessions.setdefault(session["editor"], []).append(session["edit"])
    for editor, edits in sorted(sessions.items()):
        if editor not in held and len(edits) >= 2:
            assign[edits[0].removesuffix(".xml")] = "test"
    return assign


def _cut(corpus: Path, assign: dict[str, str], seed: int) -> list[dict]:
    """The seen editors' held-out podcast sessions cut by the rules fitted on the editor's
    training edits, and by the oracle (commands/cut_harness.py)."""
    import tempfile

    from multitrack.commands.cut_harness import CutEvalOptions, cut_split, load_sessions

    sessions, _ = load_sessions(corpus, CutEvalOptions())
    held_out = {pattern for pattern, split in assign.items() if split == "test" and "=" not in pattern}
    test = [s for s in sessions if str(s.edit.relative_to(corpus).with_suffix("")) in held_out]
    editors = {s.editor for s in test}
    train = [s for s in sessions if s.editor in editors and s not in test]
    with tempfile.TemporaryDirectory() as scratch:
        rows, _ = cut_split(corpus, {"train": train, "seen": test, "unseen": []}, seed, CutEvalOptions(), Path(scratch))
    return rows


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
    print("\nTest split (editors unseen in training, and one session of each other editor):")
    print(f"  {'figure':<36}" + "".join(f"{p:>13}" for p in PREDICTORS))
    for group, key, better in HEADLINE:
        row = [_figure(metrics.get(p), group, key) for p in PREDICTORS]
        print(f"  {group + '.' + key + ' (' + better + ')':<36}" + "".join(f"{_fmt(v):>13}" for v in row))


def _figure(metrics: dict | None, group: str, key: str):
    value = (metrics or {}).get(group) or {}
    return value.get(key) if isinstance(value, dict) else None


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


CUT_PREDICTORS = ("rules_agreement", "rules_cut_f1", "oracle")


def _print_cuts(rows: list[dict]) -> None:
    """The cut stage's figures: shown agreement and cut F1 per held-out session."""
    if not rows:
        print("\nCut: no seen editor has a held-out podcast session to cut")
        return
    print("\nCut (seen editors' held-out podcast sessions; shown agreement / cut F1 against the editor's edit):")
    print(f"  {'session':<22}" + "".join(f"{p:>20}" for p in CUT_PREDICTORS))
    by_session: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_session.setdefault(f"{row['editor']}/{row['session']}", {})[row["predictor"]] = row
    for name, found in by_session.items():
        cells = [found.get(p) for p in CUT_PREDICTORS]
        text = "".join(
            f"{'-' if c is None else format(c['shown_agreement'], '.3f') + ' / ' + format(c['cut_f1'], '.3f'):>20}"
            for c in cells
        )
        print(f"  {name:<22}" + text)
