"""A bundle's model as ONNX (`multitrack export BUNDLE --onnx [--quantize int8] -o OUT_DIR`, the `onnx` extra).

Two graphs, B free in both:
- `step.onnx`, one rollout step as a pure function: a frame (active, asset, values), the derived
  inputs' running state (`multitrack.model.inputs.RunningState`), each layer's key/value cache
  and the frame each cache slot holds go in; the prediction for the next frame (`STEP_OUTPUTS`)
  and all of them updated come out (`next_` + the input's name), so a whole rollout runs in
  ONNX Runtime and Python only samples (`multitrack.sample.onnx_step`);
- `window.onnx`, the full-window forward: a window's derived inputs (`Inputs`, 1 <= L <= the
  bundle's window) to the `Prediction`'s tensors (`OUTPUTS`: its `values` named `next_values`,
  ONNX names being unique; `motion` is the input's).
OUT_DIR also gets the bundle's weights and its JSON with an `onnx` section (each file's sha256,
inputs, outputs and opset), so it is a bundle too (`--runtime torch` reads the same folder) and
a changed ONNX file is refused on loading (`open_session`).

Export goes through `torch.export` and the dynamo ONNX exporter. Rotary positions are complex
tensors and the ONNX translation has no complex cast: `_complex_cast` rewrites the one cast
(complex128 -> complex64) as the cast of its real and imaginary parts, which is the same numbers.
"""

from __future__ import annotations

import copy
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from multitrack.data.prepared import file_sha256
from multitrack.errors import BundleError
from multitrack.model.inputs import Inputs, RunningState, advance, start_state
from multitrack.model.transformer import Attention, KVCache, MultitrackTransformer, Prediction
from multitrack.train.bundle import META_FILE, WEIGHTS_FILE, Bundle, staged_folder, write_synced

WINDOW_FILE, WINDOW_INT8_FILE = "window.onnx", "window.int8.onnx"
STEP_FILE, STEP_INT8_FILE = "step.onnx", "step.int8.onnx"
OPSET = 18
OUTPUTS = ("active_logits", "asset_logits", "next_values", "visible_logits", "move_logits", "change_logits", "residual")
# the step's prediction: every `Prediction` tensor, `motion` (the frame's steady move) included
STEP_OUTPUTS = (*OUTPUTS[:4], "motion", *OUTPUTS[4:])
# float32 ONNX Runtime against torch on random windows (tests/test_onnx.py), the bound they are held to
FP32_TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
# int8 against torch: the largest difference of a softmax probability (tests/test_onnx.py)
INT8_PROBABILITY_TOLERANCE = 0.05
# a float32 ONNX rollout's values against torch's with the same draws (tests/test_onnx.py):
# each frame's error is carried on to the next, so they may drift by a little more than one step's
ROLLOUT_VALUES_TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}


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


