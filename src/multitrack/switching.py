"""The loudness switcher's rule: the strongest version of what today's auto-cut tools do.

Show the camera of the one who speaks, after a reaction delay (negative: anticipation, the
sound being known ahead), never cut before the shot has lasted a minimum length, and go to
the wide when nobody has spoken for a while or several cameras' speakers talk at once for a
while. It runs at one rate on whatever says who speaks: the mics' activity when cutting a stack
(`sample.switcher`, `cut`), the true speech of a synthetic conversation for synth's control
editor (`synth.podcast`), who *is* this rule. Numpy only, at the base of the package, so both
use this one copy.

The simulation is event-level, so fitting it over a grid costs seconds for an hour of audio:
the wanted camera changes only where the set of speaking cameras does (`targets`, vectorised),
the delay moves those events, and only the minimum shot needs a pass over the events
(`apply_min_shot`), not over frames.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np


@dataclass(frozen=True)
class RuleSettings:
    """The switcher's settings, in seconds (fitted per editor: evaluate/rules.py).

    DEFAULT_RULES are what `multitrack cut --rules` uses with nothing to fit on (README).
    `silence_s` / `overlap_s` inf: never go to the wide for that reason.
    """

    delay_s: float = 0.3  # cut this long after the speaker changes (negative: before)
    min_shot_s: float = 2.0  # no cut until the shot on screen has lasted this long
    silence_s: float = 3.0  # nobody has spoken for this long: the wide
    overlap_s: float = 1.0  # several cameras' speakers at once for this long: the wide
    speech_threshold: float = 0.5  # a frame's speech share from which a mic speaks
    dominance_db: float = 10.0  # … when within this of the loudest mic (bleed is quieter)

    def to_json(self) -> dict[str, float | str]:
        return {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, float | str]) -> RuleSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in data.items() if k in known})

    def with_values(self, **values: float) -> RuleSettings:
        return replace(self, **values)


DEFAULT_RULES = RuleSettings()


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the True runs of a 1-D bool array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _fill_after(out: np.ndarray, mask: np.ndarray, after: int, value: int) -> None:
    """out[s + after : e] = value for each True run [s, e) of mask longer than `after` frames."""
    starts, ends = _runs(mask)
    long = ends - starts > after
    if not long.any():
        return
    delta = np.zeros(len(out) + 1, dtype=np.int64)
    np.add.at(delta, starts[long] + after, 1)
    np.add.at(delta, ends[long], -1)
    out[np.cumsum(delta[:-1]) > 0] = value


def frames_of(seconds: float, fps: float) -> int:
    """A duration in whole frames at the decision rate (inf stays effectively never)."""
    if math.isinf(seconds):
        return 2**62
    return int(round(seconds * fps))


def targets(
    active: np.ndarray, camera_of_mic: np.ndarray, wide: int, n_cameras: int, silence_frames: int, overlap_frames: int
) -> np.ndarray:
    """(N,) int: the camera the rules want on each frame, before delay and minimum shot.

    One speaking camera (its mics' speakers, a mic without a close-up counting as the wide's):
    that camera. Nobody for more than `silence_frames`, or several cameras for more than
    `overlap_frames`: the wide. In between (a short pause, a short overlap): what was wanted before.
    """
    n = active.shape[1]
    speaking = np.zeros((n_cameras, n), dtype=bool)
    for mic, camera in enumerate(camera_of_mic):
        speaking[camera] |= active[mic]
    count = speaking.sum(axis=0)
    wanted = np.full(n, -1, dtype=np.int64)
    single = count == 1
    wanted[single] = speaking[:, single].argmax(axis=0)
    _fill_after(wanted, count == 0, silence_frames, wide)
    _fill_after(wanted, count >= 2, overlap_frames, wide)
    index = np.where(wanted >= 0, np.arange(n), -1)
    np.maximum.accumulate(index, out=index)
    filled = np.where(index >= 0, wanted[np.maximum(index, 0)], wide)
    return filled


def target_events(wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames, cameras) where the wanted camera changes, the first frame included."""
    if len(wanted) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.flatnonzero(np.diff(wanted) != 0) + 1
    at = np.concatenate([[0], change])
    return at, wanted[at]


def apply_min_shot(
    at: np.ndarray, cameras: np.ndarray, delay_frames: int, min_frames: int, n: int
) -> tuple[list[int], list[int]]:
    """The cuts the rules make: the wanted changes moved by the delay, each taken once the shot on
    screen has lasted `min_frames` and only if it is still wanted then. Returns (frames, cameras)
    of the shots, the first at frame 0."""
    times = np.clip(at + delay_frames, 0, n).tolist()
    cams = cameras.tolist()
    if not cams:
        return [0], [0]
    # the shot on frame 0 is what is wanted at the (delayed) start
    first = 0
    while first + 1 < len(times) and times[first + 1] <= 0:
        first += 1
    current = cams[first]
    cut_at, cut_cam = [0], [current]
    start = 0
    count = len(times)
    for i in range(first + 1, count):
        camera = cams[i]
        if camera == current:
            continue
        when = max(times[i], start + min_frames)
        following = times[i + 1] if i + 1 < count else n
        if when < following and when < n:
            cut_at.append(when)
            cut_cam.append(camera)
            current, start = camera, when
    return cut_at, cut_cam


def shots_to_frames(cut_at: list[int], cut_cam: list[int], n: int) -> np.ndarray:
    """(N,) int: the camera shown on each frame, from shot starts and their cameras."""
    lengths = np.diff(np.append(np.asarray(cut_at, dtype=np.int64), n))
    return np.repeat(np.asarray(cut_cam, dtype=np.int64), lengths)


def switch(
    active: np.ndarray,
    camera_of_mic: np.ndarray,
    wide: int | None,
    n_cameras: int,
    settings: RuleSettings,
    fps: float,
) -> np.ndarray:
    """(N,) int: the camera the rules show on each frame at `fps`, from the mics' activity (M, N).
    Without a wide (every camera a close-up), camera 0 stands in for it."""
    wide_camera = 0 if wide is None else wide
    wanted = targets(
        active,
        camera_of_mic,
        wide_camera,
        n_cameras,
        frames_of(settings.silence_s, fps),
        frames_of(settings.overlap_s, fps),
    )
    at, cameras = target_events(wanted)
    n = active.shape[1]
    cut_at, cut_cam = apply_min_shot(
        at, cameras, frames_of(settings.delay_s, fps), frames_of(settings.min_shot_s, fps), n
    )
    return shots_to_frames(cut_at, cut_cam, n)
