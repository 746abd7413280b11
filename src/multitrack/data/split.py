"""Split timelines into train/val/test by group, never by window (DESIGN.md §3).

A group is one timeline (`data.split_by: timeline`) or every timeline sharing a manifest
field such as `folder` (one editor's archive), so the test split can hold unseen editors.
Groups are shuffled with `data.seed` and dealt out in proportion to `data.split`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from multitrack.errors import ConfigError

SPLITS = ("train", "val", "test")


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """The three split fractions scaled to sum to 1; ConfigError when they cannot be."""
    if len(fractions) != len(SPLITS):
        raise ConfigError(f"data.split: expected 3 fractions (train, val, test), got {list(fractions)}")
    if any(not math.isfinite(f) or f < 0 for f in fractions):
        raise ConfigError(f"data.split: fractions must be finite and >= 0, got {list(fractions)}")
    if fractions[0] <= 0:
        raise ConfigError(
            f"data.split: the train fraction must be > 0 (statistics are fitted on it), got {list(fractions)}"
        )
    total = float(sum(fractions))
    train, val, test = fractions  # three, checked above
    return train / total, val / total, test / total


def split_counts(n_groups: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """Groups per split: largest-remainder rounding, then every split with a non-zero
    fraction gets at least one group while there are enough (train first, then val, test)."""
    shares = check_fractions(fractions)
    ideal = [share * n_groups for share in shares]
    counts = [math.floor(x) for x in ideal]
    by_remainder = sorted(range(len(SPLITS)), key=lambda i: (-(ideal[i] - counts[i]), i))
    for i in by_remainder[: n_groups - sum(counts)]:
        counts[i] += 1
    for i, share in enumerate(shares):
        if share > 0 and counts[i] == 0:
            donor = max(range(len(SPLITS)), key=lambda j: (counts[j], -j))
            if counts[donor] > 1:
                counts[donor] -= 1
                counts[i] += 1
    train, val, test = counts  # one per split
    return train, val, test


def assign_splits(
    timeline_ids: Sequence[str],
    fractions: Sequence[float],
    seed: int,
    groups: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """{timeline id: "train" | "val" | "test"}; timelines of one group always share a split.

    `groups` maps a timeline id to its group key (default: each timeline is its own group).
    The result depends only on the set of ids, their groups, the fractions and the seed.
    """
    group_of = {tid: (groups[tid] if groups is not None else tid) for tid in timeline_ids}
    keys = sorted(set(group_of.values()))
    order = np.random.default_rng(seed).permutation(len(keys))
    counts = split_counts(len(keys), fractions)
    split_of_group: dict[str, str] = {}
    start = 0
    for split, count in zip(SPLITS, counts, strict=True):
        for index in order[start : start + count]:
            split_of_group[keys[index]] = split
        start += count
    return {tid: split_of_group[group_of[tid]] for tid in timeline_ids}
