"""`multitrack inspect` through the CLI: summary on stdout, one-line error and exit 1 on a bad file."""

from __future__ import annotations

from multitrack.cli import main
from xmemlgen import clipitem, document, file_def, motion, param, sequence, track

CAM_A = file_def(name="camA.mov", duration=None, width=3840, height=2160)
CLIP = clipitem(0, 50, 0, 50, CAM_A, id="c1", name="cam A", filters=motion(param("scale", 50, name="Scale")))
GOOD = document(sequence(track(CLIP), name="interview", duration=50), bom=True, codec="utf-8")
START_LINE = GOOD[: GOOD.index(b"<start>")].count(b"\n") + 1  # the line of the clip's <start>


def test_inspect_prints_a_summary_per_timeline(tmp_path, capsys):
    path = tmp_path / "interview.xml"
    path.write_bytes(GOOD)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: 1 timeline\n")
    assert "timeline 'interview'" in out
    assert "  duration     50 frames = 00:00:02:00 (2.00 s)" in out
    assert "    V1: 1 clip (1 enabled, 0 disabled), 0 transitions" in out
    assert "3840x2160" in out and "camA.mov" in out
    assert "  effects      Basic Motion on 1 video clip, Crop on 0 video clips" in out


def test_inspect_bad_file_exits_1_with_one_line(tmp_path, capsys):
    path = tmp_path / "broken.xml"
    path.write_bytes(GOOD.replace(b"<start>0</start>", b"<start>zero</start>"))
    assert main(["inspect", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("multitrack inspect: error: ")
    element = f"sequence/media/video/track/clipitem/start (line {START_LINE})"
    assert f"broken.xml: {element}: expected an integer frame, got 'zero'" in line


def test_inspect_file_without_sequence(real_corpus, capsys):
    assert main(["inspect", str(real_corpus / "nrk" / "EMPTY_SEQUENCE.xml")]) == 1
    assert "EMPTY_SEQUENCE.xml: xmeml (line 3): holds no <sequence>" in capsys.readouterr().err


def test_inspect_real_keyframed_file(real_corpus, capsys):
    assert main(["inspect", str(real_corpus / "nrk" / "dnpr6370211-alt-offline.hg.xml"), "--max-assets", "1"]) == 0
    out = capsys.readouterr().out
    assert "timeline 'S02E18 Kraakeklubben Pgm 18 v3 Til ProTools'" in out
    assert "  time remaps  8 clips" in out
