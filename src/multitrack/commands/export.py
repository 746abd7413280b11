"""`multitrack export CHECKPOINT -o BUNDLE_DIR`: a model bundle from any training checkpoint.
`multitrack export CHECKPOINT|BUNDLE --onnx -o OUT_DIR`: the model as ONNX (the `onnx` extra).

The checkpoint is read weights-only (nothing in it can run code); the bundle holds
model.safetensors and bundle.json (DESIGN.md §4) and is written atomically. With `--onnx`,
OUT_DIR gets window.onnx (the full-window forward) and the bundle's JSON with the sha256 of
each ONNX file (`multitrack.train.onnx_export`).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", metavar="CHECKPOINT|BUNDLE", help="a .ckpt from RUN_DIR/checkpoints (or, with --onnx, a bundle)"
    )
    parser.add_argument("-o", "--output", required=True, metavar="BUNDLE_DIR|OUT_DIR", help="the folder to write")
    parser.add_argument(
        "--onnx", action="store_true", help="write the model as ONNX (window.onnx + bundle.json) instead of a bundle"
    )
    parser.add_argument(
        "--quantize",
        choices=["int8"],
        default=None,
        help="with --onnx, also write window.int8.onnx (ONNX Runtime's dynamic int8 quantization of the linear layers)",
    )


def run(args: argparse.Namespace) -> int:
    from multitrack.errors import MultitrackError
    from multitrack.train.bundle import export_checkpoint, load_bundle

    source = Path(args.checkpoint)
    if args.quantize and not args.onnx:
        raise MultitrackError("--quantize needs --onnx")
    if args.onnx:
        return _run_onnx(source, Path(args.output), args.quantize)
    out_dir = export_checkpoint(source, Path(args.output))
    bundle = load_bundle(out_dir)  # proves the bundle loads on its own
    training = bundle.meta["training"]
    print(
        f"exported {args.checkpoint} -> {out_dir}: {bundle.model.parameter_count():,} parameters, "
        f"epoch {training['epochs']}, best val/loss {training['best_val_loss']}"
    )
    return 0


def _run_onnx(source: Path, out_dir: Path, quantize: str | None) -> int:
    from multitrack.errors import MultitrackError
    from multitrack.train.bundle import export_checkpoint, load_bundle

    try:
        from multitrack.train.onnx_export import OnnxWindow, export_onnx
    except ImportError as exc:
        raise MultitrackError(f"--onnx needs the onnx extra (pip install 'multitrack[onnx]'): {exc}") from None
    with tempfile.TemporaryDirectory() as scratch:
        bundle_dir = source if source.is_dir() else export_checkpoint(source, Path(scratch) / "bundle")
        export_onnx(load_bundle(bundle_dir), bundle_dir, out_dir, quantize)
    for int8 in (False, True) if quantize else (False,):
        window = OnnxWindow(out_dir, int8=int8)  # proves the export loads, its hash checked
        described = window.meta["onnx"]["window_int8" if int8 else "window"]
        size = (out_dir / described["file"]).stat().st_size
        print(f"exported {source} -> {out_dir}: {described['file']} ({size / 1e6:.1f} MB, opset {described['opset']})")
    return 0
