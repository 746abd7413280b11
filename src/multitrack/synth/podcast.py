"""Podcast sessions: a conversation, its microphones and cameras, the stack, and the editor's edit.

`cut_podcast(draft)` plays a conversation between the show's speakers (synth.conversation),
sets up a wide camera, a close-up of each speaker and now and then a two-shot, renders
every microphone and every camera's scratch sound into the draft's media folder
(synth.voices), and writes two timelines of the same media:

* the **stack**, as an editor has it after syncing: every angle full length on V1…Vn (the
  wide on V1, then the close-ups in the editor's seat order), every mic on A1…Am (in the
  editor's mic order), then each camera's own sound;
* the **edit**, the same media cut by the editor on the sound (`editor_shots`): the
  close-ups razored into the runs they are shown, the wide whole on V1 when the editor
  stacks it under them, punch-ins on stressed words, the mics whole or gated around each
  speaker with J/L offsets, the cameras' sound left out.

Every file shares one sync offset (a timecode-synced shoot): source frame = timeline frame
+ offset. The world (speakers, cameras, conversation, voices) is drawn from the draft's
`rng` and `sound_rng`, the editor's choices from `cut_rng` alone, so re-cutting a session
with another `cut_rng` (the oracle: synth.corpus.recut) keeps the stack and changes only
the edit.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass

import numpy as np

from multitrack.switching import RuleSettings, switch
from multitrack.synth.audio import interval_mask
from multitrack.synth.builder import DraftTimeline, sync_clip
from multitrack.synth.conversation import Conversation, draw_conversation
from multitrack.synth.profiles import SoundHabits
from multitrack.synth.styles import HD, UHD, _full_frame_clip, _punch_motion, _push_motion
from multitrack.synth.voices import Camera, draw_voices, render_session
from multitrack.timeline.model import Asset, Clip, Timeline, Track

TWO_SHOT = 0.4  # P(a two-shot camera) in a session of 3 or 4 speakers
OTHER_SPEAKERS = 0.2  # P(a session has one speaker more or fewer than the show's usual)
HOPS_PER_SECOND = 100  # the grid the loudness rule runs on
REACTION_HOLD_S = (1.5, 3.0)  # how long a listener's reaction shot lasts
MIN_PUNCH_S = 0.5  # each side of a punch-in at least this long
GATE_MERGE_S = 1.0  # a gated mic stays open over gaps shorter than this


@dataclass(frozen=True)
class Shot:
    camera: int  # index into the session's cameras (0 = the wide)
    start: float  # seconds on the timeline
    end: float
    reason: str  # what the editor cut on: speaker, overlap, laugh, pause, reaction, ...


@dataclass(frozen=True)
class Angles:
    """Which camera shows whom: the wide is camera 0."""

    cameras: tuple[Camera, ...]

    @property
    def wide(self) -> int:
        return 0

    def closeup(self, speaker: int) -> int:
        return next(i for i, camera in enumerate(self.cameras) if camera.shows == (speaker,))

    def two_shot(self, speakers: set[int]) -> int | None:
        """The two-shot framing exactly these speakers, if the session has one."""
        return next((i for i, c in enumerate(self.cameras) if len(c.shows) == 2 and set(c.shows) == speakers), None)


@dataclass(frozen=True)
class PodcastCut:
    """The stack beside the draft's edit, and the session's truth for synth.json."""

    stack: Timeline
    truth: dict


def cut_podcast(draft: DraftTimeline) -> PodcastCut:
    """Fill `draft` with the editor's edit of a new podcast session; return its stack."""
    habits = draft.profile.sound
    speakers = _speakers(draft.rng, habits.speakers)
    angles = Angles(_cameras(draft.rng, speakers))
    seconds = draft.duration_frames / draft.rate.fps
    conversation = draw_conversation(draft.sound_rng, seconds, speakers)
    offset = int(draft.rng.integers(0, draft.frames(10.0)))
    file_frames = offset + draft.duration_frames + draft.frames(float(draft.rng.uniform(2.0, 20.0)))
    timecode = draft.time_of_day_frame()
    size = UHD if draft.rng.random() < 0.5 else HD
    numbers = draft.rng.integers(1, 400, len(angles.cameras))
    camera_assets = [
        draft.add_media_file(
            f"Cam{'ABCDEF'[i]}_C{numbers[i]:04d}.mov",
            duration_frames=file_frames,
            size_px=size,
            timecode_frame=timecode,
        )
        for i in range(len(angles.cameras))
    ]
    mic_assets = [
        draft.add_media_file(f"Mic{k + 1}.m4a", duration_frames=file_frames, timecode_frame=timecode)
        for k in range(speakers)
    ]
    bleed = _render(draft, conversation, angles, camera_assets, mic_assets, offset)
    video_order = _video_order(angles, habits)
    mic_order = [k for k in habits.mic_order if k < speakers]

    shots = editor_shots(conversation, angles, habits, draft.cut_rng)
    _edit_video(draft, shots, conversation, angles, video_order, camera_assets, offset)
    for track, speaker in enumerate(mic_order):
        clips = _mic_clips(draft, conversation, speaker, mic_assets[speaker], offset)
        draft.audio_tracks.append(Track(clips=clips, name=f"A{track + 1}"))
    stack = _stack(draft, video_order, mic_order, camera_assets, mic_assets, offset)
    truth = {
        "speakers": speakers,
        "offset_frames": offset,
        "cameras": [
            {"name": camera_assets[i].name, "shows": list(c.shows), "track": f"V{video_order.index(i) + 1}"}
            for i, c in enumerate(angles.cameras)
        ],
        "mics": [
            {"name": mic_assets[k].name, "speaker": k, "track": f"A{mic_order.index(k) + 1}"} for k in range(speakers)
        ],
        "bleed_db": bleed,
        "shots": [
            {**dataclasses.asdict(shot), "start": round(float(shot.start), 3), "end": round(float(shot.end), 3)}
            for shot in shots
        ],
        "conversation": conversation.to_json(),
    }
    return PodcastCut(stack, truth)


