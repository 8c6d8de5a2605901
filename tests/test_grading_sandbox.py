"""Hostile submissions, graded end to end by real nbgrader in the sandbox (issue 14).

One class of lesson-01 notebooks, each trying one way to get points without the work or to
harm the grader: talking the hidden test round (rebinding the name it compared against,
patching NumPy's testing functions, redefining builtins), silencing tracebacks, calling the
forbidden helper, typing a number, writing outside its scratch folder and reading solutions/,
killing its kernel, allocating past the memory limit, printing without end. Each trick has
its own fast test (tests/test_sandbox.py, tests/test_hidden_tests.py); here they run for real. The checks: each
gets the score and status it deserves, the honest student's row is as it would be alone, and
no file of the course, the grader's home or the instructor's cache changed.
"""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import nbformat
import pytest
from grading_class import LESSON, REPO, SMALL_EXPERIMENT, Lesson, copy_course, write

from helpers.infra import grading, sandbox

pytestmark = pytest.mark.slow
if sandbox.sandbox_problem() is not None and os.environ.get("COURSE_REQUIRE_SANDBOX") != "1":
    pytest.skip(f"no sandbox here: {sandbox.sandbox_problem()}", allow_module_level=True)

MARKER = uuid.uuid4().hex[:12]  # names the files a hostile notebook tries to create
LIMITS = {"COURSE_CELL_TIMEOUT": "120", "COURSE_GRADING_MEMORY_GB": "3", "COURSE_GRADING_OUTPUT_MB": "2"}
WRONG_PREPROCESS = '''
def preprocess(images):
    gray = tf.convert_to_tensor(images[..., np.newaxis], dtype=tf.float32)
    rgb = tf.image.grayscale_to_rgb(tf.image.resize(gray, (96, 96)))
    return np.asarray(rgb / 255.0, dtype=np.float32)  # in [0, 1]: passes the visible test, not MobileNetV2's range
'''


def escape_attempts(course: Path, cache: Path) -> str:
    targets = [REPO / "helpers" / f"escape_{MARKER}.py", course / "solutions" / f"escape_{MARKER}.txt",
               Path.home() / f"escape_{MARKER}.txt", cache / f"escape_{MARKER}.txt",
               course / "gradebook" / f"escape_{MARKER}.txt", Path(f"/tmp/escape_{MARKER}.txt")]
    secrets = [course / "solutions" / LESSON / f"{LESSON}.ipynb", course / "gradebook" / "gradebook.db"]
    return f'''
import os, socket
for target in {[str(path) for path in targets]!r}:
    try:
        open(target, "w").write("escaped")
        print("ESCAPED: wrote", target)
    except OSError as error:
        print("refused", type(error).__name__)
for secret in {[str(path) for path in secrets]!r}:
    try:
        print("ESCAPED: read", len(open(secret, "rb").read()), "bytes of", secret)
    except OSError as error:
        print("hidden", type(error).__name__)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("ESCAPED: network")
except OSError:
    print("no network")
'''


