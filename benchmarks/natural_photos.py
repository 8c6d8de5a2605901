"""Lesson 07 (natural photos): its time with a cold and a warm cache, the memory of streaming the
photo folder, the figures it recorded, and the run the lesson keeps to one seed (MobileNetV2 from
random weights) repeated with three.

    python benchmarks/natural_photos.py [--skip-lesson] [--skip-memory] [--random-seeds 0,1,2]

The lesson runs twice in a fresh COURSE_CACHE and KERAS_HOME (full profile): the first run
computes everything, the second reads it back. Its times are recorded as
``photos_lesson_seconds_cold`` / ``_warm``, and the figures it recorded in the fresh cache are
copied into this cache's results. The machine's load average and the CPU seconds used are printed
with every time: on a shared machine the wall time measured under load is not the lesson's, while
the CPU seconds barely depend on the load.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LESSON = "07_natural_photos"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


def streaming_memory(size: int = 224) -> None:
    """Peak memory while every photo of the folder streams through photo_dataset at ``size`` px."""
    from helpers import photos

    folder = photos.flower_photos()
    batches = photos.photo_dataset(folder.paths, folder.labels, size=size, batch_size=32)
    next(iter(batches))  # TensorFlow and the pipeline are set up; from here on only photos add memory
    before, start = peak_rss_mb(), time.perf_counter()
    count = sum(len(images) for images, _ in batches)
    seconds = time.perf_counter() - start
    naive = count * size * size * 3 * 4 / 1e6
    print(f"streaming {count:,} photos at {size} px: peak memory grew by {peak_rss_mb() - before:.0f} MB "
          f"(all of them as one float32 array: {naive:,.0f} MB); {count / seconds:.0f} photos/s decoded and resized "
          f"({load()})")


def lesson_times() -> None:
    """Run the lesson cold then warm in a fresh cache; record both times and the lesson's figures."""
    from helpers.infra import results

    with tempfile.TemporaryDirectory(prefix="lesson07-") as scratch:
        env = {**os.environ, "COURSE_CACHE": f"{scratch}/cache", "KERAS_HOME": f"{scratch}/keras",
               "COURSE_PROFILE": "full"}
        env = {name: value for name, value in env.items() if not name.startswith("COURSE_PARAM_")}
        seconds = {}
        for run in ("cold", "warm"):
            print(f"lesson {run} run starts ({load()})", flush=True)
            build = Path(scratch) / f"build-{run}"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-m", "helpers", "run", LESSON, "--build", str(build)], cwd=REPO,
                           env=env, check=False)
            (entry,) = json.loads((build / "run.json").read_text())
            if entry["status"] != "ok":
                raise SystemExit(f"lesson {LESSON} failed in the {run} run: {entry['status']}")
            seconds[run] = entry["seconds"]
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            print(f"lesson {run}: {entry['seconds']:.1f} s wall, {cpu:.0f} CPU seconds (runner and kernel; on a quiet "
                  f"machine the wall time is about the CPU seconds divided by the cores TensorFlow keeps busy) "
                  f"({load()})", flush=True)
        measured = json.loads((Path(scratch) / "cache" / "results.json").read_text())
    for name, entry in measured.items():
        interval = tuple(entry["interval"]) if entry.get("interval") else None
        results.record(name, entry["measured"], interval, entry.get("chosen_on"), **entry.get("settings", {}))
    results.record("photos_lesson_seconds_cold", seconds["cold"], cpu_cores=os.cpu_count(), load=load())
    results.record("photos_lesson_seconds_warm", seconds["warm"], cpu_cores=os.cpu_count(), load=load())


def random_mobilenet(seeds: list[int], per_class: int = 50) -> None:
    """MobileNetV2 from random weights with several seeds, beside the scratch CNN and the frozen recipe."""
    from helpers import photo_training
    from helpers.evaluation import compare

    split = photo_training.lesson_split(min_size=224)
    frozen = photo_training.FrozenRecipe(size=224)
    scratch = photo_training.PixelRecipe("cnn", size=64)
    start = time.perf_counter()
    rows = [photo_training.frozen_approach(split, frozen, per_class, seeds),
            photo_training.pixel_approach(split, scratch, per_class, seeds),
            photo_training.pixel_approach(split, photo_training.PixelRecipe("random_mobilenet", size=64), per_class,
                                          seeds)]
    print(photo_training.comparison_table(rows))
    print(compare(rows[2].name, rows[2].test, rows[1].name, rows[1].test))
    print(f"({time.perf_counter() - start:.0f} s with what the cache already held; {load()})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-lesson", action="store_true", help="do not run the lesson cold and warm")
    parser.add_argument("--skip-memory", action="store_true", help="do not measure streaming memory")
    parser.add_argument("--random-seeds", default="0,1,2", help="seeds of MobileNetV2 from random weights ('' skips)")
    args = parser.parse_args()
    if not args.skip_memory:
        streaming_memory()
    if not args.skip_lesson:
        lesson_times()
    seeds = [int(seed) for seed in args.random_seeds.split(",") if seed.strip()]
    if seeds:
        random_mobilenet(seeds)
    from helpers.infra import results

    rows = {name: row for name, row in results.table().items() if name.startswith("photos_")}
    print(results.format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
