import json
import re
import shutil

import numpy as np
import pytest

from framegen import prepare_tiny
from multitrack.data.prepared import PREPARED_VERSION, open_prepared
from multitrack.errors import DataError


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return prepare_tiny(tmp_path_factory.mktemp("prepared"))


@pytest.fixture
def copy(good, tmp_path):
    return shutil.copytree(good, tmp_path / "copy")


def _rewrite_json(path, change):
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def test_opens_and_exposes_the_model_facts(good):
    prepared = open_prepared(good, verify_hashes=True)
    assert (prepared.asset_classes, prepared.max_tracks, prepared.window_length) == (8, 3, 16)  # tiny.yaml
    assert len(prepared.fingerprint) == 64
    train = prepared.splits["train"]
    whole = train.timeline_arrays(1)
    assert whole["values"].shape == (train.timelines[1]["frames"], 3, 7)


BREAKAGES = {
    "no prepared.json": (lambda d: (d / "prepared.json").unlink(), "prepared.json is missing"),
    "corrupt prepared.json": (lambda d: (d / "prepared.json").write_text("{"), "prepared.json is not valid JSON"),
    "other format": (lambda d: (d / "prepared.json").write_text("[]"), "not a multitrack-prepared document"),
    "newer version": (
        lambda d: _rewrite_json(d / "prepared.json", lambda i: i | {"version": 99}),
        "version 99, this multitrack reads version " + str(PREPARED_VERSION),
    ),
    "no stats": (lambda d: (d / "stats.json").unlink(), "stats.json is missing"),
    "no values": (lambda d: (d / "val/values.npy").unlink(), "val/values.npy is missing"),
    "truncated": (
        lambda d: np.save(d / "train/active.npy", np.load(d / "train/active.npy")[:-1]),
        r"train/active.npy: expected shape \(\d+, 3\)",
    ),
    "not npy": (
        lambda d: (d / "test/asset.npy").write_bytes(b"garbage"),
        "test/asset.npy is not a readable .npy array",
    ),
    "wrong dtype": (
        lambda d: np.save(d / "train/values.npy", np.load(d / "train/values.npy").astype(np.float64)),
        "expected dtype float32",
    ),
    "window outside": (lambda d: np.save(d / "train/windows.npy", np.array([[0, 10**6]])), "a window reaches outside"),
    "no timelines": (lambda d: (d / "val/timelines.json").unlink(), "val/timelines.json is missing"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_folder_names_itself_and_the_fault(copy, breakage):
    damage, message = BREAKAGES[breakage]
    damage(copy)
    with pytest.raises(DataError, match=re.escape(str(copy)) + ": .*" + message):
        open_prepared(copy)


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match=r"nope: not a prepared folder.*run 'multitrack prepare' first"):
        open_prepared(tmp_path / "nope")


def test_hash_check_catches_edited_arrays(copy):
    values = np.load(copy / "train/values.npy")
    values[0, 0, 0] += 1
    np.save(copy / "train/values.npy", values)
    open_prepared(copy)  # shapes still fine
    with pytest.raises(DataError, match=r"train/values.npy does not match the sha256 in prepared.json"):
        open_prepared(copy, verify_hashes=True)
