"""Rollouts in ONNX Runtime: an export's `step.onnx` (`multitrack export --onnx`) decodes every
frame, Python only samples.

The step graph is one rollout step as a pure function (`multitrack.train.onnx_export`): the
frame, the derived inputs' running state, each layer's key/value cache and the frame each
cache slot holds go in; the prediction for the next frame and all of the rest, updated, come
out and are fed back in at the next step. `multitrack.sample.rollout.rollout` takes an
`OnnxStep` where it takes a torch model; `multitrack.sample.runtime.load_model` picks one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from multitrack.config import config_from_dict
from multitrack.model.inputs import History, InputRules, start_state
from multitrack.model.transformer import Prediction
from multitrack.sample.codec import FrameTensors

ONNX_ROLLOUT_THREADS = 1  # one frame's kernels are too small to share out, as for torch (`rollout_runtime`)


class OnnxStep:
    """An ONNX export folder's rollout step in ONNX Runtime (float32, or with `int8` the quantized
    copy), its sha256 checked against the bundle.json beside it."""

    def __init__(self, onnx_dir: str | Path, int8: bool = False, threads: int = ONNX_ROLLOUT_THREADS):
        from multitrack.train.onnx_export import STEP_OUTPUTS, open_session

        key = "step_int8" if int8 else "step"
        self.session, self.meta = open_session(onnx_dir, key, threads)
        config = config_from_dict(self.meta["config"])
        self.max_tracks = int(self.meta["max_tracks"])
        self.window_length = config.window.length
        self.rules = InputRules.of(config.model, self.window_length)
        described = self.meta["onnx"][key]
        self.cache: dict[str, int] = described["cache"]  # layers, heads, slots, head_size
        self.input_names = [entry.name for entry in self.session.get_inputs()]
        self.output_names = [entry.name for entry in self.session.get_outputs()]
        self.predicted = len(STEP_OUTPUTS)  # the outputs before the carried ones
        # each carried output feeds the input of its name without `next_`
        self.carried = [name.removeprefix("next_") for name in self.output_names[self.predicted :]]
        assert self.input_names[3:] == self.carried, "step.onnx carries its inputs after the frame's three"

    def eval(self) -> OnnxStep:
        return self  # as a torch model's: nothing to switch

    def decoding(self, batch: int, told: History) -> OnnxDecoding:
        """A rollout of `batch` rows whose first frame the history `told` comes before."""
        return OnnxDecoding(self, batch, told)


class OnnxDecoding:
    """One rollout's bindings: each `advance` runs the step on a frame. What it carries stays in
    two sets of ONNX Runtime buffers that swap roles each step (this step's outputs are the next
    one's inputs), so the state and the caches are never copied out to Python; the prediction's
    tensors are copied out, new at each step."""

    def __init__(self, step: OnnxStep, batch: int, told: History):
        import onnxruntime

        self.step = step
        shape = (batch, step.cache["heads"], step.cache["slots"], step.cache["head_size"])  # (B, nh, S, hs)
        state = start_state(step.rules, batch, step.max_tracks, told)
        carried: dict[str, np.ndarray] = {name: part.numpy().copy() for name, part in state._asdict().items()}
        for layer in range(step.cache["layers"]):
            carried[f"key_cache_{layer}"] = np.zeros(shape, np.float32)
            carried[f"value_cache_{layer}"] = np.zeros(shape, np.float32)
        carried["slot_positions"] = np.full(step.cache["slots"], -1, np.int64)
        from_numpy = onnxruntime.OrtValue.ortvalue_from_numpy
        self.inputs = {name: from_numpy(carried[name]) for name in step.carried}  # buffers shared with numpy
        self.outputs = {name: from_numpy(np.empty_like(carried[name])) for name in step.carried}
        self.binding = step.session.io_binding()
        for name in step.output_names[: step.predicted]:
            self.binding.bind_output(name, "cpu")  # allocated by ONNX Runtime at each run
        self._bind_carried()

    def _bind_carried(self) -> None:
        for name in self.step.carried:
            self.binding.bind_ortvalue_input(name, self.inputs[name])
            self.binding.bind_ortvalue_output(f"next_{name}", self.outputs[name])

    def start(self, context: FrameTensors) -> Prediction:
        """The context's frames in order -> the prediction (B, …) for the frame after them."""
        for index in range(context.frames):
            prediction = self.advance(context.frame(index))
        return prediction

    def advance(self, frame: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> Prediction:
        """One frame (B, T), (B, T), (B, T, 7) -> the prediction (B, …) for the frame after it."""
        active, asset, values = frame
        self.binding.bind_cpu_input("active", np.ascontiguousarray(active.numpy(), np.float32))
        self.binding.bind_cpu_input("asset", np.ascontiguousarray(asset.numpy(), np.int64))
        self.binding.bind_cpu_input("values", np.ascontiguousarray(values.numpy(), np.float32))
        self.step.session.run_with_iobinding(self.binding)
        predicted = self.binding.get_outputs()[: self.step.predicted]
        self.inputs, self.outputs = self.outputs, self.inputs  # this step's state is the next one's
        self._bind_carried()
        # copied out: the memory of an output ONNX Runtime allocates goes back to its arena
        return Prediction(*(torch.from_numpy(part.numpy().copy())[:, 0] for part in predicted))
