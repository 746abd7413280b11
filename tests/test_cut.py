"""`multitrack cut --rules`: stacks in (tracks or a multicam nest), edits out, read back frame by frame."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from multitrack.cli import main
from multitrack.cut.cut import CutOptions, cut_stack
from multitrack.cut.sessions import edit_sessions
from multitrack.cut.stack import read_stack
from multitrack.data.resample import Resampler
from multitrack.errors import MediaError, XmemlError
from multitrack.evaluate.rules import GRID, fit_rules
from multitrack.features.hearing import HopCache
from multitrack.features.media import MediaFinder
from multitrack.sample.switcher import RuleSettings
from multitrack.timeline.xmeml import read_xmeml
from stackgen import CAMERA_IN, write_stack


@pytest.fixture
def cache(tmp_path: Path) -> HopCache:
    return HopCache(tmp_path / "hops")


def shown_names(path: Path) -> list[str]:
    """The file name on top on each frame of an edit, read back with the reader ('' where none)."""
    timeline = read_xmeml(path)[0]
    names = np.full(timeline.end_frame, "", dtype=object)
    for track in timeline.video_tracks:  # bottom first: a higher track covers it
        for clip in track.clips:
            if clip.enabled and track.enabled:
                names[clip.start_frame : clip.end_frame] = timeline.assets[clip.asset_id].name
    return list(names)


def check_defined_once(path: Path) -> None:
    """Every <file> id's first use in document order is its full definition, and nothing dangles."""
    root = etree.parse(str(path)).getroot()
    seen: set[str] = set()
    for element in root.iter("file"):
        ident = element.get("id")
        if ident not in seen:
            assert len(element) > 0, f"{ident} first used bare"
            seen.add(ident)
        else:
            assert len(element) == 0, f"{ident} defined twice"
    clip_ids = {el.get("id") for el in root.iter("clipitem")}
    assert len(clip_ids) == len(list(root.iter("clipitem"))), "clip ids repeat"
    for link in root.iter("link"):
        assert link.findtext("linkclipref") in clip_ids
    assert not any("never defined" in w for w in read_xmeml(path)[0].warnings)


def test_cut_writes_the_chosen_angles_in_sync(tmp_path: Path, cache: HopCache) -> None:
    stack = write_stack(tmp_path, seconds=60, speakers=2, camera_order=[1, 0, 2], mic_order=[1, 0])
    out = tmp_path / "edit.xml"
    report = cut_stack(stack.path, out, CutOptions(pairs=["V1=A2", "V3=A1"], cache=cache))
    assert report.pairing.wide == 1  # V2, the wide
    assert report.cuts > 4
    names = [stack.camera_names[c] for c in report.shown]
    assert shown_names(out) == names
    edit = read_xmeml(out)[0]
    assert edit.name == "podcast stack (cut)"
    assert [t.clips[0].start_frame for t in edit.video_tracks[:1]] == [0]  # the wide whole on V1
    assert edit.assets[edit.video_tracks[0].clips[0].asset_id].name == "cam_wide.mov"
    for track in edit.video_tracks:
        for clip in track.clips:
            assert clip.in_frame - clip.start_frame == CAMERA_IN  # sync kept
    assert len(edit.audio_tracks) == 2 and all(len(t.clips) == 1 for t in edit.audio_tracks)  # audio untouched
    check_defined_once(out)
    source = etree.parse(str(stack.path)).getroot()
    assert etree.parse(str(out)).getroot().find("sequence/uuid").text != source.findtext("sequence/uuid")
    # what the rules decided is what the pairing implies: the speaker's close-up while one speaks
    speaking = stack.active.sum(axis=0) == 1
    close = {0: 0, 1: 2}  # speaker 0 (mic_1, on A2) is on V1 (camera index 0), speaker 1 (A1) on V3
    who = stack.active.argmax(axis=0)
    expected = np.array([close[s] for s in who])
    assert (report.shown[speaking] == expected[speaking]).mean() > 0.7


def test_opentimelineio_reads_the_edit(tmp_path: Path, cache: HopCache) -> None:
    otio = pytest.importorskip("opentimelineio")
    stack = write_stack(tmp_path, seconds=30, speakers=2)
    out = tmp_path / "edit.xml"
    cut_stack(stack.path, out, CutOptions(pairs=["V2=A1", "V3=A2"], cache=cache))
    timeline = otio.adapters.read_from_file(str(out), adapter_name="fcp_xml")
    video = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
    ours = read_xmeml(out)[0]
    assert len(video) == len(ours.video_tracks)
    for theirs, mine in zip(video, ours.video_tracks, strict=True):
        clips = [c for c in theirs if isinstance(c, otio.schema.Clip)]
        assert [c.range_in_parent().start_time.to_frames() for c in clips] == [c.start_frame for c in mine.clips]


