"""The instructor workflow around nbgrader: release the lessons, grade a class, write grades.

``release()`` regenerates ``lessons/`` from ``solutions/`` (``nbgrader generate_assignment``).
``grade(SUBMISSIONS)`` takes the folder an instructor actually receives (one folder per
student holding that student's notebooks), copies each notebook into nbgrader's
``gradebook/submitted/<student>/<lesson>/<lesson>.ipynb`` layout, autogrades it, writes
per-student HTML feedback and a grades CSV, and returns a :class:`GradingReport`.

nbgrader does the grading and keeps the gradebook; this package adds what nbgrader leaves
to the instructor, one module each:

* ``execute``: the autograde preprocessor every autograde of the course uses: each kernel in
  the sandbox of ``helpers.infra.sandbox``, with limits, and a notebook that is always graded
  (a dead kernel, a flood of output, a timeout each leave an error saying so);
* ``submissions``: matching loosely named files to lessons (see :func:`match_lesson`);
* ``statuses``: one status per row (``ok``, ``tampered``, ``memory limit``, ``cpu limit``,
  ``disk limit``, ``process limit``, ``kernel died``, ``output limit``, ``timeout``,
  ``invalid notebook``, ``missing``, ``unknown lesson``, ``error``);
* ``tampering``: an edited locked cell or a deleted graded cell costs its task the points;
* ``feedback``: feedback without hidden test code;
* ``rows``: the CSV and the summary; ``workflow``: :func:`grade`; ``course``: the course
  directory and :func:`release`.

Grading never touches ``lessons/``: the gradebook is synchronised from ``solutions/``
into ``gradebook/release/``.
"""
from helpers.infra.grading.course import GRADEBOOK, RELEASE, course_root, lesson_names, open_gradebook, release
from helpers.infra.grading.feedback import HideTestCode
from helpers.infra.grading.rows import COLUMNS, GradeRow, GradingReport, read_csv, write_csv
from helpers.infra.grading.submissions import Submission, find_submissions, match_lesson, read_submission
from helpers.infra.grading.tampering import Task, find_tampering, tasks
from helpers.infra.grading.workflow import SandboxUnavailable, grade, grading_jobs, max_score

__all__ = [
    "COLUMNS", "GRADEBOOK", "RELEASE", "GradeRow", "GradingReport", "HideTestCode", "SandboxUnavailable",
    "Submission", "Task", "course_root", "find_submissions", "find_tampering", "grade", "grading_jobs",
    "lesson_names", "match_lesson", "max_score", "open_gradebook", "read_csv", "read_submission", "release",
    "tasks", "write_csv",
]
