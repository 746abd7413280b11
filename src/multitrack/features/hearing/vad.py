"""Voice activity: WebRTC's detector (webrtcvad-wheels) over 30-ms frames at 8 kHz.

Chosen over Silero VAD by measurement (docs/decisions.md, "hearing: voice-activity
detector"; `python benchmarks/vad.py`). WebRTC's detector band-splits at 8 kHz whatever
rate it is given, so the signal is taken down to 8 kHz here, where that costs least: a
mean over each group of samples when the rate is a multiple of 8 kHz, else linear
interpolation (the detector only weighs bands below 4 kHz).
"""

from __future__ import annotations

import _webrtcvad  # the C extension webrtcvad.Vad wraps: called directly, 120,000 times an hour
import numpy as np
import webrtcvad

VAD_RATE = 8000
VAD_FRAME_HOPS = 3  # 30-ms frames: WebRTC's longest, a third of the calls of 10-ms frames
# 0 (calls most things speech) .. 3 (least): 3 calls a voice bleeding in 20 dB down speech least
# (11% of its hops against 42% at mode 2) for a point or two of agreement (docs/decisions.md)
VAD_MODE = 3
_FRAME_SAMPLES = VAD_RATE * VAD_FRAME_HOPS // 100  # 240


def vad_frame_samples(rate: int) -> int:
    """Samples of one detector frame at `rate` (a multiple of 100 Hz): the block alignment."""
    return rate * VAD_FRAME_HOPS // 100


class SpeechDetector:
    """Per-hop speech calls (0 or 1) for one channel, fed blocks of whole detector frames."""

    def __init__(self, rate: int, mode: int = VAD_MODE):
        self.rate = rate
        self._vad = webrtcvad.Vad(mode)
        self._handle = self._vad._vad

    def speech(self, samples: np.ndarray) -> np.ndarray:
        """float32[n_hops] for `samples` (float32 at full scale 1.0, whole frames except a last block).

        n_hops counts a last partial hop, as the power does; a last partial frame is padded with
        silence.
        """
        hops = -(-samples.shape[0] * 100 // self.rate)
        pcm = _to_pcm16(_to_vad_rate(samples, self.rate))
        partial = pcm.shape[0] % _FRAME_SAMPLES
        if partial:
            pcm = np.concatenate([pcm, np.zeros(_FRAME_SAMPLES - partial, np.int16)])
        data = pcm.tobytes()
        step, process, handle = 2 * _FRAME_SAMPLES, _webrtcvad.process, self._handle
        # Vad.is_speech checks the length and calls process: a third of the time, spent on nothing
        calls = [process(handle, VAD_RATE, data[i : i + step], _FRAME_SAMPLES) for i in range(0, len(data), step)]
        return np.repeat(np.array(calls, np.float32), VAD_FRAME_HOPS)[:hops]


def _to_vad_rate(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == VAD_RATE:
        return samples
    if rate % VAD_RATE == 0:
        factor = rate // VAD_RATE
        whole = samples.shape[0] // factor * factor
        low = samples[:whole].reshape(-1, factor) @ np.full(factor, 1 / factor, np.float32)  # 10x .mean(axis=1)
        if whole < samples.shape[0]:
            low = np.append(low, samples[whole:].mean())
        return low
    count = -(-samples.shape[0] * VAD_RATE // rate)
    positions = np.arange(count, dtype=np.float64) * (rate / VAD_RATE)
    return np.interp(positions, np.arange(samples.shape[0]), samples)


def _to_pcm16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 32767 / 32768) * 32768).astype(np.int16)