class _GivenCache(KVCache):
    """A layer's cache over given tensors (the step's inputs): `update` gives and keeps the
    caches with the frame's key and value in its slot, the step's outputs. The slot is written by
    a `where` over the slots, one pass, where `index_copy` along the slots would be exported as
    a scatter between transposes of the whole cache."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor):
        nn.Module.__init__(self)  # no buffers of its own: the tensors are the graph's
        self.k_cache, self.v_cache = keys, values

    def update(self, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # slots (1,); k, v (B, nh, 1, hs): one frame
        here = (torch.arange(self.k_cache.shape[2], device=slots.device) == slots).view(-1, 1)  # (S, 1)
        self.k_cache = torch.where(here, k, self.k_cache)
        self.v_cache = torch.where(here, v, self.v_cache)
        return self.k_cache, self.v_cache


class _Step(nn.Module):
    """One rollout step: `advance` the running state by the frame, then the model's own
    `forward(inputs, input_pos)` over the given caches; everything it changed comes out."""

    def __init__(self, model: MultitrackTransformer):
        super().__init__()
        self.model = copy.deepcopy(model).eval()  # its layers are handed the step's caches

    def forward(
        self,
        active: torch.Tensor,
        asset: torch.Tensor,
        values: torch.Tensor,
        state: tuple[torch.Tensor, ...],
        key_caches: tuple[torch.Tensor, ...],
        value_caches: tuple[torch.Tensor, ...],
        slot_positions: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        running = RunningState(*state)
        after, inputs = advance(running, active, asset, values, self.model.rules)
        caches = [_GivenCache(keys, cached) for keys, cached in zip(key_caches, value_caches, strict=True)]
        for block, cache in zip(self.model.blocks, caches, strict=True):
            attn = block.attn
            assert isinstance(attn, Attention)
            attn.kv_cache = cache
        self.model.slot_positions = slot_positions.clone()  # `forward` writes the frame's slot into it
        prediction = self.model(inputs, running.frames.view(1))  # the frame's position: frames before it
        named = prediction._asdict() | {"next_values": prediction.values}
        return (
            *(named[name] for name in STEP_OUTPUTS),
            *after,
            *(cache.k_cache for cache in caches),
            *(cache.v_cache for cache in caches),
            self.model.slot_positions,
        )


def step_names(model: MultitrackTransformer) -> tuple[list[str], list[str]]:
    """The step's input names and output names, in order."""
    layers = range(len(model.blocks))
    caches = [f"key_cache_{layer}" for layer in layers] + [f"value_cache_{layer}" for layer in layers]
    carried = [*RunningState._fields, *caches, "slot_positions"]
    return ["active", "asset", "values", *carried], [*STEP_OUTPUTS, *(f"next_{name}" for name in carried)]


def step_example(model: MultitrackTransformer, batch: int) -> tuple[Any, ...]:
    """The step's inputs at a rollout's start, for `batch` rows: an empty frame, the state before
    any frame, empty caches."""
    tracks, config = model.max_tracks, model.config
    head_size = config.d_model // config.n_heads
    cache = (batch, config.n_heads, model.window_length, head_size)  # (B, nh, S, hs)
    return (
        torch.zeros(batch, tracks),
        torch.zeros(batch, tracks, dtype=torch.long),
        torch.zeros(batch, tracks, 7),
        tuple(start_state(model.rules, batch, tracks)),
        tuple(torch.zeros(cache) for _ in model.blocks),
        tuple(torch.zeros(cache) for _ in model.blocks),
        torch.full((model.window_length,), -1, dtype=torch.long),
    )


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


def _to_onnx(
    module: nn.Module, example: tuple[Any, ...], shapes: Any, names: tuple[list[str], list[str]], path: Path
) -> None:
    """`module` on `example` through torch.export and the dynamo exporter to `path`."""
    with torch.no_grad():
        program = torch.export.export(module, example, dynamic_shapes=shapes)
        program = program.run_decompositions({torch.ops.aten._to_copy.default: _complex_cast})
        onnx_program = torch.onnx.export(
            program, example, dynamo=True, opset_version=OPSET, input_names=names[0], output_names=names[1],
            verbose=False,
        )  # fmt: skip
    assert onnx_program is not None  # the dynamo exporter always gives one
    onnx_program.save(str(path))


def _described(path: Path, inputs: dict[str, torch.Tensor], outputs: list[str], **more: Any) -> dict[str, Any]:
    return {
        "file": path.name,
        "sha256": file_sha256(path),
        "opset": OPSET,
        "inputs": {name: str(part.dtype).removeprefix("torch.") for name, part in inputs.items()},
        "outputs": outputs,
        **more,
        "torch_version": torch.__version__,
    }


def export_window(model: MultitrackTransformer, path: Path) -> dict[str, Any]:
    """Write the full-window forward to `path`; returns its description for the JSON."""
    from torch.export import Dim

    model = model.eval()
    example = example_inputs(model)
    batch, length = Dim("batch", min=1), Dim("length", min=1, max=model.window_length)
    shapes = {name: {0: batch, 1: length} for name in Inputs._fields}
    _to_onnx(_Window(model), tuple(example), shapes, (list(Inputs._fields), list(OUTPUTS)), path)
    return _described(path, example._asdict(), list(OUTPUTS), max_length=model.window_length)


