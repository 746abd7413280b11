"""Model files from elsewhere are data, never code (issue 5, item 4).

A checkpoint can hide a pickle that runs code when loaded; `multitrack train --resume`
and `multitrack export` must refuse it without running it. A bundle is safetensors and
JSON only: loading one never unpickles, and a bundle whose JSON lies about the model
fails with a one-line BundleError naming it, not a traceback from inside torch.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import pickle
import re
import shutil
from pathlib import Path

import pytest
import torch

from bad_inputs import write_good_files
from framegen import prepare_tiny, random_timeline
from multitrack.cli import main
from multitrack.config import load_config
from multitrack.errors import BundleError
from multitrack.train.bundle import load_bundle
from multitrack.train.trainer import train

pytestmark = pytest.mark.slow


class WritesMarker:
    """Unpickling this calls `Path.write_text(marker, ...)`: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


class ExecsCode:
    """Unpickling this runs arbitrary source through builtins.exec."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",))


PAYLOADS = {"write_text": WritesMarker, "exec": ExecsCode}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_config) -> tuple[Path, Path]:
    """(prepared folder, run folder) of a one-epoch tiny run, on one intra-op thread."""
    root = tmp_path_factory.mktemp("trained")
    timelines = [random_timeline(f"ed/t{i}", frames=48, tracks=4, seed=i, folder="ed") for i in range(6)]
    prepared = prepare_tiny(root, ["data.max_tracks=4"], timelines)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_dir = train(load_config(tiny_config, ["trainer.max_epochs=1"]), prepared, root / "run")
    finally:
        torch.set_num_threads(threads)
    return prepared, run_dir


def _poisoned_checkpoint(trained_run: Path, out: Path, payload: type, marker: Path) -> Path:
    """The run's real last.ckpt with one extra entry that runs code when unpickled."""
    checkpoint = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["callbacks"]["innocent-looking"] = payload(marker)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, out)
    return out


def _cli(capsys, *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().err


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_poisoned_checkpoint_is_refused_unrun_by_resume_and_export(payload, trained, tmp_path, capsys):
    prepared, run_dir = trained
    marker = tmp_path / "marker.txt"
    poisoned = _poisoned_checkpoint(
        run_dir, tmp_path / "elsewhere" / "checkpoints" / "gift.ckpt", PAYLOADS[payload], marker
    )
    refused = (
        f"{poisoned}: not a loadable checkpoint: refused: it holds pickled objects other than tensors and "
        f"plain values (possibly code)\n"
    )

    status, err = _cli(
        capsys, "train", "--data", str(prepared), "--run-dir", str(tmp_path / "run"), "--resume", str(poisoned)
    )
    assert (status, err) == (1, f"multitrack train: error: {refused}")
    status, err = _cli(capsys, "export", str(poisoned), "-o", str(tmp_path / "bundle"))
    assert (status, err) == (1, f"multitrack export: error: {refused}")

    assert not marker.exists() and not (tmp_path / "bundle").exists()
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing trained from it
    pickle.loads(pickle.dumps(PAYLOADS[payload](marker)))  # the payload is real: unpickled, it runs
    assert marker.read_text() == "code ran"


def test_the_genuine_checkpoint_still_exports(trained, tmp_path, capsys):
    status, _ = _cli(capsys, "export", str(trained[1] / "checkpoints" / "last.ckpt"), "-o", str(tmp_path / "bundle"))
    assert status == 0 and load_bundle(tmp_path / "bundle").meta["max_tracks"] == 4


def test_a_bundle_is_safetensors_and_json_only_and_loads_without_unpickling(trained, monkeypatch):
    bundle = trained[1] / "bundle"
    assert sorted(path.name for path in bundle.iterdir()) == ["bundle.json", "model.safetensors"]
    assert json.loads((bundle / "bundle.json").read_text())["format"] == "multitrack-bundle"

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a bundle load unpickled something")

    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "Unpickler", no_unpickling)
    monkeypatch.setattr(torch, "load", no_unpickling)
    assert load_bundle(bundle).meta["asset_classes"] == 8


def test_pickle_posing_as_safetensors_is_refused_unrun(trained, tmp_path):
    bundle = shutil.copytree(trained[1] / "bundle", tmp_path / "bundle")
    marker = tmp_path / "marker.txt"
    weights = bundle / "model.safetensors"
    torch.save({"weights": WritesMarker(marker)}, weights)
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["weights"]["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()  # a careful forger
    (bundle / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=rf"^{weights}: not a readable safetensors file: "):
        load_bundle(bundle)
    assert not marker.exists()


LIES = {
    "d_model": (
        lambda meta: meta["config"]["model"].update(d_model=48),
        r"tensor \S+ has shape \[32(, \d+)*\] but the model \(max_tracks=4, asset_classes=8, config\.model\) "
        r"needs \[48(, \d+)*\]",
    ),
    "n_layers": (
        lambda meta: meta["config"]["model"].update(n_layers=3),
        r"weights do not fit the model: missing \['blocks\.2\.",
    ),
    "max_tracks": (lambda meta: meta.update(max_tracks=6), r"but the model \(max_tracks=6, asset_classes=8"),
    "asset_classes": (lambda meta: meta.update(asset_classes=20), r"but the model \(max_tracks=4, asset_classes=20"),
}


@pytest.mark.parametrize("lie", sorted(LIES))
def test_bundle_json_lying_about_shapes_is_a_clear_bundle_error(lie, trained, tmp_path, capsys):
    edit, reason = LIES[lie]
    bundle = shutil.copytree(trained[1] / "bundle", tmp_path / "bundle")
    meta = json.loads((bundle / "bundle.json").read_text())
    edit(meta)
    (bundle / "bundle.json").write_text(json.dumps(meta))
    prompt = write_good_files(tmp_path / "prompt")[0]
    status, err = _cli(
        capsys,
        "generate",
        str(bundle),
        "--prompt",
        str(tmp_path / "prompt" / prompt.name),
        "--seconds",
        "1",
        "-o",
        str(tmp_path / "out.xml"),
    )
    assert status == 1
    [line] = err.splitlines()  # one line, no traceback
    assert line.startswith(f"multitrack generate: error: {bundle / 'model.safetensors'}: ")
    assert re.search(reason, line), line
