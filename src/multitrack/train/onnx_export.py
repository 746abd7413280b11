"""A bundle's model as ONNX (`multitrack export BUNDLE --onnx [--quantize int8] -o OUT_DIR`, the `onnx` extra).

For now the full-window forward: `window.onnx` takes a window's derived inputs (`Inputs`, the
eight tensors `MultitrackTransformer.inputs` gives, B and L free, 1 <= L <= the bundle's window)
and gives the `Prediction`'s tensors (its `values` named `next_values`, ONNX names being
unique; `motion` is the input's). The bundle's JSON goes beside it with an `onnx` section: each
file's sha256, inputs, outputs and opset, so a changed file is refused on loading (`OnnxWindow`).

Export goes through `torch.export` and the dynamo ONNX exporter. Rotary positions are complex
tensors and the ONNX translation has no complex cast: `_complex_cast` rewrites the one cast
(complex128 -> complex64) as the cast of its real and imaginary parts, which is the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from multitrack.data.prepared import file_sha256
from multitrack.errors import BundleError
from multitrack.model.inputs import Inputs
from multitrack.model.transformer import MultitrackTransformer, Prediction
from multitrack.train.bundle import META_FILE, Bundle, staged_folder, write_synced

WINDOW_FILE = "window.onnx"
WINDOW_INT8_FILE = "window.int8.onnx"
OPSET = 18
OUTPUTS = ("active_logits", "asset_logits", "next_values", "visible_logits", "move_logits", "change_logits", "residual")
# float32 ONNX Runtime against torch on random windows (tests/test_onnx.py), the bound they are held to
FP32_TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
# int8 against torch: the largest difference of a softmax probability (tests/test_onnx.py)
INT8_PROBABILITY_TOLERANCE = 0.05


class _Window(nn.Module):
    """The model's forward over named tensors, as the exporter wants them."""

    def __init__(self, model: MultitrackTransformer):
        super().__init__()
        self.model = model

    def forward(
        self,
        active: torch.Tensor,
        asset: torch.Tensor,
        values: torch.Tensor,
        motion: torch.Tensor,
        since_on_top: torch.Tensor,
        cut_shares: torch.Tensor,
        shot_age: torch.Tensor,
        visible: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        inputs = Inputs(active, asset, values, motion, since_on_top, cut_shares, shot_age, visible)
        prediction = self.model(inputs)
        return tuple(getattr(prediction, name if name != "next_values" else "values") for name in OUTPUTS)


def _complex_cast(x: torch.Tensor, dtype: torch.dtype | None = None, **kwargs: Any) -> Any:
    """aten._to_copy of a complex tensor to another complex dtype, through its real view; any
    other copy is left as it is (NotImplemented)."""
    if not x.is_complex() or dtype is None or not dtype.is_complex or kwargs.get("layout") not in (None, torch.strided):
        return NotImplemented
    real = torch.float32 if dtype == torch.complex64 else torch.float64
    return torch.view_as_complex(torch.view_as_real(x).to(real).contiguous())


def example_inputs(model: MultitrackTransformer, batch: int = 2, length: int | None = None, seed: int = 0) -> Inputs:
    """Random frames' inputs (B, L, …), L the model's window by default."""
    length = length or model.window_length
    generator = torch.Generator().manual_seed(seed)
    tracks = model.max_tracks
    active = (torch.rand(batch, length, tracks, generator=generator) > 0.4).float()
    asset = torch.randint(1, model.asset_classes, (batch, length, tracks), generator=generator) * active.long()
    values = torch.randn(batch, length, tracks, 7, generator=generator) * active.unsqueeze(-1)
    return model.inputs(active, asset, values)


def export_window(model: MultitrackTransformer, path: Path) -> dict[str, Any]:
    """Write the full-window forward to `path`; returns its description for the JSON."""
    from torch.export import Dim

    model = model.eval()
    example = example_inputs(model)
    batch, length = Dim("batch", min=1), Dim("length", min=1, max=model.window_length)
    shapes = {name: {0: batch, 1: length} for name in Inputs._fields}
    with torch.no_grad():
        program = torch.export.export(_Window(model), tuple(example), dynamic_shapes=shapes)
        program = program.run_decompositions({torch.ops.aten._to_copy.default: _complex_cast})
        onnx_program = torch.onnx.export(
            program, tuple(example), dynamo=True, opset_version=OPSET, input_names=list(Inputs._fields),
            output_names=list(OUTPUTS), verbose=False,
        )  # fmt: skip
    assert onnx_program is not None  # the dynamo exporter always gives one
    onnx_program.save(str(path))
    return {
        "file": path.name,
        "sha256": file_sha256(path),
        "opset": OPSET,
        "inputs": {name: str(part.dtype).removeprefix("torch.") for name, part in example._asdict().items()},
        "outputs": list(OUTPUTS),
        "max_length": model.window_length,
        "torch_version": torch.__version__,
    }


def quantize_int8(source: Path, path: Path, described: dict[str, Any]) -> dict[str, Any]:
    """ONNX Runtime's dynamic int8 quantization of `source`'s linear layers (weights int8,
    activations quantized per call) to `path`; returns its description."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(path), weight_type=QuantType.QInt8)
    return described | {"file": path.name, "sha256": file_sha256(path), "quantized": "int8 dynamic (QInt8 weights)"}


def export_onnx(bundle: Bundle, bundle_dir: Path, out_dir: str | Path, quantize: str | None = None) -> Path:
    """OUT_DIR/window.onnx (and window.int8.onnx with `quantize="int8"`) and OUT_DIR/bundle.json
    (the bundle's, with the `onnx` section), atomically."""
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as staging:
        window = export_window(bundle.model, staging / WINDOW_FILE)
        files = {"window": window}
        if quantize == "int8":
            files["window_int8"] = quantize_int8(staging / WINDOW_FILE, staging / WINDOW_INT8_FILE, window)
        elif quantize is not None:
            raise ValueError(f"quantize {quantize!r} is not 'int8'")
        meta = bundle.meta | {"onnx": files | {"from_bundle": str(bundle_dir)}}
        write_synced(staging / META_FILE, json.dumps(meta, indent=2).encode())
    return out_dir


class OnnxWindow:
    """An exported folder's full-window forward in ONNX Runtime (float32, or with `int8` the
    quantized copy), its sha256 checked first."""

    def __init__(self, onnx_dir: str | Path, threads: int | None = None, int8: bool = False):
        import onnxruntime

        onnx_dir = Path(onnx_dir)
        meta_path = onnx_dir / META_FILE
        key = "window_int8" if int8 else "window"
        try:
            meta = json.loads(meta_path.read_text())
            window = meta["onnx"][key]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BundleError(f"{meta_path}: not an ONNX export's bundle.json with onnx.{key}: {exc}") from None
        path = onnx_dir / str(window.get("file"))
        if not path.is_file():
            raise BundleError(f"{path}: missing (bundle.json names it under onnx.{key})")
        if file_sha256(path) != window.get("sha256"):
            raise BundleError(f"{path}: sha256 does not match bundle.json: the file is corrupt or was replaced")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.meta = meta
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, inputs: Inputs) -> Prediction:
        feeds = {name: part.detach().cpu().numpy() for name, part in zip(Inputs._fields, inputs, strict=True)}
        out = dict(zip(OUTPUTS, self.session.run(list(OUTPUTS), feeds), strict=True))
        tensors = {name: torch.from_numpy(np.asarray(value)) for name, value in out.items()}
        return Prediction(
            tensors["active_logits"],
            tensors["asset_logits"],
            tensors["next_values"],
            tensors["visible_logits"],
            inputs.motion,
            tensors["move_logits"],
            tensors["change_logits"],
            tensors["residual"],
        )
