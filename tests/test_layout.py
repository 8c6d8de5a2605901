"""The architecture, checked: what the lessons teach (helpers/) never depends on grading, the runner or
the command line (helpers/infra/), and the code is lint-clean."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

ML_MODULES = sorted(path for path in (REPO / "helpers").glob("*.py") if path.name != "__main__.py")
# the infrastructure the ML code may use: where assets come from, the cache, recorded figures, the lesson list
ALLOWED_INFRA = {"helpers.infra", "helpers.infra.assets", "helpers.infra.cache", "helpers.infra.results",
                 "helpers.infra.lessons"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module in ("helpers", "helpers.infra"):  # packages: the imported names are modules
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", ML_MODULES, ids=lambda path: path.name)
def test_the_ml_modules_never_import_grading_the_runner_or_the_cli(path: Path) -> None:
    infra = {name for name in imported_modules(path) if name.startswith("helpers.infra")}
    assert infra <= ALLOWED_INFRA, f"{path.name} imports {sorted(infra - ALLOWED_INFRA)}"


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    offender = tmp_path / "offender.py"
    offender.write_text("def f():\n    from helpers.infra import grading\n    return grading\n")
    assert "helpers.infra.grading" in imported_modules(offender) - ALLOWED_INFRA


def test_the_code_is_ruff_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
