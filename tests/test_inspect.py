"""`multitrack inspect` through the CLI: summary on stdout, one-line error and exit 1 on a bad file."""

from __future__ import annotations

from multitrack.cli import main

GOOD = b"""\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4"><sequence id="sequence-1"><duration>50</duration>
<rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate><name>interview</name>
<media><video><format><samplecharacteristics><width>1920</width><height>1080</height></samplecharacteristics></format>
<track><clipitem id="c1"><name>cam A</name><start>0</start><end>50</end><in>0</in><out>50</out>
<file id="file-1"><name>camA.mov</name><media><video><samplecharacteristics><width>3840</width>
<height>2160</height></samplecharacteristics></video></media></file>
<filter><effect><name>Basic Motion</name><effectid>basic</effectid>
<parameter><parameterid>scale</parameterid><name>Scale</name><value>50</value></parameter></effect></filter>
</clipitem><enabled>TRUE</enabled></track></video></media></sequence></xmeml>"""


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
    assert (
        "broken.xml: sequence/media/video/track/clipitem/start (line 6): expected an integer frame, got 'zero'" in line
    )


def test_inspect_file_without_sequence(real_corpus, capsys):
    assert main(["inspect", str(real_corpus / "nrk" / "EMPTY_SEQUENCE.xml")]) == 1
    assert "EMPTY_SEQUENCE.xml: xmeml (line 3): holds no <sequence>" in capsys.readouterr().err


def test_inspect_real_keyframed_file(real_corpus, capsys):
    assert main(["inspect", str(real_corpus / "nrk" / "dnpr6370211-alt-offline.hg.xml"), "--max-assets", "1"]) == 0
    out = capsys.readouterr().out
    assert "timeline 'S02E18 Kraakeklubben Pgm 18 v3 Til ProTools'" in out
    assert "  time remaps  8 clips" in out
