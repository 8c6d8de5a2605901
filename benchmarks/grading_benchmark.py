"""Grade a synthetic class of one lesson with real nbgrader, in the sandbox and without it, and print the times.

    python benchmarks/grading_benchmark.py [--lesson 01_data_preparation] [--students 30] [--no-unsafe]

The class is made from the lesson itself: a third of the students hand in the solution,
a third the untouched student version, a third the first task only. Grading runs in a
temporary copy of the course directory (the real gradebook is not touched) and the
scores are checked against what each kind of submission must get. The class is graded
twice, sandboxed (the default) and with ``--unsafe``; the difference per notebook is the
sandbox's overhead, which also shows on its own in the start of a kernel that runs one
line. Before the clock starts, one solution is graded without the sandbox so that your
course cache holds what the lesson computes (as after running the lesson yourself).
Target: at most 5 minutes for 30 students on 2 cores, sandboxed.
"""
from __future__ import annotations

import argparse
import copy
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from helpers.infra import grading, sandbox
from helpers.infra.grading.execute import GradingExecute

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


def grade_class(folder: Path, course: Path, expected: dict[str, float], unsafe: bool) -> float:
    """Grade ``folder``; returns the seconds taken (SystemExit when a score is not the expected one)."""
    started = time.monotonic()
    report = grading.grade(folder, out=folder.parent / f"grades-{'unsafe' if unsafe else 'sandboxed'}.csv",
                           course_dir=course, unsafe=unsafe)
    seconds = time.monotonic() - started
    print(report.summary)
    wrong = [(row.student, row.score, expected.get(row.student)) for row in report.rows
             if row.score != expected.get(row.student) or row.status != "ok"]
    if wrong:
        raise SystemExit(f"unexpected scores (student, got, expected): {wrong}")
    return seconds


def kernel_start_seconds(sandboxed: bool, repeats: int = 5) -> float:
    """Median time to start a kernel, run one line and stop it."""
    times = []
    for _ in range(repeats):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
        notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
        started = time.monotonic()
        GradingExecute(kernel_name="python3", sandbox=sandboxed).preprocess(notebook, {"metadata": {"path": str(REPO)}})
        times.append(time.monotonic() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", default="01_data_preparation")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--no-unsafe", action="store_true", help="grade only in the sandbox (half the time)")
    args = parser.parse_args()
    problem = sandbox.sandbox_problem()
    if problem is not None:
        raise SystemExit(sandbox.refusal(problem))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as temporary:
        course = Path(temporary) / "course"
        course.mkdir()
        shutil.copytree(REPO / "solutions" / args.lesson, course / "solutions" / args.lesson)
        shutil.copy(REPO / "nbgrader_config.py", course)
        grading.release(course)
        expected = make_class(course, args.lesson, args.students, Path(temporary) / "class")
        warm = Path(temporary) / "warm"
        (warm / "student01_correct").mkdir(parents=True)
        shutil.copy(Path(temporary) / "class" / "student01_correct" / f"{args.lesson}.ipynb", warm / "student01_correct")
        grade_class(warm, course, expected, unsafe=True)
        sandboxed = grade_class(Path(temporary) / "class", course, expected, unsafe=False)
        unsafe = None if args.no_unsafe else grade_class(Path(temporary) / "class", course, expected, unsafe=True)
    starts = {mode: kernel_start_seconds(mode == "sandboxed") for mode in ("sandboxed", "unsafe")}
    load_after = os.getloadavg()
    jobs = grading.grading_jobs()
    print(f"grading benchmark: {args.students} submissions of {args.lesson} graded in the sandbox in {sandboxed:.0f} s "
          f"({sandboxed / args.students:.1f} s each, {jobs} at a time; target {TARGET_SECONDS} s)")
    if unsafe is not None:
        overhead = (sandboxed - unsafe) * jobs / args.students
        print(f"  without the sandbox (--unsafe): {unsafe:.0f} s; sandbox overhead {overhead:+.1f} s per notebook "
              f"({(sandboxed / unsafe - 1) * 100:+.0f}%)")
    print(f"  starting a kernel that runs one line: {starts['sandboxed']:.2f} s sandboxed, {starts['unsafe']:.2f} s "
          f"unsafe (median of 5)")
    print(f"  {os.cpu_count()} CPUs; load average (1, 5, 15 min) before {tuple(round(x, 1) for x in load_before)}, "
          f"after {tuple(round(x, 1) for x in load_after)}")


if __name__ == "__main__":
    main()
