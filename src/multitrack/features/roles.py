"""What a timeline is to its editor: a stack of synced angles, or an edit (issue 14 item 3).

A multicam **stack** is what an editor has after syncing cameras and microphones: every
angle on its own video track for the whole length. Trained on, it teaches "every track
on, nothing ever cut", so `prepare` leaves stacks out; `cut` turns them into edits.
"""

from __future__ import annotations

import numpy as np

STACK_COVERAGE = 0.95  # an angle of a stack covers at least this share of the timeline ...
MIN_STACK_ANGLES = 2  # ... and a stack has at least this many angles ...
MIN_STACK_FRAMES = 240  # ... and lasts at least this long (10 s at 24 fps): stacks are minutes long, and a
#                         few seconds of every track held is an edit's still moment


def timeline_role(active: np.ndarray, asset: np.ndarray) -> str:
    """ "stack" when at least two video tracks hold clips and each such track shows one media
    file over at least STACK_COVERAGE of the frames, else "edit".

    `active` and `asset` are (N, tracks) frame-major, as the frame table holds them.
    """
    frames = active.shape[0]
    used = [t for t in range(active.shape[1]) if active[:, t].any()]
    if frames < MIN_STACK_FRAMES or len(used) < MIN_STACK_ANGLES:
        return "edit"
    for t in used:
        on = active[:, t] > 0
        if on.mean() < STACK_COVERAGE or len(np.unique(asset[on, t])) != 1:
            return "edit"
    return "stack"
