"""Rollout speed on CPU: frames generated per second, cached (KV cache) against naive (re-run
the whole window per frame), for the default model (random weights: speed does not depend on
training), in the same run.

    python benchmarks/generate.py [--config configs/default.yaml] [--frames 18000] [--naive-frames 1000]
                                  [--repeats 1]

Target (issue 4): 10 minutes at 30 fps (18,000 frames) in under 30 s on 2 cores, and the
cached rollout at least 3× the naive one. The naive rollout is timed on fewer frames (its
per-frame cost is flat once the window is full) and both rates are per frame. On a shared,
busy machine, --repeats N alternates cached and naive runs N times and keeps each one's best.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from multitrack.config import load_config
from multitrack.data.normalize import NormStats
from multitrack.evaluate.rollout import SINGLE_THREAD_BATCH, encode_frames, rollout
from multitrack.features.vocabulary import Frames
from multitrack.model.transformer import MultitrackTransformer

ROOT = Path(__file__).resolve().parents[1]
MAX_TRACKS = 20


def prompt(n_frames: int, stats: NormStats, asset_classes: int):
    """Two cameras cutting every second on V1/V2 at 30 fps."""
    active = np.zeros((n_frames, MAX_TRACKS), bool)
    active[:, 0] = True
    active[:, 1] = (np.arange(n_frames) // 30) % 2 == 1
    asset = np.where(active, np.arange(1, MAX_TRACKS + 1), 0)
    values = np.zeros((n_frames, MAX_TRACKS, 7))
    values[..., 0] = np.where(active, 1.0, 0.0)
    return encode_frames(Frames(active, asset, values), stats, asset_classes)


def frames_per_second(model, start, n_frames: int, cached: bool) -> tuple[float, float]:
    began = time.perf_counter()
    rollout(model, start, n_frames, temperature=1.0, generator=torch.Generator().manual_seed(0), cached=cached)
    seconds = time.perf_counter() - began
    return n_frames / seconds, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    parser.add_argument("--frames", type=int, default=18_000)
    parser.add_argument("--naive-frames", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each; the best is kept")
    args = parser.parse_args()

    config = load_config(args.config)
    torch.manual_seed(0)
    model = MultitrackTransformer(config.model, MAX_TRACKS, config.data.asset_classes, config.window.length).eval()
    stats = NormStats(np.array([1.0, 0, 0, 0, 0, 0, 0]), np.array([0.3, 0.1, 0.1, 5, 5, 5, 5]))
    start = prompt(config.window.length, stats, config.data.asset_classes)
    print(
        f"model: {model.parameter_count():,} parameters, window {config.window.length} frames, "
        f"{MAX_TRACKS} tracks, batch 1 (one intra-op thread, as for any batch up to {SINGLE_THREAD_BATCH}; "
        f"torch has {torch.get_num_threads()}), best of {args.repeats}"
    )

    cached_runs, naive_runs = [], []
    for _ in range(args.repeats):
        cached_runs.append(frames_per_second(model, start, args.frames, cached=True))
        naive_runs.append(frames_per_second(model, start, args.naive_frames, cached=False))
    cached_rate, cached_seconds = max(cached_runs)
    naive_rate, naive_seconds = max(naive_runs)
    print(f"cached: {args.frames} frames in {cached_seconds:.1f} s = {cached_rate:,.0f} frames/s")
    print(f"naive:  {args.naive_frames} frames in {naive_seconds:.1f} s = {naive_rate:,.0f} frames/s")
    print(f"cached / naive: {cached_rate / naive_rate:.1f}x  (target >= 3x)")
    print(f"18,000 frames (10 min at 30 fps) cached: {18_000 / cached_rate:.1f} s  (target < 30 s)")


if __name__ == "__main__":
    main()
