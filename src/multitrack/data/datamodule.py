"""The LightningDataModule over a prepared folder.

The data module owns the data side (STYLE.md, Lightning examples): it opens the prepared
folder, exposes what the model must be built for (`asset_classes`, `max_tracks`,
`window_length`, normalization `stats`) and serves windows. The training order depends
only on (seed, epoch), so a run resumed at an epoch boundary sees the same batches as
an uninterrupted one; under DDP each rank gets its share through DistributedSampler.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lightning as L
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from multitrack.data.normalize import NormStats
from multitrack.data.prepared import PreparedData, open_prepared
from multitrack.data.windows import WindowDataset


class EpochShuffleSampler(Sampler[int]):
    """A permutation of range(n) that depends only on (seed, epoch).

    Lightning calls `set_epoch` at the start of every training epoch (as it does for
    DistributedSampler, whose seed + epoch convention this follows).
    """

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())

    def __len__(self) -> int:
        return self.n


class MultitrackDataModule(L.LightningDataModule):
    def __init__(self, prepared_dir: str | Path, batch_size: int, num_workers: int = 0, seed: int = 0):
        super().__init__()
        # fails early, naming the folder; hashes too: a corrupt array would train silently on garbage
        self.prepared: PreparedData = open_prepared(prepared_dir, verify_hashes=True)
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.datasets: dict[str, WindowDataset] = {}

    @property
    def stats(self) -> NormStats:
        return self.prepared.stats

    @property
    def asset_classes(self) -> int:
        return self.prepared.asset_classes

    @property
    def max_tracks(self) -> int:
        return self.prepared.max_tracks

    @property
    def window_length(self) -> int:
        return self.prepared.window_length

    def setup(self, stage: str | None = None) -> None:
        for split in self.prepared.splits.values():
            if split.name not in self.datasets:
                self.datasets[split.name] = WindowDataset(split.path, self.window_length)

    def train_dataloader(self) -> DataLoader[dict[str, torch.Tensor]]:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader[dict[str, torch.Tensor]]:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader[dict[str, torch.Tensor]]:
        return self._loader("test", shuffle=False)

    def _loader(self, split: str, shuffle: bool) -> DataLoader[dict[str, torch.Tensor]]:
        self.setup()
        dataset = self.datasets[split]
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=self._sampler(dataset, shuffle),
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def _sampler(self, dataset: WindowDataset, shuffle: bool) -> Sampler[int] | None:
        if dist.is_available() and dist.is_initialized():
            # Each rank reads its own share; the shuffle is seeded by (seed, epoch) on every rank.
            return DistributedSampler(dataset, shuffle=shuffle, seed=self.seed)
        if shuffle:
            return EpochShuffleSampler(len(dataset), self.seed)
        return None  # sequential: deterministic val/test
