"""`multitrack export CHECKPOINT -o BUNDLE_DIR`: a model bundle from any training checkpoint.

The checkpoint is read weights-only (nothing in it can run code); the bundle holds
model.safetensors and bundle.json (DESIGN.md §4) and is written atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="a .ckpt from RUN_DIR/checkpoints")
    parser.add_argument("-o", "--output", required=True, metavar="BUNDLE_DIR", help="the bundle folder to write")


def run(args: argparse.Namespace) -> int:
    from multitrack.train.bundle import export_checkpoint, load_bundle

    out_dir = export_checkpoint(Path(args.checkpoint), Path(args.output))
    bundle = load_bundle(out_dir)  # proves the bundle loads on its own
    training = bundle.meta["training"]
    print(
        f"exported {args.checkpoint} -> {out_dir}: {bundle.model.parameter_count():,} parameters, "
        f"epoch {training['epochs']}, best val/loss {training['best_val_loss']}"
    )
    return 0
