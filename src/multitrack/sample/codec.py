"""Frames <-> the tensors a model reads, both directions in one object (`FrameCodec`).

Encoding folds asset ids of K-1 and above into K-1, "other" (DESIGN.md §2), normalises the
geometry with the training split's statistics and, where a track is off, gives it the
geometry it last had (`NormStats.apply`); decoding inverts the normalisation and zeroes the
geometry of tracks that are off. A model's bundle carries what the codec needs
(`FrameCodec.of(bundle)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from multitrack.data.normalize import NormStats
from multitrack.features.vocabulary import Frames, fold_assets

if TYPE_CHECKING:
    from multitrack.train.bundle import Bundle


@dataclass
class FrameTensors:
    """Frames as the model reads them: (B, N, T) float, (B, N, T) long, (B, N, T, 7) normalised."""

    active: torch.Tensor
    asset: torch.Tensor
    values: torch.Tensor

    @property
    def frames(self) -> int:
        return self.active.shape[1]

    def frame(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.active[:, index], self.asset[:, index], self.values[:, index]

    def span(self, start: int, stop: int) -> FrameTensors:
        return FrameTensors(self.active[:, start:stop], self.asset[:, start:stop], self.values[:, start:stop])


@dataclass(frozen=True)
class FrameCodec:
    """A model's view of frames: its normalisation statistics and its K asset classes."""

    stats: NormStats
    asset_classes: int

    @classmethod
    def of(cls, bundle: Bundle) -> FrameCodec:
        return cls(bundle.stats, bundle.model.asset_classes)

    def encode(self, frames: Frames, batch: int = 1) -> FrameTensors:
        """Frame-table arrays (N, T …) of one timeline from its start -> tensors repeated `batch` times."""
        active = frames.active.astype(bool)
        asset = np.where(active, fold_assets(frames.asset, self.asset_classes)[0], 0)
        values = self.stats.apply(frames.values, active)  # (N, T, 7)
        return FrameTensors(
            torch.as_tensor(active, dtype=torch.float32)[None].repeat(batch, 1, 1),  # (B, N, T)
            torch.as_tensor(asset, dtype=torch.long)[None].repeat(batch, 1, 1),  # (B, N, T)
            torch.as_tensor(values, dtype=torch.float32)[None].repeat(batch, 1, 1, 1),  # (B, N, T, 7)
        )

    def decode(self, tensors: FrameTensors) -> list[Frames]:
        """Tensors -> one Frames per batch row (values de-normalised, 0 where inactive)."""
        active = tensors.active.cpu().numpy() > 0.5  # (B, N, T)
        values = self.stats.invert(tensors.values.cpu().numpy().astype(np.float64))  # (B, N, T, 7)
        values = np.where(active[..., None], values, 0.0).astype(np.float32)
        asset = tensors.asset.cpu().numpy()
        return [Frames(active[b], asset[b], values[b]) for b in range(len(active))]