def editor_shots(
    conversation: Conversation, angles: Angles, habits: SoundHabits, rng: np.random.Generator
) -> list[Shot]:
    """The editor's shots over the whole session, cut on what is heard."""
    if habits.control:
        masks = np.stack([_mask(conversation, k) for k in range(conversation.speakers)])
        closeups = [angles.closeup(k) for k in range(conversation.speakers)]
        return switch_on_speech(masks, closeups, angles.wide, habits)
    return _habit_shots(conversation, angles, habits, rng)


def switch_on_speech(masks: np.ndarray, closeups: list[int], wide: int, habits: SoundHabits) -> list[Shot]:
    """The loudness switcher's rule (`multitrack.switching`, the same copy the cut's rules run)
    on speech masks bool[speakers, hops] at HOPS_PER_SECOND, with the editor's settings: the
    close-up of the one who speaks `reaction_s` later, the wide once several have spoken for
    `overlap_s` or nobody for `wide_pause_s`, no change before `min_shot_s`."""
    settings = RuleSettings(
        delay_s=habits.reaction_s,
        min_shot_s=habits.min_shot_s,
        silence_s=habits.wide_pause_s,
        overlap_s=habits.overlap_s,
    )
    n_cameras = max([wide, *closeups]) + 1
    shown = switch(masks, np.asarray(closeups), wide, n_cameras, settings, HOPS_PER_SECOND)
    starts = np.r_[0, np.flatnonzero(np.diff(shown)) + 1]
    bounds = [*starts.tolist(), len(shown)]
    return [
        Shot(int(shown[at]), bounds[i] / HOPS_PER_SECOND, bounds[i + 1] / HOPS_PER_SECOND, "speaker")
        for i, at in enumerate(starts.tolist())
    ]


