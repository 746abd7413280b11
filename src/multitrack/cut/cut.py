"""`cut_stack`: a synced multicam stack in, the edit out (issue 15, item 3), by the rules.

The story:
1. read the stack (`stack.read_stack`): its cameras and mics;
2. hear the mics (`hearing.hear_stack`: ingest's hearing), and the cameras' scratch audio when
   the pairing may need it; with every mic's media missing, warn and cut deaf (the rules then
   keep the wide), or refuse with `require_audio`;
3. bring the sound to the decision rate (`data.resample`, as `prepare` aggregates audio) and
   call each mic active or not (`sample.switcher.mic_activity`);
4. pair cameras and mics (`choose_pairing`: --pair, else the prompt, else the scratch audio,
   else the training sessions' convention, else the default layout);
5. with a prompt and a fitter (an editor never seen: `evaluate.rules.fit_rules`, passed in by
   the command), fit the rules on the prompt seconds;
6. switch (`sample.switcher.switch`), map the decisions from the decision rate to the stack's
   frames through the shared `Resampler`, keep the prompt's frames as the editor cut them, and
   write the edit (`edit.write_edit`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from multitrack.cut.edit import EditSummary, write_edit
from multitrack.cut.hearing import StackSound, decision_audio, hear_stack, stack_frames
from multitrack.cut.stack import Stack, read_stack
from multitrack.data.resample import Resampler, frame_rate
from multitrack.errors import MediaError, XmemlError
from multitrack.features.hearing import HopCache
from multitrack.features.media import MediaFinder
from multitrack.sample.pairing import Pairing, infer_from_scratch, infer_from_shown
from multitrack.sample.switcher import DECISION_FPS, DEFAULT_RULES, RuleSettings, RulesSession, mic_activity, switch

Fitter = Callable[[list[RulesSession]], RuleSettings]


@dataclass
class CutOptions:
    """How `cut_stack` decides (module docstring); `rules_source` says where `rules` came from."""

    rules: RuleSettings = DEFAULT_RULES
    rules_source: str = "default settings"
    pairs: Sequence[str] = ()
    prompt_seconds: float = 0.0
    fps: float = DECISION_FPS
    convention: tuple[tuple[int, ...], ...] | None = None
    finder: MediaFinder = field(default_factory=MediaFinder)
    cache: HopCache | None = None
    jobs: int = 1
    keep_unused: bool = False
    require_audio: bool = False
    hear: bool = True
    fit_prompt: Fitter | None = None


@dataclass
class CutReport:
    stack: Path
    out: Path
    pairing: Pairing
    rules: RuleSettings
    rules_source: str
    shown: np.ndarray  # (N,) camera per stack frame
    edit: EditSummary
    cameras: list[str]
    mics: list[str]
    warnings: list[str]
    deaf: bool

    @property
    def cuts(self) -> int:
        return int((np.diff(self.shown) != 0).sum())

    def pairing_lines(self) -> list[str]:
        wide = self.pairing.wide
        lines = [f"pairing ({self.pairing.source}): {self.pairing.reason}"]
        for camera, mics in enumerate(self.pairing.mics):
            heard = " + ".join(self.mics[m] for m in mics) or "no mic"
            lines.append(f"  {self.cameras[camera]} <- {heard}{'  (the wide)' if camera == wide else ''}")
        return lines


def parse_pairs(stack: Stack, pairs: Sequence[str]) -> Pairing:
    """`--pair CAM=MIC[+MIC] …` against the stack's names (stack.py); cameras not named get no mic."""
    mics: list[set[int]] = [set() for _ in stack.cameras]
    for text in pairs:
        camera_text, separator, mic_text = text.partition("=")
        if not separator:
            raise XmemlError(
                str(stack.path), "--pair", f"{text!r}: expected CAM=MIC, e.g. V2=A1 or cam_a.mov=mic_1.wav"
            )
        camera = stack.find_camera(camera_text)
        for part in filter(None, (p.strip() for p in mic_text.split("+"))):
            mics[camera].add(stack.find_mic(part))
    return Pairing.given([sorted(m) for m in mics], len(stack.mics), "--pair " + " ".join(pairs))


