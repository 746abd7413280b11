"""`multitrack inspect FILE`: a readable summary of every timeline in one xmeml file."""

from __future__ import annotations

import argparse

from multitrack.timeline.summary import DEFAULT_MAX_ASSETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="an xmeml (FCP7 XML) export")
    parser.add_argument(
        "--max-assets",
        type=int,
        default=DEFAULT_MAX_ASSETS,
        metavar="N",
        help=f"list at most N assets per timeline (default {DEFAULT_MAX_ASSETS})",
    )


def run(args: argparse.Namespace) -> int:
    """Print the summaries; a bad file raises XmemlError, which the CLI prints on one line (exit 1)."""
    from multitrack.timeline.summary import summarize
    from multitrack.timeline.xmeml import read_xmeml

    timelines = read_xmeml(args.file)
    print(f"{args.file}: {len(timelines)} timeline{'' if len(timelines) == 1 else 's'}")
    for timeline in timelines:
        print()
        print(summarize(timeline, max_assets=args.max_assets))
    return 0