def _habit_shots(
    conversation: Conversation, angles: Angles, habits: SoundHabits, rng: np.random.Generator
) -> list[Shot]:
    """An editor's cut: each event (a new speaker, an overlap, laughter, a pause, a listener's
    reaction) asks for a camera at a time and for as long as it holds; the events are
    taken in order under the editor's minimum and maximum shot."""
    wide, floor = angles.wide, _Floor(conversation)
    events: list[tuple[float, int | None, str, float]] = []  # (when, camera or None: the floor's, why, valid until)
    turns = conversation.turns
    for turn in turns:
        wide_habit = rng.random() < habits.wide_share
        camera = wide if wide_habit else angles.closeup(turn.speaker)
        events.append((turn.start + _delay(rng, habits), camera, "wide habit" if wide_habit else "speaker", turn.end))
        if turn.end - turn.start > habits.reaction_after_s and rng.random() < habits.reaction_rate:
            listeners = [k for k in range(conversation.speakers) if k != turn.speaker]
            listener = listeners[int(rng.integers(len(listeners)))]
            at = turn.start + float(rng.uniform(0.4, 0.75)) * (turn.end - turn.start)
            back = at + float(rng.uniform(*REACTION_HOLD_S))
            events += [(at, angles.closeup(listener), "reaction", back), (back, None, "back to speaker", turn.end)]
    for start, end, who in _together(conversation, ("speech",), habits.overlap_s):
        if rng.random() < habits.wide_on_overlap:
            pair = angles.two_shot(who)
            events.append(
                (start + habits.overlap_s + _delay(rng, habits), wide if pair is None else pair, "overlap", end)
            )
            events.append((end + _delay(rng, habits), None, "after overlap", end + 3.0))
    for start, end, _ in _together(conversation, ("laugh",), 0.0):
        if rng.random() < habits.wide_on_laugh:
            events.append((start + _delay(rng, habits), wide, "laugh", end + 0.5))
            events.append((end + 0.5 + _delay(rng, habits), None, "after laugh", end + 3.0))
    for start, end in _pauses(conversation, habits.wide_pause_s):
        events.append((start + habits.wide_pause_s, wide, "pause", end + max(0.0, habits.reaction_s)))
    events.sort(key=lambda event: event[0])

    cuts: list[tuple[float, int, str]] = [(0.0, wide, "opening")]
    for when, asked, why, until in events:
        _break_long_shots(cuts, when, wide, habits)
        when = max(when, cuts[-1][0] + habits.min_shot_s)
        if when >= min(until, conversation.seconds):
            continue
        shown = angles.closeup(floor.at(when)) if asked is None else asked
        if shown != cuts[-1][1]:
            cuts.append((when, shown, why))
    _break_long_shots(cuts, conversation.seconds, wide, habits)
    bounds = [when for when, _, _ in cuts] + [conversation.seconds]
    return [Shot(camera, bounds[i], bounds[i + 1], why) for i, (_, camera, why) in enumerate(cuts)]


def _break_long_shots(cuts: list[tuple[float, int, str]], until: float, wide: int, habits: SoundHabits) -> None:
    """A close-up held past the editor's maximum before `until` goes to the wide."""
    if habits.max_shot_s is None:
        return
    start, camera, _ = cuts[-1]
    if camera != wide and until - start > habits.max_shot_s:
        cuts.append((start + habits.max_shot_s, wide, "held too long"))


def _delay(rng: np.random.Generator, habits: SoundHabits) -> float:
    return (
        habits.reaction_s + float(rng.normal(0.0, habits.reaction_jitter_s))
        if habits.reaction_jitter_s
        else habits.reaction_s
    )


class _Floor:
    """Who holds the floor at a time: the speaker of the last turn begun by then."""

    def __init__(self, conversation: Conversation):
        self.starts = [turn.start for turn in conversation.turns]
        self.speakers = [turn.speaker for turn in conversation.turns]

    def at(self, seconds: float) -> int:
        return self.speakers[max(0, bisect.bisect_right(self.starts, seconds) - 1)]


