"""Split timelines into train/val/test by group, never by window (DESIGN.md §3).

A group is one timeline (`data.split_by: timeline`) or every timeline sharing a manifest
field such as `folder` (one editor's archive), so the test split can hold unseen editors.
Groups are shuffled with `data.seed` and dealt out in proportion to `data.split`.

`data.assign` fixes some groups' splits first (`fixed_splits`): {pattern: split}, a pattern a
glob of timeline ids (`editor01/*`) or `FIELD=GLOB` on a manifest field (`folder=editor0[1-3]`,
`session=*_01`). A pattern applies to every group holding a timeline it matches (whole groups,
never part of one); a pattern that matches nothing, a split that is not train/val/test, or a
group two patterns send to different splits is a ConfigError. The groups no pattern fixes are
dealt by the fractions, as without it.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from typing import Any

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


SHOWN_IDS = 3  # ids shown in an error about a pattern


def fixed_splits(
    assign: Mapping[str, str],
    timeline_ids: Sequence[str],
    fields: Mapping[str, Mapping[str, Any]] | None = None,
    groups: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """{group key: split} that `data.assign` fixes (module docstring); `fields` are the timelines'
    manifest entries (for FIELD=GLOB patterns), `groups` as in `assign_splits`."""
    group_of = {tid: (groups[tid] if groups is not None else tid) for tid in timeline_ids}
    fixed: dict[str, tuple[str, str]] = {}  # group -> (split, the pattern that fixed it)
    for pattern, split in assign.items():
        if split not in SPLITS:
            raise ConfigError(f"data.assign[{pattern!r}]: expected one of {', '.join(SPLITS)}, got {split!r}")
        field, separator, glob = pattern.partition("=")
        matched = [tid for tid in timeline_ids if _matches(tid, field, glob, separator, fields, pattern)]
        if not matched:
            shown = ", ".join(repr(t) for t in list(timeline_ids)[:SHOWN_IDS])
            raise ConfigError(f"data.assign: pattern {pattern!r} matches no timeline (ids such as {shown})")
        for tid in matched:
            group = group_of[tid]
            earlier = fixed.get(group)
            if earlier is not None and earlier[0] != split:
                raise ConfigError(
                    f"data.assign: group {group!r} (timeline {tid!r}) is sent to {earlier[0]} by {earlier[1]!r} "
                    f"and to {split} by {pattern!r}"
                )
            fixed[group] = (split, pattern)
    return {group: split for group, (split, _) in fixed.items()}


def _matches(
    tid: str, field: str, glob: str, separator: str, fields: Mapping[str, Mapping[str, Any]] | None, pattern: str
) -> bool:
    if not separator:
        return fnmatch.fnmatchcase(tid, pattern)
    entry = (fields or {}).get(tid)
    if entry is None or field not in entry:
        raise ConfigError(f"data.assign[{pattern!r}]: timeline {tid!r} has no manifest field {field!r}")
    return fnmatch.fnmatchcase(str(entry[field]), glob)


def assign_splits(
    timeline_ids: Sequence[str],
    fractions: Sequence[float],
    seed: int,
    groups: Mapping[str, str] | None = None,
    fixed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """{timeline id: "train" | "val" | "test"}; timelines of one group always share a split.

    `groups` maps a timeline id to its group key (default: each timeline is its own group);
    `fixed` gives some groups their split (`fixed_splits`), the rest are dealt by the fractions.
    The result depends only on the set of ids, their groups, the fractions, `fixed` and the seed.
    """
    group_of = {tid: (groups[tid] if groups is not None else tid) for tid in timeline_ids}
    fixed = fixed or {}
    keys = sorted(set(group_of.values()) - set(fixed))
    order = np.random.default_rng(seed).permutation(len(keys))
    counts = split_counts(len(keys), fractions) if keys else (0, 0, 0)
    split_of_group: dict[str, str] = dict(fixed)
    start = 0
    for split, count in zip(SPLITS, counts, strict=True):
        for index in order[start : start + count]:
            split_of_group[keys[index]] = split
        start += count
    return {tid: split_of_group[group_of[tid]] for tid in timeline_ids}
