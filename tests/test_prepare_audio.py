"""prepare writes each audio track's sound at the prepared rate beside the picture (issue 16's input)."""

import dataclasses

import numpy as np

from multitrack.config import load_config
from multitrack.data.prepare import prepare
from multitrack.data.prepared import AUDIO_ARRAYS, open_prepared
from multitrack.data.resample import Resampler
from multitrack.features.ingest import ingest
from multitrack.features.table import FrameTable
from multitrack.synth import synth_timeline
from multitrack.synth.profiles import draw_profiles
from multitrack.timeline.xmeml import write_xmeml


def podcast_table(tmp_path, sessions=3):
    """A frame table of rendered podcast edits (their stacks beside them), heard by ingest."""
    profile = dataclasses.replace(draw_profiles(1, seed=2)[0], disabled_rate=0.0)
    corpus = tmp_path / "corpus"
    for index in range(sessions):
        synth = synth_timeline(index, 2, profile, 15.0, 15.0, style="multicam", media_root=corpus)
        write_xmeml(synth.timeline, corpus / synth.path)
        write_xmeml(synth.stack, corpus / synth.stack_path)
    frames = tmp_path / "frames.parquet"
    ingest([corpus], frames, max_tracks=6, progress=False)
    return frames


def test_the_prepared_sound_is_the_tables_resampled_and_stacks_stay_out(tmp_path):
    frames = podcast_table(tmp_path)
    config = load_config(
        None,
        ["data.fps=10", "data.split=[0.34, 0.33, 0.33]", "data.max_tracks=6", "window.length=20", "window.stride=10"],
    )
    prepared = open_prepared(prepare(frames, tmp_path / "prepared", config), verify_hashes=True)
    table = FrameTable.open(frames, 6)
    audio_tracks = prepared.info["audio_tracks"]
    assert audio_tracks == table.table_audio_tracks > 0
    assert len(prepared.info["stacks_left_out"]) == 3  # the stacks: every angle the whole length
    heard_somewhere = False
    for split in prepared.splits.values():
        arrays = split.arrays()
        assert {name: arrays[name].dtype for name in AUDIO_ARRAYS} == {n: np.dtype(d) for n, d in AUDIO_ARRAYS.items()}
        for entry in split.timelines:
            rows = slice(entry["row_offset"], entry["row_offset"] + entry["frames"])
            source = table.read_timeline(entry["id"], audio=True).audio
            expected = Resampler.for_timeline(entry, entry["source_frames"], 10.0).apply_audio(source)
            assert np.array_equal(arrays["audio_heard"][rows], expected.heard)
            assert np.array_equal(arrays["audio_active"][rows], expected.active)
            np.testing.assert_allclose(arrays["audio_loudness_db"][rows], expected.loudness_db, atol=0.05)
            np.testing.assert_allclose(arrays["audio_speech"][rows], expected.speech, atol=1e-3)
            heard_somewhere |= bool(arrays["audio_heard"][rows].any())
    assert heard_somewhere  # the rendered mics were found and heard


def test_a_table_without_audio_columns_prepares_no_sound(tmp_path):
    from framegen import prepare_tiny

    prepared = open_prepared(prepare_tiny(tmp_path), verify_hashes=True)
    assert prepared.info["audio_tracks"] == 0
    assert not any((split.path / f"{name}.npy").exists() for split in prepared.splits.values() for name in AUDIO_ARRAYS)
