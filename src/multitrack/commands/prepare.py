"""`multitrack prepare FRAMES.parquet -o PREPARED_DIR [--config FILE] [--set key=value ...]`.

Reads the same config file and overrides as `train` and uses its `data` and `window`
sections: split, resampling, normalization, asset folding and windows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multitrack.config import add_override_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("frames", metavar="FRAMES.parquet", help="the frame table written by 'multitrack ingest'")
    parser.add_argument("-o", "--output", required=True, metavar="PREPARED_DIR", help="the prepared folder to write")
    parser.add_argument(
        "--config", metavar="FILE", help="YAML config (its data and window sections); default: built-in defaults"
    )
    add_override_argument(parser, "data.split_by=folder window.length=64")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")


def run(args: argparse.Namespace) -> int:
    from multitrack.config import load_config
    from multitrack.data.prepare import prepare
    from multitrack.data.prepared import open_prepared

    config = load_config(args.config, args.overrides)
    out_dir = prepare(Path(args.frames), Path(args.output), config, progress=not args.no_progress)
    prepared = open_prepared(out_dir)
    counts = prepared.info["counts"]
    summary = ", ".join(
        f"{name} {c['timelines']} timelines / {c['frames']} frames / {c['windows']} windows"
        for name, c in counts.items()
    )
    print(f"prepared {args.frames} -> {out_dir}: {summary}")
    print(f"  K={prepared.asset_classes}, max_tracks={prepared.max_tracks}, fingerprint {prepared.fingerprint[:12]}…")
    return 0
