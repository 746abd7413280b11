"""Model bundles and checkpoints: round trip, export, and refusal of corrupt or lying files."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

import multitrack.train.bundle as bundle_module
from multitrack.cli import main
from multitrack.config import load_config
from multitrack.errors import BundleError
from multitrack.train.bundle import BUNDLE_VERSION, export_checkpoint, load_bundle, read_checkpoint, write_bundle
from multitrack.train.module import DataInfo, MultitrackModule

STATS = {
    name: {"mean": 0.5, "std": 2.0}
    for name in ("scale", "pos_x", "pos_y", "crop_left", "crop_right", "crop_top", "crop_bottom")
}
DATA = DataInfo(max_tracks=4, asset_classes=8, stats=STATS, fingerprint="f" * 64, features={"features": ["active"]})


@pytest.fixture()
def module(tiny_config) -> MultitrackModule:
    torch.manual_seed(0)
    return MultitrackModule(load_config(tiny_config), DATA).eval()


@pytest.fixture()
def bundle_dir(module, tmp_path) -> Path:
    return write_bundle(tmp_path / "bundle", module.model, module.config, DATA, {"epochs": 3})


def _frames(length: int = 16):
    generator = torch.Generator().manual_seed(5)
    active = (torch.rand(2, length, 4, generator=generator) > 0.5).float()
    asset = torch.randint(0, 8, (2, length, 4), generator=generator)
    return active, asset, torch.randn(2, length, 4, 7, generator=generator)


def _predict(model):
    with torch.no_grad():
        return model(model.inputs(*_frames()))


def _checkpoint(module: MultitrackModule, path: Path) -> Path:
    """What Lightning writes for this module: state_dict, counters and the module's own record."""
    checkpoint = {"state_dict": module.state_dict(), "epoch": 4, "global_step": 50}
    module.best_val = {"loss": 1.5, "active": 0.5, "asset": 0.75, "values": 0.25, "epoch": 3}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path


def _edit_meta(bundle_dir: Path, edit) -> None:
    meta_path = bundle_dir / "bundle.json"
    meta = json.loads(meta_path.read_text())
    edit(meta)
    meta_path.write_text(json.dumps(meta))


def test_round_trip_gives_identical_predictions(module, bundle_dir):
    bundle = load_bundle(bundle_dir)
    for expected, got in zip(_predict(module.model), _predict(bundle.model), strict=True):
        assert torch.equal(expected, got)
    assert not bundle.model.training
    assert bundle.config == module.config
    assert bundle.stats.to_dict() == STATS
    meta = bundle.meta
    assert (meta["format_version"], meta["max_tracks"], meta["asset_classes"]) == (BUNDLE_VERSION, 4, 8)
    assert meta["data_fingerprint"] == "f" * 64 and meta["training"] == {"epochs": 3}


def test_bundle_carries_no_paths_and_nothing_pickled(bundle_dir, tmp_path):
    assert sorted(p.name for p in bundle_dir.iterdir()) == ["bundle.json", "model.safetensors"]
    assert str(tmp_path) not in (bundle_dir / "bundle.json").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_export_from_a_checkpoint_matches_the_module(module, tmp_path, capsys):
    checkpoint = _checkpoint(module, tmp_path / "best.ckpt")
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "exported")]) == 0
    assert "exported" in capsys.readouterr().out
    bundle = load_bundle(tmp_path / "exported")
    for expected, got in zip(_predict(module.model), _predict(bundle.model), strict=True):
        assert torch.equal(expected, got)
    training = bundle.meta["training"]
    assert training["epochs"] == 5 and training["best_epoch"] == 3 and training["best_val_loss"] == 1.5
    assert training["best_val_components"] == {"active": 0.5, "asset": 0.75, "values": 0.25}


def test_rewriting_a_bundle_replaces_it_whole(module, bundle_dir):
    write_bundle(bundle_dir, module.model, module.config, DATA, {"epochs": 9})
    assert load_bundle(bundle_dir).meta["training"] == {"epochs": 9}


