"""The first cell of every lesson: setup() and lesson_parameters()."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import helpers
from helpers.infra import assets


def test_defaults_in_the_full_profile(monkeypatch) -> None:
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    params = helpers.lesson_parameters(quick={"n_train": 500}, n_train=4000, epochs=5)
    assert (params.n_train, params.epochs) == (4000, 5)


@pytest.mark.parametrize("variable, value", [("COURSE_PROFILE", "quick"), ("NBGRADER_EXECUTION", "autograde")])
def test_quick_profile_for_ci_and_nbgrader(monkeypatch, variable, value) -> None:
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setenv(variable, value)
    params = helpers.lesson_parameters(quick={"n_train": 500}, n_train=4000, epochs=5)
    assert (params.n_train, params.epochs) == (500, 5)


def test_environment_overrides_one_parameter_with_its_type(monkeypatch) -> None:
    monkeypatch.setenv("COURSE_PARAM_EPOCHS", "2")
    monkeypatch.setenv("COURSE_PARAM_LEARNING_RATE", "0.01")
    monkeypatch.setenv("COURSE_PARAM_AUGMENT", "yes")
    params = helpers.lesson_parameters(epochs=5, learning_rate=1e-3, augment=False)
    assert params.epochs == 2 and isinstance(params.epochs, int)
    assert params.learning_rate == 0.01 and params.augment is True


def test_bad_settings_are_named(monkeypatch) -> None:
    monkeypatch.setenv("COURSE_PARAM_EPOCHS", "many")
    with pytest.raises(ValueError, match="COURSE_PARAM_EPOCHS='many' is not a valid int"):
        helpers.lesson_parameters(epochs=5)
    monkeypatch.delenv("COURSE_PARAM_EPOCHS")
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match="'full' or 'quick', got 'fast'"):
        helpers.profile()
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    with pytest.raises(ValueError, match=r"unknown parameters \['n_test'\]"):
        helpers.lesson_parameters(quick={"n_test": 1}, n_train=4000)


def test_setup_names_what_an_incomplete_mirror_lacks(tmp_path: Path, monkeypatch, capsys) -> None:
    real_mirror, mirror = assets.mirror_dir(), tmp_path / "mirror"
    shutil.copytree(real_mirror, mirror, ignore=shutil.ignore_patterns("cat.bmp"))
    monkeypatch.setenv("COURSE_ASSETS", str(mirror))
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(assets.AssetMissingError, match="lacks images/cat.bmp"):
        helpers.setup()
    monkeypatch.setenv("COURSE_ASSETS", str(real_mirror))
    helpers.setup(seed=7)
    assert "seed 7" in capsys.readouterr().out


def test_setup_seeds_make_runs_repeatable() -> None:
    import numpy as np

    helpers.setup(seed=3, check_assets=False)
    first = np.random.rand(3)
    helpers.setup(seed=3, check_assets=False)
    np.testing.assert_array_equal(first, np.random.rand(3))


SETUP_THEN_WRITE_TO_FD_2 = (
    "import os, helpers\n"
    "helpers.setup(check_assets=False)\n"
    "os.write(2, b'written after setup\\n')\n"
    "import tensorflow as tf\n"
    "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], tf.__version__)\n"
)


@pytest.mark.parametrize("chosen, expected", [(None, "1"), ("0", "0")])
def test_setup_turns_on_onednn_unless_chosen_and_keeps_its_start_up_notes_out(chosen, expected) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if chosen is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = chosen
    done = subprocess.run([sys.executable, "-c", SETUP_THEN_WRITE_TO_FD_2], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.splitlines()[-1].split()[0] == expected
    assert "oneDNN custom operations" not in done.stderr  # silenced while TensorFlow loads
    assert "written after setup" in done.stderr  # and the descriptor works again afterwards
