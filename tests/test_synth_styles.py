"""Each style's editing habits, checked on the Timelines it cuts (Premiere units)."""

import dataclasses
from collections import defaultdict
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multitrack.synth import synth_timeline
from multitrack.synth.profiles import STYLES, draw_profiles
from multitrack.synth.styles import _pip_layout
from multitrack.timeline.model import Clip, Crop, Motion, Timeline
from test_synth_builder import make_draft

BASE = draw_profiles(1, seed=3)[0]


def cut(style, index=0, seconds=60.0, **habits) -> Timeline:
    profile = dataclasses.replace(BASE, **habits)
    return synth_timeline(index, 11, profile, seconds, seconds, style=style).timeline


def visible_runs(timeline: Timeline) -> tuple[list[tuple[int, str | None]], np.ndarray]:
    """(track, asset id) of each run of frames whose topmost enabled clip shows the same
    asset on the same track (DESIGN.md §3's shots), and the runs' lengths in seconds."""
    top = np.full(timeline.duration_frames, -1)
    asset = np.full(timeline.duration_frames, -1)
    asset_ids = list(timeline.assets)
    for t, track in enumerate(timeline.video_tracks):
        for clip in sorted(track.clips, key=lambda c: c.start_frame):  # incoming clip wins
            if clip.enabled and track.enabled:
                top[clip.start_frame : clip.end_frame] = t  # higher tracks paint later
                asset[clip.start_frame : clip.end_frame] = asset_ids.index(clip.asset_id)
    starts = np.r_[0, np.flatnonzero((np.diff(top) != 0) | (np.diff(asset) != 0)) + 1]
    runs = [(int(top[i]), asset_ids[asset[i]] if asset[i] >= 0 else None) for i in starts]
    return runs, np.diff(np.r_[starts, len(top)]) / timeline.rate.fps


def visible_shots(timeline: Timeline) -> list[tuple[int, str]]:
    return visible_runs(timeline)[0]


def shot_lengths_seconds(timeline: Timeline) -> np.ndarray:
    return visible_runs(timeline)[1]


def sync_offsets(timeline: Timeline) -> dict[str, set[int]]:
    """Asset id -> every (source − timeline) offset its clips use."""
    offsets = defaultdict(set)
    for track in timeline.video_tracks + timeline.audio_tracks:
        for clip in track.clips:
            offsets[clip.asset_id].add(clip.in_frame - clip.start_frame)
    return offsets


def box_px(clip: Clip, timeline: Timeline, source_frame: float) -> tuple[float, float, float, float]:
    """The clip's visible rectangle (left, top, right, bottom) in sequence pixels."""
    media = timeline.assets[clip.asset_id]
    motion, crop = clip.motion or Motion(), clip.crop or Crop()
    scale = motion.scale.at(source_frame) / 100.0
    # center is normalised by the media's own size (../shared/docs/xmeml.md §6)
    cx = timeline.width_px / 2 + motion.center_x.at(source_frame) * media.width_px
    cy = timeline.height_px / 2 + motion.center_y.at(source_frame) * media.height_px
    w, h = media.width_px * scale, media.height_px * scale
    left, right, top, bottom = (p.at(source_frame) / 100.0 for p in (crop.left, crop.right, crop.top, crop.bottom))
    return (cx - w / 2 + left * w, cy - h / 2 + top * h, cx + w / 2 - right * w, cy + h / 2 - bottom * h)


def covers_frame(clip: Clip, timeline: Timeline, source_frame: float) -> bool:
    left, top, right, bottom = box_px(clip, timeline, source_frame)
    width, height = timeline.width_px, timeline.height_px
    return left <= 0.5 and top <= 0.5 and right >= width - 0.5 and bottom >= height - 0.5


