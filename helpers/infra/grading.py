"""The instructor workflow around nbgrader: release the lessons, grade a class, write grades.

``release()`` regenerates ``lessons/`` from ``solutions/`` (``nbgrader generate_assignment``).
``grade(SUBMISSIONS)`` takes the folder an instructor actually receives (one folder per
student holding that student's notebooks), copies each notebook into nbgrader's
``gradebook/submitted/<student>/<lesson>/<lesson>.ipynb`` layout, autogrades it, writes
per-student HTML feedback and a grades CSV, and returns a :class:`GradingReport`.

nbgrader does the grading and keeps the gradebook; this module only adds what nbgrader
leaves to the instructor:

* matching loosely named files to lessons (see :func:`match_lesson`);
* one CSV row per student and lesson, with a status (``ok``, ``tampered``, ``timeout``,
  ``invalid notebook``, ``missing``, ``unknown lesson``, ``error``) and a message;
* tampering: nbgrader silently restores an edited locked test cell and leaves a deleted
  graded cell ungraded; here either one flags the submission ``tampered`` and gives that
  task's test cells a manual score of 0 in the gradebook (so the feedback agrees);
* feedback without hidden test code (nbgrader shows it by design, jupyter/nbgrader#917).

Grading never touches ``lessons/``: the gradebook is synchronised from ``solutions/``
into ``gradebook/release/``.
"""
from __future__ import annotations

import csv
import json
import multiprocessing
import os
import re
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests
from sqlalchemy.exc import SAWarning
from traitlets.config.loader import PyFileConfigLoader

from helpers.infra.lessons import FOLDERS

COLUMNS = ("student", "lesson", "score", "max_score", "status", "message", "feedback")
GRADEBOOK = "gradebook"
RELEASE = f"{GRADEBOOK}/release"  # student notebooks as the gradebook knows them; lessons/ is left alone
TIMEOUT_ERROR = "CellTimeoutError"  # the ename nbgrader's Execute gives a cell stopped by the timeout
# Grade cells whose manual score of 0 came from a tampering verdict, so that a clean
# resubmission is graded afresh while an instructor's own manual grades are kept.
TAMPER_LEDGER = "tamper_zeroed"  # gradebook/tamper_zeroed/<lesson>/<student>.json

_EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b")
_COPY_SUFFIX = re.compile(r"(\s*\(\d+\)|[\s_-]*copy\d*)+$", re.IGNORECASE)
_LESSON_NUMBER = re.compile(r"^(?:lesson|lec|l)?[\s_-]*0*(\d{1,2})(?!\d)", re.IGNORECASE)


@dataclass(frozen=True)
class GradeRow:
    """One line of the grades CSV."""

    student: str
    lesson: str
    score: float
    max_score: float | None
    status: str
    message: str = ""
    feedback: str = ""

    def as_csv(self) -> dict[str, str]:
        return {
            "student": self.student, "lesson": self.lesson, "score": _number(self.score),
            "max_score": "" if self.max_score is None else _number(self.max_score),
            "status": self.status, "message": self.message, "feedback": self.feedback,
        }


@dataclass
class GradingReport:
    """What ``grade`` produced: the rows (as written to ``csv_path``) and a printable summary."""

    rows: list[GradeRow]
    csv_path: Path
    summary: str = ""

    def row(self, student: str, lesson: str) -> GradeRow:
        """The row of one student's lesson (ValueError when there is none)."""
        for row in self.rows:
            if (row.student, row.lesson) == (student, lesson):
                return row
        raise ValueError(f"no row for student {student!r}, lesson {lesson!r}; "
                         f"rows: {[(r.student, r.lesson) for r in self.rows]}")


@dataclass(frozen=True)
class Submission:
    """One student's notebook for one lesson, as found in the submissions folder."""

    student: str
    lesson: str
    path: Path
    notes: tuple[str, ...] = ()


@dataclass
class _Found:
    submissions: list[Submission] = field(default_factory=list)
    rows: list[GradeRow] = field(default_factory=list)  # problems found before grading
    students: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- course directory


def course_root(course_dir: Path | None = None) -> Path:
    """The nbgrader course directory: ``course_dir`` or this repository."""
    root = Path(course_dir) if course_dir is not None else Path(__file__).resolve().parents[2]
    if not (root / "nbgrader_config.py").is_file():
        raise ValueError(f"expected an nbgrader course directory holding nbgrader_config.py, got {root}")
    return root.resolve()


