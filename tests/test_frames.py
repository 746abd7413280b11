import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multitrack.errors import XmemlError
from multitrack.features.frames import timeline_frames
from multitrack.features.painting import interpolate_param, number_assets
from multitrack.features.schema import VALUE_FEATURES
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
)
from multitrack.timeline.xmeml import read_xmeml, write_xmeml
from strategies import timelines

SCALE, POS_X, POS_Y, CROP_LEFT, CROP_RIGHT, CROP_TOP, CROP_BOTTOM = range(7)

ASSETS = {
    "uhd": Asset("uhd", "uhd.mov", pathurl="file://localhost/uhd.mov", width_px=3840, height_px=2160),
    "hd": Asset("hd", "hd.mov", width_px=1920, height_px=1080),
    "phone": Asset("phone", "phone.mp4", width_px=1080, height_px=1920),
    "nosize": Asset("nosize", "nosize.mov"),
    "matte": Asset("matte", "Color Matte", kind=AssetKind.GENERATOR),
}


def make_timeline(*tracks: Track, duration: int = 10, width: int = 1920, height: int = 1080) -> Timeline:
    return Timeline("seq", Rate(25), width, height, duration, video_tracks=list(tracks), assets=dict(ASSETS))


def clip(asset: str, start: int, end: int, in_frame: int = 0, **kwargs) -> Clip:
    return Clip(asset, start, end, in_frame, in_frame + end - start, **kwargs)


def keyed(*keys: tuple[float, float]) -> Param:
    return Param(keys[0][1], tuple(Keyframe(when, value) for when, value in keys))


def test_static_motion_on_4k_media_in_hd_sequence():
    # uhd clip on V1, frames 2..5, scale 25%, center (0.1, 0.2), crop left 10 / top 5.
    motion = Motion(scale=Param(25.0), center_x=Param(0.1), center_y=Param(0.2))
    crop = Crop(left=Param(10.0), top=Param(5.0))
    frames = timeline_frames(make_timeline(Track([clip("uhd", 2, 6, motion=motion, crop=crop)])), max_tracks=2)
    # scale 25 * 3840 / 1920 / 100 = 0.5; pos_x 0.1 * 3840 / 1920 = 0.2; pos_y 0.2 * 2160 / 1080 = 0.4
    np.testing.assert_allclose(frames.values[3, 0], [0.5, 0.2, 0.4, 10.0, 0.0, 5.0, 0.0], rtol=1e-6)
    assert frames.active[:, 0].tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    assert frames.asset[:, 0].tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]


def test_no_filter_means_defaults_in_table_units():
    # No Basic Motion: scale 100%; a 1080-wide phone clip spans 1080/1920 = 0.5625 of the frame.
    frames = timeline_frames(make_timeline(Track([clip("phone", 0, 3)]), duration=3), max_tracks=1)
    np.testing.assert_allclose(frames.values[:, 0], [[0.5625, 0, 0, 0, 0, 0, 0]] * 3)


def test_keyframes_on_the_source_axis_with_held_ends():
    # Clip at timeline 10..19 showing source 50..59. Scale keys at source 53 (100%) and 57 (200%).
    # Timeline frame t shows source 50 + (t - 10); hd media: table scale = scale% / 100.
    motion = Motion(scale=keyed((53, 100.0), (57, 200.0)))
    frames = timeline_frames(make_timeline(Track([clip("hd", 10, 20, in_frame=50, motion=motion)]), duration=20))
    scale = frames.values[:, 0, SCALE]
    assert scale[10] == pytest.approx(1.0)  # source 50: before the first key, held
    assert scale[13] == pytest.approx(1.0)  # source 53: on the first key
    assert scale[14] == pytest.approx(1.25)  # source 54: 100 + 1/4 * 100 = 125%
    assert scale[16] == pytest.approx(1.75)  # source 56: 175%
    assert scale[17] == pytest.approx(2.0)  # source 57: last key
    assert scale[19] == pytest.approx(2.0)  # source 59: after the last key, held
    assert scale[:10].tolist() == [0.0] * 10  # inactive frames are zero


