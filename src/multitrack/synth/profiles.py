"""Editor profiles for `multitrack synth`: what makes one editor's timelines theirs.

A profile fixes an editor's pacing (a gamma distribution of shot lengths: a mean and a
shape, so the chance of a cut rises with the time since the last one), their camera
habits (how often they return to the wide shot, how hard they punch in), their
picture-in-picture corner and size, their split-screen layout, B-roll and Ken Burns
habits, and the mix of styles they cut. Profiles are drawn from one shared
distribution, so a model that learns the structure from some editors can meet an
unseen editor and recognise the same kinds of habit with other values.

Profile j depends only on (seed, j), never on how many editors or timelines there are.
The main traits are spread over editors with a low-discrepancy sequence so any two
editors differ clearly in pacing and zoom.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from multitrack.timeline.model import Rate

STYLES = ("multicam", "pip", "split_screen", "broll", "vertical")
RATES = (Rate(24, True), Rate(25), Rate(30, True), Rate(30), Rate(50), Rate(60))
CORNERS = ("bottom_right", "top_right", "bottom_left", "top_left")

# Fractional parts of irrational numbers: successive editors step around [0, 1) by
# these amounts, so every prefix of editors is spread evenly and traits do not move
# in lock step (the golden ratio, sqrt 2, sqrt 3, sqrt 5, e, pi).
_TRAIT_STEPS = (0.6180339887, 0.4142135624, 0.7320508076, 0.2360679775, 0.7182818285, 0.1415926536)
_PRIMARY_STYLE_WEIGHT = 0.6


@dataclass(frozen=True)
class EditorProfile:
    """One editor's habits, in the units named by each field."""

    name: str  # the folder their timelines go to: editor01, editor02, ...
    style_weights: tuple[float, ...]  # probability of each of STYLES
    rate: Rate  # the editor's usual sequence rate
    uhd_share: float  # share of their 16:9 sequences that are 3840x2160
    shot_seconds: float  # mean shot length: the editor's pacing
    shot_shape: float  # gamma shape of shot lengths: higher = more regular
    wide_seconds_ratio: float  # multicam wide shots last this × shot_seconds
    wide_return: float  # multicam: P(back to the wide after a close-up)
    alternate: float  # P(the next close-up is the least recently shown one)
    angles: int  # multicam cameras, the wide included (2..4)
    stacked: bool  # wide kept on V1 under the close-ups, else one clip at a time
    punch_in: float  # close-up zoom factor (1.15..1.30 of the fitted scale)
    punch_rate: float  # share of close-up shots that punch in
    punch_push: bool  # punch in with a keyframed push rather than a cut
    pip_corner: str  # one of CORNERS
    pip_width: float  # webcam box width, fraction of the sequence width
    pip_margin: float  # gap to the frame edges, fraction of the sequence width
    pip_crop_h_pct: float  # cropped from the webcam's left and right, percent
    pip_crop_v_pct: float  # cropped from its top and bottom, percent
    fullscreen_rate: float  # share of webcam segments shown full screen
    split_boxes: bool  # split screen as two scaled boxes, else cropped halves
    split_share: float  # share of split-screen segments among single shots
    broll_seconds: float  # mean B-roll insert length
    broll_gap_seconds: float  # mean talking-head time between inserts
    still_share: float  # share of inserts that are stills with Ken Burns
    ken_burns: float  # still zoom over one insert (1.05..1.25)
    jump_zoom: bool  # talking head: alternate a punch-in at each jump cut
    follow_seconds: float  # vertical: spacing of position keyframes
    transition_rate: float  # P(a cross dissolve at a cut where one fits)
    disabled_rate: float  # P(a disabled clip or track left in a timeline)
    timecode_hour: int  # sequence start timecode hour (0 or 1, broadcast habit)

    def to_json(self) -> dict:
        data = asdict(self)
        data["rate"] = {"timebase": self.rate.timebase, "ntsc": self.rate.ntsc, "fps": self.rate.fps}
        data["style_weights"] = dict(zip(STYLES, self.style_weights, strict=True))
        return data


def draw_profiles(editors: int, seed: int) -> list[EditorProfile]:
    """Profiles editor01 … editorNN for a corpus seed."""
    trait_offsets = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0]))).random(
        len(_TRAIT_STEPS) + 2
    )
    return [draw_profile(index, seed, trait_offsets) for index in range(editors)]


def draw_profile(index: int, seed: int, trait_offsets: np.ndarray) -> EditorProfile:
    """Editor `index` (0-based): main traits spread over editors, minor ones random."""
    spread = [(trait_offsets[k] + index * step) % 1.0 for k, step in enumerate(_TRAIT_STEPS)]
    pacing_u, zoom_u, return_u, pip_u, broll_u, shape_u = spread
    corner_offset, style_offset = int(trait_offsets[-2] * 4), int(trait_offsets[-1] * 5)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0, index])))
    return EditorProfile(
        name=f"editor{index + 1:02d}",
        style_weights=_style_weights(rng, (style_offset + index) % len(STYLES)),
        rate=RATES[int(rng.integers(len(RATES)))],
        uhd_share=float(rng.choice([0.0, 0.2, 0.6])),
        shot_seconds=_log_lerp(1.5, 6.0, pacing_u),
        shot_shape=3.0 + 5.0 * shape_u,
        wide_seconds_ratio=float(rng.uniform(0.8, 1.6)),
        wide_return=0.25 + 0.6 * return_u,
        alternate=float(rng.uniform(0.75, 0.95)),
        angles=int(rng.choice([2, 3, 4], p=[0.2, 0.4, 0.4])),
        stacked=bool(rng.random() < 0.5),
        punch_in=1.15 + 0.15 * zoom_u,
        punch_rate=float(rng.uniform(0.2, 0.6)),
        punch_push=bool(rng.random() < 0.35),
        pip_corner=CORNERS[(corner_offset + index) % len(CORNERS)],
        pip_width=0.22 + 0.13 * pip_u,
        pip_margin=float(rng.uniform(0.015, 0.04)),
        pip_crop_h_pct=float(rng.choice([0.0, 10.0, 20.0])),
        pip_crop_v_pct=float(rng.choice([0.0, 0.0, 5.0])),
        fullscreen_rate=float(rng.uniform(0.1, 0.35)),
        split_boxes=bool(rng.random() < 0.4),
        split_share=float(rng.uniform(0.25, 0.6)),
        broll_seconds=_log_lerp(2.0, 6.0, broll_u),
        broll_gap_seconds=float(rng.uniform(4.0, 12.0)),
        still_share=float(rng.uniform(0.2, 0.7)),
        ken_burns=1.05 + 0.2 * zoom_u,
        jump_zoom=bool(rng.random() < 0.5),
        follow_seconds=float(rng.uniform(0.6, 2.0)),
        transition_rate=float(rng.uniform(0.05, 0.3)),
        disabled_rate=float(rng.uniform(0.1, 0.5)),
        timecode_hour=int(rng.random() < 0.3),
    )


def _style_weights(rng: np.random.Generator, primary: int) -> tuple[float, ...]:
    """The primary style gets most of the weight; the others share the rest unevenly."""
    others = rng.dirichlet(np.full(len(STYLES) - 1, 2.0)) * (1.0 - _PRIMARY_STYLE_WEIGHT)
    weights = np.insert(others, primary, _PRIMARY_STYLE_WEIGHT)
    return tuple(round(float(w), 6) for w in weights / weights.sum())


def _log_lerp(low: float, high: float, u: float) -> float:
    """A value between low and high, evenly spread on a log scale by u in [0, 1)."""
    return float(low * (high / low) ** u)