def test_a_failed_write_leaves_the_old_bundle(module, bundle_dir, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle_module, "save_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_bundle(bundle_dir, module.model, module.config, DATA, {"epochs": 9})
    assert load_bundle(bundle_dir).meta["training"] == {"epochs": 3}
    assert not [p for p in bundle_dir.parent.iterdir() if p.name.startswith(".")]


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_that_would_run_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _RunsCode(marker)}, evil)
    with pytest.raises(BundleError, match=r"evil\.ckpt: not a loadable checkpoint: refused: .*pickled objects"):
        read_checkpoint(evil)
    assert main(["export", str(evil), "-o", str(tmp_path / "out")]) == 1
    assert not marker.exists() and not (tmp_path / "out").exists()
    pickle.loads(pickle.dumps(_RunsCode(marker)))  # the payload is real: unpickling it runs code
    assert marker.exists()


def test_truncated_and_foreign_checkpoints_are_named(module, tmp_path):
    checkpoint = _checkpoint(module, tmp_path / "last.ckpt")
    (tmp_path / "cut.ckpt").write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(BundleError, match=r"cut\.ckpt: not a loadable checkpoint"):
        read_checkpoint(tmp_path / "cut.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    with pytest.raises(BundleError, match=r"other\.ckpt: not a multitrack training checkpoint"):
        export_checkpoint(tmp_path / "other.ckpt", tmp_path / "b")
    with pytest.raises(BundleError, match=r"missing\.ckpt: checkpoint not found"):
        read_checkpoint(tmp_path / "missing.ckpt")


def test_incompatible_format_version_says_which_versions(bundle_dir):
    _edit_meta(bundle_dir, lambda meta: meta.update(format_version=1, package_version="0.0.9"))
    with pytest.raises(
        BundleError,
        match=rf"bundle format version 1 \(written by multitrack 0\.0\.9\) is not supported: "
        rf"multitrack 0\.1\.0 reads format version {BUNDLE_VERSION}",
    ):
        load_bundle(bundle_dir)


def test_a_version_4_bundle_is_refused_with_the_version_message(bundle_dir):
    # format 5 put the model's input rules in its config: a version-4 bundle was read with
    # whatever the code's constants were that day, and cannot be trusted to predict the same
    _edit_meta(bundle_dir, lambda meta: meta.update(format_version=4))
    with pytest.raises(BundleError, match=rf"bundle format version 4 .* reads format version {BUNDLE_VERSION}"):
        load_bundle(bundle_dir)


def test_changed_weights_fail_the_sha256_check(bundle_dir):
    weights = bundle_dir / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.safetensors: sha256 does not match bundle\.json"):
        load_bundle(bundle_dir)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda m: m["config"]["model"].update(d_model=64),
            r"tensor \S+ has shape \[32, \d+\] but the model .* needs \[64, \d+\]",
        ),
        (lambda m: m.update(max_tracks=6), r"has shape .* but the model \(max_tracks=6"),
        (lambda m: m.update(asset_classes="8"), r"asset_classes: expected a positive integer, got '8'"),
        (lambda m: m["config"]["model"].update(n_heads=5), r"config: d_model 32 is not a multiple of n_heads 5"),
        (lambda m: m["config"]["model"].update(colour="red"), r"config: unknown key 'model.colour'"),
        (lambda m: m["stats"].pop("pos_x"), r"stats: .*expected mean and std for each of"),
        (lambda m: m.pop("max_tracks"), r"max_tracks: missing"),
    ],
)
def test_json_that_lies_about_the_model_fails_clearly(bundle_dir, edit, message):
    _edit_meta(bundle_dir, edit)
    with pytest.raises(BundleError, match=r"bundle(\.json)?.*" + message):
        load_bundle(bundle_dir)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match=r"not a model bundle \(bundle\.json is missing\)"):
        load_bundle(tmp_path)
    (tmp_path / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match=r"bundle\.json: not readable JSON"):
        load_bundle(tmp_path)
