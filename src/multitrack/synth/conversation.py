"""A conversation between 2-4 speakers: who makes a sound when, the truth a podcast is cut on.

`draw_conversation(rng, seconds, speakers)` plays a conversation forward turn by turn.
The floor passes from speaker to speaker with each guest's share of the talk (a host
talks less than the guest being interviewed); a turn's length is lognormal; between
turns comes a short gap, now and then a long pause, an overlap (the next speaker starts
before the last one ends) or an interruption (the last one breaks off a moment after).
A turn is phrases with breaths between them; listeners put in back-channels ("mm-hm")
during long turns, and now and then several speakers laugh together at the end of one.

Every sound is kept with its speaker, its kind and its exact start and end in seconds:
the microphones are rendered from these intervals (`synth.voices`), the editors cut on
them (`synth.podcast`), and hearing is scored against them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

import numpy as np

KINDS = ("speech", "backchannel", "laugh")
TURN_MEDIAN_SECONDS = 5.0  # lognormal turn length: median and log-sd
TURN_LOG_SD = 0.7
MIN_TURN_SECONDS = 0.8
GAP_SECONDS = (0.15, 0.8)  # an ordinary gap between turns
LONG_PAUSE = 0.06  # P(a long pause of 2.0-4.0 s between turns)
LONG_PAUSE_SECONDS = (2.0, 4.0)
OVERLAP = 0.12  # P(the next speaker starts 0.2-1.0 s before the turn ends)
OVERLAP_SECONDS = (0.2, 1.0)
INTERRUPT = 0.08  # P(the next speaker cuts in and the turn breaks off 0.3-1.2 s later)
INTERRUPT_SECONDS = (0.3, 1.2)
PHRASE_SECONDS = (0.8, 3.5)  # a phrase between breaths ...
BREATH_SECONDS = (0.15, 0.45)  # ... and the breath
BACKCHANNEL_EVERY_SECONDS = 7.0  # a listener's mean spacing of back-channels during a turn
BACKCHANNEL_SECONDS = (0.25, 0.6)
LAUGH = 0.07  # P(laughter shared by several speakers at the end of a turn)
LAUGH_SECONDS = (0.8, 2.5)
EMPHASIS_EVERY_SECONDS = 9.0  # mean spacing of stressed moments in a turn (an editor's punch-in cue)


@dataclass(frozen=True)
class Sound:
    """One stretch of one speaker's sound, in seconds from the start of the session."""

    speaker: int
    start: float
    end: float
    kind: str  # one of KINDS


@dataclass(frozen=True)
class Turn:
    """A speaker holding the floor: from their first phrase to their last."""

    speaker: int
    start: float
    end: float
    emphasis: tuple[float, ...] = ()  # moments of stress, seconds from the session's start
    interrupted: bool = False  # broken off by the next speaker


