"""Benchmark `multitrack cut --rules`: a 1-hour, 4-angle stack with 4 mics, cold and warm hearing cache.

    flock /tmp/cpu.lock python benchmarks/cut.py [--minutes 60] [--jobs 2] [--repeat 2] [--session DIR]

Writes the session once (AAC in .m4a, 48 kHz mono, 96 kb/s, through PyAV; --session keeps it
for reruns): four talkers taking turns (speech-like audio, multitrack.synth.audio), each mic
hearing its own talker and the others 20 dB lower over room noise; and the stack: the wide on
V1, close-ups of mics 1 and 2 on V2 and V3, a two-shot of mics 3 and 4 on V4 (camera media
absent: a camera's picture is never decoded), the mics on A1-A4, 25 fps.

Then, in one run, wall seconds (best of --repeat) of:
  (a) the reference: the hearing engine alone on the four mics (`analyse_all`, --jobs, cold);
  (b) `multitrack cut STACK -o EDIT --rules --pair … --jobs N` as a user runs it (a new
      process: imports, reading the stack, hearing, switching, writing the edit), with a fresh
      hearing cache (cold) and again with that cache (warm);
  (c) `multitrack cut … --rules-from DIR` on the edit (b) wrote: the rules fitted over the whole
      hour (both objectives), then the cut.
Target (issue 15): the warm cut in at most 15 s on 2 cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from multitrack.features.hearing import HopCache, analyse_all
from multitrack.synth.audio import AudioWriter, speech_like

RATE = 48000
FPS = 25
CHUNK_SECONDS = 300  # made and encoded five minutes at a time: bounded memory
BLEED = np.float32(10 ** (-20 / 20))
NOISE = 10 ** (-55 / 20)
MICS = 4
PAIRS = ["V2=A1", "V3=A2", "V4=A3+A4"]


def turns(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """(MICS, samples) 0/1: one talker at a time for 1-10 s, pauses between, some overlaps."""
    n = int(seconds * RATE)
    gate = np.zeros((MICS, n), np.float32)
    at, talker = 0.0, 0
    while at < seconds:
        turn = rng.uniform(1.0, 10.0)
        first, stop = int(at * RATE), min(n, int((at + turn) * RATE))
        gate[talker, first:stop] = 1
        if rng.random() < 0.2:
            other = (talker + 1 + rng.integers(MICS - 1)) % MICS
            gate[other, max(first, stop - int(rng.uniform(0.3, 2.0) * RATE)) : stop] = 1
        at += turn + rng.uniform(0.0, 3.0)
        talker = (talker + 1 + rng.integers(MICS - 1)) % MICS
    return gate


def write_session(folder: Path, minutes: float) -> list[Path]:
    paths = [folder / f"mic{index + 1}.m4a" for index in range(MICS)]
    if all(path.exists() for path in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    writers = [AudioWriter(path, 1, RATE, "aac", bit_rate=96000) for path in paths]
    rng = np.random.default_rng(0)
    total = int(minutes * 60 * RATE)
    chunk = 0
    while writers[0].written < total:
        seconds = min(CHUNK_SECONDS, (total - writers[0].written) / RATE)
        gate = turns(seconds, rng)
        talkers = [
            speech_like(seconds, RATE, seed=1000 * chunk + i)[0] * gate[i, : int(seconds * RATE)] for i in range(MICS)
        ]
        everyone = np.sum(talkers, axis=0)
        for index, writer in enumerate(writers):
            noise = (NOISE * rng.standard_normal(everyone.shape[0])).astype(np.float32)
            writer.write(talkers[index] + BLEED * (everyone - talkers[index]) + noise)
        chunk += 1
    for writer in writers:
        writer.close()
    return paths


def stack_xml(paths: list[Path], minutes: float) -> str:
    frames = int(minutes * 60 * FPS)
    rate = f"<rate><timebase>{FPS}</timebase><ntsc>FALSE</ntsc></rate>"

    def clip(ident: str, name: str, pathurl: str, media: str, extra: str = "") -> str:
        return (
            f'<clipitem id="clipitem-{ident}"><name>{name}</name><enabled>TRUE</enabled><duration>{frames}</duration>'
            f"{rate}<start>0</start><end>{frames}</end><in>0</in><out>{frames}</out>"
            f'<file id="file-{ident}"><name>{name}</name><pathurl>{pathurl}</pathurl>{rate}'
            f"<duration>{frames}</duration><media>{media}</media></file>{extra}</clipitem>"
        )

    picture = (
        f"<video><samplecharacteristics>{rate}<width>1920</width><height>1080</height></samplecharacteristics></video>"
    )
    sound = (
        f"<audio><samplecharacteristics><depth>16</depth><samplerate>{RATE}</samplerate></samplecharacteristics>"
        "<channelcount>1</channelcount></audio>"
    )
    source = "<sourcetrack><mediatype>audio</mediatype><trackindex>1</trackindex></sourcetrack>"
    tail = "<enabled>TRUE</enabled><locked>FALSE</locked>"
    cameras = ["wide", "close1", "close2", "twoshot"]
    video = "".join(
        f"<track>{clip(f'v{i}', f'cam_{name}.mov', f'file://localhost/absent/cam_{name}.mov', picture)}{tail}</track>"
        for i, name in enumerate(cameras, start=1)
    )
    audio = "".join(
        f"<track>{clip(f'a{i}', path.name, path.resolve().as_uri(), sound, source)}{tail}</track>"
        for i, path in enumerate(paths, start=1)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4"><sequence id="sequence-1"><name>session stack</name><duration>{frames}</duration>{rate}
<media><video><format><samplecharacteristics>{rate}<width>1920</width><height>1080</height>
</samplecharacteristics></format>{video}</video><audio>{audio}</audio></media></sequence></xmeml>
"""


