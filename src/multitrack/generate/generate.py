"""`generate`: continue a prompt timeline with a model bundle and write Premiere-style xmeml.

1. Read the prompt (its first sequence) and compute its frame arrays (`timeline_frames`).
2. Take its first `prompt_seconds` (default: all of it) as the prompt; if the model was
   trained at one rate (`data.fps`), resample the prompt to it by sample-and-hold, and the
   sampled frames back, as `prepare` resamples (`data.resample.Resampler`, exact rates).
3. Sample `seconds` more frames with the model (KV-cache rollout, temperature, seed), in torch
   or, with `runtime="onnx"` on a folder `export --onnx` wrote, in ONNX Runtime
   (`multitrack.sample.runtime.load_model`).
4. Map the model's asset classes back to the prompt's assets: class n < K-1 is the prompt's
   n-th asset by first appearance (DESIGN.md §2). Class K-1 ("other") becomes the asset
   numbered K-1 or above that the same track showed last in the prompt (else the lowest
   such asset). A class with no such asset in the prompt is left empty on that frame (the
   model invented a clip it cannot name) and counted in the warnings.
5. Frames -> Timeline (`frames_to_timeline`) -> xmeml (`write_xmeml`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from multitrack.data.resample import Resampler, frame_rate
from multitrack.errors import XmemlError
from multitrack.features.frames import TimelineFrames, timeline_frames
from multitrack.features.vocabulary import Frames
from multitrack.generate.frames_to_timeline import KeyTolerance, frames_to_timeline
from multitrack.sample import Runtime
from multitrack.sample.codec import FrameCodec
from multitrack.sample.rollout import rollout
from multitrack.sample.runtime import LoadedModel, load_model
from multitrack.timeline.model import Timeline
from multitrack.timeline.xmeml import read_xmeml, write_xmeml
from multitrack.train.bundle import Bundle, model_rate


@dataclass
class GenerateResult:
    out_path: Path
    timeline: Timeline
    prompt_frames: int  # at the timeline's rate
    generated_frames: int
    clips: int
    keyframes: int
    warnings: list[str] = field(default_factory=list)


def generate(
    bundle: str | Path | Bundle | LoadedModel,
    prompt_path: str | Path,
    seconds: float,
    out_path: str | Path,
    prompt_seconds: float | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    tolerance: KeyTolerance | None = None,
    runtime: Runtime = "torch",
) -> GenerateResult:
    """Continue the prompt file's first timeline by `seconds` and write the result to out_path.
    `runtime` applies to a bundle given by its folder; a loaded one brings its own."""
    loaded = _loaded(bundle, runtime)
    bundle = loaded.bundle
    timeline = read_xmeml(prompt_path)[0]
    prompt = timeline_frames(timeline, bundle.model.max_tracks, source=str(prompt_path))
    fps = timeline.rate.fps
    prompt_frames = (
        prompt.frame_count if prompt_seconds is None else min(prompt.frame_count, round(prompt_seconds * fps))
    )
    if prompt_frames < 1:
        raise XmemlError(str(prompt_path), f"sequence '{timeline.name}'", "has no frames to continue from")
    new_frames = max(1, round(seconds * fps))

    generated = sample_continuation(loaded, prompt, prompt_frames, new_frames, fps, temperature, seed)
    warnings: list[str] = list(prompt.warnings)
    numbers = class_to_asset_numbers(generated, prompt, prompt_frames, bundle.model.asset_classes, warnings)
    frames = Frames(
        np.concatenate([prompt.active[:prompt_frames] > 0, numbers > 0]),
        np.concatenate([prompt.asset[:prompt_frames], numbers]),
        np.concatenate(
            [np.where(prompt.active[:prompt_frames, :, None] > 0, prompt.values[:prompt_frames], 0.0), generated.values]
        ),
    )
    frames.values[~frames.active] = 0.0
    asset_ids = [entry.id for entry in prompt.assets]
    conversion = frames_to_timeline(timeline, asset_ids, frames, prompt_frames, tolerance)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_xmeml(conversion.timeline, out_path)
    return GenerateResult(
        out_path,
        conversion.timeline,
        prompt_frames,
        new_frames,
        conversion.clips,
        conversion.keyframes,
        warnings + conversion.warnings,
    )


def _loaded(bundle: str | Path | Bundle | LoadedModel, runtime: Runtime) -> LoadedModel:
    if isinstance(bundle, LoadedModel):
        return bundle
    if isinstance(bundle, Bundle):
        if runtime != "torch":
            raise ValueError(f"runtime {runtime!r} needs the export's folder, not a loaded torch bundle")
        return LoadedModel(bundle, bundle.model, runtime)
    return load_model(bundle, runtime)


def sample_continuation(
    bundle: Bundle | LoadedModel,
    prompt: TimelineFrames,
    prompt_frames: int,
    new_frames: int,
    fps: float,
    temperature: float,
    seed: int,
) -> Frames:
    """new_frames sampled frames (at the timeline's rate `fps`) after the prompt's first prompt_frames."""
    loaded = _loaded(bundle, "torch")
    bundle = loaded.bundle
    timeline_rate, rate = frame_rate(fps), model_rate(bundle, fps)
    context_frames = max(1, round(prompt_frames * rate / timeline_rate))  # the prompt's span at the model's rate
    prompt_rows = Frames(prompt.active[:prompt_frames] > 0, prompt.asset[:prompt_frames], prompt.values[:prompt_frames])
    context = Resampler.between(prompt_frames, timeline_rate, rate, context_frames).apply(prompt_rows)
    codec = FrameCodec.of(bundle)
    model_frames = round(new_frames * rate / timeline_rate) + 1
    generator = torch.Generator().manual_seed(seed)
    sampled = codec.decode(rollout(loaded.model, codec.encode(context), model_frames, temperature, generator))[0]
    frames = Resampler.between(model_frames, rate, timeline_rate, new_frames).apply(sampled)  # back to the timeline
    clamp_to_premiere_ranges(frames.values)
    return frames


def clamp_to_premiere_ranges(values: np.ndarray) -> None:
    """In place: no negative scale, crops within 0..100 % (../shared/docs/xmeml.md §6); the regression
    heads are unbounded, Premiere's parameters are not."""
    values[..., 0] = np.maximum(values[..., 0], 0.0)
    values[..., 3:] = np.clip(values[..., 3:], 0.0, 100.0)


def class_to_asset_numbers(
    generated: Frames, prompt: TimelineFrames, prompt_frames: int, asset_classes: int, warnings: list[str]
) -> np.ndarray:
    """(n, T) prompt asset numbers for the generated asset classes; 0 where a class has no asset."""
    other = asset_classes - 1
    n_assets = len(prompt.assets)
    numbers = np.where(generated.asset < other, generated.asset, 0)
    numbers[numbers > n_assets] = 0
    for track in range(generated.asset.shape[1]):
        numbers[generated.asset[:, track] >= other, track] = _other_asset(prompt, prompt_frames, track, other)
    unnamed = int(np.count_nonzero(generated.active & (numbers == 0)))
    if unnamed:
        warnings.append(
            f"{unnamed} generated track-frames showed an asset class the prompt has no asset for; left empty"
        )
    return np.where(generated.active, numbers, 0)


def _other_asset(prompt: TimelineFrames, prompt_frames: int, track: int, other: int) -> int:
    """The asset numbered K-1 or above that this track showed last in the prompt, else the lowest one."""
    shown = prompt.asset[:prompt_frames, track]
    folded = shown[shown >= other]
    if folded.size:
        return int(folded[-1])
    return other if len(prompt.assets) >= other else 0


def generate_folder(
    bundle_dir: str | Path,
    prompt_dir: str | Path,
    seconds: float,
    out_dir: str | Path,
    progress: bool = False,
    **options,
) -> tuple[list[GenerateResult], list[str]]:
    """generate() for every .xml under prompt_dir into the same relative path under out_dir
    (`options.runtime` as generate's). One bad file never stops the batch: its error message is
    collected instead."""
    from tqdm import tqdm

    from multitrack.errors import MultitrackError

    bundle = load_model(bundle_dir, options.pop("runtime", "torch"))
    prompt_dir, out_dir = Path(prompt_dir), Path(out_dir)
    paths = sorted(p for p in prompt_dir.rglob("*") if p.suffix.lower() == ".xml" and p.is_file())
    results, errors = [], []
    for path in tqdm(paths, desc="generate", unit="file", disable=not progress):
        try:
            results.append(generate(bundle, path, seconds, out_dir / path.relative_to(prompt_dir), **options))
        except MultitrackError as exc:
            errors.append(str(exc))
    return results, errors
