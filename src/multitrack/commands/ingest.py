"""`multitrack ingest INPUT... -o OUT.parquet`: xmeml files or folders -> the frame table.

Exit status: 0 when every file was ingested, 1 when some failed (the good ones are
still written), 2 for a usage error (bad arguments, an input that does not exist).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from multitrack.commands.argtypes import non_negative_int, positive_int

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "exit status: 0 every file ingested, 1 some failed (the rest written), 2 usage error"
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="xmeml files or folders (every *.xml below)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.parquet", help="the frame table to write")
    parser.add_argument(
        "--max-tracks", type=positive_int, default=20, metavar="T", help="video tracks kept per timeline (default 20)"
    )
    parser.add_argument(
        "--max-audio-tracks",
        type=non_negative_int,
        default=24,
        metavar="A",
        help="audio tracks kept per timeline, A1 the first xmeml audio track (default 24; a stereo pair is two)",
    )
    parser.add_argument(
        "--no-audio", action="store_true", help="do not look for or decode media: every audio frame unheard"
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=None,
        help="where analysed audio is cached (default: the user cache folder, e.g. ~/.cache/multitrack/hops)",
    )
    parser.add_argument(
        "--media-root",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="read media paths starting with OLD (as the xmeml writes them) under NEW instead (repeatable)",
    )
    parser.add_argument(
        "--media-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="where a media file's path does not exist, look for its name under DIR (repeatable)",
    )
    parser.add_argument(
        "--jobs", type=positive_int, default=1, metavar="N", help="parallel worker processes (default 1)"
    )
    parser.add_argument("--csv", action="store_true", help="also write OUT.csv")
    parser.add_argument(
        "--max-frames",
        type=positive_int,
        default=None,
        metavar="F",
        help="refuse timelines longer than this many frames (default: 24 hours at each timeline's rate)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    missing = [raw for raw in args.inputs if not Path(raw).exists()]
    if missing:
        print(f"multitrack ingest: error: input not found: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE

    from multitrack.errors import ConfigError
    from multitrack.features.ingest import find_inputs, ingest
    from multitrack.features.media import parse_media_root

    if not find_inputs(args.inputs):
        print("multitrack ingest: error: no .xml files found in the inputs", file=sys.stderr)
        return EXIT_USAGE
    try:
        for root in args.media_root:
            parse_media_root(root)
    except ConfigError as exc:
        print(f"multitrack ingest: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    missing_dirs = [directory for directory in args.media_dir if not Path(directory).is_dir()]
    if missing_dirs:
        print(f"multitrack ingest: error: --media-dir not a folder: {', '.join(missing_dirs)}", file=sys.stderr)
        return EXIT_USAGE
    report = ingest(
        args.inputs,
        args.output,
        max_tracks=args.max_tracks,
        jobs=args.jobs,
        csv=args.csv,
        max_frames=args.max_frames,
        progress=not args.no_progress,
        max_audio_tracks=args.max_audio_tracks,
        audio=not args.no_audio,
        cache_dir=args.cache_dir,
        media_roots=args.media_root,
        media_dirs=args.media_dir,
    )
    written = f"{report.out_path}" + (f", {report.csv_path}" if report.csv_path else "")
    print(
        f"ingested {report.files - report.failed}/{report.files} files, {report.timelines} timelines, "
        f"{report.frames} frames -> {written} (manifest {report.manifest_path})"
    )
    media_line = report.media_line() if not args.no_audio else None
    if media_line:
        print(f"multitrack ingest: {media_line}", file=sys.stderr)
    if report.failed:
        print(f"multitrack ingest: {report.failed} file(s) failed; see the manifest", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK
