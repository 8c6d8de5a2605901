"""Command line: python -m helpers <command>. See README.md for every command."""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _asset_lines() -> tuple[list[str], list[str]]:
    """One line per asset (where it comes from) and the problems found."""
    from helpers.infra import assets

    report = assets.verify_all()
    lines = []
    for name, copies in report.items():
        good = next((c for c in copies if c.state == "ok"), None)
        where = f"{good.source}: {good.path}" if good else f"not local; would download {assets.ASSETS[name].url}"
        lines.append(f"  {name:38s} {where}")
    return lines, assets.problems(report)


def doctor(_: argparse.Namespace) -> int:
    """Versions, hardware, configuration and asset sources; 0 only if the course can run."""
    from helpers.infra import assets

    print(f"Python      {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores")
    try:
        import keras
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        print(f"TensorFlow  {tf.__version__}   Keras {keras.__version__}   GPU: {', '.join(g.name for g in gpus) or 'none (CPU)'}")
    except ImportError as error:
        print(f"TensorFlow  MISSING ({error}): run the set-up command in README.md")
        return 1
    import nbgrader
    import numpy

    print(f"numpy       {numpy.__version__}   nbgrader {nbgrader.__version__}")
    print(f"COURSE_ASSETS = {assets.mirror_dir() or '(unset: no offline mirror)'}")
    print(f"COURSE_CACHE  = {assets.cache_dir()}")
    print(f"KERAS_HOME    = {assets.keras_home()}")
    assets.cache_dir().mkdir(parents=True, exist_ok=True)
    if not os.access(assets.cache_dir(), os.W_OK):
        print(f"PROBLEM: the cache {assets.cache_dir()} is not writable; set COURSE_CACHE")
        return 1
    lines, problems = _asset_lines()
    print("Assets (first good copy, in the order cache, mirror, system, download):")
    print("\n".join(lines))
    if problems:
        print("PROBLEMS:\n  " + "\n  ".join(problems))
        print("Fix: connect to the internet and run `python -m helpers assets fetch`, or set COURSE_ASSETS.")
        return 1
    from helpers.infra import sandbox

    problem = sandbox.sandbox_problem()
    print(f"Grading sandbox: {'ready (bubblewrap)' if problem is None else 'not available (' + problem + ')'}; "
          "only instructors who grade need it")
    print("OK: the course can run.")
    return 0


def assets_command(args: argparse.Namespace) -> int:
    """verify: check every asset locally; fetch: also download or copy what is missing."""
    from helpers.infra import assets

    if args.action == "fetch":
        failed = 0
        for name in assets.ASSETS:
            try:
                print(f"ok       {name}: {assets.fetch(name)}")
            except assets.AssetError as error:
                failed += 1
                print(f"FAILED   {name}: {error}")
        return 1 if failed else 0
    lines, problems = _asset_lines()
    print("\n".join(lines))
    if problems:
        print(f"{len(problems)} problem(s):\n  " + "\n  ".join(problems))
        return 1
    print(f"all {len(lines)} assets verified (SHA-256)")
    return 0


def run_command(args: argparse.Namespace) -> int:
    from helpers.infra import runner

    try:
        lessons = runner.resolve_lessons(args.lessons)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    runs = runner.run_lessons(lessons, Path(args.build))
    return 0 if all(r.status == "ok" for r in runs) else 1


def release_command(_: argparse.Namespace) -> int:
    from helpers.infra import grading

    released = grading.release()
    print(f"released {len(released)} lessons into lessons/: {', '.join(released)}")
    return 0


def grade_command(args: argparse.Namespace) -> int:
    from helpers.infra import grading

    try:
        report = grading.grade(Path(args.submissions), Path(args.out) if args.out else None, unsafe=args.unsafe)
    except grading.SandboxUnavailable as refusal:
        print(refusal, file=sys.stderr)
        return 2
    print(report.summary)
    return 0


def results_command(args: argparse.Namespace) -> int:
    from helpers.infra import results

    table = results.table()
    if args.json:
        print(json.dumps(table, indent=1, sort_keys=True))
    else:
        print(results.format_table(table))
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m helpers", description="Transfer-learning course tools")
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="versions, hardware, where each asset comes from").set_defaults(func=doctor)
    assets_parser = commands.add_parser("assets", help="verify or fetch the datasets, weights and photos")
    assets_parser.add_argument("action", choices=["verify", "fetch"])
    assets_parser.set_defaults(func=assets_command)
    run = commands.add_parser("run", help="execute lessons headless into build/")
    run.add_argument("lessons", nargs="*", help="lesson names or numbers (all by default)")
    run.add_argument("--build", default="build", help="output folder (default: build)")
    run.set_defaults(func=run_command)
    commands.add_parser("release", help="regenerate lessons/ from solutions/ with nbgrader").set_defaults(func=release_command)
    grade = commands.add_parser("grade", help="autograde a folder of student submissions")
    grade.add_argument("submissions", help="a folder holding one folder per student")
    grade.add_argument("--out", help="grades CSV (default: grades.csv in the course directory)")
    grade.add_argument("--unsafe", action="store_true",
                       help="run student code WITHOUT the sandbox, with your permissions (only where none can be made)")
    grade.set_defaults(func=grade_command)
    results_parser = commands.add_parser("results", help="measured figures next to their targets")
    results_parser.add_argument("--json", action="store_true", help="one JSON object keyed by figure name")
    results_parser.set_defaults(func=results_command)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