def test_keyframes_follow_clip_speed():
    # Speed 200%: timeline frame t shows source in + 2 * (t - start) (Clip.source_frame).
    # Crop top keys 0 at source 0 and 100 at source 10; frame 3 shows source 6 -> 60%.
    crop = Crop(top=keyed((0, 0.0), (10, 100.0)))
    timeline = make_timeline(Track([Clip("hd", 0, 5, 0, 10, crop=crop, speed=200.0)]), duration=5)
    frames = timeline_frames(timeline, max_tracks=1)
    np.testing.assert_allclose(frames.values[:, 0, CROP_TOP], [0, 20, 40, 60, 80])


def test_keyed_center_converts_with_media_size():
    # phone (1080x1920) in 1920x1080: pos_x = h * 1080 / 1920, pos_y = v * 1920 / 1080.
    # center_h keys -0.5 at source 0 and 0.5 at source 4; frame 1 -> h = -0.25 -> -0.140625.
    motion = Motion(center_x=keyed((0, -0.5), (4, 0.5)), center_y=Param(0.1))
    frames = timeline_frames(make_timeline(Track([clip("phone", 0, 5, motion=motion)]), duration=5), max_tracks=1)
    assert frames.values[1, 0, POS_X] == pytest.approx(-0.25 * 1080 / 1920)
    assert frames.values[1, 0, POS_Y] == pytest.approx(0.1 * 1920 / 1080)


def test_disabled_clip_and_disabled_track_count_as_no_clip():
    disabled_track = Track([clip("hd", 0, 10)], enabled=False)
    # On V1 an enabled clip lies under a disabled clip that starts later: the enabled one shows.
    v1 = Track([clip("uhd", 0, 10), clip("hd", 4, 8, enabled=False)])
    frames = timeline_frames(make_timeline(v1, disabled_track), max_tracks=3)
    assert frames.active[:, 0].tolist() == [1] * 10
    assert frames.asset[:, 0].tolist() == [1] * 10
    assert not frames.active[:, 1].any() and not frames.asset[:, 1].any()
    assert not frames.values[:, 1].any()
    assert [entry.id for entry in frames.assets] == ["uhd"]


def test_overlap_in_a_transition_carries_the_incoming_clip():
    # Outgoing uhd 0..6, incoming hd 4..10 (a transition over 4..5); listed incoming-first.
    v1 = Track([clip("hd", 4, 10, motion=Motion(scale=Param(50.0))), clip("uhd", 0, 6)])
    frames = timeline_frames(make_timeline(v1), max_tracks=1)
    assert frames.asset[:, 0].tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 2, 2]
    assert frames.values[4, 0, SCALE] == pytest.approx(0.5)  # hd at 50%
    assert frames.values[3, 0, SCALE] == pytest.approx(2.0)  # uhd at 100% = 3840/1920


def test_asset_numbering_by_first_active_frame_ties_to_lower_track():
    # Frame 0: V2 shows phone; frame 2: V1 shows uhd and V3 shows hd (tie -> V1 first);
    # uhd reused on V3 keeps its number; nosize is never visible (covered) so gets none.
    v1 = Track([clip("uhd", 2, 5)])
    v2 = Track([clip("phone", 0, 3), clip("nosize", 5, 6), clip("hd", 5, 7)])
    v3 = Track([clip("hd", 2, 4), clip("uhd", 6, 8)])
    frames = timeline_frames(make_timeline(v1, v2, v3), max_tracks=3)
    assert [entry.id for entry in frames.assets] == ["phone", "uhd", "hd"]
    assert [entry.number for entry in frames.assets] == [1, 2, 3]
    assert frames.asset[2].tolist() == [2, 1, 3]
    assert frames.asset[6].tolist() == [0, 3, 2]
    assert frames.media_size_unknown == 0


