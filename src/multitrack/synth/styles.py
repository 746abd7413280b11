"""Four of the styles `multitrack synth` cuts, each modelled on how editors really work
(the fifth, the multicam podcast cut on its sound, is `synth.podcast`).

Each `cut_<style>(draft)` fills a `DraftTimeline` with video tracks (V1 at the bottom)
and the main sound on A1, drawing every choice from the draft's editor profile and
random stream. Geometry is in Premiere's units (see `builder`). The sound a style
renders (voice-overs, music: `soundtrack`) is drawn from the draft's sound stream.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from multitrack.synth.builder import (
    DraftTimeline,
    add_dissolves,
    add_fades,
    crop_for,
    fill_scale_pct,
    keyed,
    motion_for,
    partition,
    sync_clip,
)
from multitrack.synth.soundtrack import (
    BPM,
    add_music,
    add_voice_over,
    pause_snapper,
    snap_shots,
    snapper,
    timeline_pauses,
)
from multitrack.synth.voices import draw_voices
from multitrack.timeline.model import Asset, Clip, Motion, Rate, Track

HD, UHD = (1920, 1080), (3840, 2160)
SCREEN_SIZES = ((1920, 1080), (1280, 720), (2560, 1440), (3840, 2160))
BROLL_SIZES = ((3840, 2160), (1920, 1080), (1280, 720))
STILL_SIZES = ((4000, 3000), (6000, 4000), (3024, 4032), (1920, 1280))
PUNCH_LIFT = 0.3  # a punch-in moves the frame down by this share of the added height,
#                  keeping the speaker's face (upper third) in shot


def _punch_motion(draft: DraftTimeline, asset: Asset) -> Motion | None:
    fill = fill_scale_pct(_size(asset), _seq(draft))
    punch = draft.profile.punch_in
    return motion_for(asset, fill * punch, 0.0, (punch - 1.0) * draft.height_px * PUNCH_LIFT)


def _push_motion(draft: DraftTimeline, asset: Asset, clip: Clip) -> Motion:
    """A slow push-in over the whole shot: keys on the source axis (../shared/docs/xmeml.md §7)."""
    fill = fill_scale_pct(_size(asset), _seq(draft))
    punch = draft.profile.punch_in
    whens = [clip.in_frame, clip.out_frame - 1]
    lift_px = round((punch - 1.0) * draft.height_px * PUNCH_LIFT)
    return Motion(
        scale=keyed(whens, [fill, fill * punch], digits=4),
        center_x=keyed(whens, [0.0, 0.0]),
        center_y=keyed(whens, [0.0, lift_px / _size(asset)[1]]),
    )


def cut_pip(draft: DraftTimeline) -> None:
    """Screen recording full frame on V1, the webcam on V2 in the editor's corner with
    their crop, now and then full screen or hidden. Each chapter is one recording
    session: a screen file, a webcam file and the narration (the recorder's mic, on A1)
    in sync with each other."""
    chapters = partition(draft, draft.duration_frames / draft.rate.fps / draft.rng.integers(1, 4))
    cam_size = UHD if draft.rng.random() < 0.4 else HD
    # Screen recorders run at their own rate; in/out stay in sequence frames (../shared/docs/xmeml.md §2).
    screen_rate = Rate(60) if draft.rng.random() < 0.5 else Rate(30)
    audio_clips = []
    narrator = draw_voices(draft.sound_rng, 1)[0]
    for number, (start, end) in enumerate(chapters, 1):
        offset = int(draft.rng.integers(draft.frames(2.0), draft.frames(30.0)))
        size = SCREEN_SIZES[int(draft.rng.integers(len(SCREEN_SIZES)))]
        recorded_frames = offset + (end - start) + draft.frames(5.0)
        screen = draft.add_asset(
            f"Screen Recording {number:02d}.mov",
            "Screen",
            size,
            duration_frames=recorded_frames,
            media_rate=screen_rate,
        )
        webcam = draft.add_asset(f"Webcam {number:02d}.mp4", "Webcam", cam_size, duration_frames=recorded_frames)
        draft.video_track(0).clips.append(_full_frame_clip(draft, (screen, offset - start), start, end))
        draft.video_track(1).clips.extend(_webcam_clips(draft, webcam, offset - start, start, end))
        # the recorder's mic, in sync with its screen and webcam: the narration under the picture
        narration = add_voice_over(draft, f"Narration {number:02d}.m4a", recorded_frames, narrator).asset
        audio_clips.append(sync_clip(narration, start, end, offset - start))
    add_dissolves(draft, draft.video_track(0))
    draft.add_audio(audio_clips)


def _webcam_clips(draft: DraftTimeline, webcam: Asset, offset: int, start: int, end: int) -> list[Clip]:
    """Long stretches in the corner broken by short full-screen or hidden moments."""
    profile, rng = draft.profile, draft.rng
    clips, t, in_corner = [], start, True
    while t < end:
        mean = profile.shot_seconds * (3.0 if in_corner else 1.0)
        seg_end = min(end, t + draft.shot_frames(mean))
        if end - seg_end < draft.frames(0.5):
            seg_end = end
        if in_corner:
            clips.append(sync_clip(webcam, t, seg_end, offset, **_pip_layout(draft, webcam)))
        elif rng.random() < profile.fullscreen_rate / (profile.fullscreen_rate + 0.1):
            clips.append(_full_frame_clip(draft, (webcam, offset), t, seg_end))
        t, in_corner = seg_end, not in_corner  # a hidden moment leaves a gap
    return clips


def _pip_layout(draft: DraftTimeline, asset: Asset) -> dict:
    """Motion and crop that put the webcam's visible box in the editor's corner.

    The visible box is the scaled media less the crop (symmetric, so it stays centred
    on the clip's centre); it sits `pip_margin` from the two edges of its corner.
    """
    profile = draft.profile
    media_w_px, media_h_px = _size(asset)
    crop_h, crop_v = profile.pip_crop_h_pct, profile.pip_crop_v_pct
    box_w_px = profile.pip_width * draft.width_px
    scale = box_w_px / (media_w_px * (1.0 - 2.0 * crop_h / 100.0))
    box_h_px = media_h_px * scale * (1.0 - 2.0 * crop_v / 100.0)
    margin_px = profile.pip_margin * draft.width_px
    sign_x = 1.0 if profile.pip_corner.endswith("right") else -1.0
    sign_y = 1.0 if profile.pip_corner.startswith("bottom") else -1.0  # +v moves down
    dx = sign_x * (draft.width_px / 2 - margin_px - box_w_px / 2)
    dy = sign_y * (draft.height_px / 2 - margin_px - box_h_px / 2)
    return {"motion": motion_for(asset, 100.0 * scale, dx, dy), "crop": crop_for(crop_h, crop_h, crop_v, crop_v)}


def cut_split_screen(draft: DraftTimeline) -> None:
    """Two speakers, A on V1 and B on V2: single shots alternate with a split layout
    (cropped halves or two scaled boxes, by the editor's habit)."""
    cams = [_camera(draft, "Cam A"), _camera(draft, "Cam B")]
    skew_pct = float(draft.rng.uniform(-8.0, 8.0))  # speakers sit off-centre in their frames
    state = "A" if draft.rng.random() < 0.5 else "B"
    for start, end in partition(draft, draft.profile.shot_seconds * 1.3):
        if state == "split":
            for side, cam in enumerate(cams):
                draft.video_track(side).clips.append(_split_clip(draft, cam, side, start, end, skew_pct))
        else:
            side = "AB".index(state)
            draft.video_track(side).clips.append(_full_frame_clip(draft, cams[side], start, end))
        state = _next_split_state(draft, state)
    _add_mix_audio(draft)


def _next_split_state(draft: DraftTimeline, state: str) -> str:
    if state == "split":
        return "A" if draft.rng.random() < 0.5 else "B"
    if draft.rng.random() < draft.profile.split_share:
        return "split"
    return "B" if state == "A" else "A"


def _split_clip(draft: DraftTimeline, cam: tuple[Asset, int], side: int, start: int, end: int, skew_pct: float) -> Clip:
    """Speaker `side` (0 left, 1 right) in their half of the frame."""
    asset, offset = cam
    seq = _seq(draft)
    half_centre_px = (side - 0.5) * draft.width_px / 2
    fill = fill_scale_pct(_size(asset), seq)
    if draft.profile.split_boxes:
        return sync_clip(asset, start, end, offset, motion=motion_for(asset, fill * 0.48, half_centre_px))
    shown_w_px = _size(asset)[0] * fill / 100.0
    cut_pct = 100.0 * (1.0 - (draft.width_px / 2) / shown_w_px)  # both sides together
    left_pct, right_pct = cut_pct / 2 + skew_pct, cut_pct / 2 - skew_pct
    # The visible box is centred (left − right)/2 of the shown width right of the clip's centre.
    dx = half_centre_px - (left_pct - right_pct) / 200.0 * shown_w_px
    return sync_clip(asset, start, end, offset, motion=motion_for(asset, fill, dx), crop=crop_for(left_pct, right_pct))


def cut_broll(draft: DraftTimeline) -> None:
    """Talking head with jump cuts on V1, B-roll inserts (video, and stills with Ken Burns
    moves) on V2, a lower-third graphic on V3 now and then. The sound on A1 is the
    speaker's lav, in sync with the first camera, a voice-over in phrases: the inserts
    start and end in its pauses, as they are heard after the jump cuts."""
    cams = _talking_cameras(draft)
    talking, sound = _jump_cut_clips(draft, cams, draft.profile.shot_seconds * 1.5, _talking_motion)
    draft.video_track(0).clips.extend(talking)
    add_dissolves(draft, draft.video_track(0))
    add_fades(draft, draft.video_track(0))
    camera = draft.assets[cams[0][0].id]
    assert camera.duration_frames is not None  # add_asset always sets it
    lav = add_voice_over(draft, "Voice-over.m4a", camera.duration_frames)
    sound = [dataclasses.replace(clip, asset_id=lav.asset.id, name=lav.asset.name) for clip in sound]
    draft.add_audio(sound)
    snap = pause_snapper(timeline_pauses(lav.sounds, sound, draft.rate.fps), draft.rate.fps)
    draft.video_track(1).clips.extend(_inserts(draft, _broll_insert, snap))
    add_dissolves(draft, draft.video_track(1))
    if draft.rng.random() < 0.5:
        _add_lower_third(draft)


def _jump_cut_clips(
    draft: DraftTimeline, cams: list[tuple[Asset, int]], mean_seconds: float, motion_of, snap=None
) -> tuple[list[Clip], list[Clip]]:
    """Video and sound clips with the pauses cut out: every camera's source jumps ahead
    by the same pause at each cut, so the cameras stay in sync with each other; with two
    cameras the editor switches angle at about half the cuts, and the sound always
    comes from the first. `motion_of(draft, asset, clip, index)` sets each motion;
    `snap(frame, after)` moves each cut (onto the beat)."""
    skipped, cam, clips, sound = 0, 0, [], []
    shots = partition(draft, mean_seconds)
    if snap is not None:
        shots = snap_shots(shots, snap)
    for index, (start, end) in enumerate(shots):
        asset, offset = cams[cam]
        clip = sync_clip(asset, start, end, offset + skipped)
        clips.append(dataclasses.replace(clip, motion=motion_of(draft, asset, clip, index)))
        sound.append(sync_clip(cams[0][0], start, end, cams[0][1] + skipped))
        skipped += draft.frames(float(draft.rng.uniform(0.2, 1.5)))
        if len(cams) > 1 and draft.rng.random() < 0.5:
            cam = 1 - cam
    for asset, offset in cams:
        _lengthen(draft, asset, offset + skipped + draft.duration_frames)
    return clips, sound


def _talking_cameras(draft: DraftTimeline) -> list[tuple[Asset, int]]:
    """One camera, or two (a front and a side angle) for some recordings."""
    count = 2 if draft.rng.random() < 0.4 else 1
    return [_camera(draft, label) for label in ("A-Roll", "B-Roll Angle")[:count]]


def _talking_motion(draft: DraftTimeline, asset: Asset, clip: Clip, index: int) -> Motion | None:
    """Fill the frame; editors with the jump-zoom habit punch in on every other cut."""
    if draft.profile.jump_zoom and index % 2 == 1:
        return _punch_motion(draft, asset)
    return motion_for(asset, fill_scale_pct(_size(asset), _seq(draft)))


def _inserts(draft: DraftTimeline, make_insert, snap=None) -> list[Clip]:
    """Inserts at the editor's rhythm, sometimes two or three back to back; `snap(frame,
    after)` moves each cut to where the sound asks for it (a pause, a beat)."""
    profile = draft.profile
    snap = snap or (lambda frame, after=-1: frame)
    clips: list[Clip] = []
    t = snap(draft.shot_frames(profile.broll_gap_seconds), 0)
    while t < draft.duration_frames - draft.frames(1.0):
        for _ in range(1 if draft.rng.random() < 0.7 else int(draft.rng.integers(2, 4))):
            planned = min(draft.duration_frames, t + draft.shot_frames(profile.broll_seconds))
            end = min(draft.duration_frames, snap(planned, t + draft.frames(0.5)))
            if end - t < draft.frames(0.5):
                break
            clips.append(make_insert(draft, len(clips) + 1, t, end))
            t = end
        t = snap(t + draft.shot_frames(profile.broll_gap_seconds), t + draft.frames(0.5))
    return clips


def _broll_insert(draft: DraftTimeline, number: int, start: int, end: int) -> Clip:
    if draft.rng.random() < draft.profile.still_share:
        return _ken_burns_still(draft, number, start, end)
    size = BROLL_SIZES[int(draft.rng.integers(len(BROLL_SIZES)))]
    return _broll_video(draft, number, start, end, size, fill_scale_pct(size, _seq(draft)))


def _broll_video(
    draft: DraftTimeline, number: int, start: int, end: int, size: tuple[int, int], scale_pct: float, dy_px: float = 0.0
) -> Clip:
    length = end - start
    source_in = int(draft.rng.integers(0, draft.frames(20.0)))
    asset = draft.add_asset(
        f"broll_{number:02d}.mp4", "B-Roll", size, duration_frames=source_in + length + draft.frames(3.0)
    )
    return sync_clip(asset, start, end, source_in - start, motion=motion_for(asset, scale_pct, 0.0, dy_px))


def _ken_burns_still(draft: DraftTimeline, number: int, start: int, end: int) -> Clip:
    """A still with a slow zoom and pan, keyed at its first and last source frame; the
    pan stays inside what the smaller scale leaves beyond the frame edges."""
    size = STILL_SIZES[int(draft.rng.integers(len(STILL_SIZES)))]
    asset = draft.add_still(f"IMG_{int(draft.rng.integers(1000, 9999))}.JPG", size)
    source_in = draft.frames(3600.0) + int(draft.rng.integers(0, draft.frames(60.0)))
    clip = sync_clip(asset, start, end, source_in - start)
    fill = fill_scale_pct(size, _seq(draft))
    scales = [fill * 1.02, fill * 1.02 * draft.profile.ken_burns]
    if draft.rng.random() < 0.4:
        scales.reverse()  # a pull-out instead of a push-in
    spare_y = (size[1] * min(scales) / 100.0 - draft.height_px) / 2
    spare_x = (size[0] * min(scales) / 100.0 - draft.width_px) / 2
    dx = draft.rng.uniform(-0.8, 0.8, 2) * spare_x
    dy = draft.rng.uniform(-0.8, 0.8, 2) * spare_y
    whens = [clip.in_frame, clip.out_frame - 1]
    motion = Motion(
        scale=keyed(whens, scales, digits=4),
        center_x=keyed(whens, [round(v) / size[0] for v in dx]),
        center_y=keyed(whens, [round(v) / size[1] for v in dy]),
    )
    return dataclasses.replace(clip, motion=motion)


def _add_lower_third(draft: DraftTimeline) -> None:
    """A name graphic at the sequence's own size early on, on V3."""
    start = draft.frames(float(draft.rng.uniform(1.0, 4.0)))
    end = start + draft.frames(float(draft.rng.uniform(4.0, 7.0)))
    if end > draft.duration_frames:
        return  # too short a piece for a name graphic
    asset = draft.add_asset(
        "Lower Third.png", "Graphics", _seq(draft), has_audio=False, duration_frames=draft.frames(3600.0 * 12)
    )
    source_in = draft.frames(3600.0)
    draft.video_track(2).clips.append(sync_clip(asset, start, end, source_in - start))


def cut_vertical(draft: DraftTimeline) -> None:
    """9:16 short from 16:9 footage: scaled up to fill the height, position keyed to
    follow the speaker across the wide frame, jump cuts, B-roll in the upper half; a
    montage, so a music bed runs under it on A2 and its cuts land on the beat."""
    cams = _talking_cameras(draft)
    music, beats = add_music(draft, "Music.m4a", draft.duration_frames)
    on_beat = snapper(beats, draft.frames(60.0 / BPM[0]) / 2)
    talking, sound = _jump_cut_clips(draft, cams, draft.profile.shot_seconds, _SpeakerFollower().motion, on_beat)
    draft.video_track(0).clips.extend(talking)
    draft.add_audio(sound)
    draft.audio_tracks.append(Track(clips=[sync_clip(music, 0, draft.duration_frames, 0)], name="A2"))
    if draft.rng.random() < 0.8:
        draft.video_track(1).clips.extend(_inserts(draft, _vertical_insert, on_beat))


class _SpeakerFollower:
    """Position keys every `follow_seconds` that keep the speaker centred: the speaker
    drifts across the 16:9 source (a mean-reverting walk in media pixels, carried on
    across jump cuts of the same camera) and the clip moves the other way, never
    showing past the media's edges."""

    def __init__(self) -> None:
        self.speaker_x: dict[str, float] = {}  # asset id -> offset from the media centre, px

    def motion(self, draft: DraftTimeline, asset: Asset, clip: Clip, index: int) -> Motion:
        media_w_px = _size(asset)[0]
        scale_pct = fill_scale_pct(_size(asset), _seq(draft))
        if draft.profile.jump_zoom and index % 2 == 1:
            scale_pct *= draft.profile.punch_in
        spare_px = (media_w_px * scale_pct / 100.0 - draft.width_px) / 2
        step = draft.frames(draft.profile.follow_seconds)
        whens = list(range(clip.in_frame, clip.out_frame - 1, step)) + [clip.out_frame - 1]
        speaker_xs = self._walk(draft, asset, len(whens))
        dx = np.clip(-np.array(speaker_xs) * scale_pct / 100.0, -spare_px, spare_px)
        return Motion(
            scale=keyed(whens, [scale_pct] * len(whens), digits=4),
            center_x=keyed(whens, [round(v) / media_w_px for v in dx]),
            center_y=keyed(whens, [0.0] * len(whens)),
        )

    def _walk(self, draft: DraftTimeline, asset: Asset, count: int) -> list[float]:
        media_w_px = _size(asset)[0]
        x = self.speaker_x.get(asset.id, float(draft.rng.uniform(-0.2, 0.2)) * media_w_px)
        xs = []
        for _ in range(count):
            xs.append(x)
            x = 0.8 * x + float(draft.rng.normal(0.0, 0.04)) * media_w_px
        self.speaker_x[asset.id] = xs[-1]
        return xs


def _vertical_insert(draft: DraftTimeline, number: int, start: int, end: int) -> Clip:
    """16:9 B-roll fitted to the width, its centre a quarter of the height above middle."""
    size = BROLL_SIZES[int(draft.rng.integers(len(BROLL_SIZES)))]
    scale_pct = 100.0 * draft.width_px / size[0]
    return _broll_video(draft, number, start, end, size, scale_pct, -draft.height_px / 4)


def _camera(draft: DraftTimeline, label: str) -> tuple[Asset, int]:
    """A camera file (HD or UHD) and its sync offset: source = timeline + offset."""
    offset = int(draft.rng.integers(0, draft.frames(10.0)))
    size = UHD if draft.rng.random() < 0.5 else HD
    number = int(draft.rng.integers(1, 400))
    return draft.add_camera(f"{label}_C{number:04d}.MP4", size, offset), offset


def _full_frame_clip(draft: DraftTimeline, cam: tuple[Asset, int], start: int, end: int) -> Clip:
    asset, offset = cam
    fill = fill_scale_pct(_size(asset), _seq(draft))
    return sync_clip(asset, start, end, offset, motion=motion_for(asset, fill))


def _add_mix_audio(draft: DraftTimeline) -> None:
    """The recorder's mix on A1 for the whole length, in sync like the cameras."""
    offset = int(draft.rng.integers(0, draft.frames(10.0)))
    mix = draft.add_asset(
        "Mix.wav",
        "Audio",
        None,
        duration_frames=offset + draft.duration_frames,
        timecode_frame=draft.time_of_day_frame(),
    )
    draft.add_audio([sync_clip(mix, 0, draft.duration_frames, offset)])


def _lengthen(draft: DraftTimeline, asset: Asset, duration_frames: int) -> None:
    """Make room in the recording for the source skipped at jump cuts."""
    assert asset.duration_frames is not None  # add_asset always sets it
    if asset.duration_frames < duration_frames:
        longer = duration_frames + draft.frames(5.0)
        draft.assets[asset.id] = dataclasses.replace(asset, duration_frames=longer)


def _size(asset: Asset) -> tuple[int, int]:
    """A video asset's pixel size, which synth always gives it."""
    assert asset.width_px is not None and asset.height_px is not None
    return asset.width_px, asset.height_px


def _seq(draft: DraftTimeline) -> tuple[int, int]:
    return draft.width_px, draft.height_px
