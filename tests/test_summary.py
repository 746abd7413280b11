"""summarize() on hand-built timelines: every line checked against hand-counted values."""

from __future__ import annotations

from multitrack.timeline.model import (
    Asset,
    AssetKind,
    Clip,
    Crop,
    Keyframe,
    Motion,
    Param,
    Rate,
    Timeline,
    Track,
    Transition,
)
from multitrack.timeline.summary import summarize, timecode


def keyed(*keys) -> Param:
    return Param(keys[0][1], tuple(Keyframe(w, v) for w, v in keys))


def small_timeline() -> Timeline:
    zoom = Motion(scale=keyed((0, 100), (50, 120)), center_x=Param(0.25))
    wipe = Crop(top=keyed((0, 0), (4, 30), (8, 100)))
    v1 = Track(
        clips=[Clip("file-1", 0, 50, 0, 50, motion=zoom), Clip("file-2", 50, 100, 0, 50, enabled=False)],
        transitions=[Transition(45, 55)],
    )
    v2 = Track(clips=[Clip("gen", 10, 20, 0, 10, crop=wipe, speed=300.0)], enabled=False, name="overlay")
    a1 = Track(clips=[Clip("file-1", 0, 50, 0, 50)])
    return Timeline(
        name="Title\rtwo",
        rate=Rate(30, True),
        width_px=1920,
        height_px=1080,
        duration_frames=90,
        video_tracks=[v1, v2],
        audio_tracks=[a1],
        assets={
            "file-1": Asset("file-1", "a.mov", width_px=3840, height_px=2160),
            "file-2": Asset("file-2", "b.mov"),
            "gen": Asset("gen", "Color Matte", kind=AssetKind.GENERATOR),
        },
        warnings=["sequence has no frame size"],
    )


def test_timecode_counts_at_the_timebase():
    assert timecode(0, 25) == "00:00:00:00"
    assert timecode(103496, 25) == "01:08:59:21"  # 103496 = 4139 s × 25 + 21
    assert timecode(1799, 30) == "00:00:59:29"


def test_summary_lines():
    text = summarize(small_timeline())
    lines = text.splitlines()
    assert lines[0] == "timeline 'Title\\rtwo'"  # the carriage return cannot break the line
    assert "  rate         29.97 fps (timebase 30, NTSC yes)" in lines
    assert "  frame size   1920x1080" in lines
    # 90 frames at timebase 30 = 3 s; 90 / 29.97 = 3.003 s; the last clip ends at 100
    assert "  duration     90 frames = 00:00:03:00 (3.00 s); clips run on to frame 100" in lines
    assert "    V1: 2 clips (1 enabled, 1 disabled), 1 transition" in lines
    assert "    V2 'overlay' (track disabled): 1 clip (1 enabled, 0 disabled), 0 transitions" in lines
    assert "    A1: 1 clip (1 enabled, 0 disabled), 0 transitions" in lines
    assert "  assets       3: 2 files, 1 generator" in lines
    assert any(line.split() == ["file", "3840x2160", "a.mov", "[file-1]"] for line in lines)
    assert any(line.split() == ["file", "size", "unknown", "b.mov", "[file-2]"] for line in lines)
    assert "  effects      Basic Motion on 1 video clip, Crop on 1 video clip" in lines
    # scale (2 keys) and crop top (3 keys) are keyframed; the static center is not
    assert "  keyframes    2 keyframed parameters on 2 clips (5 keys)" in lines
    assert "  time remaps  1 clip (300 % ×1)" in lines
    assert lines[-2:] == ["  warnings     1", "    - sequence has no frame size"]


def test_summary_of_an_empty_timeline_says_none():
    text = summarize(Timeline("empty", Rate(25), 1280, 720, 0))
    assert "  keyframes    none" in text and "  time remaps  none" in text and "  warnings     none" in text
    assert "  assets       0" in text.splitlines()


def test_asset_list_is_cut_at_max_assets():
    assets = {f"file-{i}": Asset(f"file-{i}", f"clip{i}.mov") for i in range(5)}
    text = summarize(Timeline("many", Rate(25), 1920, 1080, 10, assets=assets), max_assets=2)
    assert "clip1.mov" in text and "clip2.mov" not in text
    assert "    … and 3 more" in text.splitlines()
