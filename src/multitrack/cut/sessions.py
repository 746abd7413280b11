"""An editor's finished edits as sessions to fit the rules on (`multitrack cut --rules-from DIR`).

Each xmeml under DIR is read as an edit: its cameras and mics as a stack's (stack.py: one camera
per video track, mics the audio tracks that play no camera's file), the camera shown on each
frame the top video track's, its mics heard as `cut` hears a stack, and its pairing inferred
from the edit itself (training data: which mic's speech predicts each camera being shown,
`sample.pairing.infer_from_shown`). A timeline that never cuts (a stack, not an edit) or in
which no mic was heard teaches nothing and is skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from multitrack.cut.hearing import decision_audio, hear_stack, stack_frames
from multitrack.cut.stack import read_stack
from multitrack.data.resample import Resampler, frame_rate
from multitrack.errors import MultitrackError
from multitrack.features.hearing import HopCache
from multitrack.features.media import MediaFinder
from multitrack.sample.pairing import infer_from_shown
from multitrack.sample.switcher import DEFAULT_RULES, RuleSettings, RulesSession, mic_activity


@dataclass
class Sessions:
    sessions: list[RulesSession] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: reason"


def edit_session(
    path: Path,
    fps: float,
    finder: MediaFinder,
    cache: HopCache | None = None,
    jobs: int = 1,
    rules: RuleSettings = DEFAULT_RULES,
) -> RulesSession | str:
    """One edit as a session at decision rate `fps`, or the reason it teaches nothing."""
    stack = read_stack(path)
    if stack.nested:
        return "a multicam nest shows no angle per frame in xmeml"
    frames = stack_frames(stack)
    n = frames.frame_count
    rate = stack.timeline.rate.fps_exact
    decision = frame_rate(fps)
    resampler = Resampler.between(n, rate, decision)
    shown = stack.shown(frames.active)
    rows = resampler.source_rows
    shown_d = shown if rows is None else shown[rows]
    if not (np.diff(shown_d) != 0).any():
        return "never cuts between cameras (a stack, not an edit)"
    sound = hear_stack(stack, frames, finder, cache, jobs)
    if sound.deaf:
        return "no mic heard (media missing)"
    audio = decision_audio(sound.speech, sound.loudness_db, sound.heard, resampler)
    active = mic_activity(audio.speech.T, audio.loudness_db.T, audio.heard.T, rules)
    pairing = infer_from_shown(active, shown_d, len(stack.cameras), source="edit")
    if pairing is None:
        return "no mic speaks alone long enough to pair the cameras"
    return RulesSession(active, pairing, shown_d, float(Fraction(decision)), str(path))


def edit_sessions(
    folder: Path,
    fps: float,
    finder: MediaFinder,
    cache: HopCache | None = None,
    jobs: int = 1,
    rules: RuleSettings = DEFAULT_RULES,
) -> Sessions:
    """Every edit under `folder` (module docstring); a file that cannot be read is skipped, named."""
    found = Sessions()
    paths = [folder] if folder.is_file() else sorted(folder.rglob("*.xml"))
    for path in paths:
        try:
            session = edit_session(path, fps, finder, cache, jobs, rules)
        except MultitrackError as exc:
            found.skipped.append(f"{path}: {exc}")
            continue
        if isinstance(session, str):
            found.skipped.append(f"{path}: {session}")
        else:
            found.sessions.append(session)
    return found
