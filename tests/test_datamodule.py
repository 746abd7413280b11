import lightning as L
import pytest
import torch
import torch.distributed as dist
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DistributedSampler, SequentialSampler

from framegen import prepare_tiny
from multitrack.data.datamodule import EpochShuffleSampler, MultitrackDataModule
from multitrack.errors import DataError


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory):
    return prepare_tiny(tmp_path_factory.mktemp("dm"))


def test_exposes_what_the_model_is_built_for(prepared_dir):
    module = MultitrackDataModule(prepared_dir, batch_size=4)
    assert (module.asset_classes, module.max_tracks, module.window_length) == (8, 3, 16)
    assert module.stats.mean.shape == (7,)


def test_batches_have_the_documented_shapes(prepared_dir):
    module = MultitrackDataModule(prepared_dir, batch_size=4)
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["active"].shape == (4, 17, 3) and batch["active"].dtype == torch.float32
    assert batch["asset"].shape == (4, 17, 3) and batch["asset"].dtype == torch.int64
    assert batch["values"].shape == (4, 17, 3, 7) and batch["values"].dtype == torch.float32
    assert batch["mask"].shape == (4, 17) and batch["mask"].dtype == torch.bool
    assert int(batch["asset"].max()) < 8


def test_val_and_test_are_sequential_and_memory_is_pinned_only_with_cuda(prepared_dir):
    module = MultitrackDataModule(prepared_dir, batch_size=4)
    for loader in (module.val_dataloader(), module.test_dataloader()):
        assert isinstance(loader.sampler, SequentialSampler)
        assert loader.pin_memory == torch.cuda.is_available()
    first = [b["values"] for b in module.val_dataloader()]
    again = [b["values"] for b in module.val_dataloader()]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


def _order(module, epoch):
    loader = module.train_dataloader()
    loader.sampler.set_epoch(epoch)
    return torch.cat([batch["values"].flatten(1) for batch in loader])


def test_training_order_depends_only_on_seed_and_epoch(prepared_dir):
    fresh, used = MultitrackDataModule(prepared_dir, 4, seed=3), MultitrackDataModule(prepared_dir, 4, seed=3)
    for epoch in range(3):
        _order(used, epoch)  # history that must not matter
    assert torch.equal(_order(fresh, 3), _order(used, 3))
    assert not torch.equal(_order(fresh, 3), _order(fresh, 4))
    assert not torch.equal(_order(fresh, 3), _order(MultitrackDataModule(prepared_dir, 4, seed=4), 3))


@given(n=st.integers(0, 200), seed=st.integers(0, 10**6), epoch=st.integers(0, 100))
def test_epoch_sampler_is_a_permutation(n, seed, epoch):
    sampler = EpochShuffleSampler(n, seed)
    sampler.set_epoch(epoch)
    order = list(sampler)
    assert sorted(order) == list(range(n)) and len(sampler) == n
    assert order == list(sampler)


def test_distributed_sampler_under_ddp(prepared_dir, tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        module = MultitrackDataModule(prepared_dir, batch_size=4, seed=5)
        train, val = module.train_dataloader().sampler, module.val_dataloader().sampler
        assert isinstance(train, DistributedSampler) and train.shuffle and train.seed == 5
        assert isinstance(val, DistributedSampler) and not val.shuffle
    finally:
        dist.destroy_process_group()


def test_workers_read_the_same_windows(prepared_dir):
    module = MultitrackDataModule(prepared_dir, batch_size=4, num_workers=1)
    single = MultitrackDataModule(prepared_dir, batch_size=4)
    assert all(
        torch.equal(a["values"], b["values"])
        for a, b in zip(module.val_dataloader(), single.val_dataloader(), strict=True)
    )


def test_broken_folder_fails_at_construction(tmp_path):
    with pytest.raises(DataError, match="not a prepared folder"):
        MultitrackDataModule(tmp_path / "missing", batch_size=4)


class _RecordOrder(L.LightningModule):
    """Records every training batch so the order of windows per epoch can be compared."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: dict[int, list[torch.Tensor]] = {}

    def training_step(self, batch, batch_index):
        self.seen.setdefault(self.current_epoch, []).append(batch["values"].clone())
        return (self.weight * batch["values"].mean()).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def test_lightning_sets_the_epoch_on_the_sampler(prepared_dir):
    module = MultitrackDataModule(prepared_dir, batch_size=4, seed=2)
    recorder = _RecordOrder()
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(recorder, datamodule=module)
    for epoch in (0, 1):
        seen = torch.cat([values.flatten(1) for values in recorder.seen[epoch]])
        assert torch.equal(seen, _order(MultitrackDataModule(prepared_dir, 4, seed=2), epoch))
