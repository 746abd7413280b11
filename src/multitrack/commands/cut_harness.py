"""The cut evaluation (issue 15, item 5): every test session's stack cut by every predictor and
compared with the editor's edit of it (`multitrack evaluate-cut CORPUS`).

It needs a synth corpus with podcast sessions (synth.json's `sessions`) and sits above both
`evaluate` (the fit and the figures) and `cut` (the verb's `cut_stack`, which does the
cutting), which must not import each other; so it lives with the commands (docs/decisions.md,
"cut evaluation: a verb of its own").

The story, per seed k (0, 1, 2 by default):
1. the split (`split_sessions`): at least `unseen` editors whose every session is a test
   session (the unseen protocol: editors with a single session, then drawn by seed k) and, of
   each other editor, one held-out session drawn by seed k (the seen protocol); the rest of a
   seen editor's sessions are the training sessions;
2. seen: the rules are fitted on that editor's training edits (`evaluate.rules.fit_rules`, once
   for shown agreement, once for cut F1), the pairing falls back to the training sessions'
   convention; unseen: `cut_stack` fits them on the editor's first `prompt_seconds` of the
   session being cut (the prompt: the editor's edit is cut, standing in for a stack whose first
   seconds the editor has cut), and only the frames after the prompt are scored;
3. each predictor cuts the stack: `rules_agreement`, `rules_cut_f1` (the two fits, through
   `cut.cut.cut_stack`, exactly as `multitrack cut --rules` does: its pairing chosen as the verb
   chooses it), `rules_true_pairing` (a diagnostic: the agreement fit switching on synth.json's
   true pairing, so a pairing error and a rule error can be told apart), `semi_markov` (deaf: shot
   lengths and camera transitions of the training edits, or of the prompt) and `oracle` (the
   same editor re-cutting the session from cut seed k + 1: `synth.corpus.recut`; the ceiling);
4. the figures of `evaluate.cut_metrics.compare_cuts`, at the rules' decision rate, per session;
   the mean over sessions per editor and overall, per protocol; then over the seeds their mean
   and 95% interval (Student's t over the seeds' figures).

Every session is heard once (the hop cache makes the later cuts' hearing a read).
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from multitrack.commands.cut_summary import (
    FIGURES,
    PREDICTORS,
    draw_session,
    interval,
    pairing_summary,
    summarise,
    summary_lines,
)
from multitrack.cut.cut import CutOptions, cut_stack
from multitrack.cut.hearing import stack_frames
from multitrack.cut.sessions import edit_session
from multitrack.cut.stack import Stack, read_stack
from multitrack.data.resample import Resampler, frame_rate
from multitrack.errors import MultitrackError
from multitrack.evaluate.baselines import TRANSITION_SMOOTHING, BaselineStats, predict_cut
from multitrack.evaluate.cut_metrics import DEFAULT_TOLERANCE_SECONDS, compare_cuts, cut_frames, shot_lengths
from multitrack.evaluate.rules import fit_rules
from multitrack.features.hearing import HopCache
from multitrack.features.media import MediaFinder
from multitrack.sample.pairing import Pairing, most_common_convention
from multitrack.sample.switcher import DECISION_FPS, RulesSession
from multitrack.synth.corpus import read_manifest

OBJECTIVE_OF = {"rules_agreement": "shown_agreement", "rules_cut_f1": "cut_f1"}
PROTOCOLS = ("seen", "unseen")
MIN_SCORED_SECONDS = 5.0  # an unseen session with less than this after its prompt is not scored


@dataclass
class CutEvalOptions:
    seeds: Sequence[int] = (0, 1, 2)
    unseen: int = 3  # editors held out whole
    prompt_seconds: float = 60.0
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS
    fps: float = DECISION_FPS
    cache: HopCache | None = None
    pictures: int = 3  # sessions drawn (first seed)
    progress: Callable[[str], None] | None = None


@dataclass
class Session:
    """One podcast session, heard: the editor's edit as a `RulesSession` at the decision rate
    (training data: its pairing inferred from the edit) and what its stack needs to be cut."""

    name: str  # tlNNNN
    editor: str
    edit: Path
    stack: Path
    truth: RulesSession
    true_pairing: Pairing  # synth.json's: which speaker each camera shows, whose mic each is
    speech: list[list[tuple[float, float]]] = field(default_factory=list)  # per speaker: (start, end) s


@dataclass
class CutEvaluation:
    results: dict  # the JSON written to cut_evaluation.json
    pictures: list[Path]


def load_sessions(corpus: Path, options: CutEvalOptions) -> tuple[list[Session], list[str]]:
    """Every podcast session of the synth corpus, heard; the skipped ones named with their reason."""
    manifest = read_manifest(corpus)
    finder = MediaFinder()
    sessions, skipped = [], []
    for entry in manifest["sessions"]:
        edit, stack = corpus / entry["edit"], corpus / entry["stack"]
        try:
            truth = edit_session(edit, options.fps, finder, options.cache)
        except MultitrackError as exc:
            skipped.append(f"{edit}: {exc}")
            continue
        if isinstance(truth, str):
            skipped.append(f"{edit}: {truth}")
            continue
        speech: list[list[tuple[float, float]]] = [[] for _ in range(int(entry["speakers"]))]
        for turn in entry["conversation"]["turns"]:
            speech[int(turn["speaker"])].append((float(turn["start"]), float(turn["end"])))
        the_stack = read_stack(stack)
        truth = in_stack_cameras(truth, read_stack(edit), the_stack)
        true_pairing = _true_pairing(entry, the_stack)
        sessions.append(Session(entry["session"], entry["editor"], edit, stack, truth, true_pairing, speech))
        if options.progress:
            options.progress(f"heard {entry['session']} ({entry['editor']})")
    return sessions, skipped


def _true_pairing(entry: dict, stack) -> Pairing:
    """The session's pairing as synth made it: each camera (by its stack track) to the mics of the
    speakers it shows (not inferred from anything: the diagnostic `rules_true_pairing`)."""
    mics_of_speaker: dict[int, list[int]] = defaultdict(list)
    for mic in entry["mics"]:
        mics_of_speaker[int(mic["speaker"])].append(stack.find_mic(mic["track"]))
    mics: list[list[int]] = [[] for _ in stack.cameras]
    for camera in entry["cameras"]:
        mics[stack.find_camera(camera["track"])] = [m for s in camera["shows"] for m in mics_of_speaker[int(s)]]
    return Pairing.given(mics, len(stack.mics), "synth.json's cameras and mics")


def evaluate_cuts(corpus: str | Path, out_dir: str | Path, options: CutEvalOptions | None = None) -> CutEvaluation:
    """The module docstring's story; writes OUT/cut_evaluation.json and a PNG per drawn session."""
    options = options or CutEvalOptions()
    corpus, out_dir = Path(corpus), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    control = _control_editor(read_manifest(corpus))
    sessions, skipped = load_sessions(corpus, options)
    if not sessions:
        raise MultitrackError(f"{corpus}: no podcast session to evaluate cutting on ({'; '.join(skipped[:3])})")
    per_seed: list[dict] = []
    drawn: list[tuple[Session, str, dict[str, np.ndarray]]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for k, seed in enumerate(options.seeds):
            rows, shown = _one_seed(corpus, sessions, seed, options, Path(scratch))
            per_seed.append({"seed": seed, "sessions": rows})
            if k == 0:
                drawn = shown[: options.pictures]
    pictures = [draw_session(s, protocol, cuts, options.fps, out_dir) for s, protocol, cuts in drawn]
    results = {
        "corpus": str(corpus),
        "seeds": list(options.seeds),
        "unseen_editors": options.unseen,
        "prompt_seconds": options.prompt_seconds,
        "tolerance_seconds": options.tolerance_seconds,
        "fps": options.fps,
        "control_editor": control,
        "predictors": list(PREDICTORS),
        "skipped": skipped,
        "summary": summarise(per_seed),
        "pairing": pairing_summary(per_seed),
        "per_seed": per_seed,
    }
    (out_dir / "cut_evaluation.json").write_text(json.dumps(results, indent=1, default=_json_default))
    return CutEvaluation(results, pictures)


def split_sessions(sessions: Sequence[Session], seed: int, unseen: int) -> dict[str, list[Session]]:
    """{'train', 'seen', 'unseen'}: at least `unseen` editors held out whole (those with a single
    session, which leave nothing to train on, then a draw of the others, one editor always kept
    seen) and one held-out session, drawn, of every other editor."""
    rng = np.random.default_rng([seed, 15])
    by_editor: dict[str, list[Session]] = defaultdict(list)
    for session in sessions:
        by_editor[session.editor].append(session)
    editors = sorted(by_editor)
    single = [e for e in editors if len(by_editor[e]) < 2]  # nothing to train on: unseen anyway
    several = [e for e in editors if len(by_editor[e]) >= 2]
    drawn = min(max(0, unseen - len(single)), max(0, len(several) - 1))  # at least one editor seen
    held = set(single) | set(rng.permutation(several)[:drawn].tolist())
    split: dict[str, list[Session]] = {"train": [], "seen": [], "unseen": []}
    for editor in editors:
        mine = by_editor[editor]
        if editor in held or len(mine) < 2:
            split["unseen"] += mine
            continue
        test = int(rng.integers(len(mine)))
        split["seen"].append(mine[test])
        split["train"] += [s for i, s in enumerate(mine) if i != test]
    return split


def _one_seed(
    corpus: Path, sessions: list[Session], seed: int, options: CutEvalOptions, scratch: Path
) -> tuple[list[dict], list[tuple[Session, str, dict[str, np.ndarray]]]]:
    return cut_split(corpus, split_sessions(sessions, seed, options.unseen), seed, options, scratch)


def cut_split(
    corpus: Path, split: dict[str, list[Session]], seed: int, options: CutEvalOptions, scratch: Path
) -> tuple[list[dict], list[tuple[Session, str, dict[str, np.ndarray]]]]:
    """Every test session of `split` ('train', 'seen', 'unseen') cut by every predictor and
    compared with its edit: one row per session and predictor, and the cuts themselves."""
    from multitrack.synth.corpus import recut
    from multitrack.timeline.xmeml import write_xmeml

    oracle_dir = scratch / f"oracle{seed}"
    recuts = {synth.session: synth for synth in recut(corpus, seed + 1)}
    rows, shown = [], []
    training: dict[str, list[RulesSession]] = defaultdict(list)
    for session in split["train"]:
        training[session.editor].append(session.truth)
    for protocol in PROTOCOLS:
        for session in split[protocol]:
            n = session.truth.shown.shape[0]
            start = 0 if protocol == "seen" else min(n, math.ceil(options.prompt_seconds * options.fps))
            if (n - start) / options.fps < MIN_SCORED_SECONDS:
                continue
            cuts, pairing = _cut_session(session, protocol, training[session.editor], seed, options, scratch)
            chosen = {"pairing": pairing.source, "pairing_true": pairing.mics == session.true_pairing.mics}
            synth = recuts.get(session.name)
            if synth is not None:
                path = oracle_dir / synth.path
                path.parent.mkdir(parents=True, exist_ok=True)
                write_xmeml(synth.timeline, path)
                cuts["oracle"] = _shown_of(path, read_stack(session.stack), options.fps, n)
            truth = session.truth.shown
            wide = session.truth.pairing.wide
            for name, predicted in cuts.items():
                figures = compare_cuts(predicted[start:], truth[start:], options.fps, wide, options.tolerance_seconds)
                rows.append(
                    {"session": session.name, "editor": session.editor, "protocol": protocol, "predictor": name}
                    | chosen
                    | figures
                )
            shown.append((session, protocol, cuts))
            if options.progress:
                options.progress(f"seed {seed}: cut {session.name} ({session.editor}, {protocol})")
    return rows, shown


def _cut_session(
    session: Session, protocol: str, training: list[RulesSession], seed: int, options: CutEvalOptions, scratch: Path
) -> tuple[dict[str, np.ndarray], Pairing]:
    """{predictor: (N,) camera per decision frame} for the rules (both fits) and semi-Markov, and
    the pairing `cut` chose."""
    n = session.truth.shown.shape[0]
    cuts: dict[str, np.ndarray] = {}
    fit = fit_rules(training, tolerance_seconds=options.tolerance_seconds) if protocol == "seen" else None
    pairing = None
    for name, objective in OBJECTIVE_OF.items():
        if fit is not None:
            n_cameras, n_mics = session.truth.pairing.n_cameras, session.truth.pairing.n_mics
            cut_options = CutOptions(
                rules=fit.best(objective).settings,
                rules_source=f"fitted on {fit.sessions} training sessions",
                convention=most_common_convention([s.pairing for s in training], n_cameras, n_mics),
                fps=options.fps,
                cache=options.cache,
            )
        else:
            cut_options = CutOptions(
                prompt_seconds=options.prompt_seconds,
                fps=options.fps,
                cache=options.cache,
                fit_prompt=_prompt_fitter(objective, options.tolerance_seconds),
            )
        # unseen: the edit stands in for a stack whose first seconds the editor has cut (the same
        # tracks, frames and mics as the stack; cut reads the angles of the prompt only)
        source = session.stack if fit is not None else session.edit
        report = cut_stack(source, scratch / f"{session.name}_{name}.xml", cut_options)
        read, stack = read_stack(source), read_stack(session.stack)
        cuts[name] = _to_decision(report.shown, read, stack, options.fps, n)
        pairing = pairing_in_stack(report.pairing, read, stack)
    assert pairing is not None
    known = RulesSession(session.truth.active, session.true_pairing, session.truth.shown, options.fps, session.name)
    if fit is not None:
        settings = fit.best("shown_agreement").settings
    else:
        prompt = _prompt_of(known, options)
        settings = fit_rules([prompt], tolerance_seconds=options.tolerance_seconds).best("shown_agreement").settings
    cuts["rules_true_pairing"] = predict_cut("rules", known, rules=settings)
    teachers = training if protocol == "seen" else [_prompt_of(session.truth, options)]
    stats = shot_statistics(teachers, pairing.n_cameras)
    deaf = RulesSession(session.truth.active, pairing, session.truth.shown, options.fps, session.name)
    cuts["semi_markov"] = predict_cut("semi_markov", deaf, stats=stats, rng=np.random.default_rng([seed, 2]))
    return cuts, pairing


def _prompt_fitter(objective: str, tolerance_seconds: float):
    def fitter(prompt: list[RulesSession]):
        return fit_rules(prompt, tolerance_seconds=tolerance_seconds).best(objective).settings

    return fitter


def _prompt_of(truth: RulesSession, options: CutEvalOptions) -> RulesSession:
    frames = math.ceil(options.prompt_seconds * options.fps)
    return RulesSession(truth.active[:, :frames], truth.pairing, truth.shown[:frames], truth.fps, truth.name)


def shot_statistics(sessions: Sequence[RulesSession], n_cameras: int) -> BaselineStats:
    """What `semi_markov` cuts a stack from: the edits' shot lengths and camera-to-camera
    transitions (state c + 1 is camera c, smoothed as `baselines.fit_transition`)."""
    lengths = [shot_lengths(s.shown) / s.fps for s in sessions if len(s.shown)]
    size = n_cameras + 1
    counts = np.full((size, size), TRANSITION_SMOOTHING)
    for s in sessions:
        at = cut_frames(s.shown)
        before, after = s.shown[at - 1] + 1, s.shown[at] + 1
        keep = (before < size) & (after < size) & (before >= 0) & (after >= 0)
        np.add.at(counts, (before[keep], after[keep]), 1.0)
    np.fill_diagonal(counts, 0.0)
    transition = counts / counts.sum(axis=1, keepdims=True)
    seconds = np.concatenate(lengths) if lengths else np.array([1.0])
    return BaselineStats(0.0, 0.0, 0.0, transition, seconds, 0)


def camera_code(source: Stack, stack: Stack) -> np.ndarray:
    """code[c + 1]: the stack's index of `source`'s camera c, matched by media file name (an edit
    holds only the cameras it shows, so its indices are not the stack's); code[0] = -1 (none)."""
    by_name = {camera.name: i for i, camera in enumerate(stack.cameras)}
    missing = [camera.name for camera in source.cameras if camera.name not in by_name]
    if missing:
        raise MultitrackError(f"{source.path}: cameras {missing} are not in the stack {stack.path}")
    return np.array([-1] + [by_name[camera.name] for camera in source.cameras], dtype=np.int64)


def in_stack_cameras(session: RulesSession, source: Stack, stack: Stack) -> RulesSession:
    """An edit's session with its cameras numbered as the stack's (`camera_code`)."""
    code = camera_code(source, stack)
    pairing = pairing_in_stack(session.pairing, source, stack)
    return RulesSession(session.active, pairing, code[session.shown + 1], session.fps, session.name)


def pairing_in_stack(pairing: Pairing, source: Stack, stack: Stack) -> Pairing:
    """A pairing of `source`'s cameras as one of the stack's (a camera `source` lacks: no mic)."""
    code = camera_code(source, stack)
    mics: list[tuple[int, ...]] = [() for _ in stack.cameras]
    for camera, paired in enumerate(pairing.mics):
        mics[int(code[camera + 1])] = paired
    return replace(pairing, mics=tuple(mics))


def _to_decision(shown: np.ndarray, source: Stack, stack: Stack, fps: float, n: int) -> np.ndarray:
    """A camera per frame of `source` (cameras numbered as its own) brought to the decision rate
    as `edit_session` brings an edit's, its cameras numbered as the stack's."""
    rows = Resampler.between(len(shown), source.timeline.rate.fps_exact, frame_rate(fps)).source_rows
    decided = shown if rows is None else shown[rows]
    return _fit_length(camera_code(source, stack)[decided + 1], n)


def _shown_of(path: Path, stack: Stack, fps: float, n: int) -> np.ndarray:
    """The camera on top per decision frame of an edit written by synth (the oracle's)."""
    edit = read_stack(path)
    frames = stack_frames(edit)
    return _to_decision(edit.shown(frames.active), edit, stack, fps, n)


def _fit_length(shown: np.ndarray, n: int) -> np.ndarray:
    if len(shown) >= n:
        return shown[:n]
    return np.concatenate([shown, np.full(n - len(shown), shown[-1] if len(shown) else -1)])


def _control_editor(manifest: dict) -> str | None:
    for editor in manifest.get("editors", []):
        if (editor.get("sound") or {}).get("control"):
            return editor.get("name")
    return None


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Fraction):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


__all__ = [
    "FIGURES",
    "PREDICTORS",
    "CutEvalOptions",
    "CutEvaluation",
    "Session",
    "cut_split",
    "evaluate_cuts",
    "interval",
    "load_sessions",
    "split_sessions",
    "summary_lines",
]
