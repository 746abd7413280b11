"""Shared fixtures: the real corpus beside the repository, tiny config paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
