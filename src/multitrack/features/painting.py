"""What the video and audio painters of features/frames.py share: a clip's source axis and its
parameters interpolated on it (Motion, Crop, Audio Levels, Gain), and the asset codes a
timeline's clips are painted with and numbered by (DESIGN.md §2: by first frame, ties to the
lower track)."""

from __future__ import annotations

import functools

import numpy as np

from multitrack.features.schema import gain_db
from multitrack.timeline.model import AudioGain, Clip, Crop, Motion, Param

NO_ASSET = -1  # the local asset code of an empty cell before numbering


def number_assets(asset_code: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Renumber local asset codes 1, 2, ... by first active frame, ties to the lower track.

    asset_code: (K, N) int32 track-major, NO_ASSET where empty. Column-major order visits
    frame by frame and, within a frame, track V1 first, so the first occurrence of each
    code in that flattening is exactly its (first frame, lowest track).
    Returns the (K, N) int32 numbers (0 = none) and the codes in numbering order.
    """
    flat = asset_code.ravel(order="F")  # (N*K,) frame-major
    occupied = np.flatnonzero(flat != NO_ASSET)
    codes, first_index = np.unique(flat[occupied], return_index=True)
    codes_in_order = codes[np.argsort(first_index, kind="stable")]
    if codes_in_order.size == 0:
        return np.zeros_like(asset_code), []
    number_of_code = np.zeros(int(codes.max()) + 2, dtype=np.int32)  # index code+1; NO_ASSET -> 0
    number_of_code[codes_in_order + 1] = np.arange(1, codes_in_order.size + 1, dtype=np.int32)
    numbers = number_of_code[asset_code + 1]  # (K, N)
    return numbers, [int(code) for code in codes_in_order]


def first_codes(asset_code: np.ndarray) -> list[int]:
    """The codes of a (K, N) array in order of first frame, ties to the lower track: the order
    `number_assets` gives, found from each track's runs (a few per clip) instead of a sort of
    every cell, for the audio tracks' many long clips."""
    starts: list[np.ndarray] = []
    tracks: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for index, row in enumerate(asset_code):
        if row.size == 0:
            continue
        run_starts = np.concatenate([[0], np.flatnonzero(row[1:] != row[:-1]) + 1])
        run_codes = row[run_starts]
        kept = run_codes != NO_ASSET
        starts.append(run_starts[kept])
        codes.append(run_codes[kept])
        tracks.append(np.full(int(kept.sum()), index))
    if not codes:
        return []
    by_start, by_track = np.concatenate(starts), np.concatenate(tracks)
    ordered = np.concatenate(codes)[np.lexsort((by_track, by_start))]
    return [int(c) for c in dict.fromkeys(ordered.tolist())]


def interpolate_param(param: Param, source_frames: np.ndarray) -> np.ndarray:
    """A parameter's value at each source frame (float64), as `Param.at` computes it.

    Keys are interpolated linearly; the first and last values are held outside them
    (../shared/docs/xmeml.md §7: keys may lie outside [in, out]; never drop them). Where two
    keys share a `when`, the later one applies from that frame on, like `Param.at`.
    """
    keys = sorted(param.keyframes, key=lambda key: key.when)
    if not keys:
        return np.full(source_frames.shape, param.value, dtype=np.float64)
    whens = np.array([key.when for key in keys], dtype=np.float64)  # (K,)
    key_values = np.array([key.value for key in keys], dtype=np.float64)  # (K,)
    if len(keys) == 1 or (whens[1:] > whens[:-1]).all():
        return np.interp(source_frames, whens, key_values)  # holds the ends, like Param.at
    return _interpolate_with_duplicate_whens(whens, key_values, source_frames)


def _interpolate_with_duplicate_whens(
    whens: np.ndarray, key_values: np.ndarray, source_frames: np.ndarray
) -> np.ndarray:
    # np.interp leaves the choice between equal whens unspecified; Param.at takes the later key.
    last = len(whens) - 1
    after = np.searchsorted(whens, source_frames, side="right")  # first key strictly after
    lower = np.maximum(after - 1, 0)
    upper = np.minimum(after, last)
    span = whens[upper] - whens[lower]
    # span 0: before the first key, after the last, or on duplicate whens -> the upper value.
    safe_span = np.where(span > 0, span, 1.0)
    fraction = np.where(span > 0, (source_frames - whens[lower]) / safe_span, 1.0)
    return key_values[lower] + fraction * (key_values[upper] - key_values[lower])


def source_frames(clip: Clip, first: int, stop: int) -> np.ndarray:
    """(L,) float64: the source frame each timeline frame first..stop-1 of the clip plays, the
    axis of its keyframe `when`s (../shared/docs/xmeml.md §7)."""
    timeline_frames_ = np.arange(first, stop, dtype=np.float64)
    return clip.in_frame + (timeline_frames_ - clip.start_frame) * (clip.speed / 100.0)


def span_start(clip: Clip, first: int, stop: int) -> float:
    """The lowest source frame timeline frames first..stop-1 of the clip play (AudioSegment)."""
    ratio = clip.speed / 100.0
    if clip.reverse:  # the clip's start shows its out point; frame t plays out - (t + 1 - start) * ratio
        return clip.out_frame - (stop - clip.start_frame) * ratio
    return clip.in_frame + (first - clip.start_frame) * ratio


def clip_gain_db(audio: AudioGain | None, source_frames_: np.ndarray) -> np.ndarray:
    """(L,) float64: an audio clip's gain in dB at each source frame (features/schema.py `gain_db`)."""
    if audio is None:
        return np.zeros(source_frames_.shape, dtype=np.float64)
    level = interpolate_param(audio.level, source_frames_)
    return gain_db(level, interpolate_param(audio.gain_db, source_frames_))


def clip_params(clip: Clip) -> tuple[Param, ...]:
    """The clip's 7 Premiere parameters in PREMIERE_PARAMS order; a missing filter = defaults."""
    motion = clip.motion or Motion()
    crop = clip.crop or Crop()
    return (motion.scale, motion.center_x, motion.center_y, crop.left, crop.right, crop.top, crop.bottom)


@functools.lru_cache(maxsize=1024)
def static_gain_db(level: float, gain_filter_db: float) -> float:
    """`gain_db` of a clip without keys; exports repeat a few levels over hundreds of clips."""
    return float(gain_db(level, gain_filter_db))
