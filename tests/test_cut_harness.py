"""The cut evaluation (commands/cut_harness.py) on a tiny synth corpus: 3 podcast sessions of
30-45 s (two of the control editor, editor03, one of editor02)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multitrack.cli import main
from multitrack.commands.cut_harness import (
    FIGURES,
    PREDICTORS,
    CutEvalOptions,
    Session,
    evaluate_cuts,
    interval,
    split_sessions,
)
from multitrack.features.hearing import HopCache
from multitrack.synth import synth_corpus

UNIT_FIGURES = ("shown_agreement", "cut_f1", "next_angle_accuracy", "wide_share_abs_diff")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("podcasts")
    synth_corpus(out, 16, 0, editors=4, min_seconds=30, max_seconds=45)
    return out


@pytest.fixture(scope="module")
def evaluation(corpus, tmp_path_factory):
    cache = HopCache(tmp_path_factory.mktemp("hops"))
    options = CutEvalOptions(unseen=1, prompt_seconds=20.0, cache=cache, pictures=2)
    return evaluate_cuts(corpus, tmp_path_factory.mktemp("cut_eval"), options)


def test_every_figure_is_there_and_in_range(evaluation):
    rows = [row for seed in evaluation.results["per_seed"] for row in seed["sessions"]]
    assert {row["predictor"] for row in rows} == set(PREDICTORS)
    assert {row["protocol"] for row in rows} == {"seen", "unseen"}
    for row in rows:
        for figure in UNIT_FIGURES:
            assert row[figure] is None or 0.0 <= row[figure] <= 1.0, (row, figure)
        assert row["shot_length_w1_seconds"] >= 0.0
    summary = evaluation.results["summary"]
    for protocol in ("seen", "unseen"):
        for predictor in PREDICTORS:
            overall = summary[protocol][predictor]["overall"]
            assert set(overall) == set(FIGURES)
            assert overall["shown_agreement"]["seeds"] >= 1


def test_the_oracle_of_the_control_editor_agrees_exactly(evaluation):
    control = evaluation.results["control_editor"]
    assert control == "editor03"
    rows = [
        row
        for seed in evaluation.results["per_seed"]
        for row in seed["sessions"]
        if row["editor"] == control and row["predictor"] == "oracle"
    ]
    assert rows
    assert all(row["shown_agreement"] == 1.0 and row["cut_f1"] == 1.0 for row in rows)


@pytest.mark.xfail(
    strict=True,
    reason="the rules read detected speech (bleed called speech, back-channels) where the control editor "
    "cuts on the true speech: 0.89 on this corpus, 0.94-0.95 on the demo-like ones, against the oracle's "
    "1.0 (docs/decisions.md, cut evaluation)",
)
def test_rules_fitted_on_the_control_editor_come_within_0_05_of_the_oracle(evaluation):
    seen = evaluation.results["summary"]["seen"]
    control = evaluation.results["control_editor"]
    rules = seen["rules_agreement"][control]["shown_agreement"]["mean"]
    oracle = seen["oracle"][control]["shown_agreement"]["mean"]
    assert rules >= oracle - 0.05


def test_the_pictures_are_written(evaluation):
    assert len(evaluation.pictures) == 2
    for path in evaluation.pictures:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _session(name: str, editor: str) -> Session:
    return Session(name, editor, None, None, None, None)  # type: ignore[arg-type]


def test_the_split_holds_out_whole_editors_and_one_session_of_each_other():
    sessions = [_session(f"tl{i:04d}", f"editor{i % 5:02d}") for i in range(20)]
    for seed in range(3):
        split = split_sessions(sessions, seed, unseen=2)
        unseen = {s.editor for s in split["unseen"]}
        assert len(unseen) == 2
        assert len(split["unseen"]) == 8
        assert sorted(s.editor for s in split["seen"]) == sorted({f"editor{i:02d}" for i in range(5)} - unseen)
        assert not {s.name for s in split["train"]} & {s.name for s in split["seen"] + split["unseen"]}
        assert len(split["train"]) + len(split["seen"]) + len(split["unseen"]) == 20
    assert split_sessions(sessions, 0, 2)["seen"] != split_sessions(sessions, 1, 2)["seen"] or {
        s.editor for s in split_sessions(sessions, 0, 2)["unseen"]
    } != {s.editor for s in split_sessions(sessions, 1, 2)["unseen"]}


def test_the_interval_is_students_t_over_the_seeds():
    found = interval([0.5, 0.6, 0.7])
    assert found["mean"] == pytest.approx(0.6)
    assert found["ci95"] == pytest.approx(4.303 * 0.1 / np.sqrt(3))
    assert interval([0.4])["ci95"] is None


def test_the_verb_prints_the_table_and_writes_the_json(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "evaluate-cut",
            str(corpus),
            "-o",
            str(out),
            "--seeds",
            "1",
            "--unseen-editors",
            "1",
            "--prompt-seconds",
            "20",
            "--pictures",
            "0",
            "--cache-dir",
            str(tmp_path / "hops"),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "rules_agreement" in printed and "oracle" in printed
    assert json.loads((out / "cut_evaluation.json").read_text())["seeds"] == [0]


def test_the_demo_split_holds_out_whole_editors_and_a_session_of_the_others(corpus, tmp_path):
    from multitrack.commands.demo import DEMO_OVERRIDES, _ingest, demo_assign
    from multitrack.config import load_config
    from multitrack.data.prepare import prepare

    assign = demo_assign(corpus)
    # 4 editors with timelines: 2 held out whole (never the control editor03), and of the others
    # only editor03 has two sessions: its first goes to test, its second stays to fit on
    assert assign == {"folder=editor02": "test", "folder=editor04": "test", "editor03/tl0007_multicam": "test"}
    config = load_config("configs/tiny.yaml", DEMO_OVERRIDES)
    config.data.assign = assign
    _ingest(corpus, tmp_path / "frames.parquet", 1)
    prepare(tmp_path / "frames.parquet", tmp_path / "prepared", config)
    splits = {
        split: {e["id"] for e in json.loads((tmp_path / "prepared" / split / "timelines.json").read_text())}
        for split in ("train", "val", "test")
    }
    assert (
        "editor03/tl0007_multicam" in splits["test"] and "editor03/tl0011_multicam" in splits["train"] | splits["val"]
    )
    assert not {tid for tid in splits["train"] | splits["val"] if tid.split("/")[0] in ("editor02", "editor04")}
    assert not {tid for split in splits.values() for tid in split if tid.endswith("_stack")}


def test_the_editors_angles_are_numbered_as_the_stacks_cameras(corpus):
    """The edit read back, its cameras renumbered as the stack's, shows what synth.json says the
    editor showed (each shot's camera, by its stack track) on nearly every frame."""
    from multitrack.commands.cut_harness import load_sessions
    from multitrack.cut.stack import read_stack

    manifest = json.loads((corpus / "synth.json").read_text())
    entries = {entry["session"]: entry for entry in manifest["sessions"]}
    sessions, skipped = load_sessions(corpus, CutEvalOptions())
    assert len(sessions) == 3 and not skipped
    for session in sessions:
        entry, stack = entries[session.name], read_stack(session.stack)
        expected = np.full(session.truth.shown.shape[0], -1)
        for shot in entry["shots"]:
            camera = stack.find_camera(entry["cameras"][shot["camera"]]["track"])
            expected[int(round(shot["start"] * 10)) : int(round(shot["end"] * 10))] = camera
        assert (expected == session.truth.shown).mean() > 0.97, session.name
        assert session.true_pairing.wide == stack.find_camera("V1")


def test_an_edit_without_a_camera_is_renumbered_as_the_stack():
    """An edit holds only the cameras it shows: its camera 1 may be the stack's camera 2."""
    from types import SimpleNamespace

    from multitrack.commands.cut_harness import camera_code, in_stack_cameras
    from multitrack.errors import MultitrackError
    from multitrack.sample.pairing import Pairing
    from multitrack.sample.switcher import RulesSession

    def cams(*names):
        return SimpleNamespace(path="x.xml", cameras=[SimpleNamespace(name=n) for n in names])

    stack, edit = cams("wide.mov", "unused.mov", "close.mov"), cams("wide.mov", "close.mov")
    assert camera_code(edit, stack).tolist() == [-1, 0, 2]
    session = RulesSession(np.zeros((1, 4), bool), Pairing(((), (0,)), 1), np.array([0, 1, 1, -1]), 10.0)
    moved = in_stack_cameras(session, edit, stack)
    assert moved.shown.tolist() == [0, 2, 2, -1]
    assert moved.pairing.mics == ((), (), (0,))
    with pytest.raises(MultitrackError, match="not in the stack"):
        camera_code(cams("other.mov"), stack)
