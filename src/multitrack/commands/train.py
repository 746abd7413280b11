"""`multitrack train --config FILE --data PREPARED_DIR [--set key=value ...] [--resume last|PATH]
[--init-from BUNDLE] [--run-dir DIR]`.

Trains the multi-track Transformer with Lightning and writes the run folder: resolved
config, checkpoints (best, last, every `trainer.save_every` epochs), CSV/TensorBoard logs
and the model bundle in RUN_DIR/bundle. Under DDP (`--set trainer.strategy=ddp
trainer.devices=N`), Lightning re-runs this command in each new process.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multitrack.config import add_override_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML config; default: the run's config.yaml on --resume, else built-in defaults",
    )
    parser.add_argument(
        "--data", required=True, metavar="PREPARED_DIR", help="the folder written by 'multitrack prepare'"
    )
    add_override_argument(parser, "trainer.max_epochs=3 model.dropout=0.2")
    parser.add_argument(
        "--resume", metavar="last|PATH", help="continue a run from its last.ckpt or from a checkpoint file"
    )
    parser.add_argument("--init-from", metavar="BUNDLE", help="start from a bundle's weights (fine-tuning)")
    parser.add_argument("--run-dir", metavar="DIR", help="where the run goes; default runs/<timestamp>")


def run(args: argparse.Namespace) -> int:
    from multitrack.config import load_config
    from multitrack.train.trainer import resolve_run_dir, train

    config_path = args.config
    if config_path is None and args.resume is not None:
        saved = resolve_run_dir(args.run_dir, args.resume) / "config.yaml"
        config_path = saved if saved.is_file() else None
    config = load_config(config_path, args.overrides)
    run_dir = train(config, Path(args.data), args.run_dir, resume=args.resume, init_from=args.init_from)
    _print_summary(run_dir)
    return 0


def _print_summary(run_dir: Path) -> None:
    import json

    bundle_json = run_dir / "bundle" / "bundle.json"
    if not bundle_json.is_file():  # a ddp worker process, or no epoch finished
        return
    training = json.loads(bundle_json.read_text())["training"]
    components = ", ".join(f"{name} {value:.4f}" for name, value in training["best_val_components"].items())
    print(f"run folder: {run_dir}")
    print(f"bundle:     {bundle_json.parent}")
    print(
        f"epochs {training['epochs']}, best val/loss {training['best_val_loss']:.4f} "
        f"at epoch {training['best_epoch']} ({components})"
    )
