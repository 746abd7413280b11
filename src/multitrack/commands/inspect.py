"""`multitrack inspect FILE`: a readable summary of every timeline in one xmeml file.

Audio tracks are listed with their Premiere type, whether their media was found (the
`ingest` options --media-root/--media-dir find it) and, when heard, the share of the heard
frames that is speech; `--no-audio` looks for no media.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
    parser.add_argument("--no-audio", action="store_true", help="do not look for or hear the audio tracks' media")
    parser.add_argument("--cache-dir", metavar="DIR", default=None, help="where analysed audio is cached (as ingest)")
    parser.add_argument(
        "--media-root", action="append", default=[], metavar="OLD=NEW", help="as ingest --media-root (repeatable)"
    )
    parser.add_argument(
        "--media-dir", action="append", default=[], metavar="DIR", help="as ingest --media-dir (repeatable)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the summaries; a bad file raises XmemlError, which the CLI prints on one line (exit 1)."""
    from multitrack.timeline.summary import summarize
    from multitrack.timeline.xmeml import read_xmeml

    timelines = read_xmeml(args.file)
    print(f"{args.file}: {len(timelines)} timeline{'' if len(timelines) == 1 else 's'}")
    for timeline in timelines:
        notes = None if args.no_audio or not timeline.audio_tracks else audio_notes(timeline, args)
        print()
        print(summarize(timeline, max_assets=args.max_assets, audio_notes=notes))
    return 0


def audio_notes(timeline, args: argparse.Namespace) -> dict[int, str]:
    """{audio track number: "media 2 found, 1 missing; speech 34% of 1200 heard frames"}."""
    from multitrack.features.hearing import HopCache
    from multitrack.features.ingest import AudioOptions, listen
    from multitrack.features.media import MediaFinder

    finder = MediaFinder.of(args.media_root, args.media_dir)
    cache = HopCache(Path(args.cache_dir) if args.cache_dir else None)
    entry = listen(
        timeline, Path(args.file), AudioOptions(max_audio_tracks=len(timeline.audio_tracks), finder=finder), cache
    )
    notes = {}
    for track in entry["audio_tracks"]:
        assets = [a for a in entry["assets"] if track["number"] in a["heard_on"] and a["media_found"] is not None]
        found = sum(a["media_found"] for a in assets)
        text = f"media {found} found, {len(assets) - found} missing" if assets else "no media to hear"
        if track["heard_frames"]:
            text += f"; speech {100 * track['speech_share']:.0f}% of {track['heard_frames']} heard frames"
        notes[track["number"]] = text
    return notes