def choose_pairing(
    stack: Stack,
    options: CutOptions,
    active: np.ndarray,
    prompt_shown: np.ndarray | None,
    sound: StackSound,
    scratch_active: np.ndarray,
) -> Pairing:
    """Module docstring, step 4. `active`/`prompt_shown` at the decision rate; `scratch_active` the
    mic activity at the stack's rate (the scratch audio's rate)."""
    n_cameras, n_mics = len(stack.cameras), len(stack.mics)
    if options.pairs:
        return parse_pairs(stack, options.pairs)
    if prompt_shown is not None and len(prompt_shown):
        found = infer_from_shown(active[:, : len(prompt_shown)], prompt_shown, n_cameras, source="prompt")
        if found is not None:
            return found
    if sound.scratch_heard.any():
        found = infer_from_scratch(scratch_active, sound.scratch_db, sound.scratch_heard)
        if found is not None:
            return found
    convention = options.convention
    if convention is not None and len(convention) == n_cameras and all(m < n_mics for c in convention for m in c):
        return Pairing(convention, n_mics, "convention", "the pairing most common in the rules' training sessions")
    return Pairing.default(n_cameras, n_mics)


def cut_stack(stack_path: str | Path, out_path: str | Path, options: CutOptions) -> CutReport:
    """Cut one stack by the rules and write the edit (module docstring)."""
    stack = read_stack(stack_path)
    frames = stack_frames(stack)
    n = frames.frame_count
    rate = stack.timeline.rate.fps_exact
    decision = frame_rate(options.fps)
    to_decision = Resampler.between(n, rate, decision)
    n_decision = to_decision.frames_out
    prompt_frames = min(n, int(Fraction(options.prompt_seconds).limit_denominator(1000) * rate))
    prompt_shown: np.ndarray | None = None
    warnings: list[str] = []
    if prompt_frames:
        if stack.nested:
            warnings.append("a multicam nest shows no angle in its prompt: the pairing is not read from it")
        else:
            stack_shown = stack.shown(frames.active)
            rows = to_decision.source_rows
            decided = stack_shown if rows is None else stack_shown[rows]
            prompt_shown = decided[: math.ceil(prompt_frames * decision / rate)]
    scratch = not options.pairs and (prompt_shown is None)
    sound = hear_stack(stack, frames, options.finder, options.cache, options.jobs, scratch=scratch, hear=options.hear)
    warnings += sound.warnings
    if sound.deaf:
        reason = (
            f"no mic's media was found ({', '.join(sound.media_missing[:5])})"
            if sound.media_missing
            else "no mic was heard"
        )
        if options.require_audio:
            raise MediaError(str(stack.path), f"{reason}; --require-audio refuses to cut deaf")
        warnings.append(f"{reason}: cut deaf, the rules keep the wide")
    audio = decision_audio(sound.speech, sound.loudness_db, sound.heard, to_decision)
    active = mic_activity(audio.speech.T, audio.loudness_db.T, audio.heard.T, options.rules)  # (M, N_d)
    scratch_active = mic_activity(sound.speech, sound.loudness_db, sound.heard, options.rules)
    pairing = choose_pairing(stack, options, active, prompt_shown, sound, scratch_active)
    settings, source = options.rules, options.rules_source
    if options.fit_prompt is not None and prompt_shown is not None and not sound.deaf:
        session = RulesSession(active[:, : len(prompt_shown)], pairing, prompt_shown, float(decision), "prompt")
        settings = options.fit_prompt([session])
        source = f"fitted on the first {options.prompt_seconds:g} s (the editor's prompt)"
    decided = switch(active, pairing.camera_of_mic(), pairing.wide, len(stack.cameras), settings, float(decision))
    back = Resampler.between(n_decision, decision, rate, frames_out=n).source_rows
    shown = decided if back is None else decided[back]
    if prompt_shown is not None and prompt_frames:
        shown = shown.copy()
        shown[:prompt_frames] = stack.shown(frames.active[:prompt_frames])
    edit = write_edit(stack, shown, out_path, pairing.wide, prompt_frames, options.keep_unused)
    return CutReport(
        stack=stack.path,
        out=Path(out_path),
        pairing=pairing,
        rules=settings,
        rules_source=source,
        shown=shown,
        edit=edit,
        cameras=[c.label for c in stack.cameras],
        mics=[m.label for m in stack.mics],
        warnings=warnings,
        deaf=sound.deaf,
    )


__all__ = ["CutOptions", "CutReport", "Fitter", "choose_pairing", "cut_stack", "parse_pairs"]
