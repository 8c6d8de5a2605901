"""Whole-course run time on this machine, cold cache then warm cache.

Runs `python -m helpers run` (every lesson, full profile) twice with a fresh
COURSE_CACHE and KERAS_HOME: the first run computes every feature, the second
reads them back. Prints per-lesson and total seconds and records both totals
(and the figures the lessons measured) for `python -m helpers results`.

    python benchmarks/course_runtime.py [LESSON ...]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from helpers.infra import results

REPO = Path(__file__).resolve().parents[1]


def run_course(env: dict[str, str], build: Path, lessons: list[str]) -> list[dict]:
    subprocess.run([sys.executable, "-m", "helpers", "run", "--build", str(build), *lessons], cwd=REPO, env=env, check=False)
    return json.loads((build / "run.json").read_text())


def main() -> int:
    lessons = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="course-runtime-") as scratch:
        env = {**os.environ, "COURSE_CACHE": f"{scratch}/cache", "KERAS_HOME": f"{scratch}/keras", "COURSE_PROFILE": "full"}
        cold = run_course(env, REPO / "build" / "cold", lessons)
        warm = run_course(env, REPO / "build", lessons)
        measured = json.loads((Path(scratch) / "cache" / "results.json").read_text())
    print(f"{'lesson':28s} {'cold s':>8s} {'warm s':>8s}  status")
    for c, w in zip(cold, warm):
        print(f"{c['lesson']:28s} {c['seconds']:8.1f} {w['seconds']:8.1f}  {w['status']}")
    cold_total, warm_total = sum(r["seconds"] for r in cold), sum(r["seconds"] for r in warm)
    print(f"{'total':28s} {cold_total:8.1f} {warm_total:8.1f}   (targets: <= 600 cold, <= 180 warm)")
    for name, entry in measured.items():  # what the lessons measured during the runs
        results.record(name, entry["measured"], **entry["settings"])
    if not lessons:
        results.record("course_seconds_cold", cold_total, lessons=len(cold), cpu_cores=os.cpu_count())
        results.record("course_seconds_warm", warm_total, lessons=len(warm), cpu_cores=os.cpu_count())
    return 0 if all(r["status"] == "ok" for r in cold + warm) else 1


if __name__ == "__main__":
    sys.exit(main())