def lesson_names(course_dir: Path | None = None) -> list[str]:
    """The course's lessons (``helpers.infra.lessons``) whose source notebook
    ``solutions/NN_name/NN_name.ipynb`` exists in this course directory, in order."""
    root = course_root(course_dir)
    return [name for name in FOLDERS if (root / "solutions" / name / f"{name}.ipynb").is_file()]


def _api(root: Path, release_directory: str | None = None) -> NbGraderAPI:
    """An ``NbGraderAPI`` configured from the course's ``nbgrader_config.py``.

    The file is read on every call so that environment settings it honours (such as
    ``COURSE_CELL_TIMEOUT``) take effect.
    """
    # nbgrader_config.py also puts this environment's scripts on PATH (nbgrader runs `alembic`),
    # creates gradebook/, sets the output timeout and hides hidden tests in feedback.
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    if release_directory is not None:
        config.CourseDirectory.release_directory = release_directory
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir, config=config)


def open_gradebook(course_dir: Path | None = None) -> Gradebook:
    """nbgrader's gradebook of the course (use as a context manager)."""
    return _api(course_root(course_dir)).gradebook


def _checked(result: dict, what: str) -> None:
    if not result.get("success"):
        raise RuntimeError(f"nbgrader {what} failed: {_last_error(result)}")


def _last_error(result: dict) -> str:
    """The most useful line of an nbgrader API result: the last exception it logged."""
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    exceptions = [line for line in lines if _EXCEPTION_LINE.match(line) and "see the the above" not in line]
    errors = [line for line in lines if line.startswith("[ERROR]")]
    return (exceptions or errors or lines or ["no message"])[-1][:300]


# ---------------------------------------------------------------- release


def release(course_dir: Path | None = None) -> list[str]:
    """Regenerate ``lessons/`` from ``solutions/`` for every lesson; returns the lesson names."""
    root = course_root(course_dir)
    names = lesson_names(root)
    if not names:
        raise ValueError(f"expected lessons in {root / 'solutions'} (NN_name/NN_name.ipynb), found none")
    api = _api(root)
    for name in names:
        _checked(api.generate_assignment(name, force=True, create=True), f"generate_assignment {name}")
    return names


# ---------------------------------------------------------------- finding submissions


def match_lesson(name: str, lessons: Iterable[str]) -> str | None:
    """The lesson a file or folder name refers to, or None.

    Accepted (case, spaces and dashes do not matter; download copies such as
    ``" (1)"`` or ``"-Copy1"`` are ignored): the lesson name itself
    (``03_training_the_head``), a name containing it (``alice_03_training_the_head``),
    or a name starting with the lesson number (``03``, ``03_head``, ``lesson03``,
    ``Lesson 3``, ``L3``).
    """
    lessons = list(lessons)
    stem = _COPY_SUFFIX.sub("", name.strip())
    stem = re.sub(r"[\s-]+", "_", stem.strip().lower())
    if stem in lessons:
        return stem
    containing = [lesson for lesson in lessons if lesson in stem]
    if len(containing) == 1:
        return containing[0]
    number = _LESSON_NUMBER.match(stem)
    if number:
        numbered = [lesson for lesson in lessons if int(lesson[:2]) == int(number.group(1))]
        if len(numbered) == 1:
            return numbered[0]
    return None


