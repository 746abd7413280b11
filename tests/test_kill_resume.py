"""A process killed with SIGKILL loses nothing that was finished (issue 5, item 3).

`multitrack train` is killed between two checkpoints and resumed with `--resume last`; it
must end with the weights of an uninterrupted run of the same length. `multitrack ingest`
is killed mid-run; no output may look finished, and a second run writes the same table as
an uninterrupted one. Every process here is a child started and killed by the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from bad_inputs import many_clipitems, run_ingest, write_good_files
from framegen import prepare_tiny, random_timeline
from multitrack.train.bundle import read_checkpoint

pytestmark = pytest.mark.slow

BATCH_SIZE = 2
EPOCHS = 3
TRAIN_SETTINGS = [
    f"trainer.batch_size={BATCH_SIZE}",
    f"trainer.max_epochs={EPOCHS}",
    "trainer.patience=10",
    "trainer.save_every=1",
    "model.dropout=0.2",
]  # dropout: the RNG state must resume too
WAIT_LIMIT_S = 300
# one intra-op thread: on 2 shared cores, OpenMP threads spin-waiting on each other made a
# tiny run about 12x slower; the same count in every run keeps float sums in the same order
CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _train_command(prepared: Path, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "multitrack", "train", "--data", str(prepared), "--run-dir", str(run_dir), *extra]


def _wait_for(paths: list[Path], process: subprocess.Popen) -> None:
    """Poll until every path exists; fail if the process ends first."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not all(path.exists() for path in paths):
        assert process.poll() is None, f"the process ended (status {process.returncode}) before {paths} appeared"
        assert time.monotonic() < deadline, f"{paths} did not appear in {WAIT_LIMIT_S} s"
        time.sleep(0.005)


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("prepared")
    timelines = [random_timeline(f"ed/t{i}", frames=64, tracks=4, seed=i, folder="ed") for i in range(10)]
    prepared = prepare_tiny(root, ["data.max_tracks=4"], timelines)
    steps_per_epoch = len(np.load(prepared / "train" / "windows.npy")) // BATCH_SIZE
    assert steps_per_epoch >= 20  # the kill lands inside an epoch of many steps
    return prepared


def test_training_killed_between_checkpoints_resumes_to_the_same_weights(prepared, tiny_config, tmp_path):
    settings = ["--config", str(tiny_config), "--set", *TRAIN_SETTINGS]
    whole = tmp_path / "whole"
    subprocess.run(
        _train_command(prepared, whole, *settings), check=True, capture_output=True, timeout=WAIT_LIMIT_S, env=CHILD_ENV
    )

    killed = tmp_path / "killed"
    checkpoints = killed / "checkpoints"
    process = subprocess.Popen(
        _train_command(prepared, killed, *settings), env=CHILD_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        # epoch000.ckpt is the last file epoch 1 writes (after best and last): kill as epoch 2 starts
        _wait_for([checkpoints / "last.ckpt", checkpoints / "epoch000.ckpt"], process)
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert read_checkpoint(checkpoints / "last.ckpt")["epoch"] == 0
    assert not (checkpoints / "epoch001.ckpt").exists() and not (killed / "bundle").exists()

    resumed = subprocess.run(
        _train_command(prepared, killed, "--resume", "last"),
        capture_output=True,
        text=True,
        timeout=WAIT_LIMIT_S,
        env=CHILD_ENV,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    expected = load_file(whole / "bundle" / "model.safetensors")
    got = load_file(killed / "bundle" / "model.safetensors")
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)
    summaries = [json.loads((run / "bundle" / "bundle.json").read_text())["training"] for run in (whole, killed)]
    assert summaries[0]["epochs"] == summaries[1]["epochs"] == EPOCHS
    assert summaries[0]["best_val_loss"] == pytest.approx(summaries[1]["best_val_loss"], rel=1e-5)
    after_one_epoch = read_checkpoint(whole / "checkpoints" / "epoch000.ckpt")["state_dict"]["model.head.weight"]
    assert not torch.allclose(after_one_epoch, expected["head.weight"])  # epochs 2-3 were trained, not skipped


def test_ingest_killed_mid_run_leaves_no_finished_looking_output(tmp_path):
    inputs = tmp_path / "in"
    write_good_files(inputs)
    (inputs / "many_clips.xml").write_bytes(many_clipitems(30_000))  # good_a, then this: about a second's work
    reference = tmp_path / "reference" / "frames.parquet"
    assert run_ingest([inputs], reference).returncode == 0

    out_path = tmp_path / "out" / "frames.parquet"
    command = [sys.executable, "-m", "multitrack", "ingest", str(inputs), "-o", str(out_path), "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while not list(out_path.parent.glob(".frames.parquet.*.tmp")):  # the writer is open: mid-run
            assert process.poll() is None and time.monotonic() < deadline, "ingest ended before it could be killed"
            time.sleep(0.005)
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not out_path.exists() and not out_path.with_suffix(".manifest.json").exists()

    assert run_ingest([inputs], out_path).returncode == 0
    assert pq.read_table(out_path).equals(pq.read_table(reference))
    manifests = [path.with_suffix(".manifest.json").read_text() for path in (out_path, reference)]
    assert manifests[0] == manifests[1]
    assert pq.read_table(out_path).num_rows == 40 + 75 + 30_000
