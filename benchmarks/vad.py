"""Which voice-activity detector hears the timeline: WebRTC (webrtcvad-wheels) against Silero VAD.

Prints, for each detector: its speed (CPU seconds per hour of audio, one thread), its frame
agreement with known speech timings on two test sets, and how well its speech call separates
a speaker's own voice from the same voice bleeding into another mic 20 dB lower:

- synthetic: speech-like audio (tests/audiogen.py: voiced syllables coloured by formants,
  a syllable-rate envelope, utterances and pauses placed at known times) over room noise;
- tts: real speech rendered by espeak-ng (Debian's `espeak-ng` package: `apt-get install -y
  espeak-ng`), utterances trimmed to their sound and concatenated with pauses placed here;
- bleed: two mics, two talkers taking turns; each mic hears its own talker and the other 20 dB
  lower, over its own room noise. Own = hops where the mic's talker speaks, bleed = hops where
  only the other one does.

WebRTC runs as the engine runs it (features/hearing/vad.py: 30-ms frames at 8 kHz, each
mode 0-3). Silero runs its ONNX file from the silero-vad wheel's data folder, found with
importlib.util.find_spec (the package itself imports torch and is never imported), with
onnxruntime on one thread, 512-sample windows at 16 kHz, threshold 0.5; "batched" cuts the
audio into 64 pieces run side by side as one batch (each piece starts its state afresh).

    flock /tmp/cpu.lock python benchmarks/vad.py [--minutes 10]

Needs the `bench` extra (pip install onnxruntime silero-vad) and espeak-ng for the tts set.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from multitrack.features.hearing.vad import SpeechDetector
from multitrack.synth.audio import interval_mask, speech_like

RATE = 16000
NOISE_DB = -50.0  # room noise under every test set, dBFS RMS
BLEED_DB = -20.0
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "We recorded the whole conversation on four microphones.",
    "Honestly, I never thought the edit would take this long.",
    "Can you tell me where you were on the night of the fifth?",
    "Numbers like three hundred and forty two are hard to say quickly.",
    "She sells sea shells by the sea shore.",
    "The camera cuts to whoever is speaking, most of the time.",
    "Yes.",
    "No, that is not what I meant at all.",
    "Let us take a short break and come back in ten minutes.",
    "Audio levels were set far too low on the second recorder.",
    "Podcast editors cut picture on sound.",
    "Well, it depends on what you mean by a good take.",
    "I think so.",
    "The interview ran for almost three hours without a pause.",
    "Everything about this room echoes terribly.",
]
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb+m3"]

Detector = Callable[[np.ndarray], np.ndarray]  # float32 16-kHz samples -> speech per 10-ms hop (0..1)


# ---- detectors -------------------------------------------------------------------------------


def webrtc(mode: int) -> Detector:
    def detect(samples: np.ndarray) -> np.ndarray:
        return SpeechDetector(RATE, mode).speech(samples)

    return detect


def silero_model_path() -> Path:
    spec = importlib.util.find_spec("silero_vad")  # finds the package without importing it (it imports torch)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("silero-vad is not installed: pip install silero-vad onnxruntime (the bench extra)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad.onnx"


def silero(batch: int = 1) -> Detector:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(silero_model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    window, context = 512, 64
    sr = np.array(RATE, dtype=np.int64)

    def detect(samples: np.ndarray) -> np.ndarray:
        n_windows = -(-samples.shape[0] // window)
        per_piece = -(-n_windows // batch)
        padded = np.zeros(per_piece * batch * window, np.float32)
        padded[: samples.shape[0]] = samples
        pieces = padded.reshape(batch, per_piece, window)  # (B, windows, 512)
        state = np.zeros((2, batch, 128), np.float32)
        previous = np.zeros((batch, context), np.float32)
        probabilities = np.zeros((batch, per_piece), np.float32)
        for w in range(per_piece):
            x = np.concatenate([previous, pieces[:, w]], axis=1)  # (B, 576)
            out, state = session.run(None, {"input": x, "state": state, "sr": sr})
            probabilities[:, w] = out[:, 0]
            previous = x[:, -context:]
        per_window = probabilities.reshape(-1)[:n_windows]
        hops = -(-samples.shape[0] // (RATE // 100))
        centres = (np.arange(hops) + 0.5) * (RATE // 100)
        return per_window[np.minimum((centres // window).astype(int), n_windows - 1)]

    return detect


def detectors() -> dict[str, Detector]:
    found: dict[str, Detector] = {f"webrtc mode {mode}": webrtc(mode) for mode in range(4)}
    found["silero"] = silero(batch=1)
    found["silero batched"] = silero(batch=64)
    return found


# ---- test sets -------------------------------------------------------------------------------


def room_noise(n: int, seed: int) -> np.ndarray:
    """Pinkish noise (white with a gentle low-pass) at NOISE_DB RMS."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(n + 8)
    pink = np.convolve(white, np.ones(8) / 8, mode="valid")[:n] + 0.3 * white[:n]
    return (pink / pink.std() * 10 ** (NOISE_DB / 20)).astype(np.float32)


