"""`multitrack synth OUT_DIR --timelines N --seed S`: a corpus of synthetic timelines.

Writes OUT_DIR/editorNN/tlNNNN_<style>.xml, one folder per editor profile, and
OUT_DIR/synth.json describing the profiles and which timeline each one cut. A podcast
session (multicam) also writes its stack, tlNNNN_multicam_stack.xml, and renders its
microphones and cameras' sound into editorNN/media/tlNNNN/.

`multitrack synth OUT_DIR --recut CORPUS --cut-seed K` re-cuts every podcast session of an
earlier corpus with its own editor and another seed (the oracle), writing only the edits.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from multitrack.commands.argtypes import non_negative_int, positive_int, positive_seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "out_dir",
        metavar="OUT_DIR",
        help="folder to write the corpus to (new, empty, or an earlier synth corpus, whose files are replaced)",
    )
    parser.add_argument("--timelines", type=positive_int, metavar="N", help="how many timelines to write (required)")
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        metavar="S",
        help="corpus seed (required): the same arguments always give the same bytes",
    )
    parser.add_argument(
        "--recut",
        metavar="CORPUS",
        help="instead: re-cut every podcast session of this synth corpus with its own editor (the oracle)",
    )
    parser.add_argument(
        "--cut-seed",
        type=positive_int,
        default=1,
        metavar="K",
        help="with --recut: the editor's random stream (default 1; 0 is their own edit)",
    )
    parser.add_argument(
        "--editors",
        type=positive_int,
        default=5,
        metavar="E",
        help="editor profiles; timeline i is cut by profile i mod E (default 5)",
    )
    parser.add_argument(
        "--min-seconds",
        type=positive_seconds,
        default=60.0,
        metavar="A",
        help="shortest timeline length in seconds (default 60)",
    )
    parser.add_argument(
        "--max-seconds",
        type=positive_seconds,
        default=180.0,
        metavar="B",
        help="longest timeline length in seconds (default 180)",
    )


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from multitrack.synth import synth_corpus

    if args.recut is not None:
        return _recut(args)
    missing = [flag for flag, value in (("--timelines", args.timelines), ("--seed", args.seed)) if value is None]
    if missing:
        print(f"multitrack synth: error: {' and '.join(missing)} needed (or --recut CORPUS)", file=sys.stderr)
        return 2

    if args.min_seconds > args.max_seconds:
        print(
            f"multitrack synth: error: --min-seconds {args.min_seconds:g} is above --max-seconds {args.max_seconds:g}",
            file=sys.stderr,
        )
        return 2
    with tqdm(total=args.timelines, unit="timeline", desc="synth", disable=None) as bar:
        report = synth_corpus(
            args.out_dir,
            args.timelines,
            args.seed,
            args.editors,
            args.min_seconds,
            args.max_seconds,
            on_written=lambda _: bar.update(),
        )
    styles = Counter(synth.style for synth in report.timelines)
    print(
        f"wrote {len(report.timelines)} timelines by {len(report.profiles)} editor profiles "
        f"to {report.out_dir} ({', '.join(f'{n} {s}' for s, n in sorted(styles.items()))}); "
        f"profiles and styles in {report.manifest_path}"
    )
    return 0


def _recut(args: argparse.Namespace) -> int:
    from pathlib import Path

    from multitrack.synth.corpus import recut
    from multitrack.timeline.xmeml import write_xmeml

    out_dir = Path(args.out_dir)
    recuts = recut(args.recut, args.cut_seed)
    for synth in recuts:
        path = out_dir / synth.path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_xmeml(synth.timeline, path)
    print(f"re-cut {len(recuts)} podcast sessions of {args.recut} with cut seed {args.cut_seed} into {out_dir}")
    return 0
