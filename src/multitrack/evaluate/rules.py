"""Fitting the rule-based switcher (sample/switcher.py) to one editor (issue 15, item 2).

The settings are fitted on the information the model gets: that editor's training sessions,
or, for an editor never seen, the editor's own first seconds of the stack being cut. The fit
is a search over `GRID` by simulation (`switcher`'s event-level passes: the wanted cameras once
per silence/overlap pair, then one pass over the events per delay and minimum shot), done once
for shown agreement and once for cut F1; both winners are reported with both figures.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from multitrack.evaluate.cut_metrics import DEFAULT_TOLERANCE_SECONDS, cut_frames, tolerance_frames
from multitrack.evaluate.metrics import match_events
from multitrack.sample.switcher import (
    DEFAULT_RULES,
    RuleSettings,
    RulesSession,
    apply_min_shot,
    frames_of,
    shots_to_frames,
    target_events,
    targets,
)

INF = math.inf
GRID: dict[str, tuple[float, ...]] = {
    "delay_s": (-0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5),
    "min_shot_s": (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0),
    "silence_s": (1.0, 2.0, 3.0, 5.0, 8.0, INF),
    "overlap_s": (0.5, 1.0, 2.0, 4.0, INF),
}
OBJECTIVES = ("shown_agreement", "cut_f1")


@dataclass
class Fitted:
    """The best settings for one objective, with both figures over the sessions."""

    settings: RuleSettings
    shown_agreement: float
    cut_f1: float


@dataclass
class RulesFit:
    shown_agreement: Fitted
    cut_f1: Fitted
    sessions: int
    frames: int
    grid_points: int
    seconds: float
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS
    conventions: list[tuple[tuple[int, ...], ...]] = field(default_factory=list)

    def best(self, objective: str) -> Fitted:
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r} (known: {', '.join(OBJECTIVES)})")
        return self.shown_agreement if objective == "shown_agreement" else self.cut_f1

    def to_json(self) -> dict[str, object]:
        return {
            objective: {
                "settings": fitted.settings.to_json(),
                "shown_agreement": fitted.shown_agreement,
                "cut_f1": fitted.cut_f1,
            }
            for objective, fitted in (("shown_agreement", self.shown_agreement), ("cut_f1", self.cut_f1))
        } | {
            "sessions": self.sessions,
            "frames": self.frames,
            "grid_points": self.grid_points,
            "seconds": self.seconds,
            "tolerance_seconds": self.tolerance_seconds,
        }


def fit_rules(
    sessions: Sequence[RulesSession],
    grid: dict[str, tuple[float, ...]] | None = None,
    base: RuleSettings = DEFAULT_RULES,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> RulesFit:
    """The grid point with the best shown agreement, and the one with the best cut F1, over all
    sessions together (agreement over all their frames; F1 over all their cuts). Ties go to the
    first point in grid order. `base` gives the settings the grid does not search."""
    grid = grid or GRID
    started = time.perf_counter()
    usable = [s for s in sessions if s.active.shape[1] > 0]
    if not usable:
        raise ValueError("no session to fit the rules on")
    keys = ("delay_s", "min_shot_s", "silence_s", "overlap_s")
    points = list(itertools.product(*(grid[k] for k in keys)))
    matched = np.zeros(len(points))
    predicted_cuts = np.zeros(len(points))
    true_cuts = 0
    agree = np.zeros(len(points))
    frames = 0
    index = {point: i for i, point in enumerate(points)}
    for session in usable:
        n = session.shown.shape[0]
        frames += n
        truth_cuts = cut_frames(session.shown)
        true_cuts += len(truth_cuts)
        tolerance = tolerance_frames(tolerance_seconds, session.fps)
        wide = session.pairing.wide
        wide_camera = 0 if wide is None else wide
        camera_of_mic = session.pairing.camera_of_mic()
        for silence, overlap in itertools.product(grid["silence_s"], grid["overlap_s"]):
            wanted = targets(
                session.active,
                camera_of_mic,
                wide_camera,
                session.pairing.n_cameras,
                frames_of(silence, session.fps),
                frames_of(overlap, session.fps),
            )
            at, cameras = target_events(wanted)
            for delay, min_shot in itertools.product(grid["delay_s"], grid["min_shot_s"]):
                cut_at, cut_cam = apply_min_shot(
                    at, cameras, frames_of(delay, session.fps), frames_of(min_shot, session.fps), n
                )
                i = index[(delay, min_shot, silence, overlap)]
                agree[i] += int((shots_to_frames(cut_at, cut_cam, n) == session.shown).sum())
                mine = np.asarray(cut_at[1:], dtype=np.int64)
                matched[i] += match_events(mine, truth_cuts, tolerance)
                predicted_cuts[i] += len(mine)
    agreement = agree / frames
    denominator = predicted_cuts + true_cuts
    f1 = np.where(denominator > 0, 2 * matched / np.maximum(denominator, 1), 1.0)

    def fitted(i: int) -> Fitted:
        values = dict(zip(keys, points[i], strict=True))
        return Fitted(base.with_values(**values), float(agreement[i]), float(f1[i]))

    by_f1 = int(np.lexsort((-np.arange(len(points)), agreement, f1))[-1])  # F1, then agreement, then grid order
    return RulesFit(
        shown_agreement=fitted(int(np.argmax(agreement))),
        cut_f1=fitted(by_f1),
        sessions=len(usable),
        frames=frames,
        grid_points=len(points),
        seconds=time.perf_counter() - started,
        tolerance_seconds=tolerance_seconds,
        conventions=[s.pairing.convention() for s in usable],
    )
