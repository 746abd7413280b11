"""Model files: the bundle that `evaluate` and `generate` load, and training checkpoints.

A bundle (DESIGN.md §4) is a folder with `model.safetensors` and `bundle.json`; it rebuilds
the model from those two files alone, never unpickles anything and carries no source paths.
Checkpoints are Lightning's, for resuming; they are read with `torch.load(weights_only=True)`
so a crafted file cannot run code, and written under a temporary name then renamed, so a
killed process or a full disk never leaves a file that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from multitrack import __version__
from multitrack.config import Config, config_from_dict, config_to_dict
from multitrack.data.normalize import NormStats
from multitrack.data.prepared import file_sha256
from multitrack.data.resample import frame_rate
from multitrack.errors import BundleError, ConfigError, DataError, TrainingError
from multitrack.model.transformer import MultitrackTransformer
from multitrack.train.module import CHECKPOINT_KEY, DataInfo

BUNDLE_FORMAT = "multitrack-bundle"
# 2: frame tokens carry each track's steady motion; 4: frames since on top counted over the
# whole timeline and the share of the timeline's cuts from the track on top as inputs, a
# recency head of two leans, a change head that gates the value head (3 was a development
# step with part of these); 5: the four rules of the derived inputs and the value deadband
# (steady_step_ratio, motion_input_gain, residual_deadband, recency_cap_windows) are
# ModelConfig fields, written in the bundle's config instead of read from the code.
BUNDLE_VERSION = 5
WEIGHTS_FILE = "model.safetensors"
META_FILE = "bundle.json"
MODEL_PREFIX = "model."  # the LightningModule holds the Transformer as `self.model`


@dataclass
class Bundle:
    model: MultitrackTransformer  # in eval mode
    config: Config
    stats: NormStats  # fitted on the training split: normalise inputs, invert outputs
    meta: dict[str, Any]  # the whole bundle.json


def model_rate(bundle: Bundle, timeline_fps: float) -> Fraction:
    """The exact rate the model works at: data.fps if it was trained at one, else the timeline's
    (`frame_rate`, as `prepare` reads them)."""
    return frame_rate(bundle.config.data.fps or timeline_fps)


def write_bundle(
    out_dir: str | Path,
    model: MultitrackTransformer,
    config: Config,
    data: DataInfo,
    training: dict[str, Any],
) -> Path:
    """Write BUNDLE/model.safetensors + bundle.json atomically (temp folder, then rename)."""
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as staging:
        weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
        save_file(weights, staging / WEIGHTS_FILE)
        meta = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_VERSION,
            "package_version": __version__,
            "config": config_to_dict(config),
            "features": data.features,
            "stats": data.stats,
            "asset_classes": data.asset_classes,
            "max_tracks": data.max_tracks,
            "data_fingerprint": data.fingerprint,
            "training": training,
            "weights": {
                "file": WEIGHTS_FILE,
                "sha256": file_sha256(staging / WEIGHTS_FILE),
                "tensors": {name: list(tensor.shape) for name, tensor in weights.items()},
            },
        }
        write_synced(staging / META_FILE, json.dumps(meta, indent=2).encode())
    return out_dir


@contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """A temporary folder beside `out_dir` to write into; when the block ends it replaces
    `out_dir` whole (an existing one swapped out, then removed), or on any error is removed,
    so a reader never sees a half-written bundle."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        yield staging
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def load_bundle(bundle_dir: str | Path) -> Bundle:
    """Rebuild the model from a bundle folder, checking version, weights hash and shapes."""
    bundle_dir = Path(bundle_dir)
    meta = _read_meta(bundle_dir)
    weights_path = bundle_dir / WEIGHTS_FILE
    if not weights_path.is_file():
        raise BundleError(f"{bundle_dir}: {WEIGHTS_FILE} is missing")
    expected_sha = meta["weights"].get("sha256") if isinstance(meta.get("weights"), dict) else None
    if file_sha256(weights_path) != expected_sha:
        raise BundleError(
            f"{weights_path}: sha256 does not match bundle.json: the weights are corrupt or were replaced"
        )
    try:
        weights = load_file(weights_path)
    except (SafetensorError, OSError) as exc:
        raise BundleError(f"{weights_path}: not a readable safetensors file: {exc}") from None
    config = _field(bundle_dir, meta, "config", config_from_dict)
    max_tracks = _field(bundle_dir, meta, "max_tracks", _positive_int)
    asset_classes = _field(bundle_dir, meta, "asset_classes", _positive_int)
    try:
        model = MultitrackTransformer(config.model, max_tracks, asset_classes, config.window.length)
    except ValueError as exc:
        raise BundleError(f"{bundle_dir / META_FILE}: config: {exc}") from None
    load_weights(model, weights, source=str(weights_path))
    stats = _field(bundle_dir, meta, "stats", _stats)
    return Bundle(model=model.eval(), config=config, stats=stats, meta=meta)


