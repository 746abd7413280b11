"""Rollouts in ONNX Runtime (the exported step, float32 and int8) against torch eager's fastest
decoder (the fused stepper), in one run: per-frame latency of the model's step, an 18,000-frame
rollout each and the share of its time spent outside the model (sampling, the layout memory,
the loop); the export's file sizes; and, given the prepared folder the bundle was evaluated on,
the test split's next-frame metrics (next-track accuracy, change-frame log losses) of the
exported full-window forward, float32 and int8, against torch's.

    python benchmarks/onnx.py [BUNDLE] [--prepared DIR] [--frames 18000] [--threads 2] [--ort-threads 1 2]
                              [--repeats 2]

Without BUNDLE the default config's model with random weights (speed does not depend on
training; no metrics then). The prompt is benchmarks/generate.py's (two cameras cutting every
second, batch 1); every rollout draws from the same seed. The "model" of a frame is everything
a decoder does for it: the derived inputs and the network (both inside the ONNX step). On a
shared, busy machine --repeats N alternates the decoders N times and keeps each one's fastest.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# this file is onnx.py: run as a script its folder comes first on the path and would be `import onnx`
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

from multitrack.data.prepared import open_prepared  # noqa: E402
from multitrack.evaluate.evaluate import load_split  # noqa: E402
from multitrack.evaluate.metrics import score_predictor  # noqa: E402
from multitrack.evaluate.predict import predict_timelines  # noqa: E402
from multitrack.model.inputs import Inputs  # noqa: E402
from multitrack.sample import rollout as rollouts  # noqa: E402
from multitrack.sample import runtime  # noqa: E402
from multitrack.sample.codec import FrameCodec  # noqa: E402
from multitrack.sample.onnx_step import OnnxDecoding, OnnxStep  # noqa: E402
from multitrack.train.bundle import load_bundle  # noqa: E402
from multitrack.train.onnx_export import OnnxWindow, export_onnx  # noqa: E402

FIGURES = (("cuts", "next_track_accuracy"), ("change_frames", "active_log_loss"), ("change_frames", "asset_log_loss"))


def _benchmark(name: str) -> ModuleType:
    """A sibling benchmark script as a module (its folder is off the path, see above)."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StepClock:
    """Times every `advance` of the decodings (torch's and ONNX Runtime's) while it is on."""

    def __init__(self):
        self.seconds: list[float] = []
        self._originals: dict[type, Any] = {}

    def __enter__(self) -> StepClock:
        for kind in (rollouts._TorchDecoding, OnnxDecoding):
            original = kind.advance
            self._originals[kind] = original

            def timed(decoding, frame, original=original):
                began = time.perf_counter()
                prediction = original(decoding, frame)
                self.seconds.append(time.perf_counter() - began)
                return prediction

            kind.advance = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc_info) -> None:
        for kind, original in self._originals.items():
            kind.advance = original  # type: ignore[method-assign]


def timed_rollout(model, start, n_frames: int) -> tuple[Any, float, list[float]]:
    generator = torch.Generator().manual_seed(0)
    with StepClock() as clock:
        began = time.perf_counter()
        frames = rollouts.rollout(model, start, n_frames, temperature=1.0, generator=generator)
        seconds = time.perf_counter() - began
    return frames, seconds, clock.seconds


class WindowAsModel:
    """An exported full-window forward where `predict_timelines` takes a torch model."""

    def __init__(self, model, window: OnnxWindow):
        self.model, self.window, self.window_length = model, window, model.window_length

    def eval(self) -> WindowAsModel:
        return self

    def inputs(self, *frames) -> Inputs:
        return self.model.inputs(*frames)

    def __call__(self, inputs: Inputs):
        return self.window(inputs)


