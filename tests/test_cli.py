"""The command line, run as a user runs it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=600,
    )


def test_doctor_passes_with_the_mirror_and_names_sources() -> None:
    done = run_cli("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "TensorFlow  2.21" in done.stdout and "OK: the course can run." in done.stdout
    assert "mobilenet_v2_96_no_top" in done.stdout


def test_assets_verify_fails_naming_a_corrupt_file(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(os.environ["COURSE_ASSETS"], mirror)
    victim = mirror / "datasets" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:100])
    env = {"COURSE_ASSETS": str(mirror), "COURSE_CACHE": str(tmp_path / "cache"), "KERAS_HOME": str(tmp_path / "keras")}
    done = run_cli("assets", "verify", env=env)
    assert done.returncode == 1
    assert "fashion-mnist/t10k-labels-idx1-ubyte: CORRUPT" in done.stdout
    assert "t10k-labels-idx1-ubyte.gz" in done.stdout
    good = run_cli("assets", "verify", env={**env, "COURSE_ASSETS": os.environ["COURSE_ASSETS"]})
    assert good.returncode == 0 and "all 21 assets verified" in good.stdout


def test_results_json_has_every_figure_with_target_and_direction(tmp_path: Path) -> None:
    done = run_cli("results", "--json", env={"COURSE_CACHE": str(tmp_path)})
    table = json.loads(done.stdout)
    assert table["fashion_frozen_accuracy"]["target"] == 0.87
    assert table["fashion_frozen_accuracy"]["better"] == "higher"
    assert table["course_seconds_warm"]["better"] == "lower"
    assert all({"measured", "target", "better"} <= set(row) for row in table.values())


def test_results_reads_recorded_figures(tmp_path: Path) -> None:
    env = {"COURSE_CACHE": str(tmp_path), "COURSE_PROFILE": "full"}  # only full runs record figures
    subprocess.run([sys.executable, "-c", "from helpers.infra import results; results.record('mnist_finetuned_accuracy', 0.975, epochs=3)"],
                   check=True, env={**os.environ, **env}, cwd=REPO)
    table = json.loads(run_cli("results", "--json", env=env).stdout)
    assert table["mnist_finetuned_accuracy"]["measured"] == 0.975
    assert table["mnist_finetuned_accuracy"]["met"] is False
    assert table["mnist_finetuned_accuracy"]["settings"] == {"epochs": 3}
    assert "NO" in run_cli("results", env=env).stdout


def test_run_rejects_an_unknown_lesson() -> None:
    done = run_cli("run", "99_nothing")
    assert done.returncode == 2 and "unknown lesson '99_nothing'" in done.stderr
