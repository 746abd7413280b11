"""The full-window forward in ONNX Runtime (float32 and int8) against torch eager: the largest
difference of each output (and of int8's probabilities) on random windows, and the time of one
window's forward at a few batch sizes, in one run.

    python benchmarks/onnx_window.py [BUNDLE] [--batches 1 32] [--repeats 20] [--threads 2]

Without BUNDLE the default config's model with random weights (speed does not depend on
training; its zero-initialised heads make the differences meaningless, so pass a trained
bundle for those). The export goes to a temporary folder (`multitrack.train.onnx_export`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from multitrack.config import load_config
from multitrack.data.normalize import NormStats
from multitrack.model.transformer import MultitrackTransformer
from multitrack.train.bundle import Bundle, load_bundle, write_bundle
from multitrack.train.module import DataInfo
from multitrack.train.onnx_export import OnnxWindow, example_inputs, export_onnx

ROOT = Path(__file__).resolve().parents[1]


def random_bundle(folder: Path) -> Path:
    config = load_config(ROOT / "configs" / "default.yaml")
    model = MultitrackTransformer(config.model, 20, config.data.asset_classes, config.window.length)
    stats = NormStats(np.zeros(7), np.ones(7)).to_dict()
    info = DataInfo(20, config.data.asset_classes, stats, "0" * 64)
    return write_bundle(folder / "bundle", model, config, info, {"epochs": 0})


def best_seconds(run, repeats: int) -> float:
    run()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", help="a trained bundle (default: random weights)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        bundle_dir = Path(args.bundle) if args.bundle else random_bundle(Path(scratch))
        bundle: Bundle = load_bundle(bundle_dir)
        model = bundle.model
        start = time.perf_counter()
        export_onnx(bundle, bundle_dir, Path(scratch) / "onnx", quantize="int8")
        print(f"export: {time.perf_counter() - start:.1f} s")
        for name in ("window.onnx", "window.int8.onnx"):
            size = (Path(scratch) / "onnx" / name).stat().st_size
            print(f"{name}: {size / 1e6:.1f} MB ({model.parameter_count():,} parameters)")
        window = OnnxWindow(Path(scratch) / "onnx", threads=args.threads)
        int8 = OnnxWindow(Path(scratch) / "onnx", threads=args.threads, int8=True)
        worst: dict[str, float] = {}
        worst_probability = 0.0
        for seed, (batch, length) in enumerate([(1, 1), (1, 37), (4, model.window_length), (2, 64)]):
            inputs = example_inputs(model, batch, min(length, model.window_length), seed)
            with torch.no_grad():
                expected = model(inputs)
            for name, ours, theirs in zip(expected._fields, window(inputs), expected, strict=True):
                if theirs is not None:
                    worst[name] = max(worst.get(name, 0.0), float((ours - theirs).abs().max()))
            quantized = int8(inputs)
            for ours, theirs in (
                (quantized.active_logits.sigmoid(), expected.active_logits.sigmoid()),
                (quantized.asset_logits.softmax(-1), expected.asset_logits.softmax(-1)),
                (quantized.visible_logits.softmax(-1), expected.visible_logits.softmax(-1)),
            ):
                worst_probability = max(worst_probability, float((ours - theirs).abs().max()))
        print("largest |onnx fp32 - torch|: " + ", ".join(f"{name} {value:.1e}" for name, value in worst.items()))
        print(f"largest |onnx int8 - torch| of a probability (track on, asset, track on top): {worst_probability:.3f}")
        for batch in args.batches:
            inputs = example_inputs(model, batch, model.window_length, seed=batch)

            def run_torch(inputs=inputs):
                with torch.inference_mode():
                    model(inputs)

            def run_onnx(inputs=inputs):
                window(inputs)

            def run_int8(inputs=inputs):
                int8(inputs)

            eager, onnx = best_seconds(run_torch, args.repeats), best_seconds(run_onnx, args.repeats)
            quantized_seconds = best_seconds(run_int8, args.repeats)
            print(
                f"batch {batch} x {model.window_length} frames: torch eager {eager * 1e3:.2f} ms, "
                f"ONNX Runtime fp32 {onnx * 1e3:.2f} ms ({eager / onnx:.2f}x), "
                f"int8 {quantized_seconds * 1e3:.2f} ms ({eager / quantized_seconds:.2f}x), {args.threads} threads"
            )


if __name__ == "__main__":
    main()
