"""One media file, decoded once, -> 10-ms hops of power and speech for each wanted channel.

A hop is HOP_SECONDS of the channel's samples (at the stream's own rate, see decode.py):
power is their mean square (full scale 1.0, so a full-scale sine is 0.5, -3 dB), speech the
detector's call (vad.py). The last hop holds whatever samples remain (its power is their
mean). Cached per channel (cache.py): a channel found in the cache is not decoded again, and
a file whose every wanted channel is cached is not opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multitrack.features.hearing.decode import decode_channels
from multitrack.features.hearing.vad import SpeechDetector, vad_frame_samples

if TYPE_CHECKING:
    from multitrack.features.hearing.cache import HopCache

HOP_SECONDS = 0.01
HOPS_PER_SECOND = 100
# part of every cache key: bump when anything that changes the hops changes (the detector,
# its mode, the hop, the resampling)
ANALYSER_VERSION = 3


@dataclass(frozen=True, eq=False)
class Hops:
    """A channel's analysis: power and speech per 10-ms hop over the whole file."""

    power: np.ndarray  # float32[n_hops], mean square of the hop's samples, full scale 1.0
    speech: np.ndarray  # float32[n_hops], 0..1
    sample_rate: int  # the rate the hops were cut at
    hop_samples: int  # samples per hop at sample_rate

    @property
    def seconds(self) -> float:
        return len(self.power) * HOP_SECONDS


class DecodeCounter:
    """Real decodes so far in this process (pool workers' decodes are added by analyse_all)."""

    def __init__(self) -> None:
        self.count = 0


DECODE_COUNTER = DecodeCounter()


class _ChannelAnalysis:
    """Power and speech of one channel, fed its blocks in order."""

    def __init__(self, rate: int):
        self.rate = rate
        self.hop = rate // HOPS_PER_SECOND
        self.detector = SpeechDetector(rate)
        self.power: list[np.ndarray] = []
        self.speech: list[np.ndarray] = []

    def feed(self, samples: np.ndarray) -> None:
        whole = samples.shape[0] // self.hop
        rows = samples[: whole * self.hop].reshape(whole, self.hop)
        power = np.einsum("ij,ij->i", rows, rows) / np.float32(self.hop)
        if whole * self.hop < samples.shape[0]:
            tail = samples[whole * self.hop :]
            power = np.append(power, np.float32(np.dot(tail, tail) / tail.shape[0]))
        self.power.append(power.astype(np.float32, copy=False))
        self.speech.append(self.detector.speech(samples))

    def hops(self) -> Hops:
        power = np.concatenate(self.power) if self.power else np.zeros(0, np.float32)
        speech = np.concatenate(self.speech) if self.speech else np.zeros(0, np.float32)
        return Hops(power=power, speech=speech, sample_rate=self.rate, hop_samples=self.hop)


def analyse_media(path: Path, channels: Sequence[int], cache: HopCache | None) -> dict[int, Hops]:
    """Hops for each of `channels` (0-based across the file's audio streams) of one file.

    Decodes the file once for all the channels the cache lacks, streamed in blocks; raises
    MediaError naming the file (unreadable, corrupt, truncated, no such channel).
    """
    path = Path(path)
    wanted = list(dict.fromkeys(channels))
    found: dict[int, Hops] = {}
    keys: dict[int, str | None] = {}
    if cache is not None:
        for channel in wanted:
            keys[channel] = cache.key(path, channel)
            hops = cache.load(keys[channel])
            if hops is not None:
                found[channel] = hops
    missing = [channel for channel in wanted if channel not in found]
    if missing:
        decoded = _decode_and_analyse(path, missing)
        if cache is not None:
            for channel, hops in decoded.items():
                cache.store(keys[channel], hops)
        found.update(decoded)
    return {channel: found[channel] for channel in wanted}


def _decode_and_analyse(path: Path, channels: list[int]) -> dict[int, Hops]:
    DECODE_COUNTER.count += 1
    analyses: dict[int, _ChannelAnalysis] = {}
    for channel, rate, block in decode_channels(path, channels, vad_frame_samples):
        if channel not in analyses:
            analyses[channel] = _ChannelAnalysis(rate)
        analyses[channel].feed(block)
    return {channel: analyses[channel].hops() if channel in analyses else _empty() for channel in channels}


def _empty() -> Hops:
    """A stream that decoded no samples at all: no hops (every frame unheard)."""
    return Hops(np.zeros(0, np.float32), np.zeros(0, np.float32), 0, 0)