def test_pip_hand_computed_bottom_right():
    # A 1920x1080 webcam in a 1920x1080 sequence at 30% width, 2% margin, no crop:
    # box 576x324 px; its centre 960-38.4-288 = 633.6 -> 634 px right, 540-38.4-162 = 339.6
    # -> 340 px down of the frame centre; center is normalised by the media size.
    draft = make_draft(
        pip_corner="bottom_right", pip_width=0.3, pip_margin=0.02, pip_crop_h_pct=0.0, pip_crop_v_pct=0.0
    )
    webcam = draft.add_camera("webcam.mp4", (1920, 1080), 0)
    layout = _pip_layout(draft, webcam)
    assert layout["crop"] is None
    motion = layout["motion"]
    assert motion.scale.value == pytest.approx(30.0)
    assert (motion.center_x.value, motion.center_y.value) == (634 / 1920, 340 / 1080)


@pytest.mark.parametrize("corner", ["top_left", "top_right", "bottom_left", "bottom_right"])
def test_pip_box_sits_in_the_editors_corner(corner):
    timeline = cut(
        "pip",
        seconds=40.0,
        pip_corner=corner,
        pip_width=0.3,
        pip_margin=0.03,
        pip_crop_h_pct=10.0,
        pip_crop_v_pct=5.0,
        fullscreen_rate=0.3,
        disabled_rate=0.0,
    )
    margin = 0.03 * timeline.width_px
    boxes = {tuple(round(v) for v in box_px(c, timeline, c.in_frame)) for c in timeline.video_tracks[1].clips}
    full = (0, 0, timeline.width_px, timeline.height_px)
    corner_boxes = boxes - {full}
    assert len(corner_boxes) == 1
    left, top, right, bottom = corner_boxes.pop()
    assert right - left == pytest.approx(0.3 * timeline.width_px, abs=1)
    assert (left if "left" in corner else timeline.width_px - right) == pytest.approx(margin, abs=1)
    assert (top if "top" in corner else timeline.height_px - bottom) == pytest.approx(margin, abs=1)
    in_corner = [c for c in timeline.video_tracks[1].clips if box_px(c, timeline, c.in_frame) != full]
    assert {(c.crop.left.value, c.crop.right.value, c.crop.top.value, c.crop.bottom.value) for c in in_corner} == {
        (10.0, 10.0, 5.0, 5.0)
    }


def test_pip_webcam_goes_full_screen_now_and_then_and_stays_in_sync():
    timeline = cut("pip", seconds=120.0, fullscreen_rate=0.9, disabled_rate=0.0)
    full = (0, 0, timeline.width_px, timeline.height_px)
    webcam = timeline.video_tracks[1].clips
    kinds = [tuple(round(v) for v in box_px(c, timeline, c.in_frame)) == full for c in webcam]
    assert any(kinds) and not all(kinds)
    assert all(len(v) == 1 for v in sync_offsets(timeline).values())
    assert all(covers_frame(c, timeline, c.in_frame) for c in timeline.video_tracks[0].clips)


@pytest.mark.parametrize("boxes", [False, True])
def test_split_screen_puts_the_speakers_side_by_side(boxes):
    timeline = cut("split_screen", seconds=90.0, split_boxes=boxes, split_share=0.9, disabled_rate=0.0)
    v1, v2 = timeline.video_tracks[:2]
    w = timeline.width_px
    pairs = [(a, b) for a in v1.clips for b in v2.clips if (a.start_frame, a.end_frame) == (b.start_frame, b.end_frame)]
    assert pairs
    for a, b in pairs:
        left, right = box_px(a, timeline, a.in_frame), box_px(b, timeline, b.in_frame)
        assert (left[0] + left[2]) / 2 == pytest.approx(w / 4, abs=1)
        assert (right[0] + right[2]) / 2 == pytest.approx(3 * w / 4, abs=1)
        expected_width = 0.48 * w if boxes else w / 2
        assert left[2] - left[0] == pytest.approx(expected_width, abs=1)
    singles = [c for c in v1.clips + v2.clips if covers_frame(c, timeline, c.in_frame)]
    assert singles  # single shots alternate with the split