def _together(conversation: Conversation, kinds: tuple[str, ...], min_s: float) -> list[tuple[float, float, set[int]]]:
    """Stretches where two or more speakers make sounds of `kinds` at once for at least
    `min_s`, with who takes part."""
    hops = int(np.ceil(conversation.seconds * HOPS_PER_SECOND))
    masks = np.stack([_mask(conversation, k, kinds, hops) for k in range(conversation.speakers)])
    runs = []
    for start, end in _runs(masks.sum(axis=0) >= 2):
        if (end - start) / HOPS_PER_SECOND >= min_s:
            who = {int(k) for k in np.flatnonzero(masks[:, start:end].any(axis=1))}
            runs.append((start / HOPS_PER_SECOND, end / HOPS_PER_SECOND, who))
    return runs


def _pauses(conversation: Conversation, min_s: float) -> list[tuple[float, float]]:
    """Stretches of at least `min_s` where nobody speaks or laughs (back-channels do not count)."""
    hops = int(np.ceil(conversation.seconds * HOPS_PER_SECOND))
    heard = np.zeros(hops, bool)
    for k in range(conversation.speakers):
        heard |= _mask(conversation, k, ("speech", "laugh"), hops)
    return [
        (start / HOPS_PER_SECOND, end / HOPS_PER_SECOND)
        for start, end in _runs(~heard)
        if (end - start) / HOPS_PER_SECOND >= min_s and start > 0
    ]


