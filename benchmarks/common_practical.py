"""Lesson 09 on this machine: its tables, and its own run time with a cold and then a warm cache.

Executes solutions/09_common_practical (full profile) twice with a fresh COURSE_CACHE and
KERAS_HOME: the first run extracts every feature and trains every head, the second reads them
back. Prints both times, the machine's load before and after (the times are only as good as the
machine was quiet: it is shared), and what the lesson printed: the practical as written and the
two tables. The figures the lesson recorded are copied into this machine's results store.

    python benchmarks/common_practical.py
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from helpers.infra import results
from helpers.infra.runner import REPO, execute_lesson

LESSON = "09_common_practical"
PRINTED = ("practical.run_as_written(", "table.table(")  # the cells whose output is the lesson's figures


def printed_figures(executed: Path) -> str:
    """The text printed by the lesson cells that show the practical as written and the tables."""
    notebook = json.loads(executed.read_text())
    texts = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and any(marker in source for marker in PRINTED):
            texts += ["".join(out.get("text", "")) for out in cell["outputs"] if out.get("name") == "stdout"]
    return "\n".join(texts)


def main() -> int:
    load_before = os.getloadavg()
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="practical-benchmark-") as scratch:
        os.environ.update({"COURSE_CACHE": f"{scratch}/cache", "KERAS_HOME": f"{scratch}/keras",
                           "COURSE_PROFILE": "full", "MPLBACKEND": "Agg"})  # the lesson's kernel inherits these
        try:
            cold = execute_lesson(LESSON, REPO / "build" / "cold")
            warm = execute_lesson(LESSON, REPO / "build")
        finally:
            os.environ.clear()
            os.environ.update(saved)
        store = Path(scratch) / "cache" / "results.json"
        measured = json.loads(store.read_text()) if store.is_file() else {}
    load_after = os.getloadavg()
    print(printed_figures(REPO / "build" / f"{LESSON}.ipynb"))
    print(f"\n{LESSON}: cold {cold.seconds:.1f} s ({cold.status}), warm {warm.seconds:.1f} s ({warm.status}); "
          f"target <= 120 s cold")
    print(f"load average (1, 5, 15 min) before {load_before[0]:.1f} {load_before[1]:.1f} {load_before[2]:.1f}, "
          f"after {load_after[0]:.1f} {load_after[1]:.1f} {load_after[2]:.1f} on {os.cpu_count()} cores")
    for name, entry in measured.items():  # what the lesson recorded during the cold run
        interval = tuple(entry["interval"]) if entry.get("interval") else None
        results.record(name, entry["measured"], interval, entry.get("chosen_on"), **entry["settings"])
    return 0 if cold.status == warm.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
