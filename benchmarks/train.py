"""Training throughput: the real pipeline against the bare step, same model, same shapes.

    python benchmarks/train.py [--steps 10] [--warmup 2] [--config configs/default.yaml] [--accelerator cpu|cuda]

1. writes synthetic timelines (`synth_corpus`), ingests them into a frame table of 20
   tracks and prepares it with the config, as a user would;
2. pipeline: `train()` for one epoch of `warmup + steps` batches (data module, Lightning loop,
   logging, gradient-norm callback, clipping, AdamW schedule), timing each step from one
   batch start to the next;
3. bare: the same model, loss and AdamW on random tensors of the same batch shape,
   forward + backward + step in a plain loop;
4. prints windows/s of each (median step) and their ratio: what the data pipeline and
   Lightning cost (target >= 0.9).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import lightning.pytorch as pl
import torch

from multitrack.config import Config, load_config
from multitrack.data.prepare import prepare
from multitrack.features.ingest import ingest
from multitrack.model.inputs import count_cuts_from_top, frames_since_on_top
from multitrack.model.losses import multitask_loss
from multitrack.model.transformer import MultitrackTransformer
from multitrack.synth import synth_corpus
from multitrack.train.module import decay_parameter_groups
from multitrack.train.trainer import train

ROOT = Path(__file__).resolve().parents[1]


class StepTimer(pl.Callback):
    def __init__(self) -> None:
        self.starts: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.starts.append(time.perf_counter())

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.starts.append(time.perf_counter())  # closes the last step (before validation)


def prepared_data(config: Config, work: Path, batches: int) -> Path:
    """Enough training windows for `batches` batches: synthetic timelines of 40 s, 20 tracks."""
    frames = 40 * 25  # the slowest rate synth draws is 23.976 fps: at least ~960 frames each
    windows_per_timeline = (frames - config.window.length - 1) // config.window.stride + 1
    needed = batches * config.trainer.batch_size / config.data.split[0]
    synth_corpus(work / "corpus", int(needed // windows_per_timeline) + 2, seed=0, min_seconds=40, max_seconds=40)
    report = ingest([work / "corpus"], work / "frames.parquet", max_tracks=20, progress=False)
    if not report.ok:
        raise SystemExit(f"ingest failed on {report.failed} synthetic files: see {report.manifest_path}")
    return prepare(work / "frames.parquet", work / "prepared", config)


def pipeline_step_s(config: Config, prepared: Path, work: Path, warmup: int) -> float:
    timer = StepTimer()
    train(config, prepared, work / "run", callbacks=[timer])
    steps = [b - a for a, b in pairwise(timer.starts)][warmup:]
    return statistics.median(steps)


def bare_step_s(config: Config, tracks: int, asset_classes: int, steps: int, warmup: int, device: str) -> float:
    torch.manual_seed(0)
    model = MultitrackTransformer(config.model, tracks, asset_classes, config.window.length).train().to(device)
    optimizer = torch.optim.AdamW(decay_parameter_groups(model, config.optim.weight_decay), lr=config.optim.lr)
    shape = (config.trainer.batch_size, config.window.length + 1, tracks)  # (B, L+1, T)
    batch = {
        "active": (torch.rand(shape) > 0.5).float(),
        "asset": torch.randint(0, asset_classes, shape),
        "values": torch.randn(*shape, 7),
        "mask": torch.ones(shape[:2], dtype=torch.bool),
    }
    # the timeline's history, as prepared data hold it (counted over the whole timeline)
    batch["since_on_top"] = frames_since_on_top(batch["active"])
    batch["cuts_from_top"] = count_cuts_from_top(batch["active"])
    batch = {name: tensor.to(device) for name, tensor in batch.items()}
    # the pipeline trains in bf16-mixed on a GPU (trainer.resolve_precision): so does the bare loop
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda")
    times = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        with autocast:
            history = (batch["since_on_top"][:, :-1], batch["cuts_from_top"][:, :-1])
            frames = (batch["active"][:, :-1], batch["asset"][:, :-1], batch["values"][:, :-1])
            prediction = model(model.inputs(*frames, *history))
            loss = multitask_loss(prediction, batch, config.loss, config.model).total
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[warmup:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--accelerator", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    batches = args.warmup + args.steps
    config = load_config(
        args.config,
        [
            f"trainer.limit_train_batches={batches}",
            "trainer.max_epochs=1",
            f"trainer.accelerator={args.accelerator}",
            "trainer.devices=1",
            "trainer.num_workers=0",
        ],
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepared = prepared_data(config, work, batches)
        from multitrack.data.prepared import open_prepared

        info = open_prepared(prepared)
        bare = bare_step_s(config, info.max_tracks, info.asset_classes, args.steps, args.warmup, args.accelerator)
        pipeline = pipeline_step_s(config, prepared, work, args.warmup)
    batch = config.trainer.batch_size
    params = MultitrackTransformer(
        config.model, info.max_tracks, info.asset_classes, config.window.length
    ).parameter_count()
    print(
        f"model: {params:,} parameters; batch {batch} windows of {config.window.length} frames"
        f" x {info.max_tracks} tracks;"
        f" {args.accelerator}, torch threads {torch.get_num_threads()}"
    )
    print(
        f"bare forward+backward+step: {batch / bare:8.1f} windows/s"
        f"  ({bare * 1000:.0f} ms/step, median of {args.steps})"
    )
    print(
        f"pipeline (Lightning + data): {batch / pipeline:8.1f} windows/s"
        f"  ({pipeline * 1000:.0f} ms/step, median of {args.steps})"
    )
    print(f"ratio pipeline / bare: {bare / pipeline:.3f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
