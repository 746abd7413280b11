"""Benchmark hearing: a 1-hour, 4-microphone session against the PyAV decode floor.

    flock /tmp/cpu.lock python benchmarks/audio.py [--minutes 60] [--mics 4] [--jobs 2] [--session DIR]

Writes the session (AAC in .m4a, 48 kHz mono, 96 kb/s, through PyAV): each mic hears its own
talker's speech-like audio (tests/audiogen.py), the other talkers 20 dB lower, and room noise.
Then measures, on those compressed files, in one run:
  (a) the floor: PyAV alone decoding every file (nothing done with the samples), in one
      process and in a pool of --jobs processes, one file a task;
  (b) features.hearing.analyse_all on them with --jobs, cold cache (a fresh folder): decode,
      power, voice activity, cache writes; then again, warm (nothing decoded);
  (c) `multitrack ingest` of a timeline holding the mics on A1-A4, with audio against
      --no-audio (when ingest has those options; skipped with a note until then).
Target (issue 13): the session heard in at most 1.5x the decode floor and at most 15 s on
2 cores. Figures are wall seconds, best of --repeat; --session keeps the written files in DIR
(reused when they are there) so a rerun skips the minutes of AAC encoding.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import numpy as np

from multitrack.features.hearing import DECODE_COUNTER, HopCache, analyse_all
from multitrack.synth.audio import AudioWriter, speech_like

RATE = 48000
CHUNK_SECONDS = 300  # the session is made and encoded five minutes at a time: bounded memory
BLEED_DB = -20.0
NOISE_DB = -55.0


def write_session(folder: Path, minutes: float, mics: int) -> list[Path]:
    paths = [folder / f"mic{index + 1}.m4a" for index in range(mics)]
    if all(path.exists() for path in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    writers = [AudioWriter(path, 1, RATE, "aac", bit_rate=96000) for path in paths]
    rng = np.random.default_rng(0)
    gain = np.float32(10 ** (BLEED_DB / 20))
    total = int(minutes * 60 * RATE)
    chunk = 0
    while writers[0].written < total:
        seconds = min(CHUNK_SECONDS, (total - writers[0].written) / RATE)
        talkers = [speech_like(seconds, RATE, seed=1000 * chunk + index)[0] for index in range(mics)]
        everyone = np.sum(talkers, axis=0)
        for index, writer in enumerate(writers):
            noise = (10 ** (NOISE_DB / 20) * rng.standard_normal(everyone.shape[0])).astype(np.float32)
            writer.write(talkers[index] + gain * (everyone - talkers[index]) + noise)
        chunk += 1
    for writer in writers:
        writer.close()
    return paths


def decode_only(path: Path) -> int:
    """The floor: every audio frame decoded, nothing done with it. Returns the samples decoded."""
    samples = 0
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            samples += frame.samples
    return samples


def floor(paths: list[Path], jobs: int) -> float:
    started = time.perf_counter()
    if jobs <= 1:
        for path in paths:
            decode_only(path)
    else:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            list(pool.map(decode_only, sorted(paths, key=lambda p: p.stat().st_size, reverse=True)))
    return time.perf_counter() - started


def hear(paths: list[Path], jobs: int, cache_dir: Path) -> tuple[float, int]:
    before = DECODE_COUNTER.count
    started = time.perf_counter()
    results, errors = analyse_all({path: [0] for path in paths}, HopCache(cache_dir), jobs=jobs)
    elapsed = time.perf_counter() - started
    if errors or len(results) != len(paths):
        raise SystemExit(f"analyse_all failed: {errors}")
    return elapsed, DECODE_COUNTER.count - before


def best(repeat: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeat))


def timeline_xml(paths: list[Path], minutes: float) -> str:
    """A 25-fps sequence: a camera on V1 (its media absent) and mic N on AN, the whole session long."""
    frames = int(minutes * 60 * 25)
    rate = "<rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>"
    audio_tracks = []
    for index, path in enumerate(paths, start=1):
        audio_tracks.append(
            f"""<track><clipitem id="clipitem-a{index}"><name>{path.name}</name><enabled>TRUE</enabled>
