"""Frame arrays -> Timeline: clip runs, source sync, Premiere values, read-back, OTIO."""

from __future__ import annotations

import numpy as np
import pytest

from multitrack.features.frames import timeline_frames
from multitrack.features.vocabulary import Frames
from multitrack.generate.frames_to_timeline import KeyTolerance, frames_to_timeline, prompt_audio, track_runs
from multitrack.timeline.model import Asset, Clip, Motion, Param, Rate, Timeline, Track
from multitrack.timeline.xmeml import read_xmeml, write_xmeml

RATE = Rate(25)


def multicam_prompt() -> Timeline:
    """Two camera angles in sync (A: source = timeline + 1000, B: + 1250), a logo over them."""
    assets = {
        "cam-a": Asset(
            "cam-a",
            "cam A.mp4",
            pathurl="file://localhost/media/camA.mp4",
            width_px=3840,
            height_px=2160,
            rate=RATE,
            duration_frames=20000,
            has_audio=True,
        ),
        "cam-b": Asset(
            "cam-b",
            "cam B.mp4",
            pathurl="file://localhost/media/camB.mp4",
            width_px=1920,
            height_px=1080,
            rate=RATE,
            duration_frames=20000,
        ),
        "logo": Asset("logo", "logo.png", pathurl="file://localhost/media/logo.png", width_px=500, height_px=500),
    }
    v1 = Track(
        [Clip("cam-a", 0, 100, 1000, 1100), Clip("cam-b", 100, 175, 1350, 1425), Clip("cam-a", 175, 250, 1175, 1250)]
    )
    v2 = Track(
        [Clip("logo", 50, 150, 0, 100, motion=Motion(scale=Param(40.0), center_x=Param(0.5), center_y=Param(-0.4)))]
    )
    a1 = Track([Clip("cam-a", 0, 250, 1000, 1250)])
    return Timeline("interview", RATE, 1920, 1080, 250, [v1, v2], [a1], assets)


def prompt_and_continuation(generated: int = 100):
    """The prompt's frames, then `generated` frames: B for 40, then A zooming in, on V1."""
    prompt = multicam_prompt()
    arrays = timeline_frames(prompt, max_tracks=2)  # asset numbers: 1 cam A, 2 logo, 3 cam B
    n = arrays.frame_count + generated
    active = np.zeros((n, 2), bool)
    asset = np.zeros((n, 2), int)
    values = np.zeros((n, 2, 7))
    active[:250], asset[:250], values[:250] = arrays.active > 0, arrays.asset, arrays.values
    active[250:, 0] = True
    asset[250:290, 0], asset[290:, 0] = 3, 1
    values[250:, 0, 0] = 1.0
    values[290:, 0, 0] = np.linspace(1.0, 1.5, n - 290)  # a slow punch-in on camera A
    values[290:, 0, 2] = 0.05
    return prompt, [entry.id for entry in arrays.assets], Frames(active, asset, values)


def test_track_runs():
    active = np.array([[1, 0], [1, 1], [1, 1], [0, 1], [1, 0]], bool)
    asset = np.array([[1, 0], [1, 2], [3, 2], [0, 2], [3, 0]])
    runs = [
        (r.track, r.start_frame, r.end_frame, r.asset_number)
        for r in track_runs(Frames(active, asset, np.zeros((5, 2, 7))))
    ]
    assert runs == [(0, 0, 2, 1), (0, 2, 3, 3), (0, 4, 5, 3), (1, 1, 4, 2)]


