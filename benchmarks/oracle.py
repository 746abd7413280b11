"""How well a synthetic editor agrees with itself: the ceiling a model of that editor can reach.

Each editor profile cuts the same podcast sessions with its own random stream (cut seed 0) and
re-cuts them with others (cut seeds 1..K, the oracle of `multitrack synth --recut`); the figure is
the oracle's shown agreement and cut F1 (within 0.5 s) against the editor's own edit, with the
profile's main sound habits beside it. A profile below 0.6 is too random to learn from.

    python benchmarks/oracle.py [--editors 12] [--sessions 8] [--seconds 90] [--cut-seeds 3]
"""

from __future__ import annotations

import argparse

import numpy as np

from multitrack.evaluate.cut_metrics import cut_f1, shown_agreement
from multitrack.synth import synth_timeline
from multitrack.synth.profiles import draw_profiles

FPS = 25.0  # the grid the shots are compared on


def shown(shots: list[dict], seconds: float) -> np.ndarray:
    """The camera on screen per frame at FPS, from a session's shots in seconds."""
    cameras = np.zeros(int(round(seconds * FPS)), np.int64)
    for shot in shots:
        cameras[int(round(shot["start"] * FPS)) : int(round(shot["end"] * FPS))] = shot["camera"]
    return cameras


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--editors", type=int, default=12)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--cut-seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| editor | control | reaction s | jitter s | min shot s | wide share | reaction rate | shown | cut F1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for profile in draw_profiles(args.editors, args.seed):
        figures = []
        for index in range(args.sessions):
            own = synth_timeline(index, args.seed, profile, args.seconds, args.seconds, style="multicam")
            assert own.truth is not None
            seconds = own.truth["conversation"]["seconds"]
            truth = shown(own.truth["shots"], seconds)
            for cut_seed in range(1, args.cut_seeds + 1):
                oracle = synth_timeline(
                    index, args.seed, profile, args.seconds, args.seconds, style="multicam", cut_seed=cut_seed
                )
                assert oracle.truth is not None
                again = shown(oracle.truth["shots"], seconds)
                figures.append((shown_agreement(again, truth), cut_f1(again, truth, FPS, 0.5)))
        agreement, f1 = np.mean(figures, axis=0)
        habits = profile.sound
        print(
            f"| {profile.name} | {'yes' if habits.control else ''} | {habits.reaction_s:+.2f} | "
            f"{habits.reaction_jitter_s:.2f} | {habits.min_shot_s:.1f} | {habits.wide_share:.2f} | "
            f"{habits.reaction_rate:.2f} | {agreement:.3f} | {f1:.3f} |"
        )


if __name__ == "__main__":
    main()