def find_submissions(submissions: Path, lessons: list[str]) -> _Found:
    """Every student folder's notebooks, matched to lessons; problems become rows."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise ValueError(f"expected a folder of student folders, got {submissions} (not a folder)")
    found = _Found()
    for entry in sorted(submissions.iterdir()):
        if _ignored(entry.name):
            continue
        if not entry.is_dir():
            found.notes.append(f"ignored {entry.name}: not inside a student folder")
            continue
        found.students.append(entry.name)
        _find_student(entry, lessons, found)
    return found


def _ignored(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _find_student(folder: Path, lessons: list[str], found: _Found) -> None:
    student = folder.name
    by_lesson: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*.ipynb")):
        relative = path.relative_to(folder)
        if any(_ignored(part) for part in relative.parts):
            continue
        candidates = [path.stem] + [part for part in reversed(relative.parts[:-1])]
        lesson = next((hit for hit in (match_lesson(c, lessons) for c in candidates) if hit), None)
        if lesson is None:
            found.rows.append(GradeRow(
                student, _COPY_SUFFIX.sub("", path.stem), 0.0, None, "unknown lesson",
                f"{relative.as_posix()} matches no lesson; expected names like "
                f"{lessons[0] if lessons else 'NN_name'}.ipynb or lesson{(lessons[0][:2] if lessons else 'NN')}.ipynb"))
            continue
        by_lesson.setdefault(lesson, []).append(path)
    for lesson, paths in sorted(by_lesson.items()):
        # Several files for one lesson (a re-download "x (1).ipynb"): the newest is the submission.
        newest = max(paths, key=lambda p: (p.stat().st_mtime, p.name))
        others = [p.relative_to(folder).as_posix() for p in paths if p != newest]
        notes = (f"graded the newest of {len(paths)} files, {newest.relative_to(folder).as_posix()}; "
                 f"ignored {', '.join(others)}",) if others else ()
        found.submissions.append(Submission(student, lesson, newest, notes))


def read_submission(path: Path) -> NotebookNode:
    """The notebook at ``path``; ValueError saying what is wrong when it is not a valid notebook."""
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"not notebook JSON ({type(error).__name__}: {error})") from None
    except Exception as error:  # nbformat raises several types for a wrong structure
        raise ValueError(f"not a valid notebook ({type(error).__name__}: {str(error).splitlines()[0][:160]})") from None
    return notebook


# ---------------------------------------------------------------- tampering


@dataclass(frozen=True)
class Task:
    """A graded task: the nbgrader cells since the previous grade cell, ending with its grade cell."""

    grade_id: str
    cell_ids: tuple[str, ...]


def tasks(released: NotebookNode) -> list[Task]:
    """The graded tasks of a released (student) notebook, in order."""
    found, pending = [], []
    for cell in released.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is None:
            continue
        pending.append(grade_id)
        if cell.metadata.nbgrader.get("grade"):
            found.append(Task(grade_id, tuple(pending)))
            pending = []
    return found


def find_tampering(submitted: NotebookNode, released: NotebookNode) -> dict[str, str]:
    """Grade cell id -> what was tampered with in its task (deleted graded cells, edited locked cells).

    A locked cell counts as edited when nbgrader's checksum of it differs from the released one.
    """
    present = {cell.metadata.nbgrader.grade_id: cell for cell in submitted.cells
               if "grade_id" in cell.metadata.get("nbgrader", {})}
    reference = {cell.metadata.nbgrader.grade_id: cell for cell in released.cells
                 if "grade_id" in cell.metadata.get("nbgrader", {})}
    verdicts = {}
    for task in tasks(released):
        problems = []
        for cell_id in task.cell_ids:
            original, cell = reference[cell_id], present.get(cell_id)
            if cell is None:
                problems.append(f"{cell_id} deleted")
            elif original.metadata.nbgrader.get("locked") and _checksum(cell) != \
                    original.metadata.nbgrader.get("checksum"):
                problems.append(f"{cell_id} edited (locked cell)")
        if problems:
            verdicts[task.grade_id] = ", ".join(problems)
    return verdicts


def _checksum(cell: NotebookNode) -> str | None:
    try:
        return utils.compute_checksum(cell)
    except (KeyError, AttributeError, TypeError, ValueError):  # metadata edited beyond recognition
        return None


# ---------------------------------------------------------------- feedback without hidden tests


class HideTestCode(ClearHiddenTests):
    """Feedback preprocessor: remove hidden test regions, and shorten the tracebacks of test
    cells to their last line (a traceback quotes the failing line of a hidden test)."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if utils.is_grade(cell) and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


# ---------------------------------------------------------------- grading


