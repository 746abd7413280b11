import dataclasses
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multitrack.synth.builder import (
    DraftTimeline,
    add_dissolves,
    add_fades,
    centre_value,
    crop_for,
    fill_scale_pct,
    fit_scale_pct,
    motion_for,
    partition,
    sync_clip,
    timecode_string,
)
from multitrack.synth.profiles import draw_profiles
from multitrack.timeline.model import Asset, Clip, Motion, Param, Rate, Track

UHD_MEDIA = Asset("file-1", "cam.mp4", width_px=3840, height_px=2160, duration_frames=10_000)


def make_draft(duration_frames=1000, seed=0, **habits) -> DraftTimeline:
    profile = dataclasses.replace(draw_profiles(1, seed=0)[0], **habits)
    return DraftTimeline(
        name="t",
        project="p",
        rate=Rate(25),
        width_px=1920,
        height_px=1080,
        duration_frames=duration_frames,
        profile=profile,
        rng=np.random.Generator(np.random.PCG64(seed)),
    )


@pytest.mark.parametrize(
    ("media", "seq", "fill", "fit"),
    [
        ((3840, 2160), (1920, 1080), 50.0, 50.0),  # UHD camera in an HD sequence
        ((1280, 720), (1920, 1080), 150.0, 150.0),  # 720p screen recording blown up
        ((1920, 1080), (1080, 1920), 1920 / 1080 * 100, 1080 / 1920 * 100),  # 16:9 into 9:16
        ((3024, 4032), (1920, 1080), 1920 / 3024 * 100, 1080 / 4032 * 100),  # portrait still
    ],
)
def test_fill_and_fit_scales(media, seq, fill, fit):
    assert fill_scale_pct(media, seq) == pytest.approx(fill)
    assert fit_scale_pct(media, seq) == pytest.approx(fit)


def test_centre_is_whole_pixels_over_the_media_size():
    assert centre_value(480.4, 3840) == 480 / 3840  # 0.125
    assert centre_value(-52.0, 1920) == pytest.approx(-0.0270833, abs=1e-7)


def test_motion_for_media_units_and_default_left_out():
    assert motion_for(UHD_MEDIA, 100.0) is None
    motion = motion_for(UHD_MEDIA, 50.0, dx_px=480, dy_px=-270)
    assert motion == Motion(Param(50.0), Param(0.125), Param(-0.125))
    assert crop_for() is None and crop_for(left=10).left == Param(10.0)


def test_timecode_string_non_drop():
    assert timecode_string(3600 * 25 + 1, 25) == "01:00:00:01"
    assert timecode_string(59 * 30 + 29, 30) == "00:00:59:29"


def test_sync_clip_source_is_timeline_plus_offset():
    clip = sync_clip(UHD_MEDIA, 100, 150, 37)
    assert (clip.in_frame, clip.out_frame) == (137, 187)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 1000), start=st.integers(0, 500), length=st.integers(1, 3000), mean_seconds=st.floats(0.5, 10.0)
)
def test_partition_tiles_the_range(seed, start, length, mean_seconds):
    draft = make_draft(seed=seed)
    shots = partition(draft, mean_seconds, start, start + length)
    assert shots[0][0] == start and shots[-1][1] == start + length
    assert all(a[1] == b[0] for a, b in pairwise(shots))
    if len(shots) > 1:
        assert min(end - begin for begin, end in shots) >= draft.frames(0.5)


def test_partition_follows_the_mean():
    draft = make_draft(duration_frames=25 * 3000)
    lengths = [end - start for start, end in partition(draft, 4.0)]
    assert np.mean(lengths) / 25 == pytest.approx(4.0, rel=0.05)


def test_dissolve_is_centred_on_the_cut_and_keeps_sync():
    draft = make_draft(transition_rate=1.0)
    draft.assets[UHD_MEDIA.id] = UHD_MEDIA
    track = Track(clips=[sync_clip(UHD_MEDIA, 0, 100, 50), sync_clip(UHD_MEDIA, 100, 200, 80)])
    add_dissolves(draft, track)
    [transition] = track.transitions
    half = 100 - transition.start_frame
    assert transition.end_frame - 100 == half and half >= 1 and transition.alignment == "center"
    before, after = track.clips
    assert (before.end_frame, after.start_frame) == (100 + half, 100 - half)
    assert before.in_frame - before.start_frame == 50 and after.in_frame - after.start_frame == 80


def test_no_dissolve_without_source_handles():
    draft = make_draft(transition_rate=1.0)
    draft.assets[UHD_MEDIA.id] = UHD_MEDIA
    head = Clip("file-1", 100, 200, 0, 100)  # nothing before source frame 0
    track = Track(clips=[sync_clip(UHD_MEDIA, 0, 100, 50), head])
    add_dissolves(draft, track)
    assert track.transitions == [] and track.clips[1] == head


def test_no_dissolve_past_the_end_of_the_media():
    draft = make_draft(transition_rate=1.0)
    short = dataclasses.replace(UHD_MEDIA, duration_frames=150)  # the first clip ends at its last frame
    draft.assets[short.id] = short
    track = Track(clips=[sync_clip(short, 0, 100, 50), sync_clip(short, 100, 200, -50)])
    add_dissolves(draft, track)
    assert track.transitions == []


def test_fades_from_and_to_black_at_the_sequence_edges():
    draft = make_draft(duration_frames=300, transition_rate=1.0)
    track = Track(clips=[sync_clip(UHD_MEDIA, 0, 150, 0), sync_clip(UHD_MEDIA, 150, 300, 0)])
    add_fades(draft, track)
    fade_in, fade_out = track.transitions
    assert (fade_in.start_frame, fade_in.alignment) == (0, "start-black")
    assert (fade_out.end_frame, fade_out.alignment) == (300, "end-black")


def test_draft_leaves_unused_media_out():
    draft = make_draft()
    used = draft.add_camera("a.mp4", (1920, 1080), 0)
    draft.add_camera("never_cut_to.mp4", (1920, 1080), 0)
    draft.video_track(1).clips.append(sync_clip(used, 0, 10, 0))
    timeline = draft.finish()
    assert list(timeline.assets) == [used.id]
    assert [t.name for t in timeline.video_tracks] == ["V1", "V2"]
