"""Grade a synthetic class of one lesson with real nbgrader and print the time.

    python benchmarks/grading_benchmark.py [--lesson 01_data_preparation] [--students 30]

The class is made from the lesson itself: a third of the students hand in the solution,
a third the untouched student version, a third the first task only. Grading runs in a
temporary copy of the course directory (the real gradebook is not touched) and the
scores are checked against what each kind of submission must get. Target: at most
5 minutes for 30 students on 2 cores, features cached.
"""
from __future__ import annotations

import argparse
import copy
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from helpers.infra import grading

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 300


def make_class(course: Path, lesson: str, students: int, folder: Path) -> dict[str, float]:
    """Write ``students`` submissions (correct, blank, partial in turn); returns the expected scores."""
    released = nbformat.read(course / "lessons" / lesson / f"{lesson}.ipynb", as_version=4)
    source = nbformat.read(course / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
    solutions = {c.metadata.nbgrader.grade_id: c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    tasks = grading.tasks(released)
    points = {c.metadata.nbgrader.grade_id: float(c.metadata.nbgrader.points) for c in released.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    kinds = {"correct": tasks, "blank": [], "partial": tasks[:1]}
    expected = {}
    for number in range(students):
        kind = list(kinds)[number % len(kinds)]
        solved = {cell_id for task in kinds[kind] for cell_id in task.cell_ids if cell_id in solutions}
        notebook = copy.deepcopy(released)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in solved:
                cell.source = solutions[cell.metadata.nbgrader.grade_id]
        student = f"student{number + 1:02d}_{kind}"
        (folder / student).mkdir(parents=True)
        nbformat.write(notebook, folder / student / f"{lesson}.ipynb")
        expected[student] = sum(points[task.grade_id] for task in kinds[kind])
    return expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", default="01_data_preparation")
    parser.add_argument("--students", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as temporary:
        course = Path(temporary) / "course"
        course.mkdir()
        shutil.copytree(REPO / "solutions" / args.lesson, course / "solutions" / args.lesson)
        shutil.copy(REPO / "nbgrader_config.py", course)
        grading.release(course)
        expected = make_class(course, args.lesson, args.students, Path(temporary) / "class")
        started = time.monotonic()
        report = grading.grade(Path(temporary) / "class", course_dir=course)
        seconds = time.monotonic() - started
        wrong = [(row.student, row.score, expected[row.student]) for row in report.rows
                 if row.score != expected[row.student] or row.status != "ok"]
    print(report.summary)
    print(f"grading benchmark: {args.students} submissions of {args.lesson} graded in {seconds:.0f} s "
          f"({seconds / args.students:.1f} s each; target {TARGET_SECONDS} s) on {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    if wrong:
        raise SystemExit(f"unexpected scores (student, got, expected): {wrong}")


if __name__ == "__main__":
    main()
