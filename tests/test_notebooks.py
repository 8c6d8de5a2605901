"""Solutions are the source, lessons are generated: drift, leaks, outputs and nbgrader validation.

The solutions, hidden tests included, are executed by nbval (see the test command in
README.md), so a failing visible or hidden test fails that run; here `nbgrader validate
--invert` checks that every blank student version fails every test.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, worker_group

from helpers.infra import grading
from helpers.infra.lessons import FOLDERS

LESSONS = list(FOLDERS)
NBGRADER = [sys.executable, "-m", "nbgrader"]


def notebook(folder: str, lesson: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / folder / lesson / f"{lesson}.ipynb", as_version=4)


def hidden_test_lines(lesson: str) -> list[str]:
    """The non-trivial lines that only the hidden tests of the solution contain
    (an import the visible code also makes, even as part of a longer line, is not a secret)."""
    hidden_pattern = r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS"
    sources = [cell.source for cell in notebook("solutions", lesson).cells]
    visible = "\n".join(re.sub(hidden_pattern, "", source, flags=re.S) for source in sources)
    lines = []
    for source in sources:
        for block in re.findall(hidden_pattern, source, re.S):
            lines += [line.strip() for line in block.splitlines()
                      if len(line.strip()) > 12 and line.strip() not in visible]
    return lines


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the course with lessons/ generated afresh from solutions/ by nbgrader."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(REPO / "solutions", course / "solutions")
    shutil.copy(REPO / "nbgrader_config.py", course)
    assert grading.release(course) == LESSONS  # nbgrader's generate_assignment, in this process
    return course


def test_the_course_has_its_lessons_in_order() -> None:
    assert LESSONS == sorted(LESSONS) and len(LESSONS) >= 5
    numbers = [int(name[:2]) for name in LESSONS]
    assert numbers == list(range(1, len(LESSONS) + 1)), numbers  # numbered 01, 02, ... with no gap
    assert sorted(p.name for p in (REPO / "lessons").iterdir() if p.is_dir()) == LESSONS
    assert sorted(p.parent.name for p in (REPO / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name) == LESSONS


@pytest.mark.parametrize("lesson", LESSONS)
def test_lessons_are_exactly_what_nbgrader_generates(lesson: str, generated: Path) -> None:
    fresh = json.loads((generated / "lessons" / lesson / f"{lesson}.ipynb").read_text())
    committed = json.loads((REPO / "lessons" / lesson / f"{lesson}.ipynb").read_text())
    assert committed == fresh, f"lessons/{lesson} drifted from solutions/{lesson}: run `python -m helpers release`"


def student_text(lesson: str) -> str:
    """Everything a student's notebook shows: cell sources and outputs, as text (not JSON, whose escaping
    of quotes and backslashes would hide a leaked line from a plain search)."""
    cells = notebook("lessons", lesson).cells
    return "\n".join([cell.source for cell in cells] + [json.dumps(cell.get("outputs", [])) for cell in cells])


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_solution_or_hidden_test_reaches_students(lesson: str) -> None:
    text = student_text(lesson)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    hidden = hidden_test_lines(lesson)
    assert hidden, f"{lesson} has no hidden tests"
    leaked = [line for line in hidden if line in text]
    assert not leaked, f"hidden test lines visible to students: {leaked[:3]}"


def test_the_leak_search_finds_lines_with_quotes_and_backslashes(tmp_path: Path) -> None:
    line = 'assert got == "a\\b", f"{got!r}"'
    leaked = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = 1\n{line}")])
    raw = nbformat.writes(leaked)
    assert line not in raw  # what the old search read: the JSON escapes the quotes and the backslash
    assert line in "\n".join(cell.source for cell in nbformat.reads(raw, as_version=4).cells)


@pytest.mark.parametrize("folder", ["solutions", "lessons"])
@pytest.mark.parametrize("lesson", LESSONS)
def test_notebooks_are_committed_without_outputs(folder: str, lesson: str) -> None:
    nb = notebook(folder, lesson)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_has_graded_tasks_with_points(lesson: str) -> None:
    cells = [c.metadata.get("nbgrader", {}) for c in notebook("solutions", lesson).cells]
    graded = [m for m in cells if m.get("grade") and not m.get("solution")]
    answers = [m for m in cells if m.get("solution")]
    assert len(graded) >= 2 and len(answers) >= 2
    assert all(m.get("points", 0) > 0 for m in graded)
    assert all(m["grade_id"].startswith(lesson[:2]) for m in cells if "grade_id" in m)


def test_grade_ids_are_unique_across_the_course() -> None:
    ids = [c.metadata["nbgrader"]["grade_id"] for lesson in LESSONS for c in notebook("solutions", lesson).cells
           if "grade_id" in c.metadata.get("nbgrader", {})]
    assert len(ids) == len(set(ids))


def validate_inverted(path: Path) -> str:
    args = [*NBGRADER, "validate", "--invert", str(path)]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=1800)  # finds nbgrader_config.py
    return done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_blank_student_version_fails_every_test(lesson: str) -> None:
    output = validate_inverted(REPO / "lessons" / lesson / f"{lesson}.ipynb")
    assert "Success! The notebook does not pass any tests." in output, output[-3000:]


def test_a_lessons_cells_run_after_its_student_version_on_one_worker() -> None:
    student = f"tests/test_notebooks.py::test_blank_student_version_fails_every_test[{LESSONS[4]}]"
    cells = [f"solutions/{LESSONS[4]}/{LESSONS[4]}.ipynb::Cell {i}" for i in (0, 7)]
    assert {worker_group(nodeid) for nodeid in [student, *cells]} == {LESSONS[4]}
    assert worker_group("tests/test_grading.py::test_match_lesson[a-b]") == worker_group("tests/test_grading.py::test_x")
    assert worker_group(f"solutions/{LESSONS[3]}/{LESSONS[3]}.ipynb::Cell 0") != LESSONS[4]
    regenerated = f"tests/test_notebooks.py::test_lessons_are_exactly_what_nbgrader_generates[{LESSONS[4]}]"
    assert worker_group(regenerated) == "tests/test_notebooks.py"
