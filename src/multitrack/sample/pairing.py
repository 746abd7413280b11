"""Which microphone belongs to which camera: the pairing every sound-driven cut starts from.

A pairing maps each camera (an angle of a stack: a media file on a video track, or an angle of
a Premiere multicam nest) to zero, one or two mics; the camera paired to no mic, or to every
mic, is the **wide** (DESIGN.md §8). Cameras and mics are counted from 0 here (camera i, mic j);
`cut/stack.py` names them (V2, A1, file names).

Where a pairing comes from, in the order `multitrack cut` tries them (issue 15, item 1):

1. given (`--pair V2=A1 …`): `Pairing.given`;
2. the editor's own first seconds (`--prompt-seconds`), or in training data the whole edit:
   `infer_from_shown` (which mic's speech predicts each camera being shown);
3. the cameras' scratch audio: `infer_from_scratch` (a speaker is loudest in the camera
   nearest them: the wide hears everyone alike);
4. the convention most common in the training sessions: `most_common_convention`.

A pairing is never inferred from the edit being scored (evaluation cuts the stack with the
pairing from 1-4, never from the truth).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# infer_from_shown: a camera takes a mic when the camera's screen share while that mic speaks
# alone is at least this much above its mean share while each other mic speaks alone (a close-up
# of the speaker: ~+0.6; the wide, shown through pauses and overlaps: ~0). Under it: none.
SHOWN_LIFT = 0.25
# infer_from_scratch: a camera takes a mic when its scratch audio is this many dB louder, while
# that mic speaks alone, than on average over every mic's speech (the camera nearest a speaker)
SCRATCH_DB = 1.0  # dB a close-up hears its speaker above the double-centred level (the demo's lowest right pick: 1.56)
MAX_MICS_PER_CAMERA = 2  # a two-shot: two people in one frame
MIN_ALONE_FRAMES = 5  # a mic heard alone on fewer frames says nothing about where it belongs


@dataclass(frozen=True)
class Pairing:
    """`mics[i]`: the mics (0-based) camera i is paired to; `source` how it was found, `reason` why."""

    mics: tuple[tuple[int, ...], ...]
    n_mics: int
    source: str = "given"  # given | prompt | edit | scratch | convention | default
    reason: str = ""

    @property
    def n_cameras(self) -> int:
        return len(self.mics)

    @property
    def wide(self) -> int | None:
        """The camera paired to no mic or to all (the first such), None when every camera is a close-up."""
        for camera, mics in enumerate(self.mics):
            if not mics or (self.n_mics > 1 and len(mics) == self.n_mics):
                return camera
        return None

    def camera_of_mic(self) -> np.ndarray:
        """(M,) int: the close-up that shows each mic's speaker (the first, for a mic on two), else the wide
        (else camera 0)."""
        wide = self.wide
        fallback = wide if wide is not None else 0
        out = np.full(self.n_mics, fallback, dtype=np.int64)
        for camera in reversed(range(self.n_cameras)):
            if camera == wide:
                continue
            for mic in self.mics[camera]:
                out[mic] = camera
        return out

    def convention(self) -> tuple[tuple[int, ...], ...]:
        """The pairing as cameras in order to mics in order: what sessions share as a convention."""
        return self.mics

    @classmethod
    def given(cls, mics: Sequence[Sequence[int]], n_mics: int, reason: str = "--pair") -> Pairing:
        return cls(tuple(tuple(sorted(set(m))) for m in mics), n_mics, "given", reason)

    @classmethod
    def default(cls, n_cameras: int, n_mics: int) -> Pairing:
        """With nothing to go on: camera i+1 shows mic i (V1 the wide, V2 A1, V3 A2, …), as stacks are
        commonly laid out; cameras beyond the mics get none."""
        mics = tuple((i - 1,) if 1 <= i <= n_mics else () for i in range(n_cameras))
        return cls(mics, n_mics, "default", "no --pair, no prompt, no scratch audio heard: V1 the wide, V(k+1)=A(k)")


def alone(active: np.ndarray) -> np.ndarray:
    """(M, N) bool: each mic active while no other is."""
    return active & (active.sum(axis=0) == 1)[None, :]


def infer_from_shown(active: np.ndarray, shown: np.ndarray, n_cameras: int, source: str = "edit") -> Pairing | None:
    """The pairing an edit shows: `active` (M, N) bool mic activity, `shown` (N,) the camera on
    screen (-1: none of them). None when no mic speaks alone on enough frames to tell."""
    n_mics = active.shape[0]
    solo = alone(active)
    on = shown >= 0
    if not on.any() or n_cameras == 0:
        return None
    base = np.array([(shown[on] == c).mean() for c in range(n_cameras)])  # (C,)
    share = np.full((n_cameras, n_mics), np.nan)
    for mic in range(n_mics):
        frames = solo[mic] & on
        if frames.sum() >= MIN_ALONE_FRAMES:
            share[:, mic] = [(shown[frames] == c).mean() for c in range(n_cameras)]
    heard = ~np.isnan(share[0])
    if not heard.any():
        return None
    lift = np.full((n_cameras, n_mics), -1.0)
    for heard_mic in np.flatnonzero(heard).tolist():
        others = heard.copy()
        others[heard_mic] = False
        reference = share[:, others].mean(axis=1) if others.any() else base
        lift[:, heard_mic] = share[:, heard_mic] - reference
    mics = _strongest(lift, SHOWN_LIFT)
    shown_text = ", ".join(
        f"camera {c + 1}: mic {'+'.join(str(m + 1) for m in ms) or 'none'}" for c, ms in enumerate(mics)
    )
    return Pairing(mics, n_mics, source, f"shown while each mic speaks alone ({shown_text})")


def infer_from_scratch(active: np.ndarray, scratch_db: np.ndarray, heard: np.ndarray) -> Pairing | None:
    """The pairing the cameras' own sound gives: `scratch_db` (C, N) each camera's loudness, `heard`
    (C,) whether its sound was heard at all. None when fewer than two cameras were heard or no mic
    speaks alone on enough frames."""
    n_mics = active.shape[0]
    n_cameras = scratch_db.shape[0]
    if heard.sum() < 2:
        return None
    solo = alone(active)
    any_solo = solo.any(axis=0)
    if any_solo.sum() < MIN_ALONE_FRAMES:
        return None
    level = np.full((n_cameras, n_mics), np.nan)
    for mic in range(n_mics):
        if solo[mic].sum() >= MIN_ALONE_FRAMES:
            level[:, mic] = scratch_db[:, solo[mic]].mean(axis=1)
    level[~heard.astype(bool)] = np.nan
    # Double-centred: a camera louder for one speaker than for its others, beyond how loud that
    # speaker is everywhere and how loud the camera is for everyone (a wide hears all of them well,
    # a quiet speaker is quiet in every camera). Centring by camera alone missed half the close-ups
    # of the demo's sessions (25 of 51 right; 50 of 51 so: docs/decisions.md "pairing from scratch").
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a mic never alone: its column is all NaN
        relative = (
            level
            - np.nanmean(level, axis=1, keepdims=True)
            - np.nanmean(level, axis=0, keepdims=True)
            + np.nanmean(level)
        )
    relative = np.where(np.isnan(relative), -np.inf, relative)
    best = relative.argmax(axis=0)  # (M,): the camera that hears each mic's speaker most, relatively
    score = np.where(np.arange(n_cameras)[:, None] == best[None, :], relative, -np.inf)
    mics = _strongest(score, SCRATCH_DB)
    return Pairing(
        mics, n_mics, "scratch", f"loudest camera scratch audio while each mic speaks alone (≥{SCRATCH_DB} dB)"
    )


def _strongest(score: np.ndarray, threshold: float) -> tuple[tuple[int, ...], ...]:
    """Per camera, the (at most two) mics whose score reaches the threshold, strongest first then sorted."""
    out = []
    for row in score:
        picked = [int(m) for m in np.argsort(-row, kind="stable")[:MAX_MICS_PER_CAMERA] if row[m] >= threshold]
        out.append(tuple(sorted(picked)))
    return tuple(out)


def most_common_convention(
    pairings: Sequence[Pairing], n_cameras: int, n_mics: int
) -> tuple[tuple[int, ...], ...] | None:
    """The pairing most training sessions with as many cameras and mics used (ties: the first met)."""
    counts = Counter(p.convention() for p in pairings if p.n_cameras == n_cameras and p.n_mics == n_mics)
    if not counts:
        return None
    return counts.most_common(1)[0][0]
