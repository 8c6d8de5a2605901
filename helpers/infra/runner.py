"""Execute lesson notebooks headless and build the course website from them.

``run_lessons`` executes each solution notebook top to bottom in a fresh kernel (a lesson
that fails is reported and the next one still runs), then writes into the build folder the
executed notebooks, one HTML page per lesson with its figures embedded, an ``index.html``
that links the lessons in order with their status, time and the results table
(``helpers.infra.site``), and ``run.json`` with the per-lesson status and seconds.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers.infra import site
from helpers.infra.lessons import FOLDERS, lesson_named

REPO = Path(__file__).resolve().parents[2]
CELL_TIMEOUT_SECONDS = 1200
# matplotlib's inline backend turns every figure a cell leaves open into an image output, as
# JupyterLab does; a kernel that inherits MPLBACKEND=Agg (CI sets it for tests) would show none.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


@dataclass(frozen=True)
class LessonRun:
    lesson: str
    seconds: float
    status: str  # "ok" or the error, in one line


def resolve_lessons(requested: list[str]) -> list[str]:
    """Full lesson names for the request ('03', '03_training_the_head'); all when empty."""
    if not requested:
        return list(FOLDERS)
    return [lesson_named(name).folder for name in requested]


def execute_lesson(lesson: str, build_dir: Path, course_dir: Path = REPO) -> LessonRun:
    """Run one solution notebook top to bottom; write the executed ``<lesson>.ipynb`` into ``build_dir``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source = course_dir / "solutions" / lesson / f"{lesson}.ipynb"
    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    start = time.perf_counter()
    try:
        client.execute(env={**os.environ, "MPLBACKEND": INLINE_BACKEND})
        status = "ok"
    except Exception as error:  # noqa: BLE001 - any failure is reported per lesson; the others still run
        lines = site.plain(str(error)).strip().splitlines() or [""]
        # a cell's error already ends with "ValueError: ..."; any other failure is named by its type
        status = lines[-1][:300] if isinstance(error, CellExecutionError) else f"{type(error).__name__}: {lines[-1][:300]}"
    seconds = time.perf_counter() - start
    build_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, build_dir / f"{lesson}.ipynb")
    return LessonRun(lesson, round(seconds, 1), status)


def run_lessons(lessons: list[str], build_dir: Path = REPO / "build", course_dir: Path = REPO) -> list[LessonRun]:
    """Execute lessons in order, printing progress; write the site and ``run.json`` into ``build_dir``."""
    runs = []
    for number, lesson in enumerate(lessons, 1):
        print(f"[{number}/{len(lessons)}] {lesson} ...", flush=True)
        run = execute_lesson(lesson, build_dir, course_dir)
        print(f"[{number}/{len(lessons)}] {lesson}: {run.status} in {run.seconds:.1f} s", flush=True)
        runs.append(run)
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "run.json").write_text(json.dumps([asdict(r) for r in runs], indent=1))
    site.build(build_dir, [(run.lesson, run.status, run.seconds) for run in runs])
    total = sum(r.seconds for r in runs)
    failed = [r.lesson for r in runs if r.status != "ok"]
    print(f"{len(runs) - len(failed)}/{len(runs)} lessons ok in {total:.1f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    print(f"Course website: {build_dir / 'index.html'}")
    return runs
