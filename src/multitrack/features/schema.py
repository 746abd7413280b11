"""The frame table's feature names and the Premiere <-> frame-table unit conversions.

Audio (docs/xmeml-audio.md): a clip's gain in the frame table is in dB, from Premiere's linear
Audio Levels `level` and its Gain filter's dB (`gain_db`), floored at SILENCE_DB.

DESIGN.md §2 fixes the 9 features per video track and their units. The timeline
model keeps Premiere's own values (../shared/docs/xmeml.md §6): scale in percent of the
media's native pixel size, center normalised by the *media's* pixel size, crop in
percent of the source frame. The frame table holds geometry relative to the
*sequence* frame instead, so that the same on-screen layout gives the same numbers
whatever the media resolution:

    scale = scale% × media_w / seq_w / 100      (1.0 = the clip spans the frame width)
    pos_x = center_h × media_w / seq_w          (fraction of the sequence width)
    pos_y = center_v × media_h / seq_h          (fraction of the sequence height)
    crop_* = crop %                             (unchanged)

Each value is one multiplication by a positive factor, so the conversion is exact
up to float rounding and invertible: `to_premiere(to_features(p)) == p`. Where
the media size is unknown the sequence size stands in (all factors become 1/100
or 1), which `generate` must mirror when it writes values back.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

FEATURES: tuple[str, ...] = (
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
VALUE_FEATURES: tuple[str, ...] = FEATURES[2:]

# Premiere's parameters in the same order as VALUE_FEATURES (the last axis of both arrays).
PREMIERE_PARAMS: tuple[str, ...] = (
    "scale_pct",
    "center_h",
    "center_v",
    "crop_left_pct",
    "crop_right_pct",
    "crop_top_pct",
    "crop_bottom_pct",
)

DEFAULT_MAX_TRACKS = 20  # video tracks a frame table keeps (DESIGN.md §2); its columns: features/table/columns.py

# Per audio track A1..A<max audio tracks> (issue 13), after every video column.
AUDIO_FEATURES: tuple[str, ...] = ("active", "asset", "gain_db", "loudness_db", "speech", "heard")
DEFAULT_MAX_AUDIO_TRACKS = 24  # audio tracks a frame table keeps (an exploded stereo pair is two)
SILENCE_DB = -90.0  # the floor of every level in dB: silence, and frames nothing is heard on


def gain_db(level: ArrayLike, gain_filter_db: ArrayLike = 0.0) -> np.ndarray:
    """A clip's gain in dB: 20·log10(Audio Levels' linear `level`) + the Gain filter's dB,
    floored at SILENCE_DB (a level of 0, Premiere's fully faded, is SILENCE_DB); float64."""
    level = np.asarray(level, dtype=np.float64)
    with np.errstate(divide="ignore"):
        level_db = 20.0 * np.log10(np.maximum(level, 0.0))
    return np.maximum(level_db + np.asarray(gain_filter_db, dtype=np.float64), SILENCE_DB)


def media_size_or_sequence(
    media_width_px: int | None,
    media_height_px: int | None,
    sequence_width_px: int,
    sequence_height_px: int,
) -> tuple[int, int, bool]:
    """(width, height, unknown): the media size, or the sequence size where it is unknown."""
    if media_width_px and media_height_px and media_width_px > 0 and media_height_px > 0:
        return int(media_width_px), int(media_height_px), False
    return int(sequence_width_px), int(sequence_height_px), True


def conversion_factors(
    media_width_px: ArrayLike,
    media_height_px: ArrayLike,
    sequence_width_px: ArrayLike,
    sequence_height_px: ArrayLike,
) -> np.ndarray:
    """Per-value factors with `features = premiere × factors`; shape (..., 7), float64.

    Sizes may be scalars or arrays that broadcast together; the factor axis is last.
    """
    media_w = np.asarray(media_width_px, dtype=np.float64)
    media_h = np.asarray(media_height_px, dtype=np.float64)
    seq_w = np.asarray(sequence_width_px, dtype=np.float64)
    seq_h = np.asarray(sequence_height_px, dtype=np.float64)
    width_ratio = media_w / seq_w
    height_ratio = media_h / seq_h
    width_ratio, height_ratio = np.broadcast_arrays(width_ratio, height_ratio)
    ones = np.ones_like(width_ratio)
    # (..., 7) in VALUE_FEATURES order: scale, pos_x, pos_y, four crops.
    return np.stack([width_ratio / 100.0, width_ratio, height_ratio, ones, ones, ones, ones], axis=-1)


def to_features(
    premiere_values: ArrayLike,
    media_width_px: ArrayLike,
    media_height_px: ArrayLike,
    sequence_width_px: ArrayLike,
    sequence_height_px: ArrayLike,
) -> np.ndarray:
    """Premiere values (..., 7) in PREMIERE_PARAMS order -> frame-table values (..., 7)."""
    factors = conversion_factors(media_width_px, media_height_px, sequence_width_px, sequence_height_px)
    return np.asarray(premiere_values, dtype=np.float64) * factors


def to_premiere(
    feature_values: ArrayLike,
    media_width_px: ArrayLike,
    media_height_px: ArrayLike,
    sequence_width_px: ArrayLike,
    sequence_height_px: ArrayLike,
) -> np.ndarray:
    """Frame-table values (..., 7) in VALUE_FEATURES order -> Premiere values (..., 7)."""
    factors = conversion_factors(media_width_px, media_height_px, sequence_width_px, sequence_height_px)
    return np.asarray(feature_values, dtype=np.float64) / factors