def _mask(
    conversation: Conversation, speaker: int, kinds: tuple[str, ...] | None = None, hops: int | None = None
) -> np.ndarray:
    hops = int(np.ceil(conversation.seconds * HOPS_PER_SECOND)) if hops is None else hops
    intervals = conversation.intervals(speaker) if kinds is None else conversation.intervals(speaker, kinds)
    return interval_mask(intervals, hops, HOPS_PER_SECOND)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.diff(np.r_[0, flags.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _speakers(rng: np.random.Generator, usual: int) -> int:
    if rng.random() >= OTHER_SPEAKERS:
        return usual
    return int(np.clip(usual + rng.choice([-1, 1]), 2, 4))


def _cameras(rng: np.random.Generator, speakers: int) -> tuple[Camera, ...]:
    """The wide, a close-up of each speaker and, in 3-4 speaker sessions, now and then a
    two-shot of two neighbours."""
    cameras = [Camera("wide", ())] + [Camera(f"close-up {k + 1}", (k,)) for k in range(speakers)]
    if speakers >= 3 and rng.random() < TWO_SHOT:
        first = int(rng.integers(speakers - 1))
        cameras.append(Camera("two-shot", (first, first + 1)))
    return tuple(cameras)


def _video_order(angles: Angles, habits: SoundHabits) -> list[int]:
    """Cameras bottom to top as the editor lays them out: the wide on V1, the close-ups in
    their seat order, a two-shot on top."""
    speakers = {s for camera in angles.cameras for s in camera.shows}
    closeups = [angles.closeup(k) for k in habits.seat_order if k in speakers]
    others = [i for i, camera in enumerate(angles.cameras) if len(camera.shows) > 1]
    return [angles.wide, *closeups, *others]


def _render(
    draft: DraftTimeline,
    conversation: Conversation,
    angles: Angles,
    camera_assets: list[Asset],
    mic_assets: list[Asset],
    offset_frames: int,
) -> list[list[float]] | None:
    """Render every mic and every camera's scratch sound (when the draft has a media folder);
    the files hold the conversation `offset_frames` into their source."""
    voices = draw_voices(draft.sound_rng, conversation.speakers)
    if draft.media_dir is None:
        return None
    assert mic_assets[0].duration_frames is not None  # add_media_file always sets it
    file_seconds = mic_assets[0].duration_frames / draft.rate.fps
    shifted = conversation.shifted(offset_frames / draft.rate.fps, file_seconds)
    audio = render_session(
        shifted,
        voices,
        list(angles.cameras),
        [draft.media_path(asset.name) for asset in mic_assets],
        [draft.media_path(asset.name) for asset in camera_assets],
        draft.sound_rng,
    )
    return [[round(db, 2) for db in row] for row in audio.bleed_db]


def _edit_video(
    draft: DraftTimeline,
    shots: list[Shot],
    conversation: Conversation,
    angles: Angles,
    video_order: list[int],
    camera_assets: list[Asset],
    offset: int,
) -> None:
    """The shots as clips on the editor's tracks: the wide whole on V1 when they stack it."""
    stacked = draft.profile.stacked
    for index in range(len(video_order)):
        draft.video_track(index)
    emphasis = sorted((t, turn.speaker) for turn in conversation.turns for t in turn.emphasis)
    for shot in shots:
        start = round(shot.start * draft.rate.fps)
        end = min(draft.duration_frames, round(shot.end * draft.rate.fps))
        if end <= start or (shot.camera == angles.wide and stacked):
            continue
        cam = (camera_assets[shot.camera], offset)
        track = draft.video_tracks[video_order.index(shot.camera)]
        shows = angles.cameras[shot.camera].shows
        stressed = [
            t
            for t, speaker in emphasis
            if shows == (speaker,) and shot.start + MIN_PUNCH_S < t < shot.end - MIN_PUNCH_S
        ]
        track.clips.extend(_closeup_clips(draft, cam, start, end, stressed))
    if stacked:
        draft.video_tracks[0].clips.append(
            _full_frame_clip(draft, (camera_assets[angles.wide], offset), 0, draft.duration_frames)
        )


def _closeup_clips(
    draft: DraftTimeline, cam: tuple[Asset, int], start: int, end: int, stressed: list[float]
) -> list[Clip]:
    """A shot, punched in at its first stressed word with the editor's habit."""
    base = _full_frame_clip(draft, cam, start, end)
    if not stressed or draft.cut_rng.random() >= draft.profile.punch_rate:
        return [base]
    asset, offset = cam
    if draft.profile.punch_push:
        return [dataclasses.replace(base, motion=_push_motion(draft, asset, base))]
    split = round(stressed[0] * draft.rate.fps)
    punched = sync_clip(asset, split, end, offset, motion=_punch_motion(draft, asset))
    return [dataclasses.replace(base, end_frame=split, out_frame=split + offset), punched]


def _mic_clips(draft: DraftTimeline, conversation: Conversation, speaker: int, mic: Asset, offset: int) -> list[Clip]:
    """The mic whole, or gated around its speaker's sound with the editor's J/L handles."""
    habits = draft.profile.sound
    if not habits.gate_mics:
        return [sync_clip(mic, 0, draft.duration_frames, offset)]
    spans: list[list[float]] = []
    for start, end in conversation.intervals(speaker, ("speech", "laugh")):
        start, end = max(0.0, start - habits.jl_lead_s), min(conversation.seconds, end + habits.jl_tail_s)
        if spans and start - spans[-1][1] < GATE_MERGE_S:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    frames = [(round(s * draft.rate.fps), min(draft.duration_frames, round(e * draft.rate.fps))) for s, e in spans]
    return [sync_clip(mic, s, e, offset) for s, e in frames if e > s]


def _stack(
    draft: DraftTimeline,
    video_order: list[int],
    mic_order: list[int],
    camera_assets: list[Asset],
    mic_assets: list[Asset],
    offset: int,
) -> Timeline:
    """Every angle and every mic full length, in the editor's layout; then the cameras' sound."""
    n = draft.duration_frames
    video = [
        Track(clips=[_full_frame_clip(draft, (camera_assets[c], offset), 0, n)], name=f"V{t + 1}")
        for t, c in enumerate(video_order)
    ]
    sources = [mic_assets[k] for k in mic_order] + [camera_assets[c] for c in video_order]
    audio = [Track(clips=[sync_clip(asset, 0, n, offset)], name=f"A{t + 1}") for t, asset in enumerate(sources)]
    return Timeline(
        name=f"{draft.name} stack",
        rate=draft.rate,
        width_px=draft.width_px,
        height_px=draft.height_px,
        duration_frames=n,
        video_tracks=video,
        audio_tracks=audio,
        assets=dict(draft.assets),
        timecode_frame=draft.timecode_frame,
    )