def test_number_assets_on_raw_codes():
    # (K=2 tracks, N=3 frames). Frame 0: code 7 on V2 -> 1. Frame 1: codes 3 (V1) and 4 (V2)
    # appear together -> the lower track first: 3 -> 2, 4 -> 3. Frame 2: code 5 -> 4.
    codes = np.array([[-1, 3, 5], [7, 4, -1]], dtype=np.int32)
    numbers, order = number_assets(codes)
    assert order == [7, 3, 4, 5]
    assert numbers.tolist() == [[0, 2, 4], [1, 3, 0]]


def test_frame_count_is_duration_or_last_clip_end_on_a_kept_track():
    long_clip_on_v1 = make_timeline(Track([clip("hd", 0, 15)]), duration=10)
    assert timeline_frames(long_clip_on_v1, max_tracks=1).frame_count == 15
    short_clips = make_timeline(Track([clip("hd", 0, 4)]), duration=10)
    assert timeline_frames(short_clips, max_tracks=1).frame_count == 10
    # A clip ending at 30 on V2 does not count when only V1 is kept.
    dropped_long = make_timeline(Track([clip("hd", 0, 4)]), Track([clip("uhd", 0, 30)]), duration=10)
    frames = timeline_frames(dropped_long, max_tracks=1)
    assert frames.frame_count == 10
    assert (frames.tracks_kept, frames.tracks_dropped) == (1, 1)
    assert frames.warnings == ["1 video track(s) above V1 dropped (--max-tracks 1), holding 1 clip(s)"]


def test_arrays_have_max_tracks_columns_and_types():
    frames = timeline_frames(make_timeline(Track([clip("hd", 0, 3)])), max_tracks=4)
    assert frames.active.shape == (10, 4) and frames.active.dtype == np.int8
    assert frames.asset.shape == (10, 4) and frames.asset.dtype == np.int32
    assert frames.values.shape == (10, 4, len(VALUE_FEATURES)) and frames.values.dtype == np.float32
    assert (frames.tracks_kept, frames.tracks_dropped) == (1, 0)
    assert frames.track_values.shape == (1, 7, 10)  # stored for the kept track only
    with pytest.raises(ValueError, match="max_tracks must be at least 1"):
        timeline_frames(make_timeline(Track([clip("hd", 0, 3)])), max_tracks=0)


def test_unknown_media_size_uses_sequence_size_and_is_counted():
    # nosize at 50% in 1280x720: the sequence size stands in -> scale 0.5. A generator is
    # sequence-sized by nature and is not counted.
    timeline = make_timeline(
        Track([clip("nosize", 0, 5, motion=Motion(scale=Param(50.0)))]),
        Track([clip("matte", 0, 5)]),
        width=1280,
        height=720,
    )
    frames = timeline_frames(timeline, max_tracks=2)
    assert frames.values[0, 0, SCALE] == pytest.approx(0.5)
    assert frames.values[0, 1, SCALE] == pytest.approx(1.0)
    assert frames.media_size_unknown == 1
    assert frames.assets[0].to_json()["width"] is None


def test_clip_starting_before_zero_is_clipped_to_the_sequence():
    frames = timeline_frames(make_timeline(Track([Clip("hd", -3, 2, 0, 5)]), duration=4), max_tracks=1)
    assert frames.active[:, 0].tolist() == [1, 1, 0, 0]


def test_max_frames_refuses_long_timelines():
    timeline = make_timeline(Track([clip("hd", 0, 100)]), duration=100)
    with pytest.raises(XmemlError, match=r"long\.xml: sequence 'seq': 100 frames .* limit of 99 frames"):
        timeline_frames(timeline, max_frames=99, source="long.xml")
    assert timeline_frames(timeline, max_frames=100).frame_count == 100


def test_default_limit_is_24_hours_at_the_timeline_rate():
    day_at_25 = 24 * 3600 * 25
    timeline = make_timeline(Track([clip("hd", day_at_25, day_at_25 + 1)]))
    with pytest.raises(XmemlError, match=f"limit of {day_at_25} frames"):
        timeline_frames(timeline, max_tracks=1)