<duration>{frames}</duration>{rate}<start>0</start><end>{frames}</end><in>0</in><out>{frames}</out>
<file id="file-m{index}"><name>{path.name}</name><pathurl>{path.resolve().as_uri()}</pathurl>{rate}
<duration>{frames}</duration><media><audio><samplecharacteristics><depth>16</depth><samplerate>{RATE}</samplerate>
</samplecharacteristics><channelcount>1</channelcount></audio></media></file>
<sourcetrack><mediatype>audio</mediatype><trackindex>1</trackindex></sourcetrack></clipitem>
<enabled>TRUE</enabled><locked>FALSE</locked></track>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4"><sequence id="sequence-1"><name>session</name><duration>{frames}</duration>{rate}
<media><video><format><samplecharacteristics>{rate}<width>1920</width><height>1080</height>
</samplecharacteristics></format><track><clipitem id="clipitem-v1"><name>camera.mov</name><enabled>TRUE</enabled>
<duration>{frames}</duration>{rate}<start>0</start><end>{frames}</end><in>0</in><out>{frames}</out>
<file id="file-v1"><name>camera.mov</name><pathurl>file://localhost/absent/camera.mov</pathurl>{rate}
<duration>{frames}</duration><media><video><samplecharacteristics>{rate}<width>1920</width><height>1080</height>
</samplecharacteristics></video></media></file></clipitem><enabled>TRUE</enabled><locked>FALSE</locked></track>
</video><audio>{"".join(audio_tracks)}</audio></media></sequence></xmeml>
"""


def ingest_figures(paths: list[Path], minutes: float, jobs: int, folder: Path, repeat: int) -> str:
    command = [sys.executable, "-m", "multitrack", "ingest"]
    usage = subprocess.run([*command, "--help"], capture_output=True, text=True).stdout
    if "--no-audio" not in usage or "--cache-dir" not in usage:
        return "(c) ingest has no --no-audio/--cache-dir options yet (half A of issue 13 wires them): skipped"
    xml = folder / "session.xml"
    xml.write_text(timeline_xml(paths, minutes))

    def run(*options: str) -> float:
        cache = Path(tempfile.mkdtemp(dir=folder, prefix="cache"))
        started = time.perf_counter()
        subprocess.run(
            [*command, str(xml), "-o", str(folder / "frames.parquet"), "--jobs", str(jobs), "--cache-dir", str(cache)]
            + list(options),
            check=True,
            capture_output=True,
        )
        elapsed = time.perf_counter() - started
        shutil.rmtree(cache)
        return elapsed

    silent = best(repeat, lambda: run("--no-audio"))
    heard = best(repeat, run)
    return (
        f"(c) ingest --jobs {jobs} of the session's timeline: with audio {heard:.2f} s, --no-audio {silent:.2f} s, "
        f"hearing adds {heard - silent:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--mics", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--session", type=Path, help="keep the session's files here (reused when present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.session or Path(scratch) / "session"
        started = time.perf_counter()
        paths = write_session(folder, args.minutes, args.mics)
        size_mb = sum(path.stat().st_size for path in paths) / 1e6
        print(
            f"session: {args.mics} mics x {args.minutes:.0f} min, AAC 96 kb/s in .m4a, {size_mb:.0f} MB "
            f"(ready in {time.perf_counter() - started:.0f} s)"
        )
        floor_one = best(args.repeat, lambda: floor(paths, 1))
        floor_jobs = best(args.repeat, lambda: floor(paths, args.jobs))
        print(f"(a) PyAV decode floor: {floor_one:.2f} s in one process, {floor_jobs:.2f} s with {args.jobs} processes")
        colds = []
        for attempt in range(args.repeat):
            cold, decodes = hear(paths, args.jobs, Path(scratch) / f"cold{attempt}")
            colds.append(cold)
        cold = min(colds)
        warm, warm_decodes = hear(paths, args.jobs, Path(scratch) / "cold0")
        print(
            f"(b) analyse_all --jobs {args.jobs}, cold cache: {cold:.2f} s ({decodes} decodes), "
            f"{cold / floor_jobs:.2f}x the {args.jobs}-process floor, {cold / floor_one:.2f}x the one-process floor; "
            f"warm cache: {warm:.2f} s ({warm_decodes} decodes)"
        )
        worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"    peak memory of a worker process (the floor's or hearing's, the larger): {worker_mb:.0f} MB")
        target = "met" if cold <= 1.5 * floor_jobs and cold <= 15 else "NOT met"
        print(f"target (<= 1.5x the floor and <= 15 s on {args.jobs} cores): {target}")
        print(ingest_figures(paths, args.minutes, args.jobs, Path(scratch), args.repeat))


if __name__ == "__main__":
    main()