def grade(submissions: Path, out: Path | None = None, course_dir: Path | None = None,
          jobs: int | None = None) -> GradingReport:
    """Grade a folder of student folders with nbgrader; write the CSV; return rows and summary.

    ``jobs`` notebooks are autograded at once (default: :func:`grading_jobs`).
    """
    started = time.monotonic()
    root = course_root(course_dir)
    found = find_submissions(Path(submissions), lesson_names(root))
    rows = list(found.rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        max_scores = _prepare_lessons(root, sorted({s.lesson for s in found.submissions}), rows, found)
    rows += _grade_all(root, [s for s in found.submissions if s.lesson in max_scores],
                       grading_jobs() if jobs is None else jobs)
    rows += _missing_rows(found, rows, max_scores)
    rows.sort(key=lambda row: (row.student, row.lesson, row.status))
    csv_path = Path(out) if out is not None else root / "grades.csv"
    write_csv(rows, csv_path)
    report = GradingReport(rows, csv_path)
    report.summary = summarize(report, found.notes, time.monotonic() - started, root)
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


def _prepare_lessons(root: Path, needed: list[str], rows: list[GradeRow], found: _Found) -> dict[str, float]:
    """Synchronise the gradebook with ``solutions/`` for the lessons submitted (their student
    notebooks go to ``gradebook/release``); returns the maximum score of each lesson ready."""
    api = _api(root, release_directory=RELEASE)
    max_scores = {}
    for lesson in needed:
        result = api.generate_assignment(lesson, force=True, create=True)
        if not result.get("success"):
            message = f"could not prepare the gradebook for {lesson}: {_last_error(result)}"
            rows += [GradeRow(s.student, lesson, 0.0, None, "error", message)
                     for s in found.submissions if s.lesson == lesson]
            continue
        max_scores[lesson] = max_score(_released(root, lesson))
    return max_scores


def _released(root: Path, lesson: str) -> NotebookNode:
    return nbformat.read(root / RELEASE / lesson / f"{lesson}.ipynb", as_version=4)


def _grade_all(root: Path, submissions: list[Submission], jobs: int) -> list[GradeRow]:
    """Grade each submission, ``jobs`` at a time in worker processes (each with its own
    nbgrader API; the SQLite gradebook takes their short transactions one by one)."""
    if jobs <= 1 or len(submissions) <= 1:
        return [_grade_in_worker(root, submission) for submission in submissions]
    rows = []
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [(submission, pool.submit(_grade_in_worker, root, submission)) for submission in submissions]
        for submission, future in futures:
            try:
                rows.append(future.result())
            except Exception as error:  # noqa: BLE001 - a worker that died (memory) fails one student only
                rows.append(_error_row(submission, f"grading failed: {type(error).__name__}: {error}"))
    return rows


_WORKER_APIS: dict[Path, NbGraderAPI] = {}


def _grade_in_worker(root: Path, submission: Submission) -> GradeRow:
    """Grade one submission; any unforeseen failure becomes an ``error`` row, because one
    student's notebook must never stop the grading of the others."""
    if root not in _WORKER_APIS:
        _WORKER_APIS[root] = _api(root, release_directory=RELEASE)
    with warnings.catch_warnings():
        # nbgrader's autograde triggers harmless SQLAlchemy session warnings for every notebook
        warnings.simplefilter("ignore", SAWarning)
        try:
            return _grade_one(_WORKER_APIS[root], root, submission, _released(root, submission.lesson))
        except Exception as error:  # noqa: BLE001 - reported in the CSV, then the next student
            return _error_row(submission, f"grading failed: {type(error).__name__}: {error}")


def _error_row(submission: Submission, message: str) -> GradeRow:
    return GradeRow(submission.student, submission.lesson, 0.0, None, "error", message[:300])


def max_score(released: NotebookNode) -> float:
    """The points a notebook's grade cells are worth."""
    return sum(float(cell.metadata.nbgrader.get("points", 0)) for cell in released.cells
               if cell.metadata.get("nbgrader", {}).get("grade"))


def _grade_one(api: NbGraderAPI, root: Path, submission: Submission, released: NotebookNode) -> GradeRow:
    student, lesson = submission.student, submission.lesson
    try:
        notebook = read_submission(submission.path)
    except ValueError as error:
        return GradeRow(student, lesson, 0.0, max_score(released), "invalid notebook",
                        f"{submission.path.name}: {error}")
    _import(root, submission)
    tampered = find_tampering(notebook, released)
    _forget_tamper_zeros(api, root, lesson, student)
    result = _autograde(api, lesson, student)
    if not result.get("success"):
        return GradeRow(student, lesson, 0.0, max_score(released), "error",
                        f"autograde failed: {_last_error(result)}")
    _zero_tampered(api, root, lesson, student, tampered)
    timeouts = _timed_out_cells(root, lesson, student)
    feedback = api.generate_feedback(lesson, student, force=True)
    feedback_path = root / GRADEBOOK / "feedback" / student / lesson / f"{lesson}.html"
    score, maximum, failed, by_hand = _scores(api, lesson, student)
    notes = list(submission.notes)
    notes += [f"tampered: {what} (no points for {grade_id})" for grade_id, what in sorted(tampered.items())]
    notes += [f"timeout in {', '.join(timeouts)}"] if timeouts else []
    notes += [f"failed: {', '.join(failed)}"] if failed else []
    notes += [f"to grade by hand in formgrader: {', '.join(by_hand)}"] if by_hand else []
    notes += [] if feedback.get("success") else [f"feedback failed: {_last_error(feedback)}"]
    status = "tampered" if tampered else "timeout" if timeouts else "ok"
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


def _ledger_path(root: Path, lesson: str, student: str) -> Path:
    return root / GRADEBOOK / TAMPER_LEDGER / lesson / f"{student}.json"


def _forget_tamper_zeros(api: NbGraderAPI, root: Path, lesson: str, student: str) -> None:
    """Undo the zeros an earlier tampering verdict set, unless an instructor changed them since."""
    path = _ledger_path(root, lesson, student)
    if not path.exists():
        return
    with api.gradebook as gradebook:
        for grade_id in json.loads(path.read_text(encoding="utf-8")):
            grade = _find_grade(gradebook, grade_id, lesson, student)
            if grade is not None and grade.manual_score == 0:
                grade.manual_score = None
        gradebook.db.commit()
    path.unlink()


def _zero_tampered(api: NbGraderAPI, root: Path, lesson: str, student: str, tampered: dict[str, str]) -> None:
    """No points for a tampered task: a manual score of 0 overrides nbgrader's autograde."""
    if not tampered:
        return
    with api.gradebook as gradebook:
        for grade_id in tampered:
            grade = _find_grade(gradebook, grade_id, lesson, student)
            if grade is not None:
                grade.manual_score = 0.0
        gradebook.db.commit()
    path = _ledger_path(root, lesson, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sorted(tampered)), encoding="utf-8")


