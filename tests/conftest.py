"""Shared fixtures: the real corpus beside the repository, tiny config paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The tests' models are tiny: one intra-op thread is faster than two fighting over 2 cores
# (and the DDP and kill/resume tests start several processes). Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
REAL_CORPUS = ROOT.parent / "shared" / "corpus" / "real"
TINY_CONFIG = ROOT / "configs" / "tiny.yaml"


@pytest.fixture(scope="session")
def real_corpus() -> Path:
    """../shared/corpus/real: skipped when absent, but never skipped under CI=true."""
    if not REAL_CORPUS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the real corpus is missing at {REAL_CORPUS}")
        pytest.skip(f"real corpus not found at {REAL_CORPUS}")
    return REAL_CORPUS


@pytest.fixture(scope="session")
def tiny_config() -> Path:
    return TINY_CONFIG


@pytest.fixture
def read(tmp_path):
    """read(xml text or bytes, name="t.xml") -> the timelines `read_xmeml` finds in it, via a file."""
    from multitrack.timeline.xmeml import read_xmeml

    def _read(data: str | bytes, name: str = "t.xml"):
        path = tmp_path / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return read_xmeml(path)

    return _read
