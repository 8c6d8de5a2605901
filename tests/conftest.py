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


@pytest.fixture()
def full_profile(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache in which figures are recorded (a full-profile run with no parameter overridden)."""
    monkeypatch.setenv("COURSE_PROFILE", "full")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    for name in [name for name in os.environ if name.startswith("COURSE_PARAM_")]:
        monkeypatch.delenv(name)
    return isolated_cache


@pytest.fixture(scope="session")
def fashion_small():
    from helpers.data import load_dataset

    return load_dataset("fashion_mnist", n_train=64, n_test=32)


def worker_group(nodeid: str) -> str:
    """Which tests one pytest-xdist worker runs together, in collection order (``make test``: ``-n 2``).

    A lesson's cells (nbval) follow the run of its student version, which fills the feature cache
    they then read; every other test module stays whole, so its module fixtures (the graded class,
    the regenerated lessons) are built once.
    """
    path, _, name = nodeid.partition("::")
    if path.endswith(".ipynb"):
        return Path(path).stem
    if name.startswith("test_blank_student_version_fails_every_test["):
        return name[name.index("[") + 1 : -1]
    return path


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    # Not --dist loadgroup: with pytest 9.2 it silently stops grouping (pytest-xdist issue 1386).
    from xdist.scheduler import LoadScopeScheduling

    class LessonScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    return LessonScheduling(config, log)