def tree_digest(*folders: Path, skip: str = "gradebook") -> str:
    """One hash of every file under ``folders`` (paths and contents), leaving out ``skip``."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and skip not in path.relative_to(folder).parts and "__pycache__" not in path.parts:
                digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = copy_course(tmp_path_factory.mktemp("course"))
    grading.release(course)
    return course


@pytest.fixture(scope="module")
def instructor_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("instructor-cache")
    (cache / "results.json").write_text("{}")
    return cache


@pytest.fixture(scope="module")
def graded(course, instructor_cache, tmp_path_factory):
    """The hostile class, graded; with the digests of what must not change, taken before and after."""
    lesson = Lesson(course)
    task1, task2 = lesson.tasks
    (answer1,), (answer2,) = lesson.answers(task1), lesson.answers(task2)
    solution2 = lesson.solutions[answer2]
    students = {
        "alice": {},  # the honest student
        "talker": {answer1: WRONG_PREPROCESS + "adapt_images = preprocess\nnp.testing.assert_allclose = "
                   "lambda *args, **kwargs: None\nabs = lambda value: 0\nisinstance = lambda *args: True",
                   answer2: "def array_gb(n_images, size, channels=3):\n    return 8.064 * channels / 3  # typed"},
        "silent": {answer1: "get_ipython().showtraceback = lambda *args, **kwargs: None\n"
                   "def preprocess(images):\n    return adapt_images(images, 'mobilenet_v2', 96)  # forbidden"},
        "escaper": {answer2: solution2 + escape_attempts(course, instructor_cache)},
        "quitter": {answer1: "import os\nos._exit(0)"},
        "killer": {answer2: "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"},
        "hog": {answer2: "blocks = []\nwhile True:\n    blocks.append(np.ones(2**26))  # 512 MB at a time"},
        "flooder": {answer2: "while True:\n    print('x' * 1000)"},
    }
    folder = tmp_path_factory.mktemp("hostile")
    for student, answers in students.items():
        notebook = lesson.submission(lesson.tasks, replace=answers)
        if student == "escaper":  # script for the instructor's browser, in a Markdown cell formgrader will render
            notebook.cells.append(nbformat.v4.new_markdown_cell(f"<script>fetch('/api/{MARKER}')</script>"))
        write(folder, f"{student}/{LESSON}.ipynb", notebook)
    protected = (course / "solutions", course / "lessons", REPO / "helpers", instructor_cache)
    before = tree_digest(*protected) + hashlib.sha256((course / "nbgrader_config.py").read_bytes()).hexdigest()
    changes = {**LIMITS, **SMALL_EXPERIMENT, "COURSE_CACHE": str(instructor_cache)}
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        report = grading.grade(folder, out=folder / "grades.csv", course_dir=course)
    finally:
        for name, value in saved.items():
            os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)
    after = tree_digest(*protected) + hashlib.sha256((course / "nbgrader_config.py").read_bytes()).hexdigest()
    return report, lesson, before, after


def row(graded, student: str) -> grading.GradeRow:
    return graded[0].row(student, LESSON)


def autograded(course: Path, student: str) -> nbformat.NotebookNode:
    return nbformat.read(course / "gradebook" / "autograded" / student / LESSON / f"{LESSON}.ipynb", as_version=4)


def text(notebook: nbformat.NotebookNode) -> str:
    return "".join(str(output.get("text", "")) for cell in notebook.cells for output in cell.get("outputs", []))


def test_the_honest_student_is_graded_as_alone(graded):
    alice = row(graded, "alice")
    assert (alice.score, alice.max_score, alice.status, alice.message) == (5, 5, "ok", "")


def test_talking_round_the_hidden_tests_and_typing_a_number_earn_nothing(graded):
    talker = row(graded, "talker")
    assert (talker.score, talker.status) == (0, "ok")
    assert "01_preprocess_test" in talker.message and "01_naive_memory_test" in talker.message


def test_a_forbidden_call_fails_even_with_tracebacks_silenced(graded):
    silent = row(graded, "silent")
    assert (silent.score, silent.status) == (2, "ok") and "01_preprocess_test" in silent.message
    assert "review by hand: 01_preprocess uses get_ipython, showtraceback" in silent.message


def test_the_sandbox_kept_the_course_the_home_and_the_cache_unchanged(graded, course, instructor_cache):
    report, _, before, after = graded
    assert before == after
    assert not list(REPO.glob(f"**/escape_{MARKER}*")) and not (Path.home() / f"escape_{MARKER}.txt").exists()
    assert not Path(f"/tmp/escape_{MARKER}.txt").exists() and not list(course.glob(f"**/escape_{MARKER}*"))
    escaper = autograded(course, "escaper")
    outputs = text(escaper)
    assert "ESCAPED" not in outputs
    assert f"&lt;script&gt;fetch('/api/{MARKER}')" in escaper.cells[-1].source and "<script>" not in str(escaper)
    assert outputs.count("refused") == 6 and outputs.count("hidden") == 2 and "no network" in outputs
    assert (row(graded, "escaper").score, row(graded, "escaper").status) == (5, "ok")


def test_a_kernel_that_quits_at_the_first_task_scores_nothing(graded):
    quitter = row(graded, "quitter")
    assert (quitter.score, quitter.status) == (0, "kernel died")
    assert "not run (the kernel had stopped): 01_preprocess_test, 01_naive_memory_test" in quitter.message


@pytest.mark.parametrize("student, status", [("killer", "kernel died"), ("hog", "memory limit"),
                                             ("flooder", "output limit")])
def test_a_stopped_kernel_keeps_the_points_of_the_tasks_before(graded, student, status):
    assert (row(graded, student).score, row(graded, student).status) == (3, status)


def test_a_flood_leaves_small_files(graded, course):
    flooder = course / "gradebook" / "autograded" / "flooder" / LESSON / f"{LESSON}.ipynb"
    alice = course / "gradebook" / "autograded" / "alice" / LESSON / f"{LESSON}.ipynb"
    assert flooder.stat().st_size < alice.stat().st_size + 2.5e6
    assert (course / row(graded, "flooder").feedback).stat().st_size < 4e6


def test_every_student_has_one_submission_in_the_gradebook_with_the_csv_score(graded, course):
    report = graded[0]
    with grading.open_gradebook(course) as gradebook:
        scores = {s.student.id: s.score for s in gradebook.find_assignment(LESSON).submissions}
    assert scores == {row.student: row.score for row in report.rows}
