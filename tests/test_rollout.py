"""Sampling and rollouts with a tiny random model: the cached and naive paths agree."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from multitrack.config import load_config
from multitrack.data.normalize import NormStats
from multitrack.features.vocabulary import Frames
from multitrack.model.inputs import RunningInputs, history
from multitrack.model.transformer import MultitrackTransformer, Prediction
from multitrack.sample.codec import FrameCodec, FrameTensors
from multitrack.sample.rollout import DECODERS, LayoutMemory, rollout, sample_frame

TRACKS, CLASSES = 3, 5
STATS = NormStats(np.array([1.0, 0.0, 0.0, 5.0, 5.0, 5.0, 5.0]), np.array([0.5, 0.1, 0.1, 2.0, 2.0, 2.0, 2.0]))
CODEC = FrameCodec(STATS, CLASSES)


@pytest.fixture(scope="module")
def model(tiny_config) -> MultitrackTransformer:
    torch.manual_seed(0)
    config = load_config(tiny_config)
    model = MultitrackTransformer(config.model, TRACKS, CLASSES, config.window.length).eval()
    # the heads start at zero (an untrained model copies the current frame whatever its layers
    # compute): random heads make the rollouts depend on attention and the cache
    torch.manual_seed(1)  # heads of their own seed: some draws leave nothing on screen for good
    with torch.no_grad():
        for head in (
            model.head,
            model.visible_head,
            model.recency_head,
            model.next_head,
            model.move_head,
            model.change_head,
        ):
            nn.init.normal_(head.weight, std=0.3)
    return model


def prompt_frames(n: int) -> Frames:
    active = np.zeros((n, TRACKS), bool)
    active[:, 0] = True
    active[n // 2 :, 1] = True
    asset = np.where(active, [1, 2, 9], 0)  # asset 9 folds into class 4, "other"
    values = np.zeros((n, TRACKS, 7))
    values[..., 0] = np.where(active, 1.0, 0.0)
    values[:, 1, 0] = np.where(active[:, 1], 0.4, 0.0)
    return Frames(active, asset, values)


class TestEncoding:
    def test_round_trip_through_model_units(self):
        frames = prompt_frames(6)
        tensors = CODEC.encode(frames, batch=2)
        assert tensors.active.shape == (2, 6, TRACKS)
        assert tensors.values.shape == (2, 6, TRACKS, 7)
        # a track not on yet holds the default geometry: scale 1, centred, uncropped, in model units
        expected = (np.array([1.0, 0, 0, 0, 0, 0, 0]) - STATS.mean) / STATS.std
        np.testing.assert_allclose(tensors.values[0, :3, 1].numpy(), np.tile(expected, (3, 1)), atol=1e-6)
        decoded = CODEC.decode(tensors)
        assert len(decoded) == 2
        np.testing.assert_allclose(decoded[1].values, frames.values, atol=1e-6)
        assert (decoded[0].active == frames.active).all()

    def test_assets_fold_into_other(self):
        frames = prompt_frames(2)
        frames.active[:, 2] = True
        frames.asset[:, 2] = 9
        assert CODEC.encode(frames).asset[0, 0, 2] == CLASSES - 1


class TestSampling:
    def prediction(self, active_logit: float, visible_class: int, visible_logit: float = 20.0) -> Prediction:
        asset_logits = torch.full((1, TRACKS, CLASSES), -5.0)
        asset_logits[..., 0] = 10.0  # "none" is never sampled for an active track
        asset_logits[..., 3] = 5.0
        visible_logits = torch.zeros(1, TRACKS + 1)
        visible_logits[0, visible_class] = visible_logit
        return Prediction(torch.full((1, TRACKS), active_logit), asset_logits, torch.ones(1, TRACKS, 7), visible_logits)

    def test_greedy(self):
        # V3 on top (class 3), and the tracks below lean on: everything on
        active, asset, values = sample_frame(self.prediction(0.3, 3), 0.0, None)
        assert active.tolist() == [[1.0, 1.0, 1.0]]
        assert asset.tolist() == [[3, 3, 3]]
        # V2 on top: V3 is off whatever its own logit says, V1 below follows its logit
        active, asset, values = sample_frame(self.prediction(0.3, 2), 0.0, None)
        assert active.tolist() == [[1.0, 1.0, 0.0]]
        active, asset, values = sample_frame(self.prediction(-0.3, 2), 0.0, None)
        assert active.tolist() == [[0.0, 1.0, 0.0]]
        assert asset.tolist() == [[0, 3, 0]]
        assert (values[0, [0, 2]] == 0).all() and (values[0, 1] == 1).all()
        # nothing on top: every track off
        active, asset, values = sample_frame(self.prediction(5.0, 0), 0.0, None)
        assert active.tolist() == [[0.0, 0.0, 0.0]] and (values == 0).all()

    def test_temperature_spreads_the_draws(self):
        generator = torch.Generator().manual_seed(0)
        # visible logits: 1.0 on V3, 0 elsewhere -> p(V3 on top) = e / (e + 3) = 0.475
        frames = [sample_frame(self.prediction(1.0, 3, visible_logit=1.0), 1.0, generator)[0] for _ in range(600)]
        top = np.array([frame[0, 2].item() for frame in frames])
        assert top.mean() == pytest.approx(np.e / (np.e + 3), abs=0.05)
        # under V3, V1 is on with sigmoid(1) = 0.731
        lowest = np.array([frame[0, 0].item() for frame in frames])[top == 1]
        assert lowest.mean() == pytest.approx(0.731, abs=0.07)

    @pytest.mark.parametrize("temperature", [0.5, 1.0])
    def test_draws_come_from_the_generator_in_a_fixed_order(self, temperature):
        # the visible track, then every track's Bernoulli, then the assets by Gumbel-max, then
        # whether each steady move goes on, then whether each track's values change: the frame
        # sample_frame draws is the one computed here by hand from the same draws
        logits = torch.Generator().manual_seed(5)
        motion = torch.randn(2, TRACKS, 7, generator=logits)
        move_logits = torch.randn(2, TRACKS, generator=logits)
        change_logits = torch.randn(2, TRACKS, generator=logits)
        residual = torch.randn(2, TRACKS, 7, generator=logits)
        carried = torch.randn(2, TRACKS, 7, generator=logits)  # the values without the move or change
        # what the model's values hold: each the likelier way
        likelier = carried + motion * (move_logits >= 0).unsqueeze(-1) + residual * (change_logits >= 0).unsqueeze(-1)
        prediction = Prediction(
            torch.randn(2, TRACKS, generator=logits),
            torch.randn(2, TRACKS, CLASSES, generator=logits),
            likelier,
            torch.randn(2, TRACKS + 1, generator=logits),
            motion,
            move_logits,
            change_logits,
            residual,
        )
        for seed in range(20):
            draws = torch.Generator().manual_seed(seed)
            u_visible = torch.rand(2, TRACKS + 1, generator=draws).numpy()
            u_active = torch.rand(2, TRACKS, generator=draws).numpy()
            u_asset = torch.rand(2, TRACKS, CLASSES - 1, generator=draws).numpy()
            u_move = torch.rand(2, TRACKS, generator=draws).numpy()
            u_change = torch.rand(2, TRACKS, generator=draws).numpy()
            p = [part.numpy().astype(np.float64) for part in prediction]
            top = np.argmax(p[3] / temperature - np.log(-np.log(u_visible)), axis=-1)[:, None]  # (2, 1)
            below_on = u_active < 1 / (1 + np.exp(-p[0] / temperature))
            numbers = np.arange(1, TRACKS + 1)
            expected_active = (numbers == top) | (below_on & (numbers < top))
            expected_asset = np.argmax(p[1][..., 1:] / temperature - np.log(-np.log(u_asset)), axis=-1) + 1
            goes_on = u_move < 1 / (1 + np.exp(-p[5] / temperature))
            changes = u_change < 1 / (1 + np.exp(-p[6] / temperature))
            expected_values = carried.numpy() + p[4] * goes_on[..., None] + p[7] * changes[..., None]
            active, asset, values = sample_frame(prediction, temperature, torch.Generator().manual_seed(seed))
            np.testing.assert_array_equal(active.numpy(), expected_active)
            np.testing.assert_array_equal(asset.numpy(), np.where(expected_active, expected_asset, 0))
            np.testing.assert_allclose(
                values.numpy(), np.where(expected_active[..., None], expected_values, 0), atol=1e-5
            )


class TestLayoutMemory:
    """A split (V1 + V2, cropped halves) and a single shot (V1 alone, full frame) alternate."""

    SPLIT, SINGLE = [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]

    def _prompt(self) -> FrameTensors:
        active = torch.tensor([[self.SPLIT, self.SPLIT, self.SINGLE, self.SINGLE]])  # (1, 4, T)
        values = torch.zeros(1, 4, TRACKS, 7)
        values[0, :2, :2, 3] = 25.0  # crop_left of both halves while split
        return FrameTensors(active, active.long(), values)

    def test_a_layout_seen_before_gets_its_geometry_back(self):
        memory = LayoutMemory(self._prompt())
        values = torch.zeros(1, TRACKS, 7)
        values[0, 0, 3] = 7.0  # the model's point guess: neither layout's crop
        active = torch.tensor([self.SPLIT])
        _, _, kept = memory.follow(active, active.long(), values, restore=True)
        assert kept[0, :2, 3].tolist() == [25.0, 25.0]  # the split as it last was
        assert values[0, 0, 3] == 7.0  # the caller's tensor is left alone
        _, _, again = memory.follow(active, active.long(), values, restore=True)
        assert again[0, 0, 3] == 7.0  # no change of layout: the model's values stand

    def test_a_layout_never_seen_keeps_the_models_values(self):
        memory = LayoutMemory(self._prompt())
        active = torch.tensor([[1.0, 1.0, 1.0]])
        values = torch.full((1, TRACKS, 7), 3.0)
        _, _, kept = memory.follow(active, active.long(), values, restore=True)
        assert torch.equal(kept, values)


class TestRollout:
    @pytest.mark.parametrize("decoder", ["stepper", "cache"])
    def test_cached_decoders_and_naive_agree_over_the_first_window(self, model, decoder):
        prompt = CODEC.encode(prompt_frames(3), batch=2)
        n_new = model.window_length - prompt.frames  # the whole sequence fits one window
        cached, naive = (
            rollout(model, prompt, n_new, 1.0, torch.Generator().manual_seed(7), decoder=name)
            for name in (decoder, "naive")
        )
        assert torch.equal(cached.active, naive.active)
        assert torch.equal(cached.asset, naive.asset)
        # each frame's values carry on the steady move measured on the frames before, so the two
        # paths' float rounding (a step's kernels against a window's) adds up over the window
        torch.testing.assert_close(cached.values, naive.values, atol=1e-4, rtol=1e-4)
        # a random model flips tracks: the comparison is not between two empty rollouts
        assert 0 < cached.active.mean() < 1

    @pytest.mark.parametrize("decoder", ["stepper", "cache"])
    def test_a_prompt_longer_than_the_window_is_read_with_its_whole_history(self, model, decoder):
        # the cached decoders read the prompt's last window, told how long ago each track was on
        # top and the cuts before it; the naive pass reads the same window given the counts over
        # every frame. Angles cut V1, V2, V3, V1, ... every 5 frames over three windows.
        length = model.window_length
        frames = 3 * length
        active = np.zeros((frames, TRACKS), bool)
        active[:, 0] = True
        angle = (np.arange(frames) // 5) % 3
        active[angle == 1, 1] = True
        active[angle == 2, 2] = True
        asset = np.where(active, [1, 2, 3], 0)
        values = np.where(active[..., None], 1.0, 0.0) * np.ones(7)
        prompt = CODEC.encode(Frames(active, asset, values), batch=2)
        runs = [
            rollout(model, prompt, 1, 1.0, torch.Generator().manual_seed(3), decoder=name)
            for name in (decoder, "naive")
        ]
        assert torch.equal(runs[0].active, runs[1].active) and torch.equal(runs[0].asset, runs[1].asset)
        torch.testing.assert_close(runs[0].values, runs[1].values, atol=1e-4, rtol=1e-4)
        # and the history matters: the last window alone, counted from its own start, reads otherwise
        first = prompt.span(frames - length, frames).frame(0)
        told = RunningInputs(model.rules, history(prompt.active[:, : frames - length + 1])).advance(*first)
        alone = RunningInputs(model.rules).advance(*first)
        with torch.inference_mode():
            assert not torch.allclose(model(told).visible_logits, model(alone).visible_logits)

    def test_layout_memory_is_an_option(self, model):
        # a prompt that alternates V1 alone (full frame) and a split with V2 (V1 at half size),
        # and a model that changes the track on top at every frame: with the memory, a return
        # to a layout takes its geometry back; without it, the model's own values stay
        model = copy.deepcopy(model)
        with torch.no_grad():
            model.copy_visible.fill_(-10.0)  # "stays on top" all but ruled out
        frames = prompt_frames(24)
        frames.active[:, 1] = (np.arange(24) // 3) % 2 == 1
        frames.values[:, 0, 0] = np.where(frames.active[:, 1], 0.5, 1.0)
        frames.values[:, 1, 0] = np.where(frames.active[:, 1], 0.5, 0.0)
        frames.asset[:] = np.where(frames.active, [1, 2, 9], 0)
        prompt = CODEC.encode(frames, batch=8)
        remembered, own = (
            rollout(model, prompt, 40, 1.0, torch.Generator().manual_seed(5), layout_memory=memory)
            for memory in (True, False)
        )
        assert not torch.equal(remembered.values, own.values)
        # every frame changes the layout, so every split frame takes the prompt's split back
        split = (remembered.active[..., :2] > 0.5).all(dim=-1) & (remembered.active[..., 2] < 0.5)  # V1 and V2
        assert split.sum() > 10
        prompt_split = prompt.values[0, 3, :2]  # (2, 7): frame 3 is a split
        assert torch.equal(remembered.values[split][:, :2], prompt_split.expand(int(split.sum()), 2, 7))

    def test_an_unknown_decoder_is_refused(self, model):
        with pytest.raises(ValueError, match="decoder 'fast' is not one of"):
            rollout(model, CODEC.encode(prompt_frames(5)), 2, decoder="fast")  # type: ignore[arg-type]
        assert DECODERS == ("stepper", "cache", "naive")

    def test_seed_fixes_the_rollout_and_changes_it(self, model):
        prompt = CODEC.encode(prompt_frames(20))
        first = rollout(model, prompt, 40, 1.0, torch.Generator().manual_seed(1))
        again = rollout(model, prompt, 40, 1.0, torch.Generator().manual_seed(1))
        other = rollout(model, prompt, 40, 1.0, torch.Generator().manual_seed(2))
        assert torch.equal(first.active, again.active)
        assert not torch.equal(first.active, other.active)
        assert first.frames == 40

    def test_assets_only_on_active_tracks(self, model):
        prompt = CODEC.encode(prompt_frames(5))
        out = rollout(model, prompt, 30, 1.0, torch.Generator().manual_seed(3))
        on = out.active > 0
        assert (out.asset[on] >= 1).all() and (out.asset[~on] == 0).all()
        assert (out.values[~on] == 0).all()

    def test_rollout_returns_ordinary_tensors(self, model):
        # it samples in inference mode; what it returns is not an inference tensor, so callers
        # may edit it in place
        out = rollout(model, CODEC.encode(prompt_frames(5)), 4, 1.0, torch.Generator().manual_seed(4))
        assert not out.active.is_inference()
        out.values[:, 0] += 1.0
        assert out.active.shape == (1, 4, TRACKS) and out.values.shape == (1, 4, TRACKS, 7)

    def test_empty_prompt_is_refused(self, model):
        empty = FrameTensors(
            torch.zeros(1, 0, TRACKS), torch.zeros(1, 0, TRACKS, dtype=torch.long), torch.zeros(1, 0, TRACKS, 7)
        )
        with pytest.raises(ValueError, match="at least one frame"):
            rollout(model, empty, 5)
