"""`multitrack attention BUNDLE --timeline FILE.xml --frame F [--seconds S] [--heads] -o OUT.png|OUT.html`.

For the model's prediction of frame F (counted at the model's rate, as `generate` reads a
prompt: the bundle's data.fps if it was trained at one), each layer's attention over the
frames of the window before it, heads averaged (or one row per head with --heads), drawn
above the timeline strip of those frames: which earlier shots the model looked at when it
decided whether to cut at F. OUT.html is one self-contained page (the image inline).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="BUNDLE", help="a model bundle folder (RUN_DIR/bundle)")
    parser.add_argument("--timeline", required=True, metavar="FILE.xml", help="an xmeml file (its first sequence)")
    parser.add_argument(
        "--frame",
        type=int,
        required=True,
        metavar="F",
        help="the predicted frame, counted from 0 at the model's rate (1 .. frames - 1)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        metavar="S",
        help="draw only the last S seconds before the frame (default: the whole window the model reads)",
    )
    parser.add_argument("--heads", action="store_true", help="one row per attention head instead of their mean")
    parser.add_argument("-o", "--out", required=True, metavar="OUT.png|OUT.html", help="the image or page to write")


def run(args: argparse.Namespace) -> int:
    from multitrack.errors import MultitrackError
    from multitrack.evaluate.attention import write_attention
    from multitrack.train.bundle import load_bundle

    if args.seconds is not None and args.seconds <= 0:
        raise MultitrackError("--seconds must be > 0")
    view, warnings = write_attention(
        load_bundle(args.bundle), args.timeline, args.frame, args.out, heads=args.heads, seconds=args.seconds
    )
    for message in warnings:
        print(f"multitrack attention: warning: {message}", file=sys.stderr)
    print(f"{args.out}: {view.caption()}")
    return 0