@dataclass(frozen=True)
class Conversation:
    seconds: float
    speakers: int
    shares: tuple[float, ...]  # each speaker's chance to take the floor next
    turns: tuple[Turn, ...]
    sounds: tuple[Sound, ...]  # sorted by start

    def intervals(self, speaker: int, kinds: tuple[str, ...] = KINDS) -> list[tuple[float, float]]:
        """The speaker's sound as sorted, merged (start, end) intervals in seconds."""
        spans = sorted((s.start, s.end) for s in self.sounds if s.speaker == speaker and s.kind in kinds)
        merged: list[tuple[float, float]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def shifted(self, by_s: float, seconds: float) -> Conversation:
        """The same conversation `by_s` later, in a recording of `seconds` (a media file's
        own time, where the timeline's frame 0 is `by_s` in)."""
        return Conversation(
            seconds,
            self.speakers,
            self.shares,
            tuple(
                dataclasses.replace(
                    t, start=t.start + by_s, end=t.end + by_s, emphasis=tuple(e + by_s for e in t.emphasis)
                )
                for t in self.turns
            ),
            tuple(dataclasses.replace(s, start=s.start + by_s, end=s.end + by_s) for s in self.sounds),
        )

    def to_json(self) -> dict:
        """The truth kept in synth.json: every sound and turn, times rounded to 1 ms."""
        return {
            "seconds": round(self.seconds, 3),
            "speakers": self.speakers,
            "shares": [round(share, 4) for share in self.shares],
            "turns": [_rounded(asdict(turn)) for turn in self.turns],
            "sounds": [_rounded(asdict(sound)) for sound in self.sounds],
        }


def draw_conversation(rng: np.random.Generator, seconds: float, speakers: int) -> Conversation:
    """A conversation of `seconds` between `speakers` (2-4), every draw from `rng`."""
    if not 2 <= speakers <= 4:
        raise ValueError(f"a conversation needs 2-4 speakers, got {speakers}")
    shares = _shares(rng, speakers)
    turns: list[Turn] = []
    sounds: list[Sound] = []
    speaker = int(rng.choice(speakers, p=shares))
    start = float(rng.uniform(0.3, 1.5))
    while start < seconds - MIN_TURN_SECONDS:
        length = max(MIN_TURN_SECONDS, float(rng.lognormal(np.log(TURN_MEDIAN_SECONDS), TURN_LOG_SD)))
        end = min(seconds, start + length)
        following = _next_speaker(rng, speaker, shares)
        handover = rng.random()
        interrupted = handover < INTERRUPT and end - start > 2.5
        if interrupted:  # the next speaker cuts in; this turn breaks off a moment later
            next_start = float(rng.uniform(start + 0.5 * (end - start), end))
            end = min(seconds, next_start + float(rng.uniform(*INTERRUPT_SECONDS)))
        elif handover < INTERRUPT + OVERLAP:
            next_start = end - float(rng.uniform(*OVERLAP_SECONDS))
        elif handover < INTERRUPT + OVERLAP + LONG_PAUSE:
            next_start = end + float(rng.uniform(*LONG_PAUSE_SECONDS))
        else:
            next_start = end + float(rng.uniform(*GAP_SECONDS))
        phrases = _phrases(rng, speaker, start, end)
        sounds += phrases
        turns.append(Turn(speaker, start, phrases[-1].end, _emphasis(rng, start, end), interrupted))
        sounds += _backchannels(rng, speaker, speakers, start, end)
        if rng.random() < LAUGH and end + 0.3 < seconds:
            sounds += _laughter(rng, speakers, end, seconds)
        speaker, start = following, max(next_start, start + MIN_TURN_SECONDS / 2)
    sounds.sort(key=lambda s: (s.start, s.speaker))
    return Conversation(seconds, speakers, tuple(shares), tuple(turns), tuple(sounds))


def _shares(rng: np.random.Generator, speakers: int) -> list[float]:
    """How much each speaker talks: uneven, as a host and guests are."""
    weights = rng.dirichlet(np.full(speakers, 3.0))
    return [float(w) for w in weights / weights.sum()]


def _next_speaker(rng: np.random.Generator, speaker: int, shares: list[float]) -> int:
    others = np.array([share if s != speaker else 0.0 for s, share in enumerate(shares)])
    return int(rng.choice(len(shares), p=others / others.sum()))


def _phrases(rng: np.random.Generator, speaker: int, start: float, end: float) -> list[Sound]:
    """A turn as phrases with breaths between; the last phrase ends the turn."""
    phrases, at = [], start
    while at < end:
        phrase_end = min(end, at + float(rng.uniform(*PHRASE_SECONDS)))
        if end - phrase_end < 0.4:  # no sliver of a phrase after the last breath
            phrase_end = end
        phrases.append(Sound(speaker, at, phrase_end, "speech"))
        at = phrase_end + float(rng.uniform(*BREATH_SECONDS))
    return phrases


def _emphasis(rng: np.random.Generator, start: float, end: float) -> tuple[float, ...]:
    count = rng.poisson((end - start) / EMPHASIS_EVERY_SECONDS)
    return tuple(sorted(float(t) for t in rng.uniform(start + 0.3, max(start + 0.3, end - 0.3), count)))


def _backchannels(rng: np.random.Generator, speaker: int, speakers: int, start: float, end: float) -> list[Sound]:
    """Listeners' "mm-hm"s during a turn, away from its edges."""
    sounds = []
    for listener in range(speakers):
        if listener == speaker:
            continue
        at = start + float(rng.exponential(BACKCHANNEL_EVERY_SECONDS))
        while at < end - 1.0:
            sounds.append(Sound(listener, at, at + float(rng.uniform(*BACKCHANNEL_SECONDS)), "backchannel"))
            at += float(rng.exponential(BACKCHANNEL_EVERY_SECONDS))
    return sounds


def _laughter(rng: np.random.Generator, speakers: int, at: float, seconds: float) -> list[Sound]:
    """Two or more speakers laughing together, each starting and stopping a little apart."""
    laughing = rng.choice(speakers, size=int(rng.integers(2, speakers + 1)), replace=False)
    length = float(rng.uniform(*LAUGH_SECONDS))
    sounds = []
    for speaker in sorted(int(s) for s in laughing):
        start = at + float(rng.uniform(-0.2, 0.3))
        sounds.append(Sound(speaker, start, min(seconds, start + length * float(rng.uniform(0.7, 1.2))), "laugh"))
    return sounds


def _rounded(entry: dict) -> dict:
    return {
        key: round(value, 3)
        if isinstance(value, float)
        else [round(v, 3) for v in value]
        if isinstance(value, tuple)
        else value
        for key, value in entry.items()
    }
