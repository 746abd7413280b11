"""synth/soundtrack.py through the styles: voice-overs and music under the picture, and cuts that follow them.

Checked on the rendered files with hearing's own hops: a B-roll cut lands where the voice-over
is quiet, a montage cut where the music's kick is.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from multitrack.features.hearing import analyse_media
from multitrack.features.media import url_path
from multitrack.synth import synth_timeline
from multitrack.synth.audio import beat_times, music_bed
from multitrack.synth.profiles import draw_profiles
from multitrack.synth.soundtrack import snap_shots, snapper
from multitrack.timeline.xmeml import xmeml_bytes

BASE = draw_profiles(1, seed=3)[0]


def render(style, tmp_path, index=0, seconds=40.0, **habits):
    profile = dataclasses.replace(BASE, disabled_rate=0.0, **habits)
    synth = synth_timeline(index, 11, profile, seconds, seconds, style=style, media_root=tmp_path)
    return synth, tmp_path / profile.name


def media_file(root, timeline, clip):
    return root / url_path(timeline.assets[clip.asset_id].pathurl)  # relative to the xmeml's folder


def test_broll_inserts_cut_in_the_voice_overs_pauses(tmp_path):
    quiet = []  # pooled over three timelines: one holds only a dozen cuts
    for index in range(3):
        synth, root = render(
            "broll", tmp_path / str(index), index, broll_gap_seconds=3.0, broll_seconds=2.5, transition_rate=0.0
        )
        timeline = synth.timeline
        sound = timeline.audio_tracks[0].clips
        assert {timeline.assets[c.asset_id].name for c in sound} == {"Voice-over.m4a"}
        power = analyse_media(media_file(root, timeline, sound[0]), [0], None)[0].power
        fps = timeline.rate.fps
        inserts = timeline.video_tracks[1].clips
        cuts = {c.start_frame for c in inserts} | {c.end_frame for c in inserts}
        cuts -= {0, timeline.duration_frames}
        for cut in sorted(cuts):
            clip = next(c for c in sound if c.start_frame <= cut < c.end_frame)
            hop = int((cut + clip.in_frame - clip.start_frame) / fps * 100)  # the file's 10-ms hop at the cut
            quiet.append(10 * np.log10(power[hop]) < -45.0)  # room noise only, no voice
    assert len(quiet) >= 24 and np.mean(quiet) >= 0.75  # 37.5% without moving the cuts onto pauses


def test_rendering_the_sound_never_moves_the_cut(tmp_path):
    for style in ("broll", "pip", "vertical"):
        profile = dataclasses.replace(BASE, disabled_rate=0.0)
        rendered = synth_timeline(1, 4, profile, 20.0, 20.0, style=style, media_root=tmp_path).timeline
        referenced = synth_timeline(1, 4, profile, 20.0, 20.0, style=style).timeline
        assert xmeml_bytes(rendered) == xmeml_bytes(referenced)


def test_pip_narration_is_in_sync_with_its_screen_recording(tmp_path):
    synth, root = render("pip", tmp_path, seconds=60.0)
    timeline = synth.timeline
    screens = {timeline.assets[c.asset_id].name[-6:-4]: c for c in timeline.video_tracks[0].clips}  # by chapter
    assert len(timeline.audio_tracks[0].clips) == len(screens)
    for clip in timeline.audio_tracks[0].clips:
        asset = timeline.assets[clip.asset_id]
        assert asset.name.startswith("Narration ") and asset.pathurl.startswith("media/")
        screen = screens[asset.name[-6:-4]]
        assert clip.in_frame - clip.start_frame == screen.in_frame - screen.start_frame
        assert screen.asset_id != clip.asset_id
        hops = analyse_media(media_file(root, timeline, clip), [0], None)[0]
        assert hops.seconds >= asset.duration_frames / timeline.rate.fps - 0.01
        assert 0.3 < hops.speech.mean() < 0.95  # a narration: phrases with pauses


def test_vertical_montage_cuts_on_the_musics_beat(tmp_path):
    synth, root = render("vertical", tmp_path, seconds=40.0, shot_seconds=1.5)
    timeline = synth.timeline
    music = timeline.audio_tracks[1].clips
    assert len(music) == 1 and (music[0].start_frame, music[0].end_frame) == (0, timeline.duration_frames)
    power = 10 * np.log10(analyse_media(media_file(root, timeline, music[0]), [0], None)[0].power + 1e-12)
    onsets = np.flatnonzero(power[2:] - power[:-2] > 6.0) + 2  # hops where the kick strikes
    cuts = sorted({c.start_frame for c in timeline.video_tracks[0].clips} - {0})
    assert len(cuts) >= 6
    frame_hops = 100 / timeline.rate.fps
    for cut in cuts:
        assert np.min(np.abs(onsets - cut * frame_hops)) <= frame_hops + 3  # within a frame and 30 ms


def test_music_bed_strikes_on_its_beats_and_is_seeded():
    rng = np.random.default_rng(0)
    bed = music_bed(8.0, 16000, 120.0, rng)
    assert np.array_equal(bed, music_bed(8.0, 16000, 120.0, np.random.default_rng(0)))
    assert 0.05 < np.abs(bed).max() < 1.0
    energy = np.array([np.mean(bed[i : i + 160] ** 2) for i in range(0, len(bed) - 160, 160)])  # 10 ms
    beats = (beat_times(8.0, 120.0) * 100).astype(int)[:-1]
    between = beats + 12  # a quarter of a beat later: the kick has died away
    assert np.all(energy[beats + 1] > 4 * energy[between])


def test_snapping_moves_cuts_to_the_nearest_target_in_reach_and_keeps_order():
    snap = snapper([10.0, 20.4, 50.0], reach_frames=5)
    assert [snap(12), snap(18), snap(30), snap(47)] == [10, 20, 30, 50]
    assert snap(12, after=10) == 12  # the target at 10 is not after 10, 20.4 is out of reach
    shots = [(0, 9), (9, 19), (19, 29), (29, 60)]
    assert snap_shots(shots, snap) == [(0, 10), (10, 20), (20, 29), (29, 60)]
    assert snap_shots([(0, 9), (9, 11), (11, 60)], snap) == [(0, 10), (10, 60)]  # two cuts on one target
