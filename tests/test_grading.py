"""The instructor grading workflow, end to end on real nbgrader and a real lesson.

The slow tests grade one synthetic class (made from LESSON's solution and student
notebooks) in a temporary copy of the course directory, so the real gradebook is never
touched. COURSE_CELL_TIMEOUT is lowered so that the infinite loop is stopped quickly.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from grading_class import LESSON, REPO, SMALL_EXPERIMENT, Lesson, copy_course, read, write

from helpers.infra import grading

CELL_TIMEOUT = os.environ.get("COURSE_TEST_CELL_TIMEOUT", "60")  # well above the lesson's slowest quick cell
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION")


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A copy of the course directory (solutions/, lessons/, nbgrader_config.py), freshly released."""
    if not (REPO / "solutions" / LESSON).is_dir():
        pytest.skip(f"{LESSON} is not written yet")
    return copy_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def released(course) -> list[str]:
    return grading.release(course)


@pytest.fixture(scope="module")
def lesson(course, released) -> Lesson:
    return Lesson(course)


@pytest.fixture(scope="module")
def class_folder(course, lesson, tmp_path_factory) -> Path:
    """One folder per student, covering every case the workflow must handle."""
    folder = tmp_path_factory.mktemp("submissions")
    first, last = lesson.tasks[0], lesson.tasks[-1]
    everything = lesson.tasks
    # an old blank download, then the finished one as "(1)": the newest file is graded
    old = write(folder, f"alice/{LESSON}.ipynb", lesson.submission())
    os.utime(old, (1_000_000_000, 1_000_000_000))
    write(folder, f"alice/{LESSON} (1).ipynb", lesson.submission(everything))
    write(folder, f"bob/{LESSON}.ipynb", lesson.submission())
    write(folder, f"carol/{LESSON}/{LESSON}.ipynb", lesson.submission([first]))
    write(folder, f"dave/lesson{LESSON[:2]}.ipynb", lesson.submission(
        everything, replace={cell_id: "raise RuntimeError('deliberately broken answer')"
                             for cell_id in lesson.answers(first)}))
    write(folder, f"erin/{LESSON}.ipynb", lesson.submission(
        everything, replace={lesson.answers(last)[0]: "while True:\n    pass"}))
    write(folder, f"frank/{LESSON}.ipynb", lesson.submission(everything, edit=first.grade_id))
    write(folder, f"gina/{LESSON}.ipynb", lesson.submission(everything, delete=last.grade_id))
    (folder / "hank").mkdir()
    (folder / "ivan").mkdir()
    (folder / "ivan" / f"{LESSON}.ipynb").write_text('{"cells": [', encoding="utf-8")
    write(folder, "judy/Untitled3.ipynb", lesson.submission(everything))
    return folder


@pytest.fixture(scope="module")
def settings():
    """A shorter time limit per cell (the infinite loop is stopped sooner) and a smaller experiment."""
    changes = {"COURSE_CELL_TIMEOUT": CELL_TIMEOUT, **SMALL_EXPERIMENT}
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    yield
    for name, value in saved.items():
        os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)


@pytest.fixture(scope="module")
def report(course, class_folder, settings, tmp_path_factory) -> grading.GradingReport:
    return grading.grade(class_folder, out=tmp_path_factory.mktemp("out") / "grades.csv", course_dir=course)


def _points(lesson: Lesson, tasks) -> float:
    return sum(lesson.points[task.grade_id] for task in tasks)


# ---------------------------------------------------------------- release


def test_lessons_hold_no_solutions_or_hidden_tests():
    """Every released notebook: no solution or hidden-test markers, no hidden test line of its source."""
    lessons = sorted((REPO / "lessons").glob("*/*.ipynb")) if (REPO / "lessons").is_dir() else []
    if not lessons:
        pytest.skip("no lesson released yet")
    for path in lessons:
        text = path.read_text(encoding="utf-8")
        for marker in HIDDEN_MARKERS:
            assert marker not in text, f"{path.relative_to(REPO)} contains {marker!r}"
        source = REPO / "solutions" / path.parent.name / path.name
        for line in _hidden_lines(read(source)):
            assert line not in text, f"{path.relative_to(REPO)} reveals hidden test line {line!r}"


def _hidden_lines(notebook) -> list[str]:
    """Lines found only inside BEGIN/END HIDDEN TESTS regions (as they appear JSON-escaped);
    a line also written elsewhere in the notebook (an import, say) gives nothing away."""
    pattern = re.compile(r"BEGIN HIDDEN TESTS\n(.*?)\n[^\n]*END HIDDEN TESTS", re.S)
    sources = [cell.source for cell in notebook.cells]
    visible = "\n".join(pattern.sub("", source) for source in sources)
    lines = {line.strip() for source in sources for region in pattern.findall(source)
             for line in region.splitlines() if len(line.strip()) > 12 and line.strip() not in visible}
    return sorted(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)


@pytest.mark.slow
def test_release_regenerates_every_lesson(course, released):
    assert released == grading.lesson_names(course)
    assert LESSON in released
    for name in released:
        text = (course / "lessons" / name / f"{name}.ipynb").read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text


# ---------------------------------------------------------------- the class, graded


@pytest.mark.slow
def test_csv_columns_and_one_row_per_student_and_lesson(report):
    rows = grading.read_csv(report.csv_path)
    assert tuple(rows[0])[:5] == ("student", "lesson", "score", "max_score", "status")
    keys = [(row["student"], row["lesson"]) for row in rows]
    assert len(keys) == len(set(keys))
    assert {row["student"] for row in rows} == set("alice bob carol dave erin frank gina hank ivan judy".split())


