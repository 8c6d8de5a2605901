"""Execute lesson notebooks headless: executed copies and HTML under build/, timings in run.json."""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers.infra.lessons import FOLDERS, lesson_named

REPO = Path(__file__).resolve().parents[2]
CELL_TIMEOUT_SECONDS = 1200


@dataclass(frozen=True)
class LessonRun:
    lesson: str
    seconds: float
    status: str  # "ok" or the error


def resolve_lessons(requested: list[str]) -> list[str]:
    """Full lesson names for the request ('03', '03_training_the_head'); all when empty."""
    if not requested:
        return list(FOLDERS)
    return [lesson_named(name).folder for name in requested]


def execute_lesson(lesson: str, build_dir: Path, course_dir: Path = REPO) -> LessonRun:
    """Run one solution notebook top to bottom; write <lesson>.ipynb and <lesson>.html into build_dir."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    source = course_dir / "solutions" / lesson / f"{lesson}.ipynb"
    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
        resources={"metadata": {"path": str(source.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except Exception as error:  # any failure is reported per lesson; the others still run
        status = f"{type(error).__name__}: {str(error).strip().splitlines()[-1][:300] if str(error).strip() else ''}"
    seconds = time.perf_counter() - start
    build_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, build_dir / f"{lesson}.ipynb")
    html, _ = HTMLExporter().from_notebook_node(notebook)
    (build_dir / f"{lesson}.html").write_text(html, encoding="utf-8")
    return LessonRun(lesson, round(seconds, 1), status)


def run_lessons(lessons: list[str], build_dir: Path = REPO / "build", course_dir: Path = REPO) -> list[LessonRun]:
    """Execute lessons in order, printing progress, and write build_dir/run.json."""
    runs = []
    os.environ.setdefault("MPLBACKEND", "Agg")
    for number, lesson in enumerate(lessons, 1):
        print(f"[{number}/{len(lessons)}] {lesson} ...", flush=True)
        run = execute_lesson(lesson, build_dir, course_dir)
        print(f"[{number}/{len(lessons)}] {lesson}: {run.status} in {run.seconds:.1f} s", flush=True)
        runs.append(run)
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "run.json").write_text(json.dumps([asdict(r) for r in runs], indent=1))
    total = sum(r.seconds for r in runs)
    failed = [r.lesson for r in runs if r.status != "ok"]
    print(f"{len(runs) - len(failed)}/{len(runs)} lessons ok in {total:.1f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return runs