def export_step(model: MultitrackTransformer, path: Path) -> dict[str, Any]:
    """Write the one-frame rollout step to `path`; returns its description for the JSON."""
    import torch.utils._pytree as pytree
    from torch.export import Dim

    model = model.eval()
    example = step_example(model, batch=2)  # batch 1 would be taken for a constant
    batch = {0: Dim("batch", min=1)}
    caches = tuple(batch for _ in model.blocks)
    state = tuple(None if part.dim() == 0 else batch for part in example[3])  # `frames` is one number
    shapes = (batch, batch, batch, state, caches, caches, None)
    names = step_names(model)
    with warnings.catch_warnings():  # the caches `_Step` hands its layers are the graph's tensors, as meant
        warnings.filterwarnings("ignore", message="The tensor attributes .* were assigned during export")
        _to_onnx(_Step(model), example, shapes, names, path)
    inputs = dict(zip(names[0], pytree.tree_leaves(example), strict=True))
    head_size = model.config.d_model // model.config.n_heads
    cache = {"layers": len(model.blocks), "heads": model.config.n_heads, "slots": model.window_length}
    return _described(path, inputs, names[1], cache=cache | {"head_size": head_size})


def quantize_int8(source: Path, path: Path, described: dict[str, Any]) -> dict[str, Any]:
    """ONNX Runtime's dynamic int8 quantization of `source`'s linear layers (weights int8,
    activations quantized per call) to `path`; returns its description."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(path), weight_type=QuantType.QInt8)
    return described | {"file": path.name, "sha256": file_sha256(path), "quantized": "int8 dynamic (QInt8 weights)"}


def export_onnx(bundle: Bundle, bundle_dir: Path, out_dir: str | Path, quantize: str | None = None) -> Path:
    """OUT_DIR/step.onnx and window.onnx (and step.int8.onnx, window.int8.onnx with
    `quantize="int8"`), the bundle's weights and OUT_DIR/bundle.json (the bundle's, with the
    `onnx` section), atomically."""
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize {quantize!r} is not 'int8'")
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as staging:
        files = {
            "step": export_step(bundle.model, staging / STEP_FILE),
            "window": export_window(bundle.model, staging / WINDOW_FILE),
        }
        if quantize == "int8":
            files["step_int8"] = quantize_int8(staging / STEP_FILE, staging / STEP_INT8_FILE, files["step"])
            files["window_int8"] = quantize_int8(staging / WINDOW_FILE, staging / WINDOW_INT8_FILE, files["window"])
        shutil.copyfile(bundle_dir / WEIGHTS_FILE, staging / WEIGHTS_FILE)  # hashed in the bundle's JSON
        meta = bundle.meta | {"onnx": files | {"from_bundle": str(bundle_dir)}}
        write_synced(staging / META_FILE, json.dumps(meta, indent=2).encode())
    return out_dir


def open_session(onnx_dir: str | Path, key: str, threads: int | None = None) -> tuple[Any, dict[str, Any]]:
    """ONNX Runtime's session of the export's file under `onnx.KEY` of its bundle.json, its sha256
    checked first, and the whole JSON."""
    import onnxruntime

    onnx_dir = Path(onnx_dir)
    meta_path = onnx_dir / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
        described = meta["onnx"][key]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{meta_path}: not an ONNX export's bundle.json with onnx.{key}: {exc}") from None
    path = onnx_dir / str(described.get("file"))
    if not path.is_file():
        raise BundleError(f"{path}: missing (bundle.json names it under onnx.{key})")
    if file_sha256(path) != described.get("sha256"):
        raise BundleError(f"{path}: sha256 does not match bundle.json: the file is corrupt or was replaced")
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]), meta


class OnnxWindow:
    """An exported folder's full-window forward in ONNX Runtime (float32, or with `int8` the
    quantized copy), its sha256 checked first."""

    def __init__(self, onnx_dir: str | Path, threads: int | None = None, int8: bool = False):
        self.session, self.meta = open_session(onnx_dir, "window_int8" if int8 else "window", threads)

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
