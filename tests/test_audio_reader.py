"""Audio clips in read_xmeml (docs/xmeml-audio.md): channel, levels, Gain, stereo pairs, and the writer's round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audio_xmeml import audio_levels, audio_track, gain, sourcetrack
from multitrack.features.schema import SILENCE_DB, gain_db
from multitrack.timeline.model import AudioGain, AudioTrackType, Keyframe, Param
from multitrack.timeline.xmeml import read_xmeml, write_xmeml
from xmemlgen import clipitem, document, file_def, file_ref, filter_, param, sequence, time_remap, track

MIC = file_def("file-9", "mic.wav", pathurl="file://localhost/Volumes/Rec/mic.wav", width=None, audio_channels=2)


def stereo_document():
    """A camera file on V1 whose sound is a Premiere stereo pair (A1/A2, channels 1 and 2),
    and a mic on A3 with keyframed levels, a Gain filter and channel 2, then a disabled clip."""
    camera = file_def("file-1", "cam.mov", audio_channels=2)
    left = clipitem(0, 50, 10, extra=sourcetrack(1), file=file_ref("file-1"), filters=audio_levels(0.5))
    right = clipitem(0, 50, 10, extra=sourcetrack(2), file=file_ref("file-1"), filters=audio_levels(0.5))
    mic = clipitem(
        20,
        80,
        100,
        file=MIC,
        name="mic.wav",
        extra=sourcetrack(2),
        filters=audio_levels(0, [(100, 0), (120, 1.0), (140, 3.98109)]) + gain(-6),
    )
    off = clipitem(80, 90, 0, file=file_ref("file-9"), name="mic.wav", enabled=False, extra=sourcetrack(1))
    audio = [
        audio_track(left, kind="Stereo", exploded=0, count=2),
        audio_track(right, kind="Stereo", exploded=1, count=2),
        audio_track(mic, off, kind="Mono", exploded=0, count=1),
    ]
    return document(sequence(track(clipitem(0, 50, 10, file=camera)), audio=audio, duration=100))


def test_stereo_pair_channels_levels_gain_and_disabled_clip(read):
    [timeline] = read(stereo_document())
    a1, a2, a3 = timeline.audio_tracks
    assert a1.audio_type == AudioTrackType("Stereo", 0, 2)
    assert a2.audio_type == AudioTrackType("Stereo", 1, 2)
    assert a3.audio_type == AudioTrackType("Mono", 0, 1)
    [left], [right] = a1.clips, a2.clips
    assert (left.asset_id, right.asset_id) == ("file-1", "file-1")  # the camera's file, as on V1
    assert (left.source_channel, right.source_channel) == (1, 2)
    assert left.audio == AudioGain(level=Param(0.5))
    mic, off = a3.clips
    assert (mic.start_frame, mic.end_frame, mic.in_frame, mic.out_frame) == (20, 80, 100, 160)
    assert mic.source_channel == 2
    assert mic.audio is not None
    assert mic.audio.level.keyframes == (Keyframe(100, 0.0), Keyframe(120, 1.0), Keyframe(140, 3.98109))
    assert mic.audio.gain_db == Param(-6.0)
    assert (off.enabled, off.source_channel, off.audio) == (False, 1, None)
    assert timeline.assets["file-9"].pathurl == "file://localhost/Volumes/Rec/mic.wav"
    assert timeline.warnings == []


def test_a_clip_without_sourcetrack_or_filters_plays_channel_one_at_unity(read):
    [timeline] = read(document(sequence(track(), audio=audio_track(clipitem(0, 10, 0, file=MIC)))))
    [clip] = timeline.audio_tracks[0].clips
    assert (clip.source_channel, clip.audio) == (1, None)
    assert timeline.audio_tracks[0].audio_type is None  # FCP7 and Resolve write no track type


def test_disabled_level_filter_does_nothing_and_unity_is_none(read):
    clip = clipitem(0, 10, 0, file=MIC, filters=filter_("audiolevels", param("level", 0.1), enabled=False) + gain(0))
    [timeline] = read(document(sequence(track(), audio=audio_track(clip))))
    assert timeline.audio_tracks[0].clips[0].audio is None


def test_retimed_audio_clip_keys_move_to_the_source_axis(read):
    # at 200% in/out and keyframe whens count retimed frames: in 50 is source 100, key 60 is source 120
    clip = clipitem(0, 20, 50, file=MIC, filters=time_remap(200) + audio_levels(1, [(50, 0), (60, 1)]))
    [timeline] = read(document(sequence(track(), audio=audio_track(clip))))
    [read_clip] = timeline.audio_tracks[0].clips
    assert (read_clip.in_frame, read_clip.out_frame, read_clip.speed) == (100, 140, 200.0)
    assert read_clip.audio is not None
    assert [k.when for k in read_clip.audio.level.keyframes] == [100.0, 120.0]


def test_gain_db_of_linear_levels_and_the_floor():
    levels = np.array([1.0, 0.5, 3.98109, 0.0, 1e-9])
    expected = [-6.0, 20 * math.log10(0.5) - 6, 20 * math.log10(3.98109) - 6, SILENCE_DB, SILENCE_DB]
    assert gain_db(levels, -6.0) == pytest.approx(expected)
    assert gain_db(3.98109) == pytest.approx(12.0, abs=1e-4)  # Premiere's valuemax is +12 dB


def test_writer_round_trips_levels_gain_channel_and_track_types(tmp_path):
    source = tmp_path / "in.xml"
    source.write_text(stereo_document(), encoding="utf-8")
    [timeline] = read_xmeml(source)
    written = tmp_path / "out.xml"
    write_xmeml(timeline, written)
    [again] = read_xmeml(written)
    assert again.audio_tracks == timeline.audio_tracks
    mic = again.audio_tracks[2].clips[0]
    assert mic.audio is not None and mic.audio.gain_db == Param(-6.0) and mic.source_channel == 2
