"""The process-wide switches a rollout runs under, as context managers that restore them.

A one-frame step is dozens of tiny kernels: waking a second intra-op thread for each costs
more than it saves on small batches, and oneDNN's GELU builds a primitive per call, slower on
one frame's activations than ATen's own kernel (the matrix products are MKL's either way).
docs/decisions.md, "rollout: one thread, no oneDNN", has the figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

SINGLE_THREAD_BATCH = 8  # batches up to this size roll out on one intra-op thread


@contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def without_onednn() -> Iterator[None]:
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False  # type: ignore[assignment]  # typed as its ContextProp, holds a bool
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


@contextmanager
def rollout_runtime(batch: int) -> Iterator[None]:
    """One intra-op thread for small batches, no oneDNN, inference mode (no autograd bookkeeping)."""
    threads = 1 if batch <= SINGLE_THREAD_BATCH else torch.get_num_threads()
    with intra_op_threads(threads), without_onednn(), torch.inference_mode():
        yield
