"""Mic activity of a made-up conversation for the rules tests: turns, pauses and overlaps at known times."""

from __future__ import annotations

import numpy as np


def conversation(speakers: int, seconds: float, fps: float, seed: int) -> np.ndarray:
    """(speakers, N) bool at `fps`: one speaker at a time for 1-8 s, pauses of 0.2-6 s between
    turns, and now and then a second voice over the first for 0.3-3 s."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fps)
    active = np.zeros((speakers, n), dtype=bool)
    at, speaker = 0.0, 0
    while at < seconds:
        turn = rng.uniform(1.0, 8.0)
        first, stop = int(at * fps), int(min(seconds, at + turn) * fps)
        active[speaker, first:stop] = True
        if rng.random() < 0.3:  # someone talks over the end of the turn
            other = (speaker + 1 + rng.integers(speakers - 1)) % speakers
            over = int(rng.uniform(0.3, 3.0) * fps)
            active[other, max(first, stop - over) : stop] = True
        at += turn + (rng.uniform(0.2, 6.0) if rng.random() < 0.6 else 0.0)
        speaker = (speaker + 1 + rng.integers(speakers - 1)) % speakers
    return active