@pytest.mark.slow
def test_solution_scores_full_marks_and_newest_download_is_graded(report, lesson):
    row = report.row("alice", LESSON)
    assert (row.score, row.max_score, row.status) == (lesson.max_score, lesson.max_score, "ok")
    assert "ignored" in row.message


@pytest.mark.slow
def test_untouched_student_version_scores_zero(report, lesson):
    row = report.row("bob", LESSON)
    assert (row.score, row.max_score, row.status) == (0, lesson.max_score, "ok")


@pytest.mark.slow
def test_partial_scores_the_points_of_its_passing_tests(report, lesson):
    row = report.row("carol", LESSON)  # nested folder layout
    assert row.score == _points(lesson, lesson.tasks[:1])
    assert 0 < row.score < lesson.max_score


@pytest.mark.slow
def test_raising_answer_scores_zero_on_its_task_only(report, lesson):
    row = report.row("dave", LESSON)  # named lessonNN.ipynb
    assert row.score == lesson.max_score - _points(lesson, lesson.tasks[:1])
    assert row.status == "ok"


@pytest.mark.slow
def test_infinite_loop_is_stopped_and_the_rest_graded(report, lesson):
    row = report.row("erin", LESSON)
    assert row.status == "timeout"
    assert row.score == lesson.max_score - _points(lesson, lesson.tasks[-1:])


@pytest.mark.slow
def test_edited_locked_test_cell_is_tampered_and_earns_nothing(report, lesson):
    row = report.row("frank", LESSON)
    assert row.status == "tampered"
    assert lesson.tasks[0].grade_id in row.message
    assert row.score == lesson.max_score - _points(lesson, lesson.tasks[:1])


@pytest.mark.slow
def test_deleted_test_cell_is_tampered_and_earns_nothing(report, lesson):
    row = report.row("gina", LESSON)
    assert row.status == "tampered"
    assert row.score == lesson.max_score - _points(lesson, lesson.tasks[-1:])


@pytest.mark.slow
def test_problems_get_a_row_and_a_message(report, lesson):
    empty = report.row("hank", LESSON)
    assert empty.status == "missing" and "no notebooks" in empty.message
    invalid = report.row("ivan", LESSON)
    assert invalid.status == "invalid notebook" and "JSON" in invalid.message
    unknown = report.row("judy", "Untitled3")
    assert unknown.status == "unknown lesson" and "Untitled3.ipynb" in unknown.message
    assert report.row("judy", LESSON).status == "missing"
    for student in ("hank", "ivan", "judy"):
        assert student in report.summary


@pytest.mark.slow
def test_feedback_shows_results_without_hidden_tests(course, report, lesson):
    source = read(course / "solutions" / LESSON / f"{LESSON}.ipynb")
    for student in ("alice", "bob", "frank"):
        row = report.row(student, LESSON)
        html = (course / row.feedback).read_text(encoding="utf-8")
        assert f"Score: {row.score:.1f} / {row.max_score:.1f}" in html  # nbgrader's feedback header
        assert "HIDDEN TESTS" not in html
        for line in _hidden_lines(source):
            assert line.replace('\\"', '"') not in html.replace("&quot;", '"').replace("&#39;", "'")


@pytest.mark.slow
def test_grading_again_gives_the_same_rows(course, report, class_folder, settings, tmp_path):
    """Re-grading (here: a part of the class, to save time) reproduces the rows exactly."""
    again = tmp_path / "again"
    for student in ("frank", "hank", "ivan"):
        shutil.copytree(class_folder / student, again / student)
    second = grading.grade(again, out=tmp_path / "again.csv", course_dir=course)
    first = [row for row in grading.read_csv(report.csv_path) if row["student"] in ("frank", "hank", "ivan")]
    assert grading.read_csv(second.csv_path) == first
    with grading.open_gradebook(course) as gradebook:
        submitted = [s.student.id for s in gradebook.find_assignment(LESSON).submissions]
    assert sorted(submitted) == sorted(set(submitted))


# ---------------------------------------------------------------- matching names (fast)


@pytest.mark.parametrize("name, expected", [
    ("03_training_the_head", "03_training_the_head"),
    ("03_training_the_head (1)", "03_training_the_head"),
    ("03_Training_The_Head-Copy1", "03_training_the_head"),
    ("lesson03", "03_training_the_head"),
    ("Lesson 3", "03_training_the_head"),
    ("03", "03_training_the_head"),
    ("alice_03_training_the_head", "03_training_the_head"),
    ("02_features_alice", "02_feature_extraction"),
    ("Untitled3", None),
    ("lesson09", None),
    ("notes", None),
])
def test_match_lesson(name, expected):
    lessons = ["01_data_preparation", "02_feature_extraction", "03_training_the_head"]
    assert grading.match_lesson(name, lessons) == expected


def test_grade_rejects_a_missing_folder(tmp_path):
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    with pytest.raises(ValueError, match="folder"):
        grading.grade(tmp_path / "nowhere", course_dir=tmp_path)


def test_grading_refuses_without_a_sandbox_and_says_what_to_do(tmp_path, monkeypatch, capsys):
    from helpers.infra import cli, sandbox

    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    (tmp_path / "class").mkdir()
    monkeypatch.setattr(sandbox, "sandbox_problem", lambda: "this is darwin; the sandbox needs Linux namespaces")
    with pytest.raises(grading.SandboxUnavailable, match="darwin.*JupyterHub.*--unsafe"):
        grading.grade(tmp_path / "class", course_dir=tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["grade", str(tmp_path / "class")]) == 2
    assert "Refusing to grade" in capsys.readouterr().err
