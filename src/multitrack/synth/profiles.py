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

from dataclasses import asdict, dataclass, replace

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
class SoundHabits:
    """How an editor cuts a multicam podcast on its sound (synth.podcast), in seconds.

    Each habit is drawn from the range beside it. The first editor whose main style is the
    multicam podcast is a *control* editor: they follow exactly a
    loudness switcher's rule (synth.podcast.switch_on_speech): the camera of the one who
    speaks after a fixed delay, a minimum shot, the wide when several speak for
    `overlap_s` or nobody for `wide_pause_s`; its other habits are off.
    """

    speakers: int  # the show's usual number of speakers (2..4): a wide and one close-up each
    reaction_s: float  # cut this long after a new speaker starts (-0.3 anticipates .. 1.0 late)
    reaction_jitter_s: float  # sd of each cut's own delay around it (0.05..0.35)
    min_shot_s: float  # no shot shorter (0.8..2.5)
    max_shot_s: float | None  # a close-up held longer goes to the wide (8..25; None: never)
    wide_on_overlap: float  # P(the wide when several talk at once for overlap_s) (0.2..1.0)
    overlap_s: float  # (0.3..1.2)
    wide_on_laugh: float  # P(the wide when several laugh) (0.2..1.0)
    wide_pause_s: float  # the wide after nobody has spoken this long (1.5..4.0)
    wide_share: float  # P(a turn shown on the wide rather than the speaker) (0..0.3)
    reaction_rate: float  # P(a listener's reaction shot in a long turn) (0..0.7)
    reaction_after_s: float  # a turn is long after this (5..12)
    gate_mics: bool  # the edit keeps each mic only around its speaker's sound (J/L cuts)
    jl_lead_s: float  # a gated mic opens this long before its speaker (0.1..0.6) ...
    jl_tail_s: float  # ... and closes this long after (0.2..1.0)
    seat_order: tuple[int, ...]  # close-up of speaker k on the edit's video track V2+seat_order.index(k)
    mic_order: tuple[int, ...]  # mic of speaker k on audio track A1+mic_order.index(k)
    control: bool  # follows a loudness switcher's rule exactly


@dataclass(frozen=True)
class EditorProfile:
    """One editor's habits, in the units named by each field."""

    name: str  # the folder their timelines go to: editor01, editor02, ...
    style_weights: tuple[float, ...]  # probability of each of STYLES
    rate: Rate  # the editor's usual sequence rate
    uhd_share: float  # share of their 16:9 sequences that are 3840x2160
    shot_seconds: float  # mean shot length: the editor's pacing
    shot_shape: float  # gamma shape of shot lengths: higher = more regular
    stacked: bool  # multicam: the wide kept on V1 under the close-ups, else one clip at a time
    punch_in: float  # close-up zoom factor (1.15..1.30 of the fitted scale)
    punch_rate: float  # share of close-up shots (multicam: of stressed moments) that punch in
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
    sound: SoundHabits  # how they cut a podcast on its sound (multicam)

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
        sound=_sound_habits(rng, return_u, index == (-style_offset) % len(STYLES)),  # the first podcast editor
    )


def _sound_habits(rng: np.random.Generator, spread_u: float, control: bool) -> SoundHabits:
    """An editor's podcast habits; the reaction delay is spread over editors with `spread_u`."""
    habits = SoundHabits(
        speakers=int(rng.choice([2, 3, 4], p=[0.4, 0.4, 0.2])),
        reaction_s=-0.3 + 1.3 * spread_u,
        reaction_jitter_s=float(rng.uniform(0.05, 0.35)),
        min_shot_s=float(rng.uniform(0.8, 2.5)),
        max_shot_s=float(rng.uniform(8.0, 25.0)),
        wide_on_overlap=float(rng.uniform(0.2, 1.0)),
        overlap_s=float(rng.uniform(0.3, 1.2)),
        wide_on_laugh=float(rng.uniform(0.2, 1.0)),
        wide_pause_s=float(rng.uniform(1.5, 4.0)),
        wide_share=float(rng.uniform(0.0, 0.3)),
        reaction_rate=float(rng.uniform(0.0, 0.7)),
        reaction_after_s=float(rng.uniform(5.0, 12.0)),
        gate_mics=bool(rng.random() < 0.4),
        jl_lead_s=float(rng.uniform(0.1, 0.6)),
        jl_tail_s=float(rng.uniform(0.2, 1.0)),
        seat_order=tuple(int(k) for k in rng.permutation(4)),
        mic_order=tuple(int(k) for k in rng.permutation(4)),
        control=control,
    )
    if not control:
        return habits
    return replace(  # a loudness switcher: the rule and nothing else
        habits,
        reaction_s=round(habits.reaction_s, 1),
        reaction_jitter_s=0.0,
        min_shot_s=round(habits.min_shot_s, 1),
        max_shot_s=None,
        wide_on_overlap=1.0,
        overlap_s=round(habits.overlap_s, 1),
        wide_on_laugh=1.0,
        wide_pause_s=round(habits.wide_pause_s, 1),
        wide_share=0.0,
        reaction_rate=0.0,
        gate_mics=False,
    )


def _style_weights(rng: np.random.Generator, primary: int) -> tuple[float, ...]:
    """The primary style gets most of the weight; the others share the rest unevenly."""
    others = rng.dirichlet(np.full(len(STYLES) - 1, 2.0)) * (1.0 - _PRIMARY_STYLE_WEIGHT)
    weights = np.insert(others, primary, _PRIMARY_STYLE_WEIGHT)
    return tuple(round(float(w), 6) for w in weights / weights.sum())


def _log_lerp(low: float, high: float, u: float) -> float:
    """A value between low and high, evenly spread on a log scale by u in [0, 1)."""
    return float(low * (high / low) ** u)
