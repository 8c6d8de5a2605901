"""Hints of the graded exercises: levels, errors, and no drift from the notebooks' grade_ids."""
from __future__ import annotations

import json

import pytest
from conftest import REPO

from helpers.exercise_hints import HINTS, show_hint


def test_show_hint_prints_the_requested_levels(capsys):
    show_hint("06_pooled_features", level=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Hint 1/3 (06_pooled_features)") and lines[1].startswith("Hint 2/3")


def test_unknown_task_and_bad_level_are_refused():
    with pytest.raises(ValueError, match="06_pooled_features"):
        show_hint("06_nope")
    with pytest.raises(ValueError, match="between 1 and 3"):
        show_hint("06_pooled_features", level=4)


def test_every_hint_belongs_to_a_graded_cell_of_lessons_06_and_07():
    grade_ids = set()
    for lesson in ("06_exercises", "08_limits_of_transfer"):
        notebook = json.loads((REPO / "solutions" / lesson / f"{lesson}.ipynb").read_text())
        grade_ids |= {cell["metadata"]["nbgrader"]["grade_id"] for cell in notebook["cells"]
                      if "nbgrader" in cell["metadata"]}
    assert set(HINTS) <= grade_ids, set(HINTS) - grade_ids