def synthetic_set(minutes: float) -> tuple[np.ndarray, np.ndarray]:
    voice, intervals = speech_like(minutes * 60, RATE, seed=11)
    samples = voice + room_noise(voice.shape[0], seed=12)
    return samples, interval_mask(intervals, -(-samples.shape[0] // (RATE // 100)))


def read_mono(path: Path) -> np.ndarray:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    pieces = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(pieces)


def utterances(folder: Path, voice: str) -> list[np.ndarray]:
    """Each sentence spoken by `voice`, trimmed to its sound (the first and last sample above -50 dB)."""
    spoken = []
    for index, sentence in enumerate(SENTENCES):
        path = folder / f"{voice.replace('+', '_')}_{index}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(path), sentence], check=True)
        samples = read_mono(path)
        loud = np.flatnonzero(np.abs(samples) > 10 ** (-50 / 20))
        spoken.append(0.5 * samples[loud[0] : loud[-1] + 1] / np.abs(samples).max())
    return spoken


def place(pieces: list[np.ndarray], seed: int, gap_seconds: tuple[float, float]) -> tuple[np.ndarray, list]:
    """Concatenate `pieces` with pauses drawn from gap_seconds; returns samples and the pieces' intervals."""
    rng = np.random.default_rng(seed)
    out, intervals, at = [], [], 0
    for piece in pieces:
        gap = int(rng.uniform(*gap_seconds) * RATE)
        out += [np.zeros(gap, np.float32), piece.astype(np.float32)]
        at += gap
        intervals.append((at / RATE, (at + piece.shape[0]) / RATE))
        at += piece.shape[0]
    out.append(np.zeros(RATE, np.float32))
    return np.concatenate(out), intervals


def tts_set(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    spoken = [piece for voice in VOICES for piece in utterances(folder, voice)]
    order = np.random.default_rng(5).permutation(len(spoken))
    samples, intervals = place([spoken[i] for i in order], seed=6, gap_seconds=(0.4, 2.5))
    samples = samples + room_noise(samples.shape[0], seed=7)
    return samples, interval_mask(intervals, -(-samples.shape[0] // (RATE // 100)))


def bleed_set(folder: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two mics, two TTS talkers taking turns: (mic samples, own-voice masks) per mic."""
    talkers = [utterances(folder, "en-us"), utterances(folder, "en-gb+m3")]
    rng = np.random.default_rng(8)
    speakers = rng.integers(2, size=2 * len(SENTENCES))
    turns = [(int(who), talkers[who][i % len(SENTENCES)]) for i, who in enumerate(speakers)]
    samples, intervals = place([piece for _, piece in turns], seed=9, gap_seconds=(0.3, 1.5))
    n = samples.shape[0]
    own = [np.zeros(n, np.float32), np.zeros(n, np.float32)]
    hops = -(-n // (RATE // 100))
    masks = [np.zeros(hops, bool), np.zeros(hops, bool)]
    for (who, piece), (start, end) in zip(turns, intervals, strict=True):
        first = int(round(start * RATE))
        own[who][first : first + piece.shape[0]] = piece
        masks[who] |= interval_mask([(start, end)], hops)
    gain = np.float32(10 ** (BLEED_DB / 20))
    mics = [own[0] + gain * own[1] + room_noise(n, 20), own[1] + gain * own[0] + room_noise(n, 21)]
    return mics, masks


# ---- figures ---------------------------------------------------------------------------------


def agreement(speech: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(share of hops that agree, share of speech hops called speech, share of pauses called speech)."""
    called = speech[: truth.shape[0]] >= 0.5
    return float((called == truth).mean()), float(called[truth].mean()), float(called[~truth].mean())


def auc(own: np.ndarray, bleed: np.ndarray) -> float:
    """P(a random own-voice hop scores above a random bleed hop), ties half."""
    scores = np.concatenate([own, bleed])
    order = scores.argsort(kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks for ties
    unique, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2 + 1
    ranks[order] = np.repeat(average, counts)
    return float((ranks[: len(own)].sum() - len(own) * (len(own) + 1) / 2) / (len(own) * len(bleed)))


def hop_power_db(samples: np.ndarray) -> np.ndarray:
    hop = RATE // 100
    whole = samples.shape[0] // hop * hop
    power = np.square(samples[:whole].reshape(-1, hop)).mean(axis=1)
    return 10 * np.log10(np.maximum(power, 1e-12))


def timed(detect: Detector, samples: np.ndarray) -> tuple[np.ndarray, float]:
    started = time.process_time()
    speech = detect(samples)
    return speech, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the synthetic set")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng not found: apt-get install -y espeak-ng")
    with tempfile.TemporaryDirectory() as folder:
        synthetic, synthetic_truth = synthetic_set(args.minutes)
        tts, tts_truth = tts_set(Path(folder))
        mics, own_masks = bleed_set(Path(folder))
    print(
        f"sets: synthetic {synthetic.shape[0] / RATE / 60:.1f} min ({synthetic_truth.mean():.0%} speech), "
        f"tts {tts.shape[0] / RATE / 60:.1f} min ({tts_truth.mean():.0%} speech), "
        f"bleed 2 mics x {mics[0].shape[0] / RATE / 60:.1f} min; "
        f"room noise {NOISE_DB:.0f} dBFS, bleed {BLEED_DB:.0f} dB"
    )
    header = (
        "| detector | CPU s per audio hour | synthetic: agree / speech hit / pause false | "
        "tts: agree / hit / false | bleed: own called / bleed called / AUC |"
    )
    print(header)
    print("|---|---|---|---|---|")
    for name, detect in detectors().items():
        synthetic_speech, seconds = timed(detect, synthetic)
        tts_speech, tts_seconds = timed(detect, tts)
        per_hour = (seconds + tts_seconds) / ((synthetic.shape[0] + tts.shape[0]) / RATE) * 3600
        own_scores, bleed_scores = [], []
        for mic, own, other in zip(mics, own_masks, own_masks[::-1], strict=True):
            speech = detect(mic)[: own.shape[0]]
            own_scores.append(speech[own & ~other])
            bleed_scores.append(speech[other & ~own])
        own_all, bleed_all = np.concatenate(own_scores), np.concatenate(bleed_scores)
        cells = [
            "{:.1%} / {:.1%} / {:.1%}".format(*agreement(synthetic_speech, synthetic_truth)),
            "{:.1%} / {:.1%} / {:.1%}".format(*agreement(tts_speech, tts_truth)),
            f"{(own_all >= 0.5).mean():.1%} / {(bleed_all >= 0.5).mean():.1%} / {auc(own_all, bleed_all):.3f}",
        ]
        print(f"| {name} | {per_hour:.1f} | " + " | ".join(cells) + " |")
    # energy against the other mic, the figure the frame table gives the model beside the speech call
    levels = [hop_power_db(mic) for mic in mics]
    n = min(len(level) for level in levels)
    margin_own, margin_bleed = [], []
    for index, (own, other) in enumerate(zip(own_masks, own_masks[::-1], strict=True)):
        margin = levels[index][:n] - levels[1 - index][:n]
        margin_own.append(margin[(own & ~other)[:n]])
        margin_bleed.append(margin[(other & ~own)[:n]])
    own_margin, bleed_margin = np.concatenate(margin_own), np.concatenate(margin_bleed)
    print(
        f"energy against the other mic: own voice median {np.median(own_margin):+.1f} dB, "
        f"bleed median {np.median(bleed_margin):+.1f} dB, AUC {auc(own_margin, bleed_margin):.3f}, "
        f"own hops louder than the other mic {(own_margin > 0).mean():.1%}"
    )


if __name__ == "__main__":
    main()
