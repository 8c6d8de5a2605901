"""The nbgrader course directory: where it is, its lessons, nbgrader's API on it, and release."""
from __future__ import annotations

import re
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

from helpers.infra.lessons import FOLDERS

GRADEBOOK = "gradebook"
RELEASE = f"{GRADEBOOK}/release"  # student notebooks as the gradebook knows them; lessons/ is left alone

_EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b")


def course_root(course_dir: Path | None = None) -> Path:
    """The nbgrader course directory: ``course_dir`` or this repository."""
    root = Path(course_dir) if course_dir is not None else Path(__file__).resolve().parents[3]
    if not (root / "nbgrader_config.py").is_file():
        raise ValueError(f"expected an nbgrader course directory holding nbgrader_config.py, got {root}")
    return root.resolve()


def lesson_names(course_dir: Path | None = None) -> list[str]:
    """The course's lessons (``helpers.infra.lessons``) whose source notebook
    ``solutions/NN_name/NN_name.ipynb`` exists in this course directory, in order."""
    root = course_root(course_dir)
    return [name for name in FOLDERS if (root / "solutions" / name / f"{name}.ipynb").is_file()]


def nbgrader_api(root: Path, release_directory: str | None = None, unsafe: bool = False) -> NbGraderAPI:
    """An ``NbGraderAPI`` configured from the course's ``nbgrader_config.py``.

    The file is read on every call so that environment settings it honours (such as
    ``COURSE_CELL_TIMEOUT``) take effect. ``unsafe`` runs kernels without the sandbox.
    """
    # nbgrader_config.py also puts this environment's scripts on PATH (nbgrader runs `alembic`),
    # creates gradebook/, installs the sandboxed Execute and hides hidden tests in feedback.
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    if release_directory is not None:
        config.CourseDirectory.release_directory = release_directory
    if unsafe:
        config.GradingExecute.sandbox = False
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir, config=config)


def open_gradebook(course_dir: Path | None = None) -> Gradebook:
    """nbgrader's gradebook of the course (use as a context manager)."""
    return nbgrader_api(course_root(course_dir)).gradebook


def checked(result: dict, what: str) -> None:
    if not result.get("success"):
        raise RuntimeError(f"nbgrader {what} failed: {last_error(result)}")


def last_error(result: dict) -> str:
    """The most useful line of an nbgrader API result: the last exception it logged."""
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    exceptions = [line for line in lines if _EXCEPTION_LINE.match(line) and "see the the above" not in line]
    errors = [line for line in lines if line.startswith("[ERROR]")]
    return (exceptions or errors or lines or ["no message"])[-1][:300]


def release(course_dir: Path | None = None) -> list[str]:
    """Regenerate ``lessons/`` from ``solutions/`` for every lesson; returns the lesson names."""
    root = course_root(course_dir)
    names = lesson_names(root)
    if not names:
        raise ValueError(f"expected lessons in {root / 'solutions'} (NN_name/NN_name.ipynb), found none")
    api = nbgrader_api(root)
    for name in names:
        checked(api.generate_assignment(name, force=True, create=True), f"generate_assignment {name}")
    return names
