"""helpers.infra.results: figures recorded once, by full-profile runs only, safely from several processes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from helpers.infra import results


def test_a_full_profile_run_records_the_figure_with_its_interval_and_split(full_profile: Path) -> None:
    assert results.record("fashion_frozen_accuracy", 0.874, interval=(0.862, 0.886), chosen_on="validation", layer="x")
    row = results.table()["fashion_frozen_accuracy"]
    assert (row["measured"], row["interval"], row["chosen_on"], row["settings"]) == (0.874, [0.862, 0.886],
                                                                                    "validation", {"layer": "x"})
    assert row["met"] is True and results.recorded("fashion_frozen_accuracy") == 0.874
    text = results.format_table(results.table())
    assert "[0.862, 0.886]" in text and "chosen on validation" in text


@pytest.mark.parametrize("setting", [{"COURSE_PROFILE": "quick"}, {"NBGRADER_EXECUTION": "autograde"},
                                     {"COURSE_PARAM_EPOCHS": "2"}])
def test_quick_runs_and_changed_parameters_never_replace_a_figure(full_profile: Path, setting: dict,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    results.record("mnist_finetuned_accuracy", 0.986)
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    assert results.record("mnist_finetuned_accuracy", 0.5) is False
    assert results.recorded("mnist_finetuned_accuracy") == 0.986


def test_an_unknown_figure_or_an_interval_that_misses_the_value_is_an_error(full_profile: Path) -> None:
    with pytest.raises(ValueError, match="unknown figure 'fashion_frozen_acuracy'"):
        results.record("fashion_frozen_acuracy", 0.9)
    with pytest.raises(ValueError, match="does not contain the measured value"):
        results.record("fashion_frozen_accuracy", 0.9, interval=(0.8, 0.85))


WRITER = """
from helpers.infra import results
for step in range(40):
    results.record({name!r}, step / 100)
"""


def test_two_processes_recording_at_once_both_keep_their_figures(full_profile: Path) -> None:
    names = ["fashion_frozen_accuracy", "mnist_finetuned_accuracy"]
    writers = [subprocess.Popen([sys.executable, "-c", WRITER.format(name=name)], cwd=REPO, env=dict(os.environ))
               for name in names]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    assert [results.recorded(name) for name in names] == [0.39, 0.39]
