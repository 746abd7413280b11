"""Rollout speed on CPU: frames generated per second by each decoder of `multitrack.sample`
(the fused stepper, the model's own forward over its key/value cache, and naive: the whole
window re-run per frame), for the default model (random weights: speed does not depend on
training), in the same run.

    python benchmarks/generate.py [--config configs/default.yaml] [--frames 18000] [--naive-frames 1000]
                                  [--cache-frames N]
                                  [--repeats 1]

Targets (issue 4): 10 minutes at 30 fps (18,000 frames) in under 30 s on 2 cores, and the
stepper at least 3× naive. The naive rollout is timed on fewer frames (its per-frame cost is
flat once the window is full) and all rates are per frame. On a shared, busy machine,
--repeats N alternates the decoders N times and keeps each one's best.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from multitrack.config import load_config
from multitrack.data.normalize import NormStats
from multitrack.features.vocabulary import Frames
from multitrack.model.transformer import MultitrackTransformer
from multitrack.sample.codec import FrameCodec, FrameTensors
from multitrack.sample.rollout import Decoder, rollout
from multitrack.sample.runtime import SINGLE_THREAD_BATCH

ROOT = Path(__file__).resolve().parents[1]
MAX_TRACKS = 20


def prompt(n_frames: int, codec: FrameCodec) -> FrameTensors:
    """Two cameras cutting every second on V1/V2 at 30 fps."""
    active = np.zeros((n_frames, MAX_TRACKS), bool)
    active[:, 0] = True
    active[:, 1] = (np.arange(n_frames) // 30) % 2 == 1
    asset = np.where(active, np.arange(1, MAX_TRACKS + 1), 0)
    values = np.zeros((n_frames, MAX_TRACKS, 7))
    values[..., 0] = np.where(active, 1.0, 0.0)
    return codec.encode(Frames(active, asset, values))


def frames_per_second(
    model: MultitrackTransformer, start: FrameTensors, n_frames: int, decoder: Decoder
) -> tuple[float, float]:
    began = time.perf_counter()
    rollout(model, start, n_frames, temperature=1.0, generator=torch.Generator().manual_seed(0), decoder=decoder)
    seconds = time.perf_counter() - began
    return n_frames / seconds, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    parser.add_argument("--frames", type=int, default=18_000)
    parser.add_argument("--naive-frames", type=int, default=1_000)
    parser.add_argument("--cache-frames", type=int, default=0, help="frames for the cache decoder (default: --frames)")
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each; the best is kept")
    parser.add_argument(
        "--compile", action="store_true", help="also time the cache decoder under torch.compile (compile time apart)"
    )
    args = parser.parse_args()

    config = load_config(args.config)
    torch.manual_seed(0)
    model = MultitrackTransformer(config.model, MAX_TRACKS, config.data.asset_classes, config.window.length).eval()
    stats = NormStats(np.array([1.0, 0, 0, 0, 0, 0, 0]), np.array([0.3, 0.1, 0.1, 5, 5, 5, 5]))
    start = prompt(config.window.length, FrameCodec(stats, config.data.asset_classes))
    print(
        f"model: {model.parameter_count():,} parameters, window {config.window.length} frames, "
        f"{MAX_TRACKS} tracks, batch 1 (one intra-op thread, as for any batch up to {SINGLE_THREAD_BATCH}; "
        f"torch has {torch.get_num_threads()}), best of {args.repeats}"
    )

    counts: dict[Decoder, int] = {
        "stepper": args.frames,
        "cache": args.cache_frames or args.frames,
        "naive": args.naive_frames,
    }
    runs: dict[Decoder, list[tuple[float, float]]] = {decoder: [] for decoder in counts}
    for _ in range(args.repeats):
        for decoder, n_frames in counts.items():
            runs[decoder].append(frames_per_second(model, start, n_frames, decoder))
    rates = {decoder: max(best) for decoder, best in runs.items()}
    for decoder, (rate, seconds) in rates.items():
        print(f"{decoder + ':':8} {counts[decoder]} frames in {seconds:.1f} s = {rate:,.0f} frames/s")
    stepper, cache, naive = rates["stepper"][0], rates["cache"][0], rates["naive"][0]
    print(f"stepper / naive: {stepper / naive:.1f}x  (target >= 3x); stepper / cache: {stepper / cache:.2f}x")
    print(f"18,000 frames (10 min at 30 fps) by the stepper: {18_000 / stepper:.1f} s  (target < 30 s)")
    if args.compile:
        compiled_rate(model, start, counts["cache"], stepper)


def compiled_rate(model: MultitrackTransformer, start: FrameTensors, n_frames: int, stepper: float) -> None:
    """The cache decoder with the model's forward under torch.compile: the first rollout pays
    for compiling (the prefill's and the one-frame step's graphs), the second is timed. Where
    torch.compile cannot run here (no compiler), it says so and the eager figures stand."""
    eager_forward = model.forward
    model.forward = torch.compile(eager_forward, dynamic=False)  # type: ignore[method-assign]
    try:
        began = time.perf_counter()
        frames_per_second(model, start, 2, "cache")
        compile_seconds = time.perf_counter() - began
        rate, seconds = frames_per_second(model, start, n_frames, "cache")
    except Exception as exc:  # noqa: BLE001 - any backend failure means "no compiled figure"
        print(f"compiled: torch.compile failed here ({type(exc).__name__}: {str(exc).splitlines()[0]}); eager only")
        return
    finally:
        model.forward = eager_forward  # type: ignore[method-assign]
    print(
        f"compiled cache: compile {compile_seconds:.1f} s, "
        f"then {n_frames} frames in {seconds:.1f} s = {rate:,.0f} frames/s"
    )
    print(f"stepper / compiled cache: {stepper / rate:.2f}x")


if __name__ == "__main__":
    main()
