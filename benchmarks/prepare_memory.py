"""Peak memory of `prepare` on 1,000 synthetic timelines against 100 (issue 3, item 10).

    python benchmarks/prepare_memory.py [--small 100] [--large 1000] [--tracks 8] [--workdir DIR]

Writes two frame tables the way a user does, with the package alone: `synth_corpus`
writes short synthetic timelines (4-16 s, a few hundred frames each) and `ingest` turns
them into a frame table of `--tracks` tracks, with ingest's own row groups. Then it runs
`prepare` on each table in a fresh child process and reads the child's peak resident
memory (ru_maxrss). Importing numpy, pyarrow and torch costs the same in both, so the
figure that matters is the growth above the child's memory after imports; the ratio
large/small of that growth should stay far below the 10x ratio of the corpora.
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


def write_corpus(path: Path, timelines: int, tracks: int) -> int:
    """A frame table of `timelines` synthetic timelines through synth and ingest; returns the row count."""
    from multitrack.features.ingest import ingest
    from multitrack.synth import synth_corpus

    corpus = path.with_suffix("")
    synth_corpus(corpus, timelines, seed=0, editors=5, min_seconds=4.0, max_seconds=16.0)
    report = ingest([corpus], path, max_tracks=tracks, jobs=1, progress=False)
    if not report.ok:
        raise SystemExit(f"ingest failed on {report.failed} synthetic files: see {report.manifest_path}")
    manifest = json.loads(path.with_suffix(".manifest.json").read_text())
    return int(manifest["summary"]["frames"])


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


def measure(workdir: Path, timelines: int, tracks: int) -> dict:
    """Write the corpus and prepare it, each in its own child: Linux carries a parent's peak RSS
    into a forked child's ru_maxrss, so this process stays small and imports nothing heavy."""
    frames = workdir / f"frames_{timelines}.parquet"
    rows = int(_run_child("--write", str(frames), str(timelines), str(tracks)))
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
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", nargs=2, metavar=("FRAMES", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--write", nargs=3, metavar=("FRAMES", "TIMELINES", "TRACKS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.write:
        print(write_corpus(Path(args.write[0]), *(int(x) for x in args.write[1:])))
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        small = measure(Path(tmp), args.small, args.tracks)
        large = measure(Path(tmp), args.large, args.tracks)
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
