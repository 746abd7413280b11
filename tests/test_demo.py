"""`multitrack demo` end to end on a tiny corpus with configs/tiny.yaml: the headline verb runs.

Every stage's output must be where the summary says, the bundle must load, the generated
timeline must read back as xmeml, and every figure the summary prints must be a finite
number or "-" (a predictor that has no such figure).
"""

from __future__ import annotations

import json
import math
import re

import pytest

from multitrack.cli import main
from multitrack.commands.demo import HEADLINE, PREDICTORS
from multitrack.timeline.xmeml import read_xmeml
from multitrack.train.bundle import load_bundle

pytestmark = pytest.mark.slow


def test_every_stage_writes_its_output_and_the_figures_are_finite(tmp_path, tiny_config, capsys):
    workdir = tmp_path / "demo"
    arguments = ["demo", "--workdir", str(workdir), "--config", str(tiny_config), "--timelines", "18"]
    arguments += ["--editors", "6", "--min-seconds", "12", "--max-seconds", "20", "--jobs", "1"]
    arguments += ["--set", "trainer.max_epochs=1", "trainer.limit_train_batches=4"]
    assert main(arguments) == 0
    printed = capsys.readouterr().out

    for name in ("corpus", "frames", "prepared", "run", "evaluation", "generated", "report", "prompt"):
        assert re.search(rf"^  {name}\s+\S", printed, re.MULTILINE), f"the summary names no {name}:\n{printed}"
    assert (workdir / "corpus" / "synth.json").is_file()
    assert (workdir / "frames.parquet").is_file() and (workdir / "frames.manifest.json").is_file()
    for split in ("train", "val", "test"):
        assert (workdir / "prepared" / split / "windows.npy").is_file()
    assert (workdir / "run" / "config.yaml").is_file()
    assert (workdir / "run" / "checkpoints" / "last.ckpt").is_file()
    assert (workdir / "evaluation" / "report.html").is_file()

    bundle = load_bundle(workdir / "run" / "bundle")
    assert bundle.meta["training"]["epochs"] == 1
    assert bundle.meta["config"]["model"]["d_model"] == 32  # configs/tiny.yaml, under the demo's settings
    metrics = json.loads((workdir / "evaluation" / "metrics.json").read_text())
    assert set(PREDICTORS) <= set(metrics)
    timelines = read_xmeml(workdir / "generated.xml")
    assert len(timelines) == 1 and timelines[0].video_tracks

    table = printed[printed.index("Test split") :].split("\n\n")[0].splitlines()[2:]
    assert len(table) == len(HEADLINE), printed
    for line, (group, key, better) in zip(table, HEADLINE, strict=True):
        label, direction, model, *baselines = line.split()
        assert (label, direction) == (f"{group}.{key}", f"({better})")
        assert len(baselines) == len(PREDICTORS) - 1, line
        assert math.isfinite(float(model)), line  # the model has every headline figure
        assert all(cell == "-" or math.isfinite(float(cell)) for cell in baselines), line
