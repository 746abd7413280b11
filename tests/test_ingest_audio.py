"""ingest hears the timeline (issue 13): WAVs written here with tones and silences, xmeml audio clips
over them, and the frame table's audio columns checked against loudness computed by hand.

A sine of amplitude a has power a²/2 (500 and 300 Hz: whole cycles in every 10-ms hop):
0.5 -> 10·log10(0.125) = -9.031 dBFS, 0.25 -> -15.051 dBFS.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from audio_xmeml import audio_levels, audio_track, gain, sourcetrack
from multitrack.cli import main
from multitrack.features.hearing import DECODE_COUNTER
from multitrack.features.ingest import ingest
from multitrack.features.manifest import manifest_path
from multitrack.features.table import FrameTable
from multitrack.synth.audio import tone, write_audio
from xmemlgen import clipitem, document, file_def, file_ref, rate, sequence, track

RATE = 48_000
LOUD, QUIET = 0.5, 0.25
LOUD_DB = 10 * math.log10(LOUD**2 / 2)  # -9.031
QUIET_DB = 10 * math.log10(QUIET**2 / 2)  # -15.051


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * RATE)), np.float32)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """media/mic.wav, 4 s stereo: channel 1 loud tone on 0-1 s and 2-3 s, silent between and after;
    channel 2 a quiet tone throughout. media/ntsc.wav, 2 s mono: loud until 1.001 s, quiet after."""
    folder = tmp_path_factory.mktemp("media")
    left = np.concatenate([tone(1, RATE, 500, LOUD), silence(1), tone(1, RATE, 500, LOUD), silence(1)])
    right = tone(4, RATE, 300, QUIET)
    write_audio(folder / "mic.wav", np.stack([left, right]), RATE)
    edge = round(1.001 * RATE)
    ntsc = np.concatenate([tone(2, RATE, 500, LOUD)[:edge], tone(2, RATE, 500, QUIET)[edge : 2 * RATE]])
    write_audio(folder / "ntsc.wav", ntsc, RATE)
    return folder


def mic_file(pathurl: str, id: str = "file-9", name: str = "mic.wav") -> str:
    return file_def(id, name, pathurl=pathurl, width=None, audio_channels=2, duration=100)


def session_xml(pathurl: str) -> str:
    """A1: mic channel 1 on timeline 10..59 from in 25 (1 s: the silence, then the second tone).
    A2: channel 2 on 0..119 (the media ends at frame 100). A3: channel 2 with a level ramp
    1.0 -> 0.5 over source frames 0..50 and a +6 dB Gain filter, on 0..50."""
    a1 = clipitem(10, 60, 25, file=mic_file(pathurl), name="mic.wav", extra=sourcetrack(1))
    a2 = clipitem(0, 120, 0, file=file_ref("file-9"), name="mic.wav", extra=sourcetrack(2))
    ramp = audio_levels(1, [(0, 1.0), (50, 0.5)]) + gain(6)
    a3 = clipitem(0, 50, 0, file=file_ref("file-9"), name="mic.wav", extra=sourcetrack(2), filters=ramp)
    audio = [audio_track(a1, kind="Stereo", exploded=0, count=2), audio_track(a2), audio_track(a3)]
    return document(sequence(track(), audio=audio, duration=150, name="session"))


def read_audio(out: Path, tid: str):
    return FrameTable.open(out).read_audio(tid)


@pytest.fixture(scope="module")
def heard(media, tmp_path_factory):
    folder = tmp_path_factory.mktemp("edit")
    (folder / "session.xml").write_text(session_xml("file://localhost/Volumes/Rec/mic.wav"), encoding="utf-8")
    out = folder / "frames.parquet"
    report = ingest(
        [folder / "session.xml"],
        out,
        progress=False,
        media_roots=[f"/Volumes/Rec={media}"],  # the editor's volume, rewritten to where it is here
        cache_dir=folder / "cache",
    )
    return report, out, json.loads(manifest_path(out).read_text(encoding="utf-8"))


def test_loudness_and_heard_frames_follow_the_in_point_and_the_media_end(heard):
    report, out, _ = heard
    audio = read_audio(out, "session")
    a1, a2 = 0, 1
    assert audio.active[:, a1].tolist() == [0] * 10 + [1] * 50 + [0] * 90
    assert audio.heard[:, a1].tolist() == [0] * 10 + [1] * 50 + [0] * 90
    assert (audio.loudness_db[10:35, a1] == -90).all()  # media 1-2 s: silence, heard as -90 dBFS
    np.testing.assert_allclose(audio.loudness_db[35:60, a1], LOUD_DB, atol=0.02)  # media 2-3 s: the tone
    assert (audio.loudness_db[60:, a1] == -90).all() and not audio.speech[60:, a1].any()
    # A2 plays channel 2 from the media's start; frames past its 4 s (100 frames) are not heard
    assert audio.heard[:, a2].tolist() == [1] * 100 + [0] * 20 + [0] * 30
    assert audio.active[:, a2].tolist() == [1] * 120 + [0] * 30
    np.testing.assert_allclose(audio.loudness_db[:100, a2], QUIET_DB, atol=0.02)
    assert (audio.loudness_db[100:, a2] == -90).all()
    assert report.media_counts() == {"found": 1, "missing": 0, "unreadable": 0}
    assert report.media_line() is None


def test_a_level_ramp_and_the_gain_filter_add_to_the_loudness(heard):
    _, out, _ = heard
    audio = read_audio(out, "session")
    frames = np.arange(50)
    expected_gain = 20 * np.log10(1.0 - 0.5 * frames / 50) + 6  # the linear level ramp, in dB, +6 dB Gain
    np.testing.assert_allclose(audio.gain_db[:50, 2], expected_gain, atol=1e-4)
    np.testing.assert_allclose(audio.loudness_db[:50, 2], QUIET_DB + expected_gain, atol=0.02)
    assert (audio.gain_db[50:, 2] == 0).all() and not audio.active[50:, 2].any()


def test_one_asset_number_and_the_manifest_say_where_the_media_is(heard, media):
    _, out, manifest = heard
    audio = read_audio(out, "session")
    assert set(np.unique(audio.asset).tolist()) == {0, 1}  # no video: the mic is asset 1
    [entry] = manifest["files"][0]["timelines"]
    [asset] = entry["assets"]
    assert (asset["number"], asset["heard_on"], asset["media_found"]) == (1, [1, 2, 3], True)
    assert asset["media"] == str(media / "mic.wav")
    a1, a2, _ = entry["audio_tracks"]
    assert (a1["premiere_type"], a1["exploded_index"], a1["exploded_count"]) == ("Stereo", 0, 2)
    assert (a1["heard_frames"], a2["heard_frames"], a2["premiere_type"]) == (50, 100, None)
    assert 0 <= a1["speech_share"] <= 1
    assert manifest["summary"]["media"] == {"found": 1, "missing": 0, "unreadable": 0}
    table = pq.read_table(out)
    for name in table.column_names[2:]:
        assert not np.isnan(table.column(name).to_numpy().astype(np.float64)).any(), name


def test_29_97_frames_are_cut_on_exact_sample_ranges(media, tmp_path):
    # 30/TRUE is 30000/1001 fps: in 30 is 1.001 s into the media, exactly where ntsc.wav turns quiet;
    # 2 s of media from there leave 0.999 s = 29.94 frames: frame 29 is 94% inside (heard), 30 is not.
    clip = clipitem(0, 40, 30, file=mic_file("ntsc.wav", "file-1", "ntsc.wav"), name="ntsc.wav")
    first = clipitem(0, 40, 0, file=file_ref("file-1"), name="ntsc.wav")
    xml = document(sequence(track(), audio=[audio_track(clip), audio_track(first)], rate=rate(30, True), duration=40))
    (media / "edits").mkdir(exist_ok=True)
    xml_path = media / "edits" / "ntsc.xml"
    xml_path.write_text(xml.replace("ntsc.wav</pathurl>", "../ntsc.wav</pathurl>"), encoding="utf-8")  # relative
    out = tmp_path / "frames.parquet"
    ingest([xml_path], out, progress=False, cache_dir=tmp_path / "cache")
    audio = read_audio(out, "ntsc")
    assert audio.heard[:, 0].tolist() == [1] * 30 + [0] * 10
    # frame 0 starts 0.1 hop into the 10-ms hop holding the edge (a tenth loud): hop resolution;
    # from frame 1 on only the quiet part plays, frame 29 included
    assert QUIET_DB < audio.loudness_db[0, 0] < QUIET_DB + 0.5
    np.testing.assert_allclose(audio.loudness_db[1:30, 0], QUIET_DB, atol=0.02)
    # from the start: frames 0..29 end by 1.001 s, on the loud part
    assert audio.heard[:, 1].tolist() == [1] * 40
    np.testing.assert_allclose(audio.loudness_db[:29, 1], LOUD_DB, atol=0.02)
    np.testing.assert_allclose(audio.loudness_db[31:40, 1], QUIET_DB, atol=0.02)


def test_missing_and_corrupt_media_are_unheard_with_a_warning_and_the_batch_goes_on(media, tmp_path, capsys):
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 20)
    edits = tmp_path / "edits"
    edits.mkdir()
    gone = clipitem(0, 20, 0, file=mic_file("file://localhost/Volumes/Gone/x.wav", "file-1", "x.wav"), name="x.wav")
    bad = clipitem(0, 20, 0, file=mic_file(f"file://localhost{tmp_path}/corrupt.wav", "file-2", "c.wav"), name="c")
    fine = clipitem(0, 20, 0, file=mic_file(f"file://localhost{media}/mic.wav", "file-3"), name="mic.wav")
    xml = document(sequence(track(), audio=[audio_track(gone), audio_track(bad), audio_track(fine)], duration=20))
    (edits / "a.xml").write_text(xml, encoding="utf-8")
    (edits / "b.xml").write_text(session_xml(f"file://localhost{media}/mic.wav"), encoding="utf-8")
    out = tmp_path / "frames.parquet"
    args = ["ingest", str(edits), "-o", str(out), "--no-progress", "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0  # missing media is never an error
    err = capsys.readouterr().err
    assert "corrupt.wav" in err and "unheard" in err
    assert "audio: media of 1 of 3 heard asset(s) not found, 1 media file(s) unreadable" in err
    audio = read_audio(out, "a")
    assert audio.heard[:, :2].sum() == 0 and audio.heard[:, 2].sum() == 20
    assert (audio.loudness_db[:, :2] == -90).all() and audio.active[:, :3].all()
    assert read_audio(out, "b").heard.sum() == 50 + 100 + 50  # the next file is heard as before
    manifest = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    [entry] = manifest["files"][0]["timelines"]
    assert [a["media_found"] for a in entry["assets"]] == [False, True, True]
    assert any("not found" in w and "'x.wav'" in w for w in entry["warnings"])
    assert any("unreadable" in w and "corrupt.wav" in w for w in entry["warnings"])
    assert manifest["summary"]["media"] == {"found": 2, "missing": 1, "unreadable": 1}


def test_jobs_1_and_2_write_the_same_table_and_a_second_ingest_decodes_nothing(media, tmp_path):
    edits = tmp_path / "edits"
    edits.mkdir()
    for name in ("a", "b", "c"):
        (edits / f"{name}.xml").write_text(session_xml(f"file://localhost{media}/mic.wav"), encoding="utf-8")
    decodes = []
    for jobs in (1, 2):
        before = DECODE_COUNTER.count
        ingest([edits], tmp_path / f"jobs{jobs}.parquet", jobs=jobs, progress=False, cache_dir=tmp_path / f"c{jobs}")
        decodes.append(DECODE_COUNTER.count - before)
    assert decodes == [1, 1]  # three timelines share one decode of mic.wav
    assert pq.read_table(tmp_path / "jobs1.parquet").equals(pq.read_table(tmp_path / "jobs2.parquet"))
    before = DECODE_COUNTER.count
    ingest([edits], tmp_path / "again.parquet", jobs=2, progress=False, cache_dir=tmp_path / "c1")
    assert DECODE_COUNTER.count == before  # every channel from the cache
    assert pq.read_table(tmp_path / "again.parquet").equals(pq.read_table(tmp_path / "jobs1.parquet"))


def test_no_audio_keeps_active_asset_and_gain_and_hears_nothing(media, tmp_path):
    (tmp_path / "s.xml").write_text(session_xml(f"file://localhost{media}/mic.wav"), encoding="utf-8")
    before = DECODE_COUNTER.count
    report = ingest([tmp_path / "s.xml"], tmp_path / "f.parquet", progress=False, audio=False)
    assert DECODE_COUNTER.count == before and report.media_counts() == {"found": 0, "missing": 0, "unreadable": 0}
    audio = read_audio(tmp_path / "f.parquet", "s")
    assert audio.active[:, 0].sum() == 50 and not audio.heard.any() and (audio.loudness_db == -90).all()
    assert audio.gain_db[0, 2] == pytest.approx(6.0)
    manifest = json.loads(manifest_path(tmp_path / "f.parquet").read_text(encoding="utf-8"))
    assert manifest["summary"]["media"] is None
    assert manifest["files"][0]["timelines"][0]["assets"][0]["media_found"] is None


def test_max_audio_tracks_drops_the_later_tracks_with_a_warning(media, tmp_path):
    (tmp_path / "s.xml").write_text(session_xml(f"file://localhost{media}/mic.wav"), encoding="utf-8")
    out = tmp_path / "f.parquet"
    ingest([tmp_path / "s.xml"], out, progress=False, max_audio_tracks=1, cache_dir=tmp_path / "cache")
    assert pq.read_schema(out).names[-6:] == [
        f"a01_{f}" for f in ("active", "asset", "gain_db", "loudness_db", "speech", "heard")
    ]
    [entry] = json.loads(manifest_path(out).read_text(encoding="utf-8"))["files"][0]["timelines"]
    assert (entry["audio_tracks_kept"], entry["audio_tracks_dropped"]) == (1, 2)
    assert any("2 audio track(s) after A1 dropped" in w for w in entry["warnings"])


def test_inspect_lists_audio_tracks_with_media_and_speech_share(media, tmp_path, capsys):
    (tmp_path / "s.xml").write_text(session_xml("file://localhost/Volumes/Rec/mic.wav"), encoding="utf-8")
    args = ["inspect", str(tmp_path / "s.xml"), "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "A1 (Stereo, channel 1 of 2): 1 clip (1 enabled, 0 disabled), 0 transitions; media 0 found, 1 missing" in out
    assert main([*args, "--media-root", f"/Volumes/Rec={media}"]) == 0
    out = capsys.readouterr().out
    assert "A2: 1 clip (1 enabled, 0 disabled), 0 transitions; media 1 found, 0 missing; speech " in out
    assert "% of 100 heard frames" in out
    assert main([*args, "--no-audio"]) == 0
    assert "found" not in capsys.readouterr().out
