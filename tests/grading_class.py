"""A synthetic class of one lesson, for the grading tests: submissions made from the lesson's own
released notebook and solutions, and a copy of the course directory to grade them in."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat

from helpers.infra import grading

REPO = Path(__file__).resolve().parents[1]
LESSON = "01_data_preparation"  # only autograded tasks, light in the quick profile
# The lesson's wrong-scaling experiment on fewer images: the graded tasks do not depend on it.
SMALL_EXPERIMENT = {"COURSE_PARAM_N_TRAIN": "100", "COURSE_PARAM_N_TEST": "50", "COURSE_PARAM_EPOCHS": "1"}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


class Lesson:
    """LESSON's released notebook, its solutions and its tasks, to write submissions from."""

    def __init__(self, course: Path):
        self.released = read(course / "lessons" / LESSON / f"{LESSON}.ipynb")
        source = read(course / "solutions" / LESSON / f"{LESSON}.ipynb")
        self.solutions = {grade_id(c): c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
        self.tasks = grading.tasks(self.released)
        self.points = {grade_id(c): float(c.metadata.nbgrader.points) for c in self.released.cells
                       if c.metadata.get("nbgrader", {}).get("grade")}
        self.max_score = sum(self.points.values())

    def answers(self, task: grading.Task) -> list[str]:
        return [cell_id for cell_id in task.cell_ids if cell_id in self.solutions]

    def submission(self, solved=(), replace=None, edit=None, delete=None) -> nbformat.NotebookNode:
        """The student notebook with the answers of the ``solved`` tasks filled in, answer cells
        replaced by ``replace`` (grade_id -> source), a locked cell edited, a cell deleted."""
        notebook = copy.deepcopy(self.released)
        filled = {cell_id for task in solved for cell_id in self.answers(task)}
        cells = []
        for cell in notebook.cells:
            cell_id = grade_id(cell)
            if cell_id in filled:
                cell.source = self.solutions[cell_id]
            if replace and cell_id in replace:
                cell.source = replace[cell_id]
            if edit is not None and cell_id == edit:
                cell.source = "print('all tests passed')"
            if delete is None or cell_id != delete:
                cells.append(cell)
        notebook.cells = cells
        return notebook


def write(folder: Path, relative: str, notebook) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path




def copy_course(root: Path) -> Path:
    """A copy of the course directory (solutions/, lessons/, nbgrader_config.py) at ``root``."""
    shutil.copytree(REPO / "solutions", root / "solutions")
    if (REPO / "lessons").is_dir():
        shutil.copytree(REPO / "lessons", root / "lessons")
    shutil.copy(REPO / "nbgrader_config.py", root)
    return root
