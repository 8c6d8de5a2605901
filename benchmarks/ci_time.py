"""Time of the full CI run (.ci/run) on a fresh clone of HEAD, as CI runs it.

The clone is made beside the repository so that ../shared/assets resolves as in
CI. Prints the seconds and records them for `python -m helpers results`.

    python benchmarks/ci_time.py
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.infra import results

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 900


def main() -> int:
    clone = Path(tempfile.mkdtemp(prefix="ci-clone-", dir=REPO.parent))
    try:
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "KERAS_HOME"))}
        start = time.perf_counter()
        done = subprocess.run(["bash", ".ci/run"], cwd=clone, env={**env, "CI": "true"}, stdin=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    print(f".ci/run on a fresh clone: exit {done.returncode} in {seconds:.0f} s (target <= {TARGET_SECONDS} s)")
    results.record("ci_seconds", seconds, exit_code=done.returncode, cpu_cores=os.cpu_count())
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
