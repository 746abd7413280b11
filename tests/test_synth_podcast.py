"""Podcast sessions (issue 14): a conversation, a stack of every angle and mic, and an edit cut on the sound."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multitrack.features.roles import timeline_role
from multitrack.synth import synth_timeline
from multitrack.synth.conversation import KINDS, draw_conversation
from multitrack.synth.podcast import HOPS_PER_SECOND, Angles, editor_shots, switch_on_speech
from multitrack.synth.profiles import draw_profiles
from multitrack.synth.voices import Camera
from multitrack.timeline.model import Timeline
from test_synth_styles import sync_offsets, visible_shots

BASE = next(p for p in draw_profiles(5, seed=3) if not p.sound.control)  # an editor with habits
STEADY = {  # an editor without chance in their cut: every new speaker on their camera
    "reaction_jitter_s": 0.0,
    "wide_share": 0.0,
    "reaction_rate": 0.0,
    "wide_on_overlap": 0.0,
    "wide_on_laugh": 0.0,
    "wide_pause_s": 1000.0,
    "max_shot_s": None,
    "control": False,
}


def session(index=0, seconds=60.0, stacked=None, cut_seed=0, **sound):
    sound = {"control": False, **sound}
    profile = dataclasses.replace(BASE, sound=dataclasses.replace(BASE.sound, **sound), disabled_rate=0.0)
    if stacked is not None:
        profile = dataclasses.replace(profile, stacked=stacked)
    return synth_timeline(index, 5, profile, seconds, seconds, style="multicam", cut_seed=cut_seed)


def frame_arrays(timeline: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """(N, tracks) active and asset numbers, as the frame table holds them."""
    ids = list(timeline.assets)
    active = np.zeros((timeline.duration_frames, len(timeline.video_tracks)), np.int8)
    asset = np.zeros_like(active, dtype=np.int32)
    for t, track in enumerate(timeline.video_tracks):
        for clip in track.clips:
            active[clip.start_frame : clip.end_frame, t] = 1
            asset[clip.start_frame : clip.end_frame, t] = ids.index(clip.asset_id) + 1
    return active, asset


def test_a_conversation_is_deterministic_and_keeps_every_kind_of_sound():
    first = draw_conversation(np.random.default_rng(4), 300.0, 3)
    assert first == draw_conversation(np.random.default_rng(4), 300.0, 3)
    assert {sound.kind for sound in first.sounds} == set(KINDS)
    assert all(0 <= s.start < s.end <= 300.0 for s in first.sounds)
    assert {turn.speaker for turn in first.turns} == {0, 1, 2}
    assert all(a.speaker != b.speaker for a, b in zip(first.turns, first.turns[1:], strict=False))
    overlaps = [b.start < a.end for a, b in zip(first.turns, first.turns[1:], strict=False)]
    assert 0 < np.mean(overlaps) < 0.5  # some turns overlap, most do not


@pytest.mark.parametrize("speakers", [1, 5])
def test_a_conversation_needs_two_to_four_speakers(speakers):
    with pytest.raises(ValueError, match="2-4 speakers"):
        draw_conversation(np.random.default_rng(0), 10.0, speakers)


@settings(max_examples=10, deadline=None)
@given(index=st.integers(0, 1000), stacked=st.booleans())
def test_stack_and_edit_share_the_media_and_one_sync_offset(index, stacked):
    synth = session(index, seconds=30.0, stacked=stacked)
    for timeline in (synth.timeline, synth.stack):
        offsets = sync_offsets(timeline)
        assert {o for values in offsets.values() for o in values} == {synth.truth["offset_frames"]}
    assert set(synth.timeline.assets) <= set(synth.stack.assets)


def test_the_stack_holds_every_angle_and_mic_whole_in_the_editors_layout():
    synth = session(seconds=30.0)
    stack, truth = synth.stack, synth.truth
    n = stack.duration_frames
    assert len(stack.video_tracks) == len(truth["cameras"])
    for track in stack.video_tracks + stack.audio_tracks:
        [clip] = track.clips
        assert (clip.start_frame, clip.end_frame) == (0, n)
    for camera in truth["cameras"]:  # each camera on the video track the truth names
        [clip] = stack.video_tracks[int(camera["track"][1:]) - 1].clips
        assert stack.assets[clip.asset_id].name == camera["name"]
    for mic in truth["mics"]:
        [clip] = stack.audio_tracks[int(mic["track"][1:]) - 1].clips
        assert stack.assets[clip.asset_id].name == mic["name"]
    # then each camera's own sound, after the mics
    assert len(stack.audio_tracks) == len(truth["mics"]) + len(truth["cameras"])
    assert timeline_role(*frame_arrays(stack)) == "stack"
    assert timeline_role(*frame_arrays(synth.timeline)) == "edit"


@pytest.mark.parametrize("stacked", [True, False])
def test_the_edit_shows_one_angle_at_a_time_with_the_wide_on_v1(stacked):
    synth = session(seconds=90.0, stacked=stacked)
    timeline = synth.timeline
    shots = visible_shots(timeline)
    assert len(shots) > 5 and {t for t, _ in shots} >= {0, 1}
    wide = timeline.video_tracks[0].clips
    if stacked:
        assert [(c.start_frame, c.end_frame) for c in wide] == [(0, timeline.duration_frames)]
    else:  # only the angle shown has a clip
        active, _ = frame_arrays(timeline)
        assert active.sum(axis=1).max() == 1
    assert timeline.audio_tracks and all(
        timeline.assets[c.asset_id].name.startswith("Mic") for t in timeline.audio_tracks for c in t.clips
    )  # the cameras' own sound is left out of the edit


def test_a_steady_editor_cuts_to_each_new_speaker_after_their_reaction_delay():
    synth = session(seconds=120.0, reaction_s=0.4, min_shot_s=0.8, **STEADY)
    turns = synth.truth["conversation"]["turns"]
    closeup = {c["shows"][0]: i for i, c in enumerate(synth.truth["cameras"]) if len(c["shows"]) == 1}
    shots = synth.truth["shots"]
    assert len(shots) > 10
    on_time = 0
    for before, shot in zip(shots, shots[1:], strict=False):
        # at a turn's start plus the delay, on that speaker's close-up ...
        turn = [t for t in turns if abs(t["start"] + 0.4 - shot["start"]) < 2e-3]
        if turn:
            assert shot["camera"] == closeup[turn[0]["speaker"]]
            on_time += 1
        else:  # ... or later, having waited out the minimum shot
            assert shot["start"] == pytest.approx(before["start"] + 0.8, abs=2e-3), shot
    assert on_time / (len(shots) - 1) > 0.8


def test_no_shot_is_shorter_than_the_editors_minimum():
    synth = session(seconds=180.0, min_shot_s=2.0)
    lengths = [s["end"] - s["start"] for s in synth.truth["shots"][:-1]]
    assert min(lengths) >= 2.0 - 1e-9


def test_the_oracle_recuts_the_same_session_with_other_choices():
    own, oracle = session(seconds=120.0), session(seconds=120.0, cut_seed=1)
    assert own.stack == oracle.stack and own.truth["conversation"] == oracle.truth["conversation"]
    assert own.truth["shots"] != oracle.truth["shots"]


def test_switch_on_speech_follows_the_one_who_speaks_after_the_delay():
    hz = HOPS_PER_SECOND
    masks = np.zeros((2, 20 * hz), bool)
    masks[0, 1 * hz : 6 * hz] = True  # A speaks 1-6 s
    masks[1, 6 * hz : 6 * hz + 50] = True  # B for half a second: shorter than the minimum shot
    masks[0, 7 * hz : 8 * hz] = True  # A again, then silence from 8 s
    habits = dataclasses.replace(BASE.sound, reaction_s=0.5, min_shot_s=1.0, overlap_s=0.5, wide_pause_s=3.0)
    shots = [(s.camera, s.start, s.end) for s in switch_on_speech(masks, [1, 2], 0, habits)]
    # wide until A + 0.5 s; B's half second comes 0.5 s late and is shown for a second at
    # least (the minimum shot), A again; nobody from 8 s: the wide 3 s + 0.5 s later
    assert shots == [(0, 0.0, 1.5), (1, 1.5, 6.5), (2, 6.5, 7.5), (1, 7.5, 11.5), (0, 11.5, 20.0)]


def test_switch_on_speech_goes_wide_when_several_speak_for_long_enough():
    hz = HOPS_PER_SECOND
    masks = np.zeros((2, 10 * hz), bool)
    masks[0, 0 : 6 * hz] = True
    masks[1, 2 * hz : 2 * hz + 30] = True  # 0.3 s together: a back-channel, no change
    masks[1, 4 * hz : 10 * hz] = True  # together for 2 s from 4 s: the wide after 0.5 s
    habits = dataclasses.replace(BASE.sound, reaction_s=0.0, min_shot_s=0.5, overlap_s=0.5, wide_pause_s=3.0)
    shots = [(s.camera, s.start, s.end) for s in switch_on_speech(masks, [1, 2], 0, habits)]
    assert shots == [(1, 0.0, 4.5), (0, 4.5, 6.0), (2, 6.0, 10.0)]


def test_the_control_editor_is_the_loudness_rule_on_the_true_speech():
    profiles = draw_profiles(5, seed=0)
    [control] = [p for p in profiles if p.sound.control]
    habits = control.sound
    assert habits.reaction_jitter_s == 0 and habits.max_shot_s is None and not habits.gate_mics
    conversation = draw_conversation(np.random.default_rng(1), 60.0, 2)
    angles = Angles((Camera("wide", ()), Camera("a", (0,)), Camera("b", (1,))))
    first = editor_shots(conversation, angles, habits, np.random.default_rng(0))
    assert first == editor_shots(conversation, angles, habits, np.random.default_rng(99))  # no chance in it


def test_gated_mics_open_before_and_close_after_their_speaker():
    synth = session(seconds=60.0, gate_mics=True, jl_lead_s=0.3, jl_tail_s=0.5)
    fps = synth.timeline.rate.fps
    mics = {m["speaker"]: int(m["track"][1:]) - 1 for m in synth.truth["mics"]}
    turns = synth.truth["conversation"]["turns"]
    for turn in turns[1:-1]:
        clips = synth.timeline.audio_tracks[mics[turn["speaker"]]].clips
        opening = [c for c in clips if c.start_frame <= turn["start"] * fps <= c.end_frame]
        assert opening, turn
        assert opening[0].start_frame <= round((turn["start"] - 0.3) * fps) + 1


def test_stressed_words_punch_in_on_close_ups_only():
    synth = session(seconds=120.0, stacked=True)
    profile = dataclasses.replace(BASE, punch_rate=1.0, punch_push=False, punch_in=1.2, stacked=True)
    synth = synth_timeline(0, 5, profile, 120.0, 120.0, style="multicam")
    timeline = synth.timeline
    scales = {}
    for t, track in enumerate(timeline.video_tracks):
        for clip in track.clips:
            media = timeline.assets[clip.asset_id]
            scale = clip.motion.scale.value if clip.motion else 100.0
            scales.setdefault(t, set()).add(round(scale * media.width_px / timeline.width_px / 100, 4))
    assert scales[0] == {1.0}  # the wide fills the frame, never punched
    assert {1.2} <= set().union(*(scales[t] for t in scales if t > 0))