def test_duplicate_whens_match_param_at():
    param = Param(0.0, (Keyframe(0, 0.0), Keyframe(5, 10.0), Keyframe(5, 20.0), Keyframe(10, 30.0)))
    source = np.array([-1.0, 0.0, 2.5, 5.0, 7.5, 10.0, 12.0])
    np.testing.assert_allclose(interpolate_param(param, source), [param.at(s) for s in source])


keyframe_lists = st.lists(
    st.tuples(st.integers(-50, 50), st.floats(-1000, 1000, allow_nan=False)),
    min_size=1,
    max_size=6,
    unique_by=lambda key: key[0],
).map(lambda keys: sorted(keys))


@given(keyframe_lists, st.lists(st.floats(-80, 80, allow_nan=False), min_size=1, max_size=20))
def test_interpolated_values_stay_between_neighbouring_keys(keys, sources):
    param = Param(0.0, tuple(Keyframe(when, value) for when, value in keys))
    values = interpolate_param(param, np.array(sources))
    whens = [when for when, _ in keys]
    key_values = [value for _, value in keys]
    for source, value in zip(sources, values, strict=True):
        after = sum(1 for when in whens if when <= source)
        lower = key_values[max(after - 1, 0)]
        upper = key_values[min(after, len(keys) - 1)]
        assert min(lower, upper) - 1e-9 <= value <= max(lower, upper) + 1e-9
        assert value == pytest.approx(param.at(source), abs=1e-9)


@given(st.integers(1, 4), st.lists(st.tuples(st.integers(0, 3), st.integers(-5, 40), st.integers(1, 15)), max_size=12))
def test_table_never_holds_nan_and_inactive_cells_are_zero(max_tracks, placements):
    tracks = [Track() for _ in range(4)]
    for track_index, start, length in placements:
        tracks[track_index].clips.append(Clip("nosize", start, start + length, 0, length))
    frames = timeline_frames(make_timeline(*tracks, duration=20), max_tracks=max_tracks)
    assert np.isfinite(frames.values).all()
    inactive = frames.active == 0
    assert not frames.asset[inactive].any() and not frames.values[inactive].any()
    assert ((frames.asset > 0) == (frames.active == 1)).all()


@settings(max_examples=40, deadline=None)
@given(timelines())
def test_features_equal_after_write_and_read(timeline):
    # The frame table must not depend on whether a timeline came from memory or from its file:
    # reader and writer would otherwise hide a shared bug in units or keyframe axes.
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "t.xml"
        write_xmeml(timeline, path)
        (read_back,) = read_xmeml(path)
    direct = timeline_frames(timeline, max_tracks=4)
    from_file = timeline_frames(read_back, max_tracks=4)
    assert from_file.frame_count == direct.frame_count
    np.testing.assert_array_equal(from_file.active, direct.active)
    np.testing.assert_array_equal(from_file.asset, direct.asset)
    np.testing.assert_allclose(from_file.values, direct.values, rtol=1e-6, atol=1e-6)
    assert from_file.assets == direct.assets
    assert from_file.media_size_unknown == direct.media_size_unknown


def test_first_codes_orders_as_number_assets_does():
    """The audio tracks' numbering walks runs, not cells: the same order as number_assets."""
    from multitrack.features.painting import NO_ASSET, first_codes, number_assets

    rng = np.random.default_rng(7)
    for _ in range(200):
        tracks, frames = int(rng.integers(0, 5)), int(rng.integers(0, 40))
        codes = np.full((tracks, frames), NO_ASSET, np.int32)
        for track in range(tracks):
            first = 0
            while first < frames:
                length = int(rng.integers(1, 8))
                codes[track, first : first + length] = rng.integers(0, 6) if rng.random() < 0.8 else NO_ASSET
                first += length
        assert first_codes(codes) == number_assets(codes)[1]