def _find_grade(gradebook: Gradebook, grade_id: str, lesson: str, student: str):
    try:
        return gradebook.find_grade(grade_id, lesson, lesson, student)
    except MissingEntry:
        return None


def _timed_out_cells(root: Path, lesson: str, student: str) -> list[str]:
    """Cells of the autograded notebook that nbgrader stopped at the per-cell timeout."""
    path = root / GRADEBOOK / "autograded" / student / lesson / f"{lesson}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    return [cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
            for index, cell in enumerate(notebook.cells)
            if any(output.get("ename") == TIMEOUT_ERROR for output in cell.get("outputs", []))]


def _scores(api: NbGraderAPI, lesson: str, student: str) -> tuple[float, float, list[str], list[str]]:
    """Score and maximum from the gradebook, the graded cells that lost points, and the
    cells waiting for a manual grade (written answers)."""
    with api.gradebook as gradebook:
        submission = gradebook.find_submission(lesson, student)
        grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
        by_hand = sorted(g.name for g in grades if g.needs_manual_grade and g.manual_score is None)
        failed = sorted(g.name for g in grades if g.name not in by_hand and (g.score or 0) < g.max_score)
        return float(submission.score), float(submission.max_score), failed, by_hand


def _missing_rows(found: _Found, rows: list[GradeRow], max_scores: dict[str, float]) -> list[GradeRow]:
    """A ``missing`` row for each lesson of this class a student has no notebook for
    (one row with an empty lesson for an empty folder when the class has no lesson at all)."""
    class_lessons = sorted({row.lesson for row in rows if row.status != "unknown lesson"}
                           | {s.lesson for s in found.submissions})
    have = {(row.student, row.lesson) for row in rows} | {(s.student, s.lesson) for s in found.submissions}
    handed_in = {student for student, _ in have}
    missing = []
    for student in found.students:
        message = "no notebook for this lesson" if student in handed_in else "no notebooks in this student's folder"
        missing += [GradeRow(student, lesson, 0.0, max_scores.get(lesson), "missing", message)
                    for lesson in class_lessons or [""] if (student, lesson) not in have]
    return missing


# ---------------------------------------------------------------- output


def write_csv(rows: list[GradeRow], path: Path) -> None:
    """Write the grades CSV (atomically: a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row.as_csv() for row in rows)
    os.replace(temporary, path)


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a grades CSV as dictionaries."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def summarize(report: GradingReport, notes: list[str], seconds: float, root: Path) -> str:
    """A few lines for the terminal: counts per status, mean score per lesson, where things are."""
    statuses = Counter(row.status for row in report.rows)
    students = sorted({row.student for row in report.rows})
    lines = [f"Graded {len(students)} students, {len(report.rows)} rows in {seconds:.0f} s: "
             + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))]
    for lesson in sorted({row.lesson for row in report.rows if row.max_score}):
        graded = [row for row in report.rows if row.lesson == lesson and row.status in ("ok", "tampered", "timeout")]
        if graded:
            mean = sum(row.score for row in graded) / len(graded)
            lines.append(f"  {lesson}: mean {mean:.1f} / {_number(graded[0].max_score)} over {len(graded)} notebooks")
    problems = [row for row in report.rows if row.status != "ok"]
    lines += [f"  {row.student} {row.lesson or '-'}: {row.status}: {row.message}" for row in problems]
    lines += [f"  note: {note}" for note in notes]
    lines.append(f"Grades: {report.csv_path}")
    lines.append(f"Feedback: {root / GRADEBOOK / 'feedback'}/<student>/<lesson>/<lesson>.html")
    return "\n".join(lines)


def _number(value: float) -> str:
    return f"{value:g}"
