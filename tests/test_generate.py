"""`generate` end to end with a tiny random-weight bundle and a small multicam prompt."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
import torch

from multitrack.cli import main
from multitrack.config import load_config
from multitrack.data.normalize import NormStats
from multitrack.data.resample import Resampler
from multitrack.errors import XmemlError
from multitrack.features.frames import timeline_frames
from multitrack.generate.frames_to_timeline import KeyTolerance
from multitrack.generate.generate import generate, sample_continuation
from multitrack.model.transformer import MultitrackTransformer
from multitrack.timeline.model import Asset, Clip, Rate, Timeline, Track
from multitrack.timeline.xmeml import read_xmeml, write_xmeml
from multitrack.train.bundle import load_bundle, write_bundle
from multitrack.train.module import DataInfo

RATE = Rate(25)
OFFSETS = {"cam-a": 1000, "cam-b": 1250}  # source frame = timeline frame + offset, per angle
STATS = NormStats(np.array([1.0, 0, 0, 0, 0, 0, 0]), np.array([0.2, 0.05, 0.05, 2, 2, 2, 2]))


def write_prompt(path) -> None:
    assets = {
        name: Asset(
            name,
            f"{name}.mp4",
            pathurl=f"file://localhost/media/{name}.mp4",
            width_px=1920,
            height_px=1080,
            rate=RATE,
            duration_frames=50_000,
            has_audio=True,
        )
        for name in OFFSETS
    }
    cuts = [0, 30, 55, 90, 120]
    v1 = Track(
        [
            Clip(name, s, e, s + OFFSETS[name], e + OFFSETS[name])
            for (s, e), name in zip(pairwise(cuts), ["cam-a", "cam-b", "cam-a", "cam-b"], strict=True)
        ]
    )
    a1 = Track([Clip("cam-a", 0, 120, 1000, 1120)])
    write_xmeml(Timeline("podcast", RATE, 1920, 1080, 120, [v1, Track()], [a1], assets), path)


def make_bundle(path, overrides=()):
    config = load_config(
        None,
        [
            "model.d_model=16",
            "model.n_heads=2",
            "model.n_layers=1",
            "model.d_ff=32",
            "window.length=16",
            "data.asset_classes=4",
            *overrides,
        ],
    )
    torch.manual_seed(0)
    model = MultitrackTransformer(config.model, 2, 4, config.window.length)
    with torch.no_grad():  # a bias towards V1 active: a random model would flicker every frame
        model.head.bias.view(2, -1)[0, 0] = 3.0
        model.visible_head.bias[0] = -6.0  # and against an empty screen, which it would keep
    return write_bundle(path, model, config, DataInfo(2, 4, STATS.to_dict(), "0" * 64), {"epochs": 0})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("generate")
    write_prompt(root / "prompt.xml")
    return root / "prompt.xml", make_bundle(root / "bundle")


def test_generated_timeline_continues_the_prompt(files, tmp_path):
    prompt, bundle = files
    result = generate(bundle, prompt, seconds=4, out_path=tmp_path / "out.xml", seed=1)
    (timeline,) = read_xmeml(tmp_path / "out.xml")
    back = timeline_frames(timeline, max_tracks=2)
    original = timeline_frames(read_xmeml(prompt)[0], max_tracks=2)
    assert (result.prompt_frames, result.generated_frames) == (120, 100)
    assert back.frame_count == 220
    # the prompt's span is reproduced exactly, assets by id
    ids_back = np.array([""] + [e.id for e in back.assets], dtype=object)[back.asset[:120]]
    ids_prompt = np.array([""] + [e.id for e in original.assets], dtype=object)[original.asset]
    assert (ids_back == ids_prompt).all()
    assert {a.pathurl for a in timeline.assets.values()} <= {f"file://localhost/media/{n}.mp4" for n in OFFSETS}


def test_read_back_matches_the_sampled_frames(files, tmp_path):
    prompt, bundle_dir = files
    generate(bundle_dir, prompt, seconds=4, out_path=tmp_path / "out.xml", seed=2)
    bundle = load_bundle(bundle_dir)
    prompt_arrays = timeline_frames(read_xmeml(prompt)[0], max_tracks=2)
    sampled = sample_continuation(bundle, prompt_arrays, 120, 100, 25.0, 1.0, seed=2)
    back = timeline_frames(read_xmeml(tmp_path / "out.xml")[0], max_tracks=2)
    named = sampled.active & (sampled.asset <= 2)  # classes 1, 2 are the prompt's two angles
    assert ((back.active[120:] > 0) == named).all()
    assert named[:, 0].any()
    error = np.abs(back.values[120:][named] - sampled.values[named]).max(axis=0)
    assert (error <= KeyTolerance().per_value() + 1e-5).all()
    assert (sampled.values[..., 3:] >= 0).all() and (sampled.values[..., 3:] <= 100).all()  # crops are percents


def test_multicam_angles_stay_in_sync(files, tmp_path):
    prompt, bundle = files
    result = generate(bundle, prompt, seconds=8, out_path=tmp_path / "out.xml", seed=3)
    (timeline,) = read_xmeml(tmp_path / "out.xml")
    generated = [c for t in timeline.video_tracks for c in t.clips if c.start_frame >= 120]
    assert {c.asset_id for c in generated} == set(OFFSETS)
    for clip in (c for t in timeline.video_tracks for c in t.clips):
        assert clip.in_frame - clip.start_frame == OFFSETS[clip.asset_id]
    assert result.clips == sum(len(t.clips) for t in timeline.video_tracks)


def test_seed_and_temperature(files, tmp_path):
    prompt, bundle = files
    paths = [tmp_path / f"{name}.xml" for name in ("a", "b", "c", "g1", "g2")]
    for path, seed, temperature in zip(paths, (5, 5, 6, 5, 6), (1.0, 1.0, 1.0, 0.0, 0.0), strict=True):
        generate(bundle, prompt, seconds=3, out_path=path, seed=seed, temperature=temperature)
    a, b, c, g1, g2 = (p.read_bytes() for p in paths)
    assert a == b and a != c
    assert g1 == g2  # greedy ignores the seed


def test_prompt_seconds_cuts_the_prompt_and_its_audio(files, tmp_path):
    prompt, bundle = files
    result = generate(bundle, prompt, seconds=1, prompt_seconds=2, out_path=tmp_path / "out.xml")
    assert result.prompt_frames == 50
    (audio,) = result.timeline.audio_tracks
    assert [(c.start_frame, c.end_frame) for c in audio.clips] == [(0, 50)]
    assert result.timeline.duration_frames == 75


def test_model_at_another_rate(files, tmp_path):
    prompt, _ = files
    bundle = make_bundle(tmp_path / "bundle50", ["data.fps=50"])
    result = generate(bundle, prompt, seconds=2, out_path=tmp_path / "out.xml", seed=0)
    assert result.generated_frames == 50  # counted at the prompt's 25 fps
    # sample-and-hold as prepare resamples: the row on screen at each output frame's start
    assert Resampler.between(2, Fraction(25), Fraction(50), 4).source_rows.tolist() == [0, 0, 1, 1]
    assert Resampler.between(5, Fraction(50), Fraction(25), 3).source_rows.tolist() == [0, 2, 4]


def test_empty_prompt_is_refused(files, tmp_path):
    _, bundle = files
    empty = tmp_path / "empty.xml"
    write_xmeml(Timeline("empty", RATE, 1920, 1080, 0, [Track()], [], {}), empty)
    with pytest.raises(XmemlError, match="no frames to continue"):
        generate(bundle, empty, seconds=1, out_path=tmp_path / "out.xml")


def test_cli_file_and_folder(files, tmp_path, capsys):
    prompt, bundle = files
    assert (
        main(["generate", str(bundle), "--prompt", str(prompt), "--seconds", "1", "-o", str(tmp_path / "one.xml")]) == 0
    )
    assert read_xmeml(tmp_path / "one.xml")[0].duration_frames == 145
    folder = tmp_path / "prompts"
    (folder / "show").mkdir(parents=True)
    (folder / "show" / "ep1.xml").write_bytes(prompt.read_bytes())
    (folder / "broken.xml").write_text("<xmeml version='4'><sequence>")
    code = main(["generate", str(bundle), "--prompt", str(folder), "--seconds", "1", "-o", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1
    assert (tmp_path / "out" / "show" / "ep1.xml").is_file()
    assert "broken.xml" in captured.err and "1 timeline(s) written" in captured.out


@pytest.mark.parametrize("name", ["nrk/Multicam_Moser_2.xml", "otio/premiere_example.xml", "nrk/BroShow_ep_LYKKE.xml"])
def test_real_prompts_continue_and_read_back(real_corpus, files, tmp_path, name):
    otio = pytest.importorskip("opentimelineio")
    _, bundle = files
    out = tmp_path / "out.xml"
    result = generate(bundle, real_corpus / name, seconds=2, prompt_seconds=5, out_path=out, seed=0)
    (timeline,) = read_xmeml(out)
    assert timeline.duration_frames == result.prompt_frames + result.generated_frames
    ours = sum(len(t.clips) for t in timeline.video_tracks)
    read = otio.adapters.read_from_file(str(out), adapter_name="fcp_xml")
    # a nested sequence (Premiere's multicam, ../shared/docs/xmeml.md §5) reads as a Stack in OTIO
    theirs = sum(
        1
        for t in read.tracks
        if t.kind == otio.schema.TrackKind.Video
        for item in t
        if isinstance(item, (otio.schema.Clip, otio.schema.Stack))
    )
    assert ours == theirs == result.clips
    # every clip keeps an offset (source - timeline frame) that its asset had in the prompt
    prompt_offsets: dict[str, set[int]] = {}
    for track in read_xmeml(real_corpus / name)[0].video_tracks:
        for clip in track.clips:
            prompt_offsets.setdefault(clip.asset_id, set()).add(clip.in_frame - clip.start_frame)
    if not any("out of sync" in w for w in result.warnings):
        for clip in (c for t in timeline.video_tracks for c in t.clips):
            assert clip.in_frame - clip.start_frame in prompt_offsets[clip.asset_id]
