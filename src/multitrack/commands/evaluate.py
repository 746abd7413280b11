"""`multitrack evaluate BUNDLE --data PREPARED_DIR [--split test] -o OUT_DIR [--baselines PREPARED_DIR]
[--prompt-seconds S] [--horizon-seconds S] [--samples N] [--temperature T] [--seed N] [--tolerance-frames N]`.

Scores the bundle against the persistence, Markov and semi-Markov baselines (fitted on the
training split: the data's own, or with `--baselines` that of the folder the bundle was trained
on, which a folder prepared `--like` the bundle needs) and writes OUT_DIR/metrics.json, PNG
plots and a self-contained report.html.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="BUNDLE", help="a model bundle folder (RUN_DIR/bundle)")
    parser.add_argument(
        "--data", required=True, metavar="PREPARED_DIR", help="the folder written by 'multitrack prepare'"
    )
    parser.add_argument(
        "--split", default="test", choices=("train", "val", "test"), help="split to score (default: test)"
    )
    parser.add_argument(
        "-o", "--out", required=True, metavar="OUT_DIR", help="folder for metrics.json, plots and report.html"
    )
    parser.add_argument(
        "--baselines",
        metavar="PREPARED_DIR",
        help="fit the baselines on this folder's train split, the one the bundle was trained on "
        "(default: --data's own; needed for a folder prepared --like the bundle)",
    )
    parser.add_argument("--prompt-seconds", type=float, default=10.0, help="prompt length of each rollout (default 10)")
    parser.add_argument(
        "--horizon-seconds", type=float, default=30.0, help="length of each sampled rollout (default 30)"
    )
    parser.add_argument("--samples", type=int, default=4, help="rollouts per prompt (default 4)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature; 0 is greedy (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rollouts (default 0)")
    parser.add_argument("--tolerance-frames", type=int, default=2, help="cut_f1 matches cuts within ± this (default 2)")
    parser.add_argument("--max-prompts", type=int, default=32, help="at most this many rollout prompts (default 32)")


def run(args: argparse.Namespace) -> int:
    from multitrack.errors import MultitrackError
    from multitrack.evaluate.evaluate import EvaluateOptions, evaluate
    from multitrack.evaluate.report import figure_value

    if args.samples < 1 or args.prompt_seconds <= 0 or args.horizon_seconds <= 0 or args.temperature < 0:
        raise MultitrackError("--samples must be >= 1, --prompt-seconds and --horizon-seconds > 0, --temperature >= 0")
    options = EvaluateOptions(
        split=args.split,
        prompt_seconds=args.prompt_seconds,
        horizon_seconds=args.horizon_seconds,
        samples=args.samples,
        temperature=args.temperature,
        seed=args.seed,
        tolerance_frames=args.tolerance_frames,
        max_prompts=args.max_prompts,
        progress=True,
        baselines=args.baselines,
    )
    metrics = evaluate(args.bundle, args.data, args.out, options)
    out = Path(args.out)
    print(f"{'figure':40s} {'model':>10s} {'persistence':>12s} {'markov':>10s} {'semi_markov':>12s}")
    for section, name in (
        ("change_frames", "active_log_loss"),
        ("cuts", "next_track_accuracy"),
        ("all_frames", "active_accuracy"),
        ("rollout", "shot_length_w1_seconds"),
    ):
        cells = [figure_value(metrics, p, section, name) for p in ("model", "persistence", "markov", "semi_markov")]
        print(f"{section + '.' + name:40s} " + " ".join(f"{'-' if v is None else f'{v:.4f}':>11s}" for v in cells))
    print(f"metrics: {out / 'metrics.json'}\nreport:  {out / 'report.html'}")
    return 0
