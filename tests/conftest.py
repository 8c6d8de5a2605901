"""Shared fixtures. Tests read the real data and weights: set COURSE_ASSETS to the
offline mirror (CI does) or run on a connected machine."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty course cache for tests that create or inspect cache files."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("COURSE_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def fashion_small():
    from helpers.data import load_dataset

    return load_dataset("fashion_mnist", n_train=64, n_test=32)