def best(repeat: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeat))


def cut(stack: Path, out: Path, cache: Path, jobs: int, *options: str) -> tuple[float, str]:
    command = [sys.executable, "-m", "multitrack", "cut", str(stack), "-o", str(out), "--rules"]
    command += ["--jobs", str(jobs), "--cache-dir", str(cache), *options]
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--session", type=Path, help="keep the session's files here (reused when present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        folder = args.session or scratch / "session"
        started = time.perf_counter()
        paths = write_session(folder, args.minutes)
        stack = scratch / "stack.xml"
        stack.write_text(stack_xml(paths, args.minutes))
        size_mb = sum(path.stat().st_size for path in paths) / 1e6
        print(
            f"stack: 4 angles, {MICS} mics x {args.minutes:.0f} min ({size_mb:.0f} MB of AAC), {FPS} fps "
            f"(ready in {time.perf_counter() - started:.0f} s)"
        )

        def reference(attempt: list[int] = [0]) -> float:  # noqa: B006 - a fresh cache each call
            attempt[0] += 1
            began = time.perf_counter()
            analyse_all({p: [0] for p in paths}, HopCache(scratch / f"ref{attempt[0]}"), jobs=args.jobs)
            return time.perf_counter() - began

        hearing = best(args.repeat, reference)
        print(f"(a) reference: analyse_all --jobs {args.jobs} of the 4 mics, cold cache: {hearing:.2f} s")
        edits = scratch / "edits"
        edits.mkdir()
        colds = []
        for attempt in range(args.repeat):
            seconds, report = cut(stack, edits / "edit.xml", scratch / f"cold{attempt}", args.jobs, "--pair", *PAIRS)
            colds.append(seconds)
        cold = min(colds)
        warm = best(
            args.repeat, lambda: cut(stack, edits / "edit.xml", scratch / "cold0", args.jobs, "--pair", *PAIRS)[0]
        )
        cuts = report.splitlines()[0].split(": ")[1].split(",")[0]
        print(
            f"(b) multitrack cut --rules --jobs {args.jobs}: cold cache {cold:.2f} s ({cold / hearing:.2f}x the "
            f"reference), warm cache {warm:.2f} s ({cuts})"
        )
        fitted, text = cut(stack, scratch / "refit.xml", scratch / "cold0", args.jobs, "--rules-from", str(edits))
        fit_line = next((line for line in text.splitlines() if line.startswith("rules fitted")), "")
        print(f"(c) multitrack cut --rules-from (the edit of (b)), warm cache: {fitted:.2f} s; {fit_line}")
        print(f"target (warm cut <= 15 s on {args.jobs} cores): {'met' if warm <= 15 else 'NOT met'}")


if __name__ == "__main__":
    main()
