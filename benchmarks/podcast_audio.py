"""Benchmark a podcast session's sound: render time, disk size, and how well hearing agrees with the truth.

    flock /tmp/cpu.lock python benchmarks/podcast_audio.py [--minutes 15] [--speakers 4] [--rate 48000]

Draws a conversation (synth.conversation) of --minutes between --speakers, their voices, and
four cameras (a wide, a close-up of speaker 0 and of speaker 1, a two-shot of the rest, or of
speaker 1 alone with two speakers); renders every mic and every camera's scratch audio with
synth.voices.render_session (AAC in .m4a and .mov, one core) and prints its wall time per
minute of audio and the files' size. Then hears the mics with hearing's own entry point
(features.hearing.analyse_all, as ingest does; WebRTC's detector) and prints, per mic, at 25
fps (features.hearing.agreement): agreement with its own speaker's truth (any sound: speech,
back-channel, laugh) over all frames and over those where no other speaker sounds ("alone"),
the share of their frames called speech, the share of frames where only *other* speakers sound
that the mic calls speech (the bleed), of silent frames called speech, and the loudness margins
(own voice against the loudest other mic; bleed against the talker's own mic). The reference
beside the render time is the AAC encoding alone of the same minutes of audio, in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from multitrack.features.hearing import analyse_all
from multitrack.features.hearing.agreement import speech_agreement
from multitrack.synth.audio import AudioWriter, interval_mask
from multitrack.synth.conversation import draw_conversation
from multitrack.synth.voices import BIT_RATE, CODEC_OPTIONS, Camera, draw_voices, render_session

FPS = Fraction(25)


def cameras_for(speakers: int) -> list[Camera]:
    rest = tuple(range(2, speakers)) if speakers > 2 else (1,)
    return [Camera("wide", ()), Camera("close0", (0,), 1.0, 2.0), Camera("close1", (1,), 2.5, 1.0), Camera("two", rest)]


def encode_only(folder: Path, minutes: float, rate: int) -> float:
    """The reference: AAC-encoding `minutes` of low noise, in 10-s blocks, as the render writes."""
    block = (1e-3 * np.random.default_rng(0).standard_normal(10 * rate)).astype(np.float32)
    started = time.perf_counter()
    writer = AudioWriter(folder / "reference.m4a", 1, rate, "aac", bit_rate=BIT_RATE, codec_options=CODEC_OPTIONS)
    for _ in range(int(minutes * 6)):
        writer.write(block)
    writer.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--speakers", type=int, default=4)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    conversation = draw_conversation(rng, args.minutes * 60, args.speakers)
    voices = draw_voices(rng, args.speakers)
    cameras = cameras_for(args.speakers)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        mics = [folder / f"mic{k + 1}.m4a" for k in range(args.speakers)]
        shots = [folder / f"{camera.name}.mov" for camera in cameras]
        started = time.perf_counter()
        audio = render_session(conversation, voices, cameras, mics, shots, rng, rate=args.rate)
        render = time.perf_counter() - started
        audio_minutes = (audio.seconds * len(mics) + sum(audio.camera_seconds)) / 60
        reference = encode_only(folder, audio_minutes, args.rate)
        mic_mb = sum(p.stat().st_size for p in mics) / 1e6
        camera_mb = sum(p.stat().st_size for p in shots) / 1e6
        print(
            f"session: {args.speakers} speakers x {args.minutes:g} min ({args.speakers * args.minutes:g} mic-minutes) "
            f"+ {len(cameras)} cameras' scratch audio = {audio_minutes:.1f} audio minutes at {args.rate} Hz, "
            f"AAC {BIT_RATE // 1000} kb/s"
        )
        print(
            f"render: {render:.1f} s wall, one core ({render / audio_minutes:.3f} s per audio minute); "
            f"AAC encoding alone of as many minutes: {reference:.1f} s ({render / reference:.2f}x)"
        )
        per_minute = (mic_mb + camera_mb) / audio_minutes
        print(f"disk: mics {mic_mb:.1f} MB, cameras {camera_mb:.1f} MB ({per_minute:.2f} MB a minute)")
        started = time.perf_counter()
        results, errors = analyse_all({path: [0] for path in mics}, None, jobs=1)
        print(f"heard the mics in {time.perf_counter() - started:.1f} s (analyse_all, one process)")
        if errors:
            raise SystemExit(f"hearing failed: {errors}")
    heard = [results[(path, 0)] for path in mics]
    truth = [interval_mask(conversation.intervals(k), len(hops.power)) for k, hops in enumerate(heard)]
    print(f"\nspeech calls at {FPS} fps against the truth (any sound of the speaker's: speech, back-channel, laugh)")
    print("mic  speaker      share  agree  alone   hit    bleed called  silence called  own margin  bleed margin")
    rows = speech_agreement(heard, truth, FPS)
    for k, (row, voice) in enumerate(zip(rows, voices, strict=True)):
        print(
            f"{k + 1:>3}  {voice.pitch_hz:5.0f} Hz  {np.mean(truth[k]):6.1%}  {row.agreement:6.1%} "
            f"{row.own_agreement:6.1%} {row.hit:6.1%}  "
            f"{row.bleed_called:11.1%}  {row.silence_called:14.1%}  {row.own_margin_db:+8.1f} dB  "
            f"{row.bleed_margin_db:+9.1f} dB"
        )
    drawn = [db for m, row in enumerate(audio.bleed_db) for s, db in enumerate(row) if s != m]
    print(
        f"mean: agreement {np.mean([r.agreement for r in rows]):.1%} (alone "
        f"{np.mean([r.own_agreement for r in rows]):.1%}), hit {np.mean([r.hit for r in rows]):.1%}, "
        f"bleed called speech {np.nanmean([r.bleed_called for r in rows]):.1%} "
        f"(bleed drawn {min(drawn):.1f}-{max(drawn):.1f} dB below the own mic)"
    )


if __name__ == "__main__":
    main()
