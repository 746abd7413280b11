"""Two-process DDP on CPU (gloo), started as a subprocess (tests/ddp_train.py).

Lightning's ddp strategy re-runs the command line for its second process, so the run must
start from a script, not inside pytest. Each rank writes the window indices its sampler
yielded, so the test can show they trained on different windows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from framegen import random_timeline, write_frame_table
from multitrack.config import load_config
from multitrack.data.prepare import prepare
from multitrack.train.bundle import load_bundle

pytestmark = pytest.mark.slow


def test_two_cpu_processes_train_on_different_windows(tmp_path, tiny_config):
    timelines = [random_timeline(f"ed/t{i}", frames=64, tracks=4, seed=i, folder="ed") for i in range(10)]
    write_frame_table(tmp_path / "frames.parquet", timelines)
    prepared = prepare(tmp_path / "frames.parquet", tmp_path / "prepared", load_config(tiny_config))
    windows = len(np.load(prepared / "train" / "windows.npy"))
    env = dict(os.environ)
    env.pop("MULTITRACK_RUN_DIR", None)
    command = [
        sys.executable,
        str(Path(__file__).with_name("ddp_train.py")),
        str(tiny_config),
        str(prepared),
        str(tmp_path / "run"),
        str(tmp_path / "seen"),
        "trainer.strategy=ddp",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=2",
    ]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    ranks = [json.loads((tmp_path / "seen" / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [record["world_size"] for record in ranks] == [2, 2]
    for epoch in ("0", "1"):
        first, second = (set(record["epochs"][epoch]) for record in ranks)
        assert first and second and not first & second  # disjoint shares ...
        assert first | second == set(range(windows))  # ... that cover the split
    assert ranks[0]["epochs"]["0"] != ranks[0]["epochs"]["1"]  # reshuffled per epoch
    assert load_bundle(tmp_path / "run" / "bundle").meta["training"]["epochs"] == 2
