"""Finding each student's notebooks in the folder an instructor receives, and matching them to lessons."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from helpers.infra.grading.rows import GradeRow
from helpers.infra.grading.statuses import UNKNOWN_LESSON

_COPY_SUFFIX = re.compile(r"(\s*\(\d+\)|[\s_-]*copy\d*)+$", re.IGNORECASE)
_LESSON_NUMBER = re.compile(r"^(?:lesson|lec|l)?[\s_-]*0*(\d{1,2})(?!\d)", re.IGNORECASE)


@dataclass(frozen=True)
class Submission:
    """One student's notebook for one lesson, as found in the submissions folder."""

    student: str
    lesson: str
    path: Path
    notes: tuple[str, ...] = ()


@dataclass
class Found:
    submissions: list[Submission] = field(default_factory=list)
    rows: list[GradeRow] = field(default_factory=list)  # problems found before grading
    students: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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


def find_submissions(submissions: Path, lessons: list[str]) -> Found:
    """Every student folder's notebooks, matched to lessons; problems become rows."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise ValueError(f"expected a folder of student folders, got {submissions} (not a folder)")
    found = Found()
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


def _find_student(folder: Path, lessons: list[str], found: Found) -> None:
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
                student, _COPY_SUFFIX.sub("", path.stem), 0.0, None, UNKNOWN_LESSON,
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