def test_broll_stills_get_ken_burns_moves_that_keep_the_frame_covered():
    timeline = cut(
        "broll", seconds=120.0, still_share=1.0, ken_burns=1.2, broll_gap_seconds=4.0, transition_rate=0.0
    )  # a dissolve lengthens a clip past its last key
    stills = [c for c in timeline.video_tracks[1].clips if c.motion and c.motion.scale.is_keyframed]
    assert len(stills) >= 3
    for clip in stills:
        first, last = clip.motion.scale.keyframes
        assert (first.when, last.when) == (clip.in_frame, clip.out_frame - 1)
        assert max(first.value, last.value) / min(first.value, last.value) == pytest.approx(1.2, abs=1e-3)
        assert covers_frame(clip, timeline, first.when) and covers_frame(clip, timeline, last.when)
        assert timeline.assets[clip.asset_id].duration_frames == round(12 * 3600 * timeline.rate.fps)


@pytest.mark.parametrize("index", range(3))
def test_talking_head_jump_cuts_skip_the_source_forward_and_zoom_alternately(index):
    timeline = cut("broll", index, seconds=60.0, jump_zoom=True, punch_in=1.2, transition_rate=0.0)
    talking = sorted(timeline.video_tracks[0].clips, key=lambda c: c.start_frame)
    assert len(talking) > 3
    offsets = defaultdict(list)  # per camera: source − timeline grows at every cut
    for clip in talking:
        offsets[clip.asset_id].append(clip.in_frame - clip.start_frame)
    assert all(np.all(np.diff(values) > 0) for values in offsets.values())
    widths = [box_px(c, timeline, c.in_frame) for c in talking]
    relative = [round((right - left) / timeline.width_px, 4) for left, _, right, _ in widths]
    assert relative[0::2] == [1.0] * len(relative[0::2]) and set(relative[1::2]) == {1.2}


def test_vertical_reframes_16_9_footage_with_keyed_position():
    timeline = cut("vertical", seconds=40.0, follow_seconds=1.0)
    assert (timeline.width_px, timeline.height_px) == (1080, 1920)
    for clip in timeline.video_tracks[0].clips:
        assert clip.motion.center_x.is_keyframed
        media = timeline.assets[clip.asset_id]
        assert media.width_px / media.height_px == pytest.approx(16 / 9)
        for key in clip.motion.center_x.keyframes:
            assert covers_frame(clip, timeline, key.when)  # never past the media's edges


def test_disabled_clips_and_tracks_are_left_behind():
    timelines = [cut(STYLES[i % 5], i, seconds=20.0, disabled_rate=1.0) for i in range(20)]
    disabled_clips = sum(not c.enabled for t in timelines for tr in t.video_tracks for c in tr.clips)
    disabled_tracks = sum(not tr.enabled for t in timelines for tr in t.video_tracks)
    assert disabled_clips > 0 and disabled_tracks > 0
    assert all(
        any(not c.enabled for tr in t.video_tracks for c in tr.clips) or any(not tr.enabled for tr in t.video_tracks)
        for t in timelines
    )


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, 10_000), style=st.sampled_from(STYLES), seconds=st.floats(1.0, 40.0))
def test_every_clip_is_well_formed(index, style, seconds):
    timeline = cut(style, index, seconds=seconds, transition_rate=0.5)
    assert all(c.end_frame <= timeline.duration_frames for t in timeline.video_tracks for c in t.clips)
    for track in timeline.video_tracks + timeline.audio_tracks:
        clips = sorted(track.clips, key=lambda c: c.start_frame)
        for clip in clips:
            media = timeline.assets[clip.asset_id]
            assert 0 <= clip.in_frame < clip.out_frame <= media.duration_frames
            assert clip.out_frame - clip.in_frame == clip.end_frame - clip.start_frame
            for effect in (clip.motion, clip.crop):
                for field in dataclasses.fields(effect) if effect else ():
                    whens = [k.when for k in getattr(effect, field.name).keyframes]
                    assert whens == sorted(whens)
                    assert all(clip.in_frame <= w <= clip.out_frame - 1 for w in whens)
        spans = {(t.start_frame, t.end_frame) for t in track.transitions}
        for before, after in pairwise(clips):
            overlap = (after.start_frame, before.end_frame)
            assert before.end_frame <= after.start_frame or overlap in spans