def test_metrics(models: dict[str, Any], bundle, prepared: Path) -> dict[str, dict[str, Any]]:
    """The test split's next-frame figures of each model, as `evaluate` computes the model's."""
    split = load_split(open_prepared(prepared, verify_hashes=True), "test")
    offsets = [split.timeline(i)[0] for i in range(len(split.timelines))]
    counts = [split.timeline(i)[1] for i in range(len(split.timelines))]
    values = bundle.stats.apply(split.frames.values, split.frames.active, split.first)
    arrays = (split.frames.active, split.frames.asset, values, split.since_on_top, split.cuts_from_top)
    scores = {}
    for name, model in models.items():
        predicted = predict_timelines(model, bundle.stats, *arrays, offsets, counts)
        scores[name] = score_predictor(split.frames, predicted, split.first, split.aspect)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", help="a trained bundle (default: random weights, no metrics)")
    parser.add_argument("--prepared", help="the prepared folder the bundle was evaluated on: its test split's metrics")
    parser.add_argument("--frames", type=int, default=18_000)
    parser.add_argument("--threads", type=int, default=2, help="torch's threads (a rollout of batch 1 uses one)")
    parser.add_argument("--ort-threads", type=int, nargs="+", default=[1, 2], help="ONNX Runtime's, each timed")
    parser.add_argument("--repeats", type=int, default=2, help="alternating rollouts of each; the fastest is kept")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generate_benchmark, window_benchmark = _benchmark("generate"), _benchmark("onnx_window")
    with tempfile.TemporaryDirectory() as scratch:
        bundle_dir = Path(args.bundle) if args.bundle else window_benchmark.random_bundle(Path(scratch))
        bundle = load_bundle(bundle_dir)
        onnx_dir = Path(scratch) / "onnx"
        began = time.perf_counter()
        export_onnx(bundle, bundle_dir, onnx_dir, quantize="int8")
        print(f"export (step, window, both int8): {time.perf_counter() - began:.1f} s")
        for path in sorted(onnx_dir.iterdir()):
            print(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB")
        model = bundle.model
        start = generate_benchmark.prompt(model.window_length, FrameCodec.of(bundle))
        print(
            f"model: {model.parameter_count():,} parameters, window {model.window_length}, {model.max_tracks} tracks; "
            f"rollouts of {args.frames} frames at batch 1 (torch on one intra-op thread, as "
            f"`{runtime.rollout_runtime.__name__}` sets up to batch {runtime.SINGLE_THREAD_BATCH})"
        )
        decoders: dict[str, Any] = {"torch eager (stepper)": model}
        for threads in args.ort_threads:
            decoders[f"onnx fp32, {threads} thread(s)"] = OnnxStep(onnx_dir, threads=threads)
            decoders[f"onnx int8, {threads} thread(s)"] = OnnxStep(onnx_dir, int8=True, threads=threads)
        results: dict[str, Any] = {}
        for decoder in decoders.values():
            rollouts.rollout(decoder, start, 200, generator=torch.Generator().manual_seed(0))  # warm up
        for _ in range(args.repeats):
            for name, decoder in decoders.items():
                result = timed_rollout(decoder, start, args.frames)
                if name not in results or result[1] < results[name][1]:
                    results[name] = result
        print(f"fastest of {args.repeats} alternating rollouts each:")
        reference_frames, reference_seconds, _ = results["torch eager (stepper)"]
        for name, (frames, seconds, steps) in results.items():
            inside = sum(steps)
            same = (frames.active == reference_frames.active).all(-1) & (frames.asset == reference_frames.asset).all(-1)
            differs = (~same[0]).nonzero()
            agree = f"first differs at frame {int(differs[0])}" if len(differs) else "the same tracks and assets"
            print(
                f"{name:26} {seconds:6.1f} s = {seconds / args.frames * 1e3:.3f} ms/frame "
                f"({reference_seconds / seconds:.2f}x torch); "
                f"model step median {statistics.median(steps) * 1e3:.3f} ms, "
                f"p90 {statistics.quantiles(steps, n=10)[-1] * 1e3:.3f} ms; "
                f"outside the model {1 - inside / seconds:.0%}; vs torch's rollout: {agree}"
            )
        if args.prepared:
            models = {
                "torch": model,
                "onnx fp32": WindowAsModel(model, OnnxWindow(onnx_dir, threads=args.threads)),
                "onnx int8": WindowAsModel(model, OnnxWindow(onnx_dir, threads=args.threads, int8=True)),
            }
            scores = test_metrics(models, bundle, Path(args.prepared))
            print(f"test split of {args.prepared} (teacher-forced windows, as `evaluate` scores the model):")
            for group, key in FIGURES:
                reference = scores["torch"][group][key]
                row = ", ".join(
                    f"{name} {score[group][key]:.4f} ({(score[group][key] - reference) / reference:+.2%})"
                    for name, score in scores.items()
                )
                print(f"  {group}.{key}: {row}")


if __name__ == "__main__":
    main()
