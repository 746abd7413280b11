"""The rule-based switcher: the strongest version of what today's auto-cut tools do.

Show the paired camera of the mic that speaks, after a reaction delay (negative: anticipation,
the sound being known ahead, as the model's lookahead), never cut before the shot has lasted a
minimum length, and go to the wide when nobody has spoken for a while or several cameras'
speakers talk at once for a while (DESIGN.md §8). Everything runs at one decision rate (`fps`:
the model's `data.fps`, or `DECISION_FPS`), on the mics' activity.

A mic is **active** on a frame where its speech share reaches `speech_threshold` and it is within
`dominance_db` of the loudest mic on that frame: each mic also hears the other speakers (bleed,
some 20 dB lower in docs/decisions.md "hearing: which voice-activity detector"), and the speech
call alone takes a loud bleed for a voice.

The rule itself (settings, the event-level simulation `switch`) is `multitrack.switching`, at the
package's base so synth's control editor runs the same copy; this module adds what cutting a
stack needs: which mics speak, and the sessions the rules are fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multitrack.sample.pairing import Pairing
from multitrack.switching import (
    DEFAULT_RULES,
    RuleSettings,
    apply_min_shot,
    frames_of,
    shots_to_frames,
    switch,
    target_events,
    targets,
)

DECISION_FPS = 10.0  # the rules' rate without a bundle: the demo model's data.fps


@dataclass
class RulesSession:
    """One session to fit the rules on (evaluate/rules.py), at the decision rate: each mic's
    activity (M, N) bool, the pairing, and the camera the editor showed on each frame (N,)
    (-1: none of the cameras)."""

    active: np.ndarray
    pairing: Pairing
    shown: np.ndarray
    fps: float
    name: str = ""


def mic_activity(
    speech: np.ndarray, loudness_db: np.ndarray, heard: np.ndarray, settings: RuleSettings = DEFAULT_RULES
) -> np.ndarray:
    """(M, N) bool: where each mic speaks (module docstring); never where it was not heard."""
    if speech.shape[0] == 0:
        return np.zeros(speech.shape, dtype=bool)
    loudest = np.where(heard > 0, loudness_db, -np.inf).max(axis=0)  # (N,)
    return (speech >= settings.speech_threshold) & (loudness_db >= loudest - settings.dominance_db) & (heard > 0)


__all__ = [
    "DECISION_FPS",
    "DEFAULT_RULES",
    "RuleSettings",
    "RulesSession",
    "apply_min_shot",
    "frames_of",
    "mic_activity",
    "shots_to_frames",
    "switch",
    "target_events",
    "targets",
]
