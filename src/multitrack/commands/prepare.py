"""`multitrack prepare FRAMES.parquet -o PREPARED_DIR [--config FILE] [--set key=value ...]`
and `multitrack prepare FRAMES.parquet -o PREPARED_DIR --like BUNDLE`.

Reads the same config file and overrides as `train` and uses its `data` and `window`
sections: split, resampling, normalization, asset folding and windows. With `--like`, every
one of those comes from the model bundle instead (its config, statistics, asset classes and
tracks) and the whole table is the test split, for `multitrack evaluate BUNDLE --data DIR
--baselines TRAINED_ON_DIR` (data/prepare.py, "Like a model").
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
    parser.add_argument(
        "--like",
        metavar="BUNDLE",
        help="prepare the whole table as a test split for this model bundle, with its statistics, asset "
        "classes, data.fps, tracks and window (takes no --config or --set)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")


def run(args: argparse.Namespace) -> int:
    from multitrack.config import load_config
    from multitrack.data.prepare import prepare
    from multitrack.data.prepared import open_prepared

    if args.like is not None:
        config, like = _like(args)
    else:
        config, like = load_config(args.config, args.overrides), None
    out_dir = prepare(Path(args.frames), Path(args.output), config, progress=not args.no_progress, like=like)
    prepared = open_prepared(out_dir)
    counts = prepared.info["counts"]
    summary = ", ".join(
        f"{name} {c['timelines']} timelines / {c['frames']} frames / {c['windows']} windows"
        for name, c in counts.items()
    )
    print(f"prepared {args.frames} -> {out_dir}: {summary}")
    print(f"  K={prepared.asset_classes}, max_tracks={prepared.max_tracks}, fingerprint {prepared.fingerprint[:12]}…")
    if like is not None:
        fps = config.data.fps or "each timeline's own"
        print(f"  like {args.like}: its statistics, fps {fps}, window {config.window}; train and val are empty")
    return 0


def _like(args: argparse.Namespace):
    """The bundle's config and what it fixes about its data, as plain values for data.prepare."""
    from multitrack.data.prepare import Like
    from multitrack.errors import ConfigError
    from multitrack.features.schema import VALUE_FEATURES
    from multitrack.train.bundle import load_bundle

    if args.config is not None or args.overrides:
        raise ConfigError("--like takes every data and window setting from the bundle: drop --config and --set")
    bundle = load_bundle(args.like)
    features = bundle.meta.get("features") or {}
    like = Like(
        source=str(args.like),
        stats=bundle.stats,
        asset_classes=int(bundle.meta["asset_classes"]),
        max_tracks=int(bundle.meta["max_tracks"]),
        # bundles record their value schema; one that does not has the only one there was
        value_features=tuple(features.get("value_features") or VALUE_FEATURES),
        fingerprint=str(bundle.meta.get("data_fingerprint", "")),
    )
    return bundle.config, like
