import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from multitrack.features.schema import (
    FEATURES,
    VALUE_FEATURES,
    media_size_or_sequence,
    to_features,
    to_premiere,
)
from multitrack.features.table import column_names


def test_feature_names_are_the_design_schema_in_order():
    assert FEATURES == (
        "active",
        "asset",
        "scale",
        "pos_x",
        "pos_y",
        "crop_left",
        "crop_right",
        "crop_top",
        "crop_bottom",
    )
    assert VALUE_FEATURES == FEATURES[2:]


def test_column_names_default_20_video_and_24_audio_tracks():
    columns = column_names()
    assert len(columns) == 2 + 20 * 9 + 24 * 6
    assert columns[:12] == [
        "timeline",
        "frame",
        "v01_active",
        "v01_asset",
        "v01_scale",
        "v01_pos_x",
        "v01_pos_y",
        "v01_crop_left",
        "v01_crop_right",
        "v01_crop_top",
        "v01_crop_bottom",
        "v02_active",
    ]
    assert columns[2 + 20 * 9 - 1] == "v20_crop_bottom"
    assert columns[2 + 20 * 9 :][:7] == [
        "a01_active",
        "a01_asset",
        "a01_gain_db",
        "a01_loudness_db",
        "a01_speech",
        "a01_heard",
        "a02_active",
    ]
    assert columns[-1] == "a24_heard"


def test_column_names_follow_max_tracks():
    assert column_names(1, 0)[-1] == "v01_crop_bottom"
    assert column_names(34, 0)[-9] == "v34_active"
    assert column_names(1, 3)[-6:] == [
        f"a03_{f}" for f in ("active", "asset", "gain_db", "loudness_db", "speech", "heard")
    ]
    with pytest.raises(ValueError, match="max_tracks must be at least 1"):
        column_names(0)
    with pytest.raises(ValueError, match="max_audio_tracks must be 0 or more"):
        column_names(1, -1)


def test_media_larger_than_sequence_converts_by_hand():
    # 4K media in a 1080p sequence: scale 50% shows it at 3840*0.5 = 1920 px = the full width.
    # center (0.1, -0.05) is (384, -108) px, i.e. 384/1920 = 0.2 and -108/1080 = -0.1 of the frame.
    premiere = [50.0, 0.1, -0.05, 10.0, 20.0, 30.0, 40.0]
    features = to_features(premiere, 3840, 2160, 1920, 1080)
    np.testing.assert_allclose(features, [1.0, 0.2, -0.1, 10.0, 20.0, 30.0, 40.0])


def test_vertical_media_in_landscape_sequence():
    # 1080x1920 phone clip in a 1920x1080 sequence at 100%: width 1080/1920 = 0.5625 of the frame;
    # center_h 0.0270833 * 1080 px = 29.25 px = 0.015234 of 1920; center_v 0.25 * 1920 = 480 px = 0.4444 of 1080.
    features = to_features([100.0, 0.0270833, 0.25, 0, 0, 0, 0], 1080, 1920, 1920, 1080)
    np.testing.assert_allclose(features[:3], [0.5625, 0.0270833 * 1080 / 1920, 480 / 1080])


def test_conversion_is_vectorised_over_clips():
    premiere = np.array([[100.0, 0.5, 0.5, 0, 0, 0, 0], [100.0, 0.5, 0.5, 0, 0, 0, 0]])  # (2, 7)
    media_w = np.array([1920, 960])
    media_h = np.array([1080, 540])
    features = to_features(premiere, media_w, media_h, 1920, 1080)
    np.testing.assert_allclose(features[:, :3], [[1.0, 0.5, 0.5], [0.5, 0.25, 0.25]])


def test_unknown_media_size_uses_sequence_size():
    assert media_size_or_sequence(None, None, 1920, 1080) == (1920, 1080, True)
    assert media_size_or_sequence(0, 0, 1280, 720) == (1280, 720, True)
    assert media_size_or_sequence(3840, 2160, 1920, 1080) == (3840, 2160, False)


sizes = st.integers(min_value=16, max_value=8192)
premiere_rows = st.tuples(
    st.floats(0, 1000),
    st.floats(-3, 3),
    st.floats(-3, 3),
    st.floats(0, 100),
    st.floats(0, 100),
    st.floats(0, 100),
    st.floats(0, 100),
)


@given(premiere_rows, sizes, sizes, sizes, sizes)
def test_conversion_round_trips(premiere, media_w, media_h, seq_w, seq_h):
    features = to_features(premiere, media_w, media_h, seq_w, seq_h)
    back = to_premiere(features, media_w, media_h, seq_w, seq_h)
    np.testing.assert_allclose(back, premiere, rtol=1e-12, atol=1e-12)
