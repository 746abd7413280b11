"""`multitrack evaluate-cut CORPUS -o DIR`: judge cutting on a synth corpus's podcast sessions.

Every test session's stack is cut by the rules (fitted for shown agreement and for cut F1),
semi-Markov and the oracle, and compared with the editor's edit (commands/cut_harness.py);
writes DIR/cut_evaluation.json and a picture per drawn session, and prints the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from multitrack.commands.argtypes import non_negative_int, positive_int, positive_seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("corpus", metavar="CORPUS", help="a synth corpus with podcast sessions (synth.json)")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="where the JSON and pictures go")
    parser.add_argument(
        "--seeds", type=positive_int, default=3, metavar="N", help="seeds 0 … N-1 of the split and oracle (default 3)"
    )
    parser.add_argument(
        "--unseen-editors", type=non_negative_int, default=3, metavar="E", help="editors held out whole (default 3)"
    )
    parser.add_argument(
        "--prompt-seconds",
        type=positive_seconds,
        default=60.0,
        metavar="S",
        help="an unseen editor's prompt the rules are fitted on (default 60)",
    )
    parser.add_argument(
        "--cut-tolerance-seconds",
        type=positive_seconds,
        default=0.5,
        metavar="S",
        help="how far a cut may be from the editor's to count (default 0.5)",
    )
    parser.add_argument("--pictures", type=non_negative_int, default=3, metavar="N", help="sessions drawn (default 3)")
    parser.add_argument("--cache-dir", metavar="DIR", help="hearing's hop cache (default: the user cache folder)")


def run(args: argparse.Namespace) -> int:
    from multitrack.commands.cut_harness import CutEvalOptions, evaluate_cuts, summary_lines
    from multitrack.features.hearing import HopCache

    options = CutEvalOptions(
        seeds=tuple(range(args.seeds)),
        unseen=args.unseen_editors,
        prompt_seconds=args.prompt_seconds,
        tolerance_seconds=args.cut_tolerance_seconds,
        cache=HopCache(Path(args.cache_dir) if args.cache_dir else None),
        pictures=args.pictures,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    evaluation = evaluate_cuts(args.corpus, args.out, options)
    for line in evaluation.results["skipped"]:
        print(f"skipped {line}", file=sys.stderr)
    print("\n".join(summary_lines(evaluation.results)))
    print(f"\nwrote {Path(args.out) / 'cut_evaluation.json'} and {len(evaluation.pictures)} pictures")
    return 0
