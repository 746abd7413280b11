"""Sampling a model: the frames <-> tensors codec, rollouts and the runtime switches they run
under. Shared by every verb that samples (`evaluate`, `generate`, `cut`).

The runtimes a rollout may run on are named here, without importing torch, so a verb's
arguments can offer them (`multitrack.commands.argtypes.add_runtime_argument`);
`multitrack.sample.runtime.load_model` loads a bundle for one."""

from typing import Literal, get_args

Runtime = Literal["torch", "onnx", "onnx-int8"]
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
