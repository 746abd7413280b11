"""What a rollout runs on: the runtime that decodes it (`load_model`: torch, or ONNX Runtime on
an export's step) and the process-wide switches it runs under, as context managers that
restore them.

A one-frame step is dozens of tiny kernels: waking a second intra-op thread for each costs
more than it saves on small batches, and oneDNN's GELU builds a primitive per call, slower on
one frame's activations than ATen's own kernel (the matrix products are MKL's either way).
docs/decisions.md, "rollout: one thread, no oneDNN", has the figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from multitrack.errors import MultitrackError
from multitrack.sample import RUNTIMES, Runtime

if TYPE_CHECKING:
    from multitrack.model.transformer import MultitrackTransformer
    from multitrack.sample.onnx_step import OnnxStep
    from multitrack.train.bundle import Bundle

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


@dataclass(frozen=True)
class LoadedModel:
    """A bundle and what rolls it out: its torch model, or its ONNX export's step."""

    bundle: Bundle
    model: MultitrackTransformer | OnnxStep
    runtime: Runtime


def load_model(bundle_dir: str | Path, runtime: Runtime = "torch") -> LoadedModel:
    """The bundle at `bundle_dir` and its model for `rollout` under `runtime`: `torch`, or `onnx`
    / `onnx-int8` for a folder `multitrack export --onnx [--quantize int8]` wrote (a bundle too:
    it carries the weights, so `torch` reads it as well), through ONNX Runtime."""
    from multitrack.train.bundle import load_bundle

    if runtime not in RUNTIMES:
        raise MultitrackError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    bundle = load_bundle(bundle_dir)
    if runtime == "torch":
        return LoadedModel(bundle, bundle.model, runtime)
    try:
        from multitrack.sample.onnx_step import OnnxStep

        step = OnnxStep(bundle_dir, int8=runtime == "onnx-int8")
    except ImportError as exc:
        raise MultitrackError(
            f"--runtime {runtime} needs the onnx extra (pip install 'multitrack[onnx]'): {exc}"
        ) from None
    return LoadedModel(bundle, step, runtime)