def load_weights(model: MultitrackTransformer, weights: dict[str, torch.Tensor], source: str) -> None:
    """Copy weights into the model, with a clear error for a missing, extra or misshapen tensor."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise BundleError(f"{source}: weights do not fit the model: missing {missing[:3]}, unexpected {extra[:3]}")
    for name, tensor in expected.items():
        if tuple(weights[name].shape) != tuple(tensor.shape):
            raise BundleError(
                f"{source}: tensor {name} has shape {list(weights[name].shape)} but the model "
                f"(max_tracks={model.max_tracks}, asset_classes={model.asset_classes}, config.model) "
                f"needs {list(tensor.shape)}"
            )
    model.load_state_dict(weights)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint, loaded weights-only: pickled code is refused, never run."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch reports a crafted pickle, a truncated zip or garbage alike
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            reason = "refused: it holds pickled objects other than tensors and plain values (possibly code)"
        elif not zipfile.is_zipfile(path):  # torch's own words for a cut file are e.g. "[Errno 22] Invalid argument"
            reason = f"truncated or corrupt: not a complete checkpoint archive ({reason})"
        raise BundleError(f"{path}: not a loadable checkpoint: {reason}") from None


def export_checkpoint(checkpoint_path: str | Path, out_dir: str | Path, training: dict[str, Any] | None = None) -> Path:
    """Write a bundle from a training checkpoint (best, last or any periodic one).

    `training` replaces the summary read from the checkpoint (the trainer knows the whole run).
    """
    checkpoint = read_checkpoint(checkpoint_path)
    record = checkpoint.get(CHECKPOINT_KEY)
    if not isinstance(record, dict) or "state_dict" not in checkpoint:
        raise BundleError(f"{checkpoint_path}: not a multitrack training checkpoint (no '{CHECKPOINT_KEY}' record)")
    try:
        config = config_from_dict(record["config"])
        data = DataInfo(**record["data"])
    except (ConfigError, TypeError, KeyError) as exc:
        raise BundleError(f"{checkpoint_path}: its multitrack record is invalid: {exc}") from None
    model = MultitrackTransformer(config.model, data.max_tracks, data.asset_classes, config.window.length)
    weights = {
        name[len(MODEL_PREFIX) :]: tensor
        for name, tensor in checkpoint["state_dict"].items()
        if name.startswith(MODEL_PREFIX)
    }
    load_weights(model, weights, source=str(checkpoint_path))
    return write_bundle(out_dir, model, config, data, training or training_summary(checkpoint))


def training_summary(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Epochs trained and the best validation losses, from what the checkpoint recorded."""
    best = checkpoint.get(CHECKPOINT_KEY, {}).get("best_val", {})
    return {
        "epochs": int(checkpoint.get("epoch", -1)) + 1,
        "global_step": int(checkpoint.get("global_step", 0)),
        "best_epoch": best.get("epoch"),
        "best_val_loss": best.get("loss"),
        "best_val_components": {name: value for name, value in best.items() if name not in ("loss", "epoch")},
    }


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint IO that writes atomically and reads weights-only."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with open(temp, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise TrainingError(
                f"{path}: could not write checkpoint: {exc.strerror or exc}; "
                f"the previous checkpoints in {path.parent} are unchanged"
            ) from None

    def load_checkpoint(self, path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return read_checkpoint(path)


def _read_meta(bundle_dir: Path) -> dict[str, Any]:
    meta_path = bundle_dir / META_FILE
    if not meta_path.is_file():
        raise BundleError(f"{bundle_dir}: not a model bundle ({META_FILE} is missing)")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{meta_path}: not readable JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{meta_path}: not a multitrack bundle (format is not {BUNDLE_FORMAT!r})")
    if meta.get("format_version") != BUNDLE_VERSION:
        raise BundleError(
            f"{meta_path}: bundle format version {meta.get('format_version')!r} (written by multitrack "
            f"{meta.get('package_version', '?')}) is not supported: multitrack {__version__} reads "
            f"format version {BUNDLE_VERSION}"
        )
    return meta


def _field(bundle_dir: Path, meta: dict[str, Any], key: str, parse) -> Any:
    if key not in meta:
        raise BundleError(f"{bundle_dir / META_FILE}: {key}: missing")
    try:
        return parse(meta[key])
    except (ConfigError, TypeError, ValueError) as exc:
        raise BundleError(f"{bundle_dir / META_FILE}: {key}: {exc}") from None


def _positive_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return value


def _stats(value: Any) -> NormStats:
    try:
        return NormStats.from_dict(value, where="values")
    except DataError as exc:
        raise ValueError(str(exc)) from None


def write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Move a finished folder into place; an existing bundle is swapped out, then removed."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(staging, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
