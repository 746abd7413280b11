"""Many media files -> hops, a process pool whose unit is one media file.

One file is one task, so one session's microphones decode side by side and a timeline and
its stack, which ask for the same file, share one decode. Biggest files go first, so the
longest decode starts at once rather than last. A bad file is an entry in the errors, never
the end of the batch; a worker that dies (out of memory, a crash in FFmpeg) fails the files
it had.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from multitrack.errors import MediaError
from multitrack.features.hearing.analyse import DECODE_COUNTER, Hops, analyse_media
from multitrack.features.hearing.cache import HopCache

Results = dict[tuple[Path, int], Hops]
Errors = dict[Path, MediaError]


def analyse_all(
    requests: Mapping[Path, Sequence[int]], cache: HopCache | None, jobs: int = 1
) -> tuple[Results, Errors]:
    """Hops per (path, channel) and a MediaError per failed path; jobs=1 runs in this process."""
    order = sorted(requests, key=_size, reverse=True)
    results: Results = {}
    errors: Errors = {}
    if jobs <= 1 or len(order) <= 1:
        for path in order:
            outcome = _analyse_task(path, list(requests[path]), cache)
            _record(path, outcome, results, errors, count_decodes=False)
        return results, errors
    with ProcessPoolExecutor(max_workers=min(jobs, len(order)), mp_context=_pool_context()) as pool:
        futures: list[tuple[Path, Future]] = [
            (path, pool.submit(_analyse_task, path, list(requests[path]), cache)) for path in order
        ]
        for path, future in futures:
            try:
                outcome = future.result()
            except BrokenProcessPool:
                outcome = (None, MediaError(str(path), "the worker process analysing it died"), 0)
            _record(path, outcome, results, errors, count_decodes=True)
    return results, errors


def _analyse_task(
    path: Path, channels: list[int], cache: HopCache | None
) -> tuple[dict[int, Hops] | None, MediaError | None, int]:
    before = DECODE_COUNTER.count
    try:
        return analyse_media(path, channels, cache), None, DECODE_COUNTER.count - before
    except MediaError as error:
        return None, error, DECODE_COUNTER.count - before


def _record(path: Path, outcome, results: Results, errors: Errors, count_decodes: bool) -> None:
    hops, error, decodes = outcome
    if count_decodes:  # decoded in a worker: add to this process's count
        DECODE_COUNTER.count += decodes
    if error is not None:
        errors[path] = error
        return
    for channel, channel_hops in hops.items():
        results[(path, channel)] = channel_hops


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return -1


def _pool_context():
    # fork, as features/ingest.py: workers start in milliseconds with the modules imported;
    # the parent has decoded nothing (no FFmpeg threads) when the pool starts
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)
