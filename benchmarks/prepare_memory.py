"""Peak memory of `prepare` on 1,000 synthetic timelines against 100 (issue 3, item 10).

    python benchmarks/prepare_memory.py [--small 100] [--large 1000] [--tracks 8] [--workdir DIR]

Writes two frame tables with tests/framegen.py (one row group per timeline, as ingest
writes them), then runs `prepare` on each in a fresh child process and reads the child's
peak resident memory (ru_maxrss). Importing numpy, pyarrow and torch costs the same in
both, so the figure that matters is the growth above the child's memory after imports;
the ratio large/small of that growth should stay far below the 10× ratio of the corpora.

What still grows is Parquet's footer: pyarrow decodes every row group's column metadata
when it opens the file (about 70 KiB per row group at 8 tracks), and ingest writes one row
group per input file. `--rows-per-group 65536` shows the same corpus in large row groups.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def write_corpus(path: Path, timelines: int, tracks: int, rows_per_group: int) -> int:
    """A frame table of `timelines` random timelines of 100..400 frames; returns the row count.

    rows_per_group 0: one row group per timeline, as ingest writes one per file; else
    timelines are gathered into row groups of at least that many rows.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from framegen import frame_schema, frame_table, manifest, random_timeline

    rng = np.random.default_rng(0)
    rows, corpus, pending = 0, [], []
    with pq.ParquetWriter(path, frame_schema(tracks)) as writer:
        for i in range(timelines):
            timeline = random_timeline(
                f"editor{i % 5}/tl_{i:04d}", int(rng.integers(100, 401)), tracks, seed=i, folder=f"editor{i % 5}"
            )
            pending.append(frame_table(timeline))
            if i == timelines - 1 or sum(t.num_rows for t in pending) >= rows_per_group:
                group = pa.concat_tables(pending)
                writer.write_table(group, row_group_size=group.num_rows)
                pending = []
            rows += timeline.frames
            # The manifest needs ids, rates and assets only: keep a 1-frame stand-in, not the arrays.
            timeline.active, timeline.asset, timeline.values = (
                timeline.active[:1],
                timeline.asset[:1],
                timeline.values[:1],
            )
            corpus.append(timeline)
    path.with_suffix(".manifest.json").write_text(json.dumps(manifest(corpus)))
    return rows


def child(frames: str, out: str) -> None:
    """Run prepare once and print JSON: peak RSS after imports and at the end, in MiB."""
    from multitrack.config import load_config
    from multitrack.data.prepare import prepare

    config = load_config(ROOT / "configs" / "default.yaml")
    baseline_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    start = time.perf_counter()
    prepare(Path(frames), Path(out), config)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"baseline_mib": baseline_mib, "peak_mib": peak_mib, "seconds": seconds}))


def measure(workdir: Path, timelines: int, tracks: int, rows_per_group: int) -> dict:
    """Write the corpus and prepare it, each in its own child: Linux carries a parent's peak RSS
    into a forked child's ru_maxrss, so this process stays small and imports nothing heavy."""
    frames = workdir / f"frames_{timelines}.parquet"
    rows = int(_run_child("--write", str(frames), str(timelines), str(tracks), str(rows_per_group)))
    figures = json.loads(_run_child("--child", str(frames), str(workdir / f"prepared_{timelines}")))
    return figures | {"timelines": timelines, "rows": rows, "growth_mib": figures["peak_mib"] - figures["baseline_mib"]}


def _run_child(*args: str) -> str:
    result = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument(
        "--rows-per-group",
        type=int,
        default=0,
        help="0 (default): one Parquet row group per timeline, as ingest writes; N: groups of >= N rows",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", nargs=2, metavar=("FRAMES", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--write", nargs=4, metavar=("FRAMES", "TIMELINES", "TRACKS", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.write:
        print(write_corpus(Path(args.write[0]), *(int(x) for x in args.write[1:])))
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        small = measure(Path(tmp), args.small, args.tracks, args.rows_per_group)
        large = measure(Path(tmp), args.large, args.tracks, args.rows_per_group)
    for run in (small, large):
        print(
            f"{run['timelines']:5d} timelines, {run['rows']:8d} frames x {args.tracks} tracks: "
            f"peak RSS {run['peak_mib']:7.1f} MiB (after imports {run['baseline_mib']:6.1f} MiB, "
            f"growth {run['growth_mib']:6.1f} MiB), prepare {run['seconds']:.1f} s"
        )
    print(
        f"corpus ratio {large['rows'] / small['rows']:.1f}x frames; "
        f"peak RSS ratio {large['peak_mib'] / small['peak_mib']:.2f}x; "
        f"growth-above-imports ratio {large['growth_mib'] / max(small['growth_mib'], 1e-9):.2f}x"
    )


if __name__ == "__main__":
    main()
