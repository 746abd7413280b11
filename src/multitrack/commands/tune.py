"""`multitrack tune --data PREPARED_DIR --study DIR [--trials N] [--timeout S] [--space FILE]
[--config FILE] [--set key=value ...] [--metric val/NAME] [--seed N]`.

Searches config keys with Optuna (TPE sampling, median pruning on the per-epoch validation
figures). The study lives in DIR/study.db, and `--trials` is its total: the same command
resumes a stopped or killed study and runs only the trials still missing. Each trial is a
normal run folder under DIR/trials/; at the end DIR holds best.yaml (for `train --config`),
trials.csv and the history and importance plots.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multitrack.commands.argtypes import non_negative_int, positive_int, positive_seconds
from multitrack.config import add_override_argument

# configs/search.yaml of the repository this package is installed from (pip install -e)
DEFAULT_SPACE = Path(__file__).resolve().parents[3] / "configs" / "search.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", required=True, metavar="PREPARED_DIR", help="the folder written by 'multitrack prepare'"
    )
    parser.add_argument(
        "--study",
        required=True,
        type=Path,
        metavar="DIR",
        help="the study's folder: DIR/study.db (SQLite, resumed by the same command), DIR/trials/NNNN run folders, "
        "best.yaml, trials.csv, history.png, importance.png",
    )
    parser.add_argument(
        "--trials",
        type=positive_int,
        default=12,
        metavar="N",
        help="the study's total number of trials (default 12): a rerun runs only the missing ones; complete, "
        "pruned and failed-with-a-reason trials count, a killed one is retried with its parameters",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="S",
        help="start no new trial after S seconds of this run (the running one finishes)",
    )
    parser.add_argument(
        "--space",
        metavar="FILE",
        help="search-space YAML over config keys, e.g. 'optim.lr: {log_uniform: [1.0e-4, 3.0e-3]}' "
        "(kinds: uniform, log_uniform, int, choice); default configs/search.yaml",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="YAML config every trial starts from (default: built-in defaults)"
    )
    add_override_argument(parser, "trainer.max_epochs=4 (applied to every trial, under the searched keys)")
    parser.add_argument(
        "--metric",
        metavar="val/NAME",
        help="minimise this validation figure of the best epoch (val/loss, val/active, val/asset, val/values, "
        "val/visible, val/next_track, val/move, val/change); default: the unweighted sum "
        "val/active+val/asset+val/values, so tuning loss weights cannot win by shrinking them",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, metavar="N", help="seed of the TPE sampler (default 0)"
    )
    parser.add_argument(
        "--startup-trials",
        type=non_negative_int,
        default=4,
        metavar="N",
        help="random trials before TPE models the results, and complete trials before any is pruned (default 4)",
    )
    parser.add_argument(
        "--heartbeat",
        type=positive_int,
        default=10,
        metavar="S",
        help="seconds between a running trial's heartbeats; one silent for 3 beats was killed and is retried "
        "(a rerun right after a kill waits that long first; default 10)",
    )


def run(args: argparse.Namespace) -> int:
    from multitrack.config import load_config
    from multitrack.errors import ConfigError
    from multitrack.train.search_space import load_space
    from multitrack.train.study_report import best_trial, format_table, trial_rows
    from multitrack.train.tune import TuneOptions, count_done, tune

    config = load_config(args.config, args.overrides)
    space_path = Path(args.space) if args.space else DEFAULT_SPACE
    if args.space is None and not space_path.is_file():
        raise ConfigError(f"no default search space at {space_path}: pass --space FILE")
    space = load_space(space_path, config)
    options = TuneOptions(
        trials=args.trials,
        timeout_s=args.timeout,
        metric=args.metric,
        seed=args.seed,
        startup_trials=args.startup_trials,
        heartbeat_s=args.heartbeat,
    )
    result = tune(Path(args.data), args.study, space, config, options)
    study = result.study
    print(f"\nstudy {result.study_dir / 'study.db'}: {count_done(study)} of {args.trials} trials done")
    print(format_table(trial_rows(study, space)))
    for message in result.messages:
        print(f"note: {message}")
    for name, path in result.outputs.items():
        print(f"  {name:<11} {path}")
    best = best_trial(study)
    if best is not None:
        params = ", ".join(f"{key}={_short(value)}" for key, value in best.params.items())
        print(f"best: trial {best.number}, {study.user_attrs['metric']} {best.value:.4f} ({params})")
        print(f"train it again with: multitrack train --config {result.outputs['best']} --data {args.data}")
    return 0


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
