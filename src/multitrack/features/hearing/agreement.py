"""How well hearing's speech calls agree with known speech, per microphone and for the bleed.

For a session whose truth is known (synth's podcasts: every speaker's sound intervals),
`speech_agreement` takes each mic's `Hops` (as `analyse_media` or `analyse_all` give them,
ingest's own entry points) and each speaker's true sound as a hop mask (True where a hop's
centre lies inside one of their sounds), and scores them at a timeline's frame rate, through
`frame_figures` as ingest paints the frame table: a frame is called speech when at least
half of it is, and is truly the speaker's when at least half of it lies in their sound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from multitrack.features.hearing.analyse import Hops
from multitrack.features.hearing.frames import frame_figures


@dataclass(frozen=True)
class MicAgreement:
    """One mic against its own speaker's truth. Shares are of frames; nan where none qualify."""

    frames: int
    agreement: float  # frames where the call (speech or not) matches the own speaker's truth
    own_agreement: float  # the same over the frames where no other speaker makes a sound
    hit: float  # own speaker's frames called speech
    bleed_called: float  # frames where only other speakers make sound, called speech
    silence_called: float  # frames where nobody makes sound, called speech
    own_margin_db: float  # median, over frames only the own speaker sounds in: this mic's loudness
    #                       minus the loudest other mic's
    bleed_margin_db: float  # median, over frames only others sound in: this mic's loudness minus the
    #                         loudest of the sounding speakers' own mics


def speech_agreement(heard: Sequence[Hops], truth: Sequence[np.ndarray], fps: Fraction) -> list[MicAgreement]:
    """Mic k (heard[k]) scored against speaker k's truth (truth[k], bool per hop), the others' as bleed."""
    n_frames = int(min(len(hops.power) for hops in heard) * fps / 100)
    figures = [frame_figures(hops, Fraction(0), n_frames, fps, np.zeros(1)) for hops in heard]
    loudness = np.array([f[0] for f in figures])  # (mics, frames)
    called = np.array([f[1] >= 0.5 for f in figures])
    share = np.array([_truth_share(mask, hops, n_frames, fps) for mask, hops in zip(truth, heard, strict=True)])
    sounding = share >= 0.5  # (speakers, frames)
    silent = share == 0
    results = []
    for k in range(len(heard)):
        others = [j for j in range(len(heard)) if j != k]
        only_others = silent[k] & sounding[others].any(axis=0)
        only_own = sounding[k] & silent[others].all(axis=0)
        nobody = silent.all(axis=0)
        alone = silent[others].all(axis=0)
        talkers = np.where(sounding[others], loudness[others], -np.inf).max(axis=0)
        results.append(
            MicAgreement(
                frames=n_frames,
                agreement=float(np.mean(called[k] == sounding[k])),
                own_agreement=_mean(called[k][alone] == sounding[k][alone]),
                hit=_mean(called[k][sounding[k]]),
                bleed_called=_mean(called[k][only_others]),
                silence_called=_mean(called[k][nobody]),
                own_margin_db=_median(loudness[k][only_own] - loudness[others].max(axis=0)[only_own]),
                bleed_margin_db=_median(loudness[k][only_others] - talkers[only_others]),
            )
        )
    return results


def _truth_share(mask: np.ndarray, like: Hops, n_frames: int, fps: Fraction) -> np.ndarray:
    """The share of each frame inside the speaker's sound, by the same frame rule as the calls."""
    hops = Hops(np.ones(len(mask), np.float32), mask.astype(np.float32), like.sample_rate, like.hop_samples)
    return frame_figures(hops, Fraction(0), n_frames, fps, np.zeros(1))[1]


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else float("nan")
