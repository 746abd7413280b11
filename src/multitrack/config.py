"""Typed, strict configuration: dataclasses per section, YAML in, dotted overrides.

`load_config("configs/default.yaml", ["trainer.max_epochs=3"])` reads the YAML, applies
each `section.key=value` override (the value parsed as YAML, then type-checked), and
rejects any key the dataclasses do not define, naming it.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from multitrack.errors import ConfigError


@dataclass
class DataConfig:
    split: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])  # train/val/test
    seed: int = 0
    split_by: str = "timeline"  # or a manifest field that groups timelines, e.g. "folder"
    # {pattern: split} fixed before the fractions deal the rest (data/split.py `fixed_splits`): a glob
    # of timeline ids ("editor01/*"), or FIELD=GLOB on a manifest field ("folder=editor0[1-3]");
    # each applies to whole split_by groups, and a pattern that matches nothing is an error
    assign: dict[str, str] = field(default_factory=dict)
    fps: float | None = None  # resample every timeline to this rate; None keeps each rate
    asset_classes: int = 16  # K: asset ids >= K-1 fold into K-1 ("other")
    max_tracks: int | None = None  # None: as many as the frame table has


@dataclass
class WindowConfig:
    length: int = 100  # L: tokens the model sees; a window holds L+1 frames (targets shift by one)
    stride: int = 50


@dataclass
class ModelConfig:
    d_model: int = 192
    n_heads: int = 6
    n_layers: int = 4
    d_ff: int = 768
    dropout: float = 0.1
    asset_embed_dim: int = 8
    track_embed_dim: int = 8
    # Rules of the derived inputs and of decoding (model/inputs.py, model/transformer.py): they
    # change what a trained model predicts, so they are part of its bundle.
    # A move is steady when the last two steps go the same way and neither is more than this
    # many times the other (a timeline resampled from 25 to 10 fps steps 2, 3, 2, 3 source frames).
    steady_step_ratio: float = 3.0
    motion_input_gain: float = 10.0  # per-frame moves are small in normalised units: scaled up as inputs
    # out of training, value changes below this (normalised units) are the value head's noise and
    # are dropped (docs/decisions.md, "model: value deadband")
    residual_deadband: float = 0.003
    # frames since each track was on top count up to this many windows, then read "long ago"
    # (docs/decisions.md, "model: history from the timeline's start")
    recency_cap_windows: int = 8


@dataclass
class LossConfig:
    active: float = 1.0
    asset: float = 1.0
    values: float = 10.0  # the L1 term is an order of magnitude smaller than the others
    visible: float = 1.0  # which track is on top in the next frame
    # which track comes on top, given that the top track changes. Cuts are 1-2% of frames, so
    # in `visible` alone the choice of angle has too little weight to be learned
    # (docs/decisions.md, "loss.next_track on by default")
    next_track: float = 1.0
    move: float = 1.0  # whether a track's steady (keyframed) move goes on into the next frame
    change: float = 1.0  # whether a track's values change beyond its carried move (the value head's hurdle)
    smooth_l1_beta: float = 0.001  # normalised units: below it the loss is quadratic (~L1: a 0 residual is the median)
    change_weight: float = 1.0  # weight of active flips and asset switches in their terms


@dataclass
class OptimConfig:
    lr: float = 3e-4
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # cosine decay ends at lr × this

    def __post_init__(self) -> None:
        if len(self.betas) != 2 or not all(0.0 <= beta < 1.0 for beta in self.betas):
            raise ConfigError(f"optim.betas: expected two numbers in [0, 1), [beta1, beta2], got {self.betas!r}")


@dataclass
class TrainerConfig:
    max_epochs: int = 20
    batch_size: int = 32
    num_workers: int = 0
    seed: int = 0
    accelerator: str = "auto"
    devices: Any = "auto"  # int, list or "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | None = None  # None: bf16-mixed on a GPU, 32 on CPU
    gradient_clip_val: float = 1.0
    grad_norm_warn: float = 100.0  # warn when the pre-clip gradient norm exceeds this
    patience: int = 5  # early stopping on val/loss
    save_every: int = 5  # keep a checkpoint every N epochs besides best and last
    log_every_n_steps: int = 10
    limit_train_batches: float | int | None = None
    deterministic: bool = False


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def add_override_argument(parser: Any, example: str) -> None:
    """The `--set KEY=VALUE ...` option of every verb that reads a config (argparse parser)."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config key, e.g. --set {example}",
    )


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Config from a YAML file (or the defaults) with `section.key=value` overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    for item in overrides or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected section.key=value")
        *parents, leaf = key.strip().split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        node[leaf] = yaml.safe_load(text)
    try:
        return config_from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path else str(exc)) from None


def config_from_dict(raw: dict[str, Any]) -> Config:
    return _build(Config, raw, "")


def config_to_dict(config: Config) -> dict[str, Any]:
    return dataclasses.asdict(config)


def save_config(config: Config, path: str | Path) -> None:
    """YAML under a temporary name, then renamed: `train --resume` reads a run's config.yaml back."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    os.replace(temporary, path)


def _build(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"unknown key {key!r} (known in {where or 'config'}: {', '.join(sorted(names))})")
    kwargs = {}
    for name, value in raw.items():
        hint = hints[name]
        key = f"{where}.{name}" if where else name
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):  # a section's class, not an instance
            kwargs[name] = _build(hint, value, key)
        else:
            kwargs[name] = _check(hint, value, key)
    return cls(**kwargs)


def _check(hint: Any, value: Any, key: str) -> Any:
    """Return value if it fits the type hint (ints widen to float), else raise naming the key."""
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _check(option, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_name(hint)}, got {value!r}")
    if hint is type(None):
        if value is None:
            return None
    elif origin is list:
        if isinstance(value, list):
            (item,) = typing.get_args(hint)
            return [_check(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    elif origin is dict:
        if isinstance(value, dict):
            key_hint, value_hint = typing.get_args(hint)
            return {_check(key_hint, k, f"{key} key"): _check(value_hint, v, f"{key}[{k!r}]") for k, v in value.items()}
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, hint):
        return value
    raise ConfigError(f"{key}: expected {_name(hint)}, got {value!r}")


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
