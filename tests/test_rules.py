"""Fitting the rules (evaluate/rules.py): a simulated rule-following editor's settings come back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conversation import conversation
from multitrack.evaluate.rules import GRID, fit_rules
from multitrack.sample.pairing import Pairing
from multitrack.sample.switcher import RuleSettings, RulesSession, switch


def editor_sessions(rules: RuleSettings, seeds: tuple[int, ...], seconds: float = 1200) -> list[RulesSession]:
    pairing = Pairing.given([(), (0,), (1,), (2,)], 3)
    sessions = []
    for seed in seeds:
        active = conversation(3, seconds, 10, seed)
        shown = switch(active, pairing.camera_of_mic(), pairing.wide, 4, rules, 10)
        sessions.append(RulesSession(active, pairing, shown, 10.0, f"s{seed}"))
    return sessions


@pytest.mark.parametrize(
    "rules",
    [
        RuleSettings(delay_s=0.5, min_shot_s=3.0, silence_s=2.0, overlap_s=1.0),
        RuleSettings(delay_s=-0.25, min_shot_s=1.5, silence_s=5.0, overlap_s=2.0),
    ],
)
def test_fit_recovers_a_rule_following_editor(rules: RuleSettings) -> None:
    fit = fit_rules(editor_sessions(rules, (1, 2)))
    best = fit.shown_agreement
    assert best.shown_agreement == 1.0 and best.cut_f1 == 1.0
    assert best.settings == rules
    assert fit.cut_f1.cut_f1 == 1.0 and fit.cut_f1.shown_agreement == 1.0  # ties broken by agreement
    assert fit.grid_points == math.prod(len(v) for v in GRID.values())


def test_fit_on_another_editor_is_worse_and_says_so() -> None:
    sessions = editor_sessions(RuleSettings(delay_s=0.25, min_shot_s=2.0), (3,), seconds=600)
    noisy = [RulesSession(s.active, s.pairing, np.roll(s.shown, 37), s.fps) for s in sessions]
    fit = fit_rules(noisy)
    assert fit.shown_agreement.shown_agreement < 1.0
    assert fit.cut_f1.cut_f1 >= fit.shown_agreement.cut_f1
    assert set(fit.to_json()) >= {"shown_agreement", "cut_f1", "grid_points", "seconds"}


def test_nothing_to_fit_on() -> None:
    with pytest.raises(ValueError, match="no session"):
        fit_rules([])