def test_one_clip_per_run_and_angles_stay_in_sync():
    prompt, ids, frames = prompt_and_continuation()
    conversion = frames_to_timeline(prompt, ids, frames, prompt_frames=250)
    v1 = conversion.timeline.video_tracks[0].clips
    # prompt's three clips, then B (250-290) and A (290-350)
    assert [(c.asset_id, c.start_frame, c.end_frame) for c in v1] == [
        ("cam-a", 0, 100),
        ("cam-b", 100, 175),
        ("cam-a", 175, 250),
        ("cam-b", 250, 290),
        ("cam-a", 290, 350),
    ]
    for clip in v1:
        assert clip.in_frame - clip.start_frame == {"cam-a": 1000, "cam-b": 1250}[clip.asset_id]
        assert clip.out_frame - clip.in_frame == clip.end_frame - clip.start_frame
    assert conversion.clips == 6  # five on V1, the logo on V2
    assert set(conversion.timeline.assets) == {"cam-a", "cam-b", "logo"}


def test_premiere_values_and_keyframes():
    prompt, ids, frames = prompt_and_continuation()
    timeline = frames_to_timeline(prompt, ids, frames, prompt_frames=250).timeline
    logo = timeline.video_tracks[1].clips[0]
    assert logo.motion.scale.value == pytest.approx(40.0)  # Premiere percent of the 500 px media
    assert logo.motion.center_x.value == pytest.approx(0.5) and logo.motion.center_y.value == pytest.approx(-0.4)
    assert timeline.video_tracks[0].clips[1].motion is None  # default Basic Motion is not written
    zoom = timeline.video_tracks[0].clips[-1]
    # 4K media in an HD frame: scale 1.0 of the frame width is 50 %; a linear ramp needs two keys
    assert [k.value for k in zoom.motion.scale.keyframes] == pytest.approx([50.0, 75.0])
    assert [k.when for k in zoom.motion.scale.keyframes] == [zoom.in_frame, zoom.in_frame + 59]
    assert zoom.motion.center_y.value == pytest.approx(0.025)  # 0.05 of 1080 px = 54 px = 0.025 of 2160


def test_output_reads_back_to_the_frames(tmp_path):
    prompt, ids, frames = prompt_and_continuation()
    tolerance = KeyTolerance()
    path = tmp_path / "out.xml"
    write_xmeml(frames_to_timeline(prompt, ids, frames, 250, tolerance).timeline, path)
    (timeline,) = read_xmeml(path)
    back = timeline_frames(timeline, max_tracks=2)
    assert back.frame_count == len(frames)
    assert ((back.active > 0) == frames.active).all()
    numbers = {entry.id: entry.number for entry in back.assets}
    expected = np.vectorize(lambda n: numbers[ids[n - 1]] if n else 0)(frames.asset)
    assert (back.asset == expected).all()
    error = np.abs(back.values - frames.values).max(axis=(0, 1))
    assert (error <= tolerance.per_value() + 1e-5).all()


def test_audio_is_kept_for_the_prompt_span():
    (track,) = prompt_audio(multicam_prompt(), prompt_frames=120)
    (clip,) = track.clips
    assert (clip.start_frame, clip.end_frame, clip.in_frame, clip.out_frame) == (0, 120, 1000, 1120)


def test_opentimelineio_reads_the_same_clips(tmp_path):
    otio = pytest.importorskip("opentimelineio")
    prompt, ids, frames = prompt_and_continuation()
    path = tmp_path / "out.xml"
    timeline = frames_to_timeline(prompt, ids, frames, 250).timeline
    write_xmeml(timeline, path)
    read = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    if isinstance(read, otio.schema.SerializableCollection):
        (read,) = list(read)
    video = [t for t in read.tracks if t.kind == otio.schema.TrackKind.Video]
    for ours, theirs in zip(timeline.video_tracks, video, strict=True):
        clips = [item for item in theirs if isinstance(item, otio.schema.Clip)]
        assert [(c.source_range.start_time.to_frames(), c.source_range.duration.to_frames()) for c in clips] == [
            (c.in_frame, c.end_frame - c.start_frame) for c in ours.clips
        ]
        assert [theirs.range_of_child(c).start_time.to_frames() for c in clips] == [c.start_frame for c in ours.clips]
        assert [c.media_reference.target_url for c in clips] == [
            timeline.assets[c.asset_id].pathurl for c in ours.clips
        ]
