"""Grading a class: copy each notebook into nbgrader's layout, autograde it (sandboxed), write
feedback and one CSV row per student and lesson."""
from __future__ import annotations

import multiprocessing
import os
import shutil
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.apps import NbGraderAPI
from sqlalchemy.exc import SAWarning

from helpers.infra import sandbox
from helpers.infra.grading import statuses
from helpers.infra.grading.course import GRADEBOOK, RELEASE, course_root, last_error, lesson_names, nbgrader_api
from helpers.infra.grading.rows import GradeRow, GradingReport, summarize, write_csv
from helpers.infra.grading.submissions import Found, Submission, find_submissions, read_submission
from helpers.infra.grading.tampering import find_tampering, forget_tamper_zeros, interpreter_hooks, zero_tampered


class SandboxUnavailable(RuntimeError):
    """Grading refused: no sandbox can be made on this machine and ``unsafe`` was not chosen."""


def grade(submissions: Path, out: Path | None = None, course_dir: Path | None = None,
          jobs: int | None = None, unsafe: bool = False) -> GradingReport:
    """Grade a folder of student folders with nbgrader; write the CSV; return rows and summary.

    Every notebook runs in the sandbox (``helpers.infra.sandbox``); where none can be made this
    raises :class:`SandboxUnavailable` saying why, unless ``unsafe`` (the instructor's explicit
    choice to run student code with their own permissions). ``jobs`` notebooks are autograded
    at once (default: :func:`grading_jobs`).
    """
    started = time.monotonic()
    root = course_root(course_dir)
    unsafe = unsafe or sandbox.unsafe_requested()
    problem = None if unsafe else sandbox.sandbox_problem()
    if problem is not None:
        raise SandboxUnavailable(sandbox.refusal(problem))
    sandbox.Limits.from_environment()  # a bad limit fails here, once, not in every notebook
    found = find_submissions(Path(submissions), lesson_names(root))
    rows = list(found.rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        max_scores = _prepare_lessons(root, sorted({s.lesson for s in found.submissions}), rows, found)
    rows += _grade_all(root, [s for s in found.submissions if s.lesson in max_scores],
                       grading_jobs() if jobs is None else jobs, unsafe)
    rows += _missing_rows(found, rows, max_scores)
    rows.sort(key=lambda row: (row.student, row.lesson, row.status))
    csv_path = Path(out) if out is not None else root / "grades.csv"
    write_csv(rows, csv_path)
    report = GradingReport(rows, csv_path)
    report.summary = summarize(report, found.notes, time.monotonic() - started, root / GRADEBOOK / "feedback",
                               sandboxed=not unsafe)
    return report


def grading_jobs() -> int:
    """How many notebooks to autograde at once: ``COURSE_GRADING_JOBS``, else one per CPU, at most 2
    (each runs its own kernel with TensorFlow: about 1 GB of memory)."""
    raw = os.environ.get("COURSE_GRADING_JOBS")
    if raw is None:
        return max(1, min(2, os.cpu_count() or 1))
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"COURSE_GRADING_JOBS must be a whole number >= 1, got {raw!r}")
    return int(raw)


def max_score(released: NotebookNode) -> float:
    """The points a notebook's grade cells are worth."""
    return sum(float(cell.metadata.nbgrader.get("points", 0)) for cell in released.cells
               if cell.metadata.get("nbgrader", {}).get("grade"))


def _prepare_lessons(root: Path, needed: list[str], rows: list[GradeRow], found: Found) -> dict[str, float]:
    """Synchronise the gradebook with ``solutions/`` for the lessons submitted (their student
    notebooks go to ``gradebook/release``); returns the maximum score of each lesson ready."""
    api = nbgrader_api(root, release_directory=RELEASE)
    max_scores = {}
    for lesson in needed:
        result = api.generate_assignment(lesson, force=True, create=True)
        if not result.get("success"):
            message = f"could not prepare the gradebook for {lesson}: {last_error(result)}"
            rows += [GradeRow(s.student, lesson, 0.0, None, statuses.ERROR, message)
                     for s in found.submissions if s.lesson == lesson]
            continue
        max_scores[lesson] = max_score(_released(root, lesson))
    return max_scores


def _released(root: Path, lesson: str) -> NotebookNode:
    return nbformat.read(root / RELEASE / lesson / f"{lesson}.ipynb", as_version=4)


def _grade_all(root: Path, submissions: list[Submission], jobs: int, unsafe: bool) -> list[GradeRow]:
    """Grade each submission, ``jobs`` at a time in worker processes (each with its own
    nbgrader API; the SQLite gradebook takes their short transactions one by one)."""
    if jobs <= 1 or len(submissions) <= 1:
        return [_grade_in_worker(root, submission, unsafe) for submission in submissions]
    rows = []
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [(submission, pool.submit(_grade_in_worker, root, submission, unsafe)) for submission in submissions]
        for submission, future in futures:
            try:
                rows.append(future.result())
            except Exception as error:  # noqa: BLE001 - a worker that died (memory) fails one student only
                rows.append(_error_row(submission, f"grading failed: {type(error).__name__}: {error}"))
    return rows


_WORKER_APIS: dict[tuple[Path, bool], NbGraderAPI] = {}


