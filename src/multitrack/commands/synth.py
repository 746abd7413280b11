"""`multitrack synth OUT_DIR --timelines N --seed S`: a corpus of synthetic timelines.

Writes OUT_DIR/editorNN/tlNNNN_<style>.xml, one folder per editor profile, and
OUT_DIR/synth.json describing the profiles and which timeline each one cut.
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
    parser.add_argument(
        "--timelines", type=positive_int, required=True, metavar="N", help="how many timelines to write"
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        required=True,
        metavar="S",
        help="corpus seed: the same arguments always give the same bytes",
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
