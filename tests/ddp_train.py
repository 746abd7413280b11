"""`train()` with a callback that records each rank's windows: the DDP test's entry point.

    python tests/ddp_train.py CONFIG PREPARED RUN_DIR SEEN_DIR [key=value ...]

Lightning's ddp strategy re-runs this command line for its second process, so the run
starts from a script, not inside pytest. Each rank writes `SEEN_DIR/rank<N>.json`, the
window indices its sampler yielded per epoch, so the test can show that ranks trained on
different windows. Reading the sampler does not touch the global RNGs (a
DistributedSampler draws from its own seeded generator).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning.pytorch as pl

from multitrack.config import load_config
from multitrack.train.trainer import train


class WindowRecorder(pl.Callback):
    """Writes `rank<N>.json`: per epoch, the window indices this rank's sampler yields."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.seen: dict[str, list[int]] = {}

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loader = trainer.train_dataloader
        sampler = loader.batch_sampler.sampler if loader.batch_sampler is not None else loader.sampler
        self.seen[str(trainer.current_epoch)] = [int(i) for i in sampler]

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record = {"rank": trainer.global_rank, "world_size": trainer.world_size, "epochs": self.seen}
        (self.out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


def main(argv: list[str]) -> None:
    config_path, prepared, run_dir, seen_dir, *overrides = argv
    train(load_config(config_path, overrides), prepared, run_dir, callbacks=[WindowRecorder(seen_dir)])


if __name__ == "__main__":
    main(sys.argv[1:])