def _grade_in_worker(root: Path, submission: Submission, unsafe: bool) -> GradeRow:
    """Grade one submission; any unforeseen failure becomes an ``error`` row, because one
    student's notebook must never stop the grading of the others."""
    if (root, unsafe) not in _WORKER_APIS:
        _WORKER_APIS[root, unsafe] = nbgrader_api(root, release_directory=RELEASE, unsafe=unsafe)
    with warnings.catch_warnings():
        # nbgrader's autograde triggers harmless SQLAlchemy session warnings for every notebook
        warnings.simplefilter("ignore", SAWarning)
        try:
            return _grade_one(_WORKER_APIS[root, unsafe], root, submission, _released(root, submission.lesson))
        except Exception as error:  # noqa: BLE001 - reported in the CSV, then the next student
            return _error_row(submission, f"grading failed: {type(error).__name__}: {error}")


def _error_row(submission: Submission, message: str) -> GradeRow:
    return GradeRow(submission.student, submission.lesson, 0.0, None, statuses.ERROR, message[:300])


def _grade_one(api: NbGraderAPI, root: Path, submission: Submission, released: NotebookNode) -> GradeRow:
    student, lesson = submission.student, submission.lesson
    try:
        notebook = read_submission(submission.path)
    except ValueError as error:
        return GradeRow(student, lesson, 0.0, max_score(released), statuses.INVALID,
                        f"{submission.path.name}: {error}")
    _import(root, submission)
    tampered = find_tampering(notebook, released)
    forget_tamper_zeros(api, root, lesson, student)
    result = _autograde(api, lesson, student)
    if not result.get("success"):
        return GradeRow(student, lesson, 0.0, max_score(released), statuses.ERROR,
                        f"autograde failed: {last_error(result)}")
    zero_tampered(api, root, lesson, student, tampered)
    autograded = nbformat.read(root / GRADEBOOK / "autograded" / student / lesson / f"{lesson}.ipynb", as_version=4)
    events, not_run = statuses.kernel_events(autograded), statuses.not_run(autograded)
    feedback = api.generate_feedback(lesson, student, force=True)
    feedback_path = root / GRADEBOOK / "feedback" / student / lesson / f"{lesson}.html"
    score, maximum, failed, by_hand = _scores(api, lesson, student)
    notes = list(submission.notes)
    notes += [f"tampered: {what} (no points for {grade_id})" for grade_id, what in sorted(tampered.items())]
    notes += [f"{status} in {', '.join(cells)}" for status, cells in events.items()]
    notes += [f"not run (the kernel had stopped): {', '.join(not_run)}"] if not_run else []
    notes += [f"failed: {', '.join(failed)}"] if failed else []
    notes += [f"to grade by hand in formgrader: {', '.join(by_hand)}"] if by_hand else []
    notes += [f"review by hand: {cell} uses {', '.join(hooks)} (code that can change how tests run)"
              for cell, hooks in interpreter_hooks(notebook, released).items()]
    notes += [] if feedback.get("success") else [f"feedback failed: {last_error(feedback)}"]
    status = statuses.worst(set(events) | ({statuses.TAMPERED} if tampered else set()))
    return GradeRow(student, lesson, score, maximum, status, "; ".join(notes),
                    feedback_path.relative_to(root).as_posix() if feedback_path.exists() else "")


def _autograde(api: NbGraderAPI, lesson: str, student: str, attempts: int = 3) -> dict:
    """``nbgrader autograde --force``, tried again when another worker held the SQLite lock."""
    for attempt in range(attempts):
        result = api.autograde(lesson, student, force=True, create=True)
        log = (result.get("log") or "") + (result.get("error") or "")
        if result.get("success") or "database is locked" not in log:
            break
        time.sleep(1 + attempt)
    return result


def _import(root: Path, submission: Submission) -> None:
    """Copy the notebook into nbgrader's ``submitted/<student>/<lesson>/<lesson>.ipynb``."""
    folder = root / GRADEBOOK / "submitted" / submission.student / submission.lesson
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copyfile(submission.path, folder / f"{submission.lesson}.ipynb")


def _scores(api: NbGraderAPI, lesson: str, student: str) -> tuple[float, float, list[str], list[str]]:
    """Score and maximum from the gradebook, the graded cells that lost points, and the
    cells waiting for a manual grade (written answers)."""
    with api.gradebook as gradebook:
        submission = gradebook.find_submission(lesson, student)
        grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
        by_hand = sorted(g.name for g in grades if g.needs_manual_grade and g.manual_score is None)
        failed = sorted(g.name for g in grades if g.name not in by_hand and (g.score or 0) < g.max_score)
        return float(submission.score), float(submission.max_score), failed, by_hand


def _missing_rows(found: Found, rows: list[GradeRow], max_scores: dict[str, float]) -> list[GradeRow]:
    """A ``missing`` row for each lesson of this class a student has no notebook for
    (one row with an empty lesson for an empty folder when the class has no lesson at all)."""
    class_lessons = sorted({row.lesson for row in rows if row.status != statuses.UNKNOWN_LESSON}
                           | {s.lesson for s in found.submissions})
    have = {(row.student, row.lesson) for row in rows} | {(s.student, s.lesson) for s in found.submissions}
    handed_in = {student for student, _ in have}
    missing = []
    for student in found.students:
        message = "no notebook for this lesson" if student in handed_in else "no notebooks in this student's folder"
        missing += [GradeRow(student, lesson, 0.0, max_scores.get(lesson), statuses.MISSING, message)
                    for lesson in class_lessons or [""] if (student, lesson) not in have]
    return missing