def test_keep_unused_keeps_the_other_runs_disabled(tmp_path: Path, cache: HopCache) -> None:
    stack = write_stack(tmp_path, seconds=40, speakers=2)
    out = tmp_path / "edit.xml"
    report = cut_stack(stack.path, out, CutOptions(pairs=["V2=A1", "V3=A2"], cache=cache, keep_unused=True))
    edit = read_xmeml(out)[0]
    for track in edit.video_tracks[1:]:
        covered = np.zeros(edit.end_frame, int)
        for clip in track.clips:
            covered[clip.start_frame : clip.end_frame] += 1
        assert (covered == 1).all()  # every frame once: shown or disabled
        assert any(not c.enabled for c in track.clips)
    assert shown_names(out) == [stack.camera_names[c] for c in report.shown]


def test_a_2997_stack_cuts_on_exact_frames(tmp_path: Path, cache: HopCache) -> None:
    stack = write_stack(tmp_path, seconds=45, speakers=2, timebase=30, ntsc=True)
    out = tmp_path / "edit.xml"
    report = cut_stack(stack.path, out, CutOptions(pairs=["V2=A1", "V3=A2"], cache=cache))
    # every cut is on the first stack frame of a decision frame: j/10 s rounded up to a frame
    cuts = np.flatnonzero(np.diff(report.shown) != 0) + 1
    assert len(cuts) > 2
    rate = Fraction(30000, 1001)
    decision_of = np.arange(len(report.shown)) * 10 * 1001 // 30000
    assert (decision_of[cuts] != decision_of[cuts - 1]).all()
    edit = read_xmeml(out)[0]
    assert edit.rate.ntsc and edit.rate.timebase == 30
    starts = sorted({c.start_frame for t in edit.video_tracks[1:] for c in t.clips})
    assert set(cuts) <= set(starts) | {c.end_frame for t in edit.video_tracks[1:] for c in t.clips}
    # through the shared resampler: decision frame j (j/10 s) starts on stack frame ceil(j × 30000/10010)
    back = Resampler.between(int(np.ceil(len(report.shown) * 10 / rate)), Fraction(10), rate, len(report.shown))
    assert back.source_rows is not None and (back.source_rows == decision_of).all()
    decision_starts = {(j * 30000 + 10009) // 10010 for j in range(len(report.shown))}
    assert set(cuts.tolist()) <= decision_starts


def test_pairing_from_scratch_audio_with_shuffled_tracks(tmp_path: Path, cache: HopCache) -> None:
    stack = write_stack(tmp_path, seconds=60, speakers=3, camera_order=[2, 0, 3, 1], mic_order=[2, 0, 1], scratch=True)
    report = cut_stack(stack.path, tmp_path / "edit.xml", CutOptions(cache=cache))
    assert report.pairing.source == "scratch"
    found = {v + 1: tuple(m + 1 for m in mics) for v, mics in enumerate(report.pairing.mics)}
    assert found == stack.pairing
    assert report.pairing.wide == 1  # V2


def test_pairing_of_a_multicam_nest(tmp_path: Path, cache: HopCache) -> None:
    stack = write_stack(tmp_path, seconds=60, speakers=2, camera_order=[2, 1, 0], scratch=True, nest=True)
    read = read_stack(stack.path)
    assert read.nested and [c.name for c in read.cameras] == ["cam_2.mov", "cam_1.mov", "cam_wide.mov"]
    out = tmp_path / "edit.xml"
    report = cut_stack(stack.path, out, CutOptions(cache=cache))
    found = {v + 1: tuple(m + 1 for m in mics) for v, mics in enumerate(report.pairing.mics)}
    assert found == stack.pairing
    assert shown_names(out) == [stack.camera_names[c] for c in report.shown]  # flattened: angles as tracks
    check_defined_once(out)


def test_a_multicam_nest_with_its_mics_inside(tmp_path: Path, cache: HopCache) -> None:
    stack = write_stack(
        tmp_path, seconds=60, speakers=2, camera_order=[0, 2, 1], scratch=True, nest=True, mics_in_nest=True
    )
    read = read_stack(stack.path)
    assert [m.label for m in read.mics] == ["A1 'mic_1.wav'", "A2 'mic_2.wav'"] and all(
        m.index == -1 for m in read.mics
    )
    out = tmp_path / "edit.xml"
    report = cut_stack(stack.path, out, CutOptions(cache=cache))
    assert not report.deaf and report.pairing.source == "scratch"
    assert {v + 1: tuple(m + 1 for m in mics) for v, mics in enumerate(report.pairing.mics)} == stack.pairing
    assert shown_names(out) == [stack.camera_names[c] for c in report.shown]
    check_defined_once(out)
    edit = etree.parse(str(out)).getroot()
    assert edit.find("sequence/media/audio/track/clipitem/sequence").get("id") == "sequence-nest"  # its sound kept


def test_pairing_and_rules_from_the_prompt(tmp_path: Path, cache: HopCache) -> None:
    """An unseen editor cuts the first 40 s by known rules; cut reads the pairing from them and fits on them."""
    rules = RuleSettings(delay_s=0.5, min_shot_s=3.0, silence_s=2.0, overlap_s=1.0)
    plain = write_stack(tmp_path / "plain", seconds=90, speakers=2, camera_order=[0, 2, 1])
    editor = cut_stack(
        plain.path, tmp_path / "plain.edit.xml", CutOptions(pairs=["V2=A2", "V3=A1"], rules=rules, cache=cache)
    )
    prompt = np.array([[0, 2, 1][c] for c in editor.shown[: int(40 * plain.fps)]])  # camera numbers
    stack = write_stack(tmp_path / "prompted", seconds=90, speakers=2, camera_order=[0, 2, 1], prompt=prompt)
    out = tmp_path / "edit.xml"
    fitted: list[RuleSettings] = []

    def fit(sessions):
        fitted.append(fit_rules(sessions).shown_agreement.settings)
        return fitted[-1]

    report = cut_stack(stack.path, out, CutOptions(prompt_seconds=40, cache=cache, fit_prompt=fit))
    assert report.pairing.source == "prompt"
    assert [tuple(m) for m in report.pairing.mics] == [(), (1,), (0,)]
    assert fitted and fitted[0].min_shot_s == rules.min_shot_s
    assert (report.shown == editor.shown).mean() > 0.9
    assert shown_names(out)[: len(prompt)] == [["cam_wide.mov", "cam_1.mov", "cam_2.mov"][c] for c in prompt]


def test_rules_from_edits_recover_the_editors_settings(
    tmp_path: Path, cache: HopCache, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = RuleSettings(delay_s=0.25, min_shot_s=1.5, silence_s=3.0, overlap_s=2.0)
    for seed in (1, 2):  # each edit beside its stack and mics; the stacks never cut and are skipped
        stack = write_stack(tmp_path / f"s{seed}", seconds=90, speakers=2, seed=seed)
        cut_stack(
            stack.path, stack.path.with_name("edit.xml"), CutOptions(pairs=["V2=A1", "V3=A2"], rules=rules, cache=cache)
        )
    (tmp_path / "broken.xml").write_text("<xmeml")
    found = edit_sessions(tmp_path, 10.0, MediaFinder(), cache)
    assert len(found.sessions) == 2 and len(found.skipped) == 3
    assert sum("a stack, not an edit" in line for line in found.skipped) == 2
    assert [s.pairing.mics for s in found.sessions] == [((), (0,), (1,))] * 2
    fit = fit_rules(found.sessions, GRID)
    best = fit.shown_agreement
    # 0.1-s decisions written on 25-fps frames and read back at 0.1 s move some cuts by one decision frame
    assert best.shown_agreement > 0.97
    assert (best.settings.delay_s, best.settings.min_shot_s) == (rules.delay_s, rules.min_shot_s)
    # the command: fitted on the edits, and the pairing (no --pair, prompt or scratch) their convention
    out = tmp_path / "again.xml"
    code = main(
        ["cut", str(tmp_path / "s1" / "podcast stack.xml"), "-o", str(out), "--rules", "--rules-from", str(tmp_path)]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "rules fitted on 2 edit(s)" in printed and "best cut_f1" in printed
    assert "pairing (convention)" in printed and "rules (fitted for shown_agreement on 2 edit(s)" in printed


def test_deaf_cut_keeps_the_wide_unless_audio_is_required(tmp_path: Path, cache: HopCache) -> None:
    stack = write_stack(tmp_path, seconds=20, speakers=2)
    for path in stack.mic_files:
        path.unlink()
    report = cut_stack(stack.path, tmp_path / "edit.xml", CutOptions(pairs=["V2=A1", "V3=A2"], cache=cache))
    assert report.deaf and (report.shown == 0).all()
    assert any("cut deaf" in w for w in report.warnings)
    with pytest.raises(MediaError, match="--require-audio"):
        cut_stack(stack.path, tmp_path / "e2.xml", CutOptions(require_audio=True, cache=cache))


def test_pair_names_files_and_refuses_unknown_ones(tmp_path: Path, cache: HopCache) -> None:
    stack = write_stack(tmp_path, seconds=20, speakers=2)
    report = cut_stack(stack.path, tmp_path / "e.xml", CutOptions(pairs=["cam_1.mov=mic_1.wav", "V3=A2"], cache=cache))
    assert report.pairing.mics == ((), (0,), (1,))
    with pytest.raises(XmemlError, match="no camera 'V9'"):
        cut_stack(stack.path, tmp_path / "e.xml", CutOptions(pairs=["V9=A1"], cache=cache))


def test_cli_cuts_a_folder_and_reports_a_bad_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stacks = tmp_path / "stacks"
    write_stack(stacks, seconds=20, speakers=2, name="one")
    write_stack(stacks, seconds=20, speakers=2, name="two", seed=2)
    (stacks / "bad.xml").write_text("<xmeml version='4'></xmeml>")
    out = tmp_path / "edits"
    code = main(["cut", str(stacks), "-o", str(out), "--rules", "--cache-dir", str(tmp_path / "c"), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    assert (out / "one cut.xml").exists() and (out / "two cut.xml").exists()
    assert "bad.xml" in captured.err
    assert "pairing (default)" in captured.out and "rules (default settings)" in captured.out
    assert main(["cut", str(stacks / "one.xml"), "-o", str(tmp_path / "x.xml")]) == 2  # no --rules


def undefined_ids(path: Path) -> set[str]:
    warnings = [w for w in read_xmeml(path)[0].warnings if "never defined" in w]
    return set(re.findall(r"'([^']+)'", warnings[0])) if warnings else set()


def test_real_exports_cut_without_new_dangling_references(real_corpus: Path, tmp_path: Path) -> None:
    """Every real export that has a video clip cuts (deaf: its media is not here) and reads back with
    no id undefined that was defined in the export."""
    cut = 0
    for path in sorted(real_corpus.rglob("*.xml")):
        try:
            report = cut_stack(path, tmp_path / "edit.xml", CutOptions(hear=False))
        except XmemlError as exc:
            assert "no video clip" in str(exc) or "no <sequence>" in str(exc), f"{path.name}: {exc}"
            continue
        assert undefined_ids(tmp_path / "edit.xml") <= undefined_ids(path), path.name
        assert report.deaf
        cut += 1
    assert cut >= 15


def test_files_defined_elsewhere_are_defined_in_the_edit(tmp_path: Path, cache: HopCache) -> None:
    """A stack whose clips reference files defined only in a bin's master clip (after the sequence)."""
    from xmemlgen import bin_, clipitem, document, file_def, file_ref, master_clip, sequence, track

    definitions = [file_def(f"file-{i}", f"cam{i}.mov", pathurl=f"file://localhost/V/cam%20{i}.mov") for i in (1, 2)]
    stack = document(
        sequence(*(track(clipitem(0, 200, 10, file=file_ref(f"file-{i}"), id=f"c{i}")) for i in (1, 2)), duration=200),
        bin_(master_clip(*(track(clipitem(0, 10, 0, file=d)) for d in definitions))),
    )
    path = tmp_path / "stack.xml"
    path.write_text(stack)
    out = tmp_path / "edit.xml"
    cut_stack(path, out, CutOptions(cache=cache))
    check_defined_once(out)
    assert b"file://localhost/V/cam%201.mov" in out.read_bytes()  # the pathurl as written


def test_bundle_gives_the_decision_rate_and_its_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    stack = write_stack(tmp_path, seconds=20, speakers=2)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    rules = RuleSettings(delay_s=0.0, min_shot_s=1.0)
    (bundle / "bundle.json").write_text(json.dumps({"config": {"data": {"fps": 5}}, "rules": rules.to_json()}))
    code = main(["cut", str(stack.path), "-o", str(tmp_path / "e.xml"), "--rules", "--bundle", str(bundle)])
    printed = capsys.readouterr().out
    assert code == 0 and f"rules (the rules in {bundle})" in printed and "minimum shot 1 s" in printed
    (bundle / "bundle.json").write_text("{")
    assert main(["cut", str(stack.path), "-o", str(tmp_path / "e.xml"), "--rules", "--bundle", str(bundle)]) == 1
