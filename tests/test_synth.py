"""The synthetic corpus as a whole: files, synth.json, determinism, profiles, CLI."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from multitrack.cli import main
from multitrack.errors import MultitrackError
from multitrack.synth import synth_corpus, synth_timeline
from multitrack.synth.profiles import STYLES, draw_profiles
from multitrack.timeline.xmeml import read_xmeml, write_xmeml
from test_synth_styles import shot_lengths_seconds, sync_offsets

TINY = {"min_seconds": 3.0, "max_seconds": 6.0}


def digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_same_bytes(tmp_path):
    """In this process and in another one with other string hashing."""
    argv = ["--timelines", "6", "--seed", "5", "--editors", "3", "--min-seconds", "3", "--max-seconds", "6"]
    assert main(["synth", str(tmp_path / "a"), *argv]) == 0
    command = [sys.executable, "-m", "multitrack", "synth", str(tmp_path / "b"), *argv]
    subprocess.run(command, check=True, env={**os.environ, "PYTHONHASHSEED": "123"}, capture_output=True)
    first = digests(tmp_path / "a")
    entries = json.loads((tmp_path / "a" / "synth.json").read_text())["timelines"]
    xml = {path for path in first if path.endswith(".xml")}
    assert xml == {entry["path"] for entry in entries} and len(entries) >= 6  # 6 edits, a stack beside each podcast
    assert first == digests(tmp_path / "b")  # the timelines, their rendered media and synth.json
    assert any(p.endswith(".m4a") for p in first)  # rendered sound: the same bytes too
    assert main(["synth", str(tmp_path / "c"), *argv[:3], "6", *argv[4:]]) == 0
    assert digests(tmp_path / "c") != first  # another seed, another corpus


def test_timeline_i_does_not_depend_on_how_many_are_asked_for(tmp_path):
    small = synth_corpus(tmp_path / "small", 2, seed=9, editors=2, **TINY)
    large = synth_corpus(tmp_path / "large", 4, seed=9, editors=2, **TINY)
    for synth in small.timelines:
        assert (tmp_path / "small" / synth.path).read_bytes() == (tmp_path / "large" / synth.path).read_bytes()
    assert [s.path for s in large.timelines[:2]] == [s.path for s in small.timelines]


def test_one_folder_per_editor_and_synth_json_describes_the_corpus(tmp_path):
    report = synth_corpus(tmp_path, 5, seed=2, editors=2, **TINY)
    manifest = json.loads((tmp_path / "synth.json").read_text())
    assert manifest["arguments"] == {"timelines": 5, "seed": 2, "editors": 2, **TINY}
    assert [e["name"] for e in manifest["editors"]] == ["editor01", "editor02"]
    edits = [entry for entry in manifest["timelines"] if entry.get("role") != "stack"]
    assert [t["editor"] for t in edits] == ["editor01", "editor02"] * 2 + ["editor01"]
    for entry, synth in zip(edits, report.timelines, strict=True):
        assert entry["path"].split("/")[0] == entry["editor"]
        assert entry["path"].endswith(f"_{entry['style']}.xml") and entry["style"] in STYLES
        assert (tmp_path / entry["path"]).is_file()
        assert entry["frames"] == synth.timeline.duration_frames
        assert 3.0 <= entry["frames"] / entry["fps"] <= 6.0 + 1 / entry["fps"]
    podcasts = [synth for synth in report.timelines if synth.style == "multicam"]
    assert [s["session"] for s in manifest["sessions"]] == [synth.session for synth in podcasts]
    for synth in podcasts:  # the stack beside the edit, both tagged with the session
        roles = {e["role"]: e["path"] for e in manifest["timelines"] if e.get("session") == synth.session}
        assert roles == {"edit": synth.path, "stack": synth.stack_path}
        assert (tmp_path / synth.stack_path).is_file()


def test_written_files_read_back_as_the_timelines_synth_built(tmp_path):
    report = synth_corpus(tmp_path, 10, seed=4, editors=5, **TINY)
    for synth in report.timelines:
        [timeline] = read_xmeml(tmp_path / synth.path)
        assert timeline == synth.timeline, synth.path


def test_every_style_appears_in_a_small_corpus(tmp_path):
    report = synth_corpus(tmp_path, 20, seed=0, editors=5, min_seconds=2.0, max_seconds=3.0)
    assert {s.style for s in report.timelines} == set(STYLES)
    rates = {s.timeline.rate for s in report.timelines}
    sizes = {(s.timeline.width_px, s.timeline.height_px) for s in report.timelines}
    assert len(rates) >= 4 and sizes == {(1920, 1080), (3840, 2160), (1080, 1920)}


def test_profiles_differ_measurably_and_consistently():
    """Mean shot length per split-screen timeline: tight within an editor, apart between them
    (a podcast's pacing is the conversation's and the editor's reactions: test_synth_podcast)."""
    profiles = draw_profiles(2, seed=3)
    means = [
        [shot_lengths_seconds(synth_timeline(i, 3, p, 90, 90, style="split_screen").timeline).mean() for i in range(4)]
        for p in profiles
    ]
    fast, slow = sorted(means, key=np.mean)
    assert max(fast) < min(slow)
    for editor_means in means:
        assert np.std(editor_means) / np.mean(editor_means) < 0.2


def test_multicam_files_keep_every_angle_in_sync(tmp_path):
    profile = draw_profiles(1, seed=0)[0]
    synth = synth_timeline(0, 0, profile, 20, 20, style="multicam")
    path = tmp_path / "mc.xml"
    write_xmeml(synth.timeline, path)
    [timeline] = read_xmeml(path)
    assert all(len(offsets) == 1 for offsets in sync_offsets(timeline).values())


def test_rerun_replaces_the_previous_corpus_even_an_interrupted_one(tmp_path):
    synth_corpus(tmp_path, 4, seed=1, editors=2, **TINY)
    (tmp_path / "synth.json").unlink()  # as if the run had stopped before the end
    synth_corpus(tmp_path, 1, seed=1, editors=2, **TINY)
    paths = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    written = json.loads((tmp_path / "synth.json").read_text())["timelines"][0]["path"]
    assert paths == ["editor01", written, "synth.json"]


@pytest.mark.parametrize(
    ("intruder", "named"),
    [("notes.txt", "notes.txt"), ("editor01/notes.txt", "editor01/notes.txt"), ("footage/a.mov", "footage")],
)
def test_refuses_a_folder_holding_something_else(tmp_path, intruder, named):
    synth_corpus(tmp_path, 2, seed=1, editors=2, **TINY)
    (tmp_path / intruder).parent.mkdir(exist_ok=True)
    (tmp_path / intruder).write_text("mine")
    with pytest.raises(MultitrackError, match=f"holds {named}, which synth did not write"):
        synth_corpus(tmp_path, 1, seed=0)
    assert main(["synth", str(tmp_path), "--timelines", "1", "--seed", "0"]) == 1
    assert (tmp_path / intruder).read_text() == "mine"
    assert len(list(tmp_path.rglob("*.xml"))) == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["--timelines", "0", "--seed", "1"],
        ["--timelines", "2"],
        ["--timelines", "2", "--seed", "1", "--editors", "0"],
        ["--timelines", "2", "--seed", "1", "--min-seconds", "-1"],
        ["--timelines", "two", "--seed", "1"],
        ["--timelines", "2", "--seed", "-1"],
    ],
)
def test_usage_errors_exit_2(tmp_path, argv):
    try:
        code = main(["synth", str(tmp_path), *argv])
    except SystemExit as exit_info:  # argparse's own checks
        code = exit_info.code
    assert code == 2


def test_min_above_max_is_a_usage_error(tmp_path, capsys):
    assert (
        main(
            [
                "synth",
                str(tmp_path / "x"),
                "--timelines",
                "1",
                "--seed",
                "1",
                "--min-seconds",
                "9",
                "--max-seconds",
                "3",
            ]
        )
        == 2
    )
    assert "--min-seconds 9 is above --max-seconds 3" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timelines": 0}, "at least one timeline and one editor"),
        ({"editors": 0}, "at least one timeline and one editor"),
        ({"seed": -1}, "seed of at least 0"),
        ({"min_seconds": 5.0, "max_seconds": 2.0}, "0 < min_seconds <= max_seconds"),
    ],
)
def test_synth_corpus_rejects_bad_arguments(tmp_path, kwargs, message):
    arguments = {"timelines": 1, "seed": 0, "editors": 1, **TINY, **kwargs}
    with pytest.raises(ValueError, match=message):
        synth_corpus(tmp_path / "out", **arguments)
    assert not (tmp_path / "out").exists()
