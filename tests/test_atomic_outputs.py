"""Outputs arrive whole or not at all, and a damaged one fails naming itself (issue 5, item 2).

Atomicity is observed, not assumed: an audit hook (PEP 578) records every file Python
opens for writing and every rename while a stage runs. An output written in place would
show an open of its final path; an atomic one shows its final path only as the target of
a rename. (pyarrow and safetensors write from C++/Rust, unseen by the hook, so for those
files the rename is the evidence.) Then each kind of output is damaged the way a crash,
a full disk or a hand edit would, and the next stage must refuse it with a one-line
error that names it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from bad_inputs import write_good_files
from framegen import prepare_tiny, random_timeline
from multitrack.cli import main
from multitrack.config import load_config
from multitrack.features.ingest import ingest
from multitrack.train.trainer import train

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR
_recorded: dict[str, list] | None = None  # set while a stage runs under `file_events`


def _audit(event: str, args: tuple) -> None:
    if _recorded is None:
        return
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)) and args[2] & _WRITE_FLAGS:
        _recorded["written"].append(Path(os.fsdecode(args[0])).resolve())
    elif event == "os.rename":  # os.rename and os.replace alike
        _recorded["renamed_to"].append(Path(os.fsdecode(args[1])).resolve())


sys.addaudithook(_audit)  # hooks cannot be removed; it does nothing outside `file_events`


class file_events:  # noqa: N801 (used as a context manager)
    def __enter__(self) -> dict[str, list]:
        global _recorded
        _recorded = {"written": [], "renamed_to": []}
        return _recorded

    def __exit__(self, *exc_info) -> None:
        global _recorded
        _recorded = None


def assert_arrives_by_rename(events: dict[str, list], final: Path) -> None:
    final = final.resolve()
    assert final in events["renamed_to"], f"{final} was not renamed into place"
    in_place = [path for path in events["written"] if path == final or final in path.parents]
    assert not in_place, f"written in place: {in_place}"


def _cli(capsys, *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    err = capsys.readouterr().err
    return status, err


# --- fixtures: one of each output, written once ---------------------------------------------


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ingested")
    write_good_files(root / "in")
    ingest([root / "in"], root / "frames.parquet", progress=False)
    return root / "frames.parquet"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_config) -> tuple[Path, Path]:
    """(prepared folder, run folder) of a one-epoch tiny run."""
    root = tmp_path_factory.mktemp("trained")
    timelines = [random_timeline(f"ed/t{i}", frames=48, tracks=4, seed=i, folder="ed") for i in range(6)]
    prepared = prepare_tiny(root, ["data.max_tracks=4"], timelines)
    run_dir = train(load_config(tiny_config, ["trainer.max_epochs=1"]), prepared, root / "run")
    return prepared, run_dir


# --- atomic writes -----------------------------------------------------------------------------


def test_frame_table_csv_and_manifest_arrive_by_rename(tmp_path):
    write_good_files(tmp_path / "in")
    with file_events() as events:
        report = ingest([tmp_path / "in"], tmp_path / "out" / "frames.parquet", csv=True, progress=False)
    for final in (report.out_path, report.csv_path, report.manifest_path):
        assert_arrives_by_rename(events, final)
    assert report.manifest_path.resolve() == events["renamed_to"][-1]  # last: it marks a finished run


def test_prepared_folder_arrives_by_rename(tmp_path):
    with file_events() as events:
        prepared = prepare_tiny(tmp_path)
    assert_arrives_by_rename(events, prepared)
    assert any(path.name == "values.npy" for path in events["written"])  # the hook saw the arrays written


def test_checkpoints_bundle_and_run_config_arrive_by_rename(tmp_path, tiny_config):
    timelines = [random_timeline(f"ed/t{i}", frames=40, tracks=2, seed=i, folder="ed") for i in range(5)]
    prepared = prepare_tiny(tmp_path, ["data.max_tracks=2"], timelines)
    with file_events() as events:
        run_dir = train(load_config(tiny_config, ["trainer.max_epochs=1"]), prepared, tmp_path / "run")
    for name in ("best.ckpt", "last.ckpt", "epoch000.ckpt"):
        assert_arrives_by_rename(events, run_dir / "checkpoints" / name)
    assert any(path.name.startswith(".last.ckpt.") for path in events["written"])  # under a hidden name first
    assert_arrives_by_rename(events, run_dir / "bundle")
    assert_arrives_by_rename(events, run_dir / "config.yaml")


# --- damaged outputs fail naming themselves ------------------------------------------------------


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


def test_truncated_parquet(ingested, tmp_path, capsys):
    cut = tmp_path / "frames.parquet"
    cut.write_bytes(ingested.read_bytes()[:-100])
    status, err = _cli(capsys, "prepare", str(cut), "-o", str(tmp_path / "p"), "--no-progress")
    assert status == 1
    assert err.startswith(
        f"multitrack prepare: error: {cut}: not a readable Parquet frame table: Parquet magic "
        f"bytes not found in footer."
    )
    assert not (tmp_path / "p").exists()


def test_corrupt_parquet_page_is_caught_by_its_checksum(ingested, tmp_path, capsys):
    corrupt = tmp_path / "frames.parquet"
    shutil.copy(ingested, corrupt)
    shutil.copy(ingested.with_suffix(".manifest.json"), tmp_path / "frames.manifest.json")
    chunk = pq.ParquetFile(corrupt).metadata.row_group(0).column(4)  # v01_scale: values, not the id
    assert chunk.path_in_schema == "v01_scale"
    _flip_byte(corrupt, chunk.data_page_offset + chunk.total_compressed_size - 3)  # inside the page's data
    status, err = _cli(capsys, "prepare", str(corrupt), "-o", str(tmp_path / "p"), "--no-progress")
    assert status == 1
    assert err.startswith(
        f"multitrack prepare: error: {corrupt}: row group 0 cannot be read (corrupt or truncated "
        f"file): could not verify page integrity, CRC checksum verification failed"
    )
    assert err.count("\n") == 1


def test_truncated_manifest(ingested, tmp_path, capsys):
    shutil.copy(ingested, tmp_path / "frames.parquet")
    manifest = tmp_path / "frames.manifest.json"
    manifest.write_bytes(ingested.with_suffix(".manifest.json").read_bytes()[:200])
    status, err = _cli(capsys, "prepare", str(tmp_path / "frames.parquet"), "-o", str(tmp_path / "p"), "--no-progress")
    assert status == 1
    assert err.startswith(f"multitrack prepare: error: {manifest}: cannot read the manifest: ")


def _edit_json(path: Path, edit) -> None:
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content, indent=2))


def _truncate_npy(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


def _nan_in_values(path: Path) -> None:
    values = np.load(path, mmap_mode="r+")
    values[3, 0, 0] = np.nan  # same size, same header: only the sha256 can tell
    values.flush()


PREPARED_DAMAGE = {
    "truncated npy": (
        "train/values.npy",
        _truncate_npy,
        r"train/values\.npy is not a readable \.npy array: mmap length is greater than file size",
    ),
    "NaN written into values": (
        "train/values.npy",
        _nan_in_values,
        r"train/values\.npy does not match the sha256 in prepared\.json \(modified\?\)",
    ),
    "asset_classes edited": (
        "prepared.json",
        lambda p: _edit_json(p, lambda c: c.update(asset_classes=2)),
        r"prepared\.json was changed after prepare wrote it \(its content_sha256 does not "
        r"match\); rerun 'multitrack prepare'",
    ),
    "window edited": (
        "prepared.json",
        lambda p: _edit_json(p, lambda c: c["window"].update(length=64)),
        r"prepared\.json was changed after prepare wrote it",
    ),
    "stats mean edited": (
        "stats.json",
        lambda p: _edit_json(p, lambda c: c["scale"].update(mean=5.0)),
        r"stats\.json does not match the sha256 in prepared\.json \(modified\?\)",
    ),
}


@pytest.mark.parametrize("damage", sorted(PREPARED_DAMAGE))
def test_damaged_prepared_folder_is_refused_by_train(damage, trained, tmp_path, capsys):
    relative, spoil, message = PREPARED_DAMAGE[damage]
    copy = shutil.copytree(trained[0], tmp_path / "prepared")
    spoil(copy / relative)
    status, err = _cli(
        capsys,
        "train",
        "--config",
        str(Path(trained[1]) / "config.yaml"),
        "--data",
        str(copy),
        "--run-dir",
        str(tmp_path / "run"),
    )
    assert status == 1
    assert err.startswith(f"multitrack train: error: {copy}")
    assert re.search(message, err), err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_truncated_checkpoint_is_refused_by_resume_and_export(trained, tmp_path, capsys):
    run_copy = shutil.copytree(trained[1], tmp_path / "run")
    last = run_copy / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:5000])
    expected = f"{last}: not a loadable checkpoint: truncated or corrupt: not a complete checkpoint archive"
    status, err = _cli(capsys, "train", "--data", str(trained[0]), "--run-dir", str(run_copy), "--resume", "last")
    assert status == 1 and err.startswith(f"multitrack train: error: {expected}"), err
    status, err = _cli(capsys, "export", str(last), "-o", str(tmp_path / "bundle"))
    assert status == 1 and err.startswith(f"multitrack export: error: {expected}"), err
    assert not (tmp_path / "bundle").exists()


def test_damaged_bundle_is_refused_naming_it(trained, tmp_path, capsys):
    prompt = write_good_files(tmp_path / "prompt")[0]
    bundle = shutil.copytree(trained[1] / "bundle", tmp_path / "bundle")
    weights = bundle / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64])  # a copy cut short
    argv = [
        "generate",
        str(bundle),
        "--prompt",
        str(tmp_path / "prompt" / prompt.name),
        "--seconds",
        "1",
        "-o",
        str(tmp_path / "out.xml"),
    ]
    status, err = _cli(capsys, *argv)
    assert status == 1
    assert err == (
        f"multitrack generate: error: {weights}: sha256 does not match bundle.json: the weights are "
        f"corrupt or were replaced\n"
    )
    # the JSON rewritten to match the cut weights: the safetensors reader still refuses them
    _edit_json(bundle / "bundle.json", lambda meta: meta["weights"].update(sha256=_sha256(weights)))
    status, err = _cli(capsys, *argv)
    assert status == 1 and err.startswith(f"multitrack generate: error: {weights}: not a readable safetensors file: ")
    (bundle / "bundle.json").write_text('{"format": "multitrack-bundle", "format_vers')  # a cut JSON
    status, err = _cli(capsys, *argv)
    assert status == 1 and err.startswith(f"multitrack generate: error: {bundle / 'bundle.json'}: not readable JSON: ")
    assert not (tmp_path / "out.xml").exists()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
