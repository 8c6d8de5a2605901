"""Tampering: an edited locked cell or a deleted graded cell costs that task its points.

nbgrader silently restores an edited locked test cell and leaves a deleted graded cell
ungraded; here either one flags the submission ``tampered`` and gives that task's test cells
a manual score of 0 in the gradebook (so the feedback agrees). A ledger remembers which zeros
came from a verdict, so that a clean resubmission is graded afresh while an instructor's own
manual grades are kept.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI

from helpers.infra.grading.course import GRADEBOOK

TAMPER_LEDGER = "tamper_zeroed"  # gradebook/tamper_zeroed/<lesson>/<student>.json
# Names that let code change how the hidden tests run in its own process (which no in-process
# check can stop: README, threat model); no answer of this course needs them.
INTERPRETER_HOOKS = re.compile(
    r"\b(get_ipython|sys\.modules|__code__|__builtins__|builtins|ctypes|gc\.|settrace|setprofile|_getframe|"
    r"currentframe|f_locals|f_globals|showtraceback|displayhook|excepthook|ast_transformers|input_transformers|"
    r"events\.register|importlib)\b")


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


def _ledger_path(root: Path, lesson: str, student: str) -> Path:
    return root / GRADEBOOK / TAMPER_LEDGER / lesson / f"{student}.json"


def forget_tamper_zeros(api: NbGraderAPI, root: Path, lesson: str, student: str) -> None:
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


def zero_tampered(api: NbGraderAPI, root: Path, lesson: str, student: str, tampered: dict[str, str]) -> None:
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


def interpreter_hooks(submitted: NotebookNode, released: NotebookNode) -> dict[str, list[str]]:
    """Cell -> the interpreter hooks its student code names (answer cells and cells the student added),
    so that the instructor can look at code that may have changed how the tests ran."""
    given = {cell.source for cell in released.cells}
    found = {}
    for index, cell in enumerate(submitted.cells):
        nbgrader = cell.metadata.get("nbgrader", {})
        students = cell.cell_type == "code" and (nbgrader.get("solution") or cell.source not in given)
        hooks = sorted(set(INTERPRETER_HOOKS.findall(cell.source))) if students else []
        if hooks:
            found[nbgrader.get("grade_id", f"cell {index}")] = hooks
    return found
