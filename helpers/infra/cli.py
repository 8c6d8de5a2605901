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


def _folder_asset_lines() -> tuple[list[str], list[str]]:
    """One line per folder asset (the flower photos: where they come from, how many verified) and problems."""
    from helpers.infra import assets

    lines, problems = [], []
    for name, asset in assets.FOLDER_ASSETS.items():
        found, looked = assets.inspect_folder(asset)
        if found is None:
            lines.append(f"  {name:38s} not local; would download {asset.url}")
            problems.append(f"{name}: MISSING locally ({'; '.join(looked)}); "
                            "set COURSE_ASSETS or connect to the internet to download it")
            continue
        lines.append(f"  {name:38s} {found}")
        problems += [f"{name}: {path}: {reason} (not used)" for path, reason in sorted(found.rejected.items())]
    return lines, problems


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
    folder_lines, folder_problems = _folder_asset_lines()
    lines, problems = lines + folder_lines, problems + folder_problems
    print("Assets (first good copy, in the order cache, mirror, system, download):")
    print("\n".join(lines))
    if problems:
        print("PROBLEMS:\n  " + "\n  ".join(problems))
        print("Fix: connect to the internet and run `python -m helpers assets fetch`, or set COURSE_ASSETS.")
        return 1
    from helpers.backbones import MOBILENET_WEIGHT_SIZES, weights_note

    print("Pretrained weights:")
    for size in MOBILENET_WEIGHT_SIZES:
        print(f"  {weights_note('mobilenet_v2', size)}")
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
        for names, fetch in ((assets.ASSETS, assets.fetch), (assets.FOLDER_ASSETS, assets.fetch_folder)):
            for name in names:
                try:
                    print(f"ok       {name}: {fetch(name)}")
                except assets.AssetError as error:
                    failed += 1
                    print(f"FAILED   {name}: {error}")
        return 1 if failed else 0
    lines, problems = _asset_lines()
    folder_lines, folder_problems = _folder_asset_lines()
    lines, problems = lines + folder_lines, problems + folder_problems
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


def hub_command(args: argparse.Namespace) -> int:
    from helpers.infra import hub

    deployment = hub.ClassDeployment()
    try:
        if args.action == "setup":
            hub.setup(deployment)
            print(f"set up: {deployment.root} (accounts {', '.join(deployment.accounts)}); "
                  "start it with `python -m helpers hub`")
            return 0
        if args.action == "remove":
            hub.remove(deployment)
            print(f"removed {deployment.root} and the accounts {', '.join(deployment.accounts)}")
            return 0
        return hub.serve(deployment, Path(args.log))
    except (OSError, RuntimeError) as error:  # not root, a port in use, a failed install: say which
        print(f"python -m helpers hub {args.action}: {error}", file=sys.stderr)
        return 1


def results_command(args: argparse.Namespace) -> int:
    from helpers.infra import results

    table = results.table()
    if args.json:
        print(json.dumps(table, indent=1, sort_keys=True))
    else:
        print(results.format_table(table))
    return 0


def cache_command(args: argparse.Namespace) -> int:
    """info: where the cache is, its size per function; clear: empty it; prune: keep it under a size."""
    from helpers.infra import cache

    if args.action == "clear":
        print(f"removed {cache.clear(args.function)} entries from {cache.cache_root()}")
        return 0
    if args.action == "prune":
        if not args.max_size:
            print("prune needs --max-size, e.g. --max-size 2GB", file=sys.stderr)
            return 2
        limit = cache.parse_size(args.max_size)
        print(f"removed {cache.prune(limit)} least recently used entries; {cache.describe(cache.total_bytes())} left "
              f"(limit {cache.describe(limit)})")
        return 0
    table = cache.summary()
    print(f"cache: {cache.cache_root()}  (bounded at {cache.describe(cache.max_bytes())}, COURSE_CACHE_MAX_GB)")
    for layer in cache.readonly_roots():
        print(f"read-only layer: {layer}")
    for function, row in table.items():
        print(f"  {function:60s} {row['entries']:5d} entries {cache.describe(row['bytes']):>10s}")
    print(f"total: {sum(r['entries'] for r in table.values())} entries, {cache.describe(cache.total_bytes())}")
    return 0


# --- photo classifiers (lesson 07): classify a photo, train on a folder of class subfolders


def default_model_path() -> Path:
    """Where lesson 07 saves its best flower classifier, and where ``classify`` looks by default."""
    from helpers.infra import assets

    return assets.cache_dir() / "models" / "flowers.keras"


def classify_command(args: argparse.Namespace) -> int:
    from helpers.photo_models import classify_photos

    try:
        classify_photos(args.photos, args.model or default_model_path(), top=args.top)
    except (FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    return 0


def train_folder_command(args: argparse.Namespace) -> int:
    from helpers.photo_training import train_on_folder
    from helpers.photos import PhotoFolderError

    try:
        trained = train_on_folder(args.folder, args.out, size=args.size, seed=args.seed)
    except (PhotoFolderError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{len(trained.class_names)} classes ({', '.join(trained.class_names)}); {trained.split}")
    print(f"validation accuracy {trained.validation}, test accuracy {trained.test} (95% intervals)")
    print(f"saved {trained.model_path}; classify a photo with:\n"
          f"  python -m helpers classify PHOTO --model {trained.model_path}")
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
    cache_parser = commands.add_parser("cache", help="show, clear or prune the course cache")
    cache_parser.add_argument("action", choices=["info", "clear", "prune"])
    cache_parser.add_argument("--function", help="clear: only this function's entries (e.g. extract_features)")
    cache_parser.add_argument("--max-size", help="prune: the size to keep the cache under, e.g. 2GB or 500MB")
    cache_parser.set_defaults(func=cache_command)
    hub_parser = commands.add_parser("hub", help="a class on this machine: JupyterHub with nbgrader's exchange (as root)")
    hub_parser.add_argument("action", nargs="?", default="start", choices=["start", "setup", "remove"],
                            help="start (default; sets up first), setup only, or remove the deployment")
    hub_parser.add_argument("--log", default="build/hub.log", help="JupyterHub's log (default: build/hub.log)")
    hub_parser.set_defaults(func=hub_command)
    results_parser = commands.add_parser("results", help="measured figures next to their targets")
    results_parser.add_argument("--json", action="store_true", help="one JSON object keyed by figure name")
    results_parser.set_defaults(func=results_command)
    classify = commands.add_parser("classify", help="top-3 classes of a photo, from a saved photo classifier")
    classify.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files (JPEG, PNG, BMP or GIF), any size")
    classify.add_argument("--model", help="a .keras classifier (default: lesson 07's, in the course cache)")
    classify.add_argument("--top", type=int, default=3, help="how many classes to print (default 3)")
    classify.set_defaults(func=classify_command)
    train_folder = commands.add_parser("train-folder", help="train a photo classifier on a folder of class subfolders")
    train_folder.add_argument("folder", help="a folder holding one subfolder of photos per class")
    train_folder.add_argument("--out", required=True, help="the .keras file to write")
    train_folder.add_argument("--size", type=int, default=160, help="the model's input size in pixels (default 160)")
    train_folder.add_argument("--seed", type=int, default=0)
    train_folder.set_defaults(func=train_folder_command)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
