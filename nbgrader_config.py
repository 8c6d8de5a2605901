"""nbgrader course directory: the repository itself.

source = solutions/ (instructor notebooks), release = lessons/ (student notebooks).
Everything grading produces (submissions, autograded copies, feedback, the
gradebook database) lives under gradebook/, which git ignores.
"""
import os
import sys

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.submitted_directory = "gradebook/submitted"
c.CourseDirectory.autograded_directory = "gradebook/autograded"
c.CourseDirectory.feedback_directory = "gradebook/feedback"
_gradebook = os.path.join(c.CourseDirectory.root, "gradebook")
os.makedirs(_gradebook, exist_ok=True)  # sqlite does not create the folder of its database
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_gradebook, "gradebook.db")
# nbgrader migrates its database by running `alembic`, found on PATH: make the
# environment running nbgrader (e.g. .venv/bin, not activated) visible to it.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

# nbgrader's default of 30 s per cell kills training cells. Graded runs use each
# lesson's quick profile (nbgrader sets NBGRADER_EXECUTION), whose slowest cell
# takes well under this; an answer that loops forever is stopped here.
c.Execute.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "300"))
c.Execute.interrupt_on_timeout = True
c.Execute.kernel_name = "python3"

# Student notebooks keep the code stub nbgrader inserts in place of solutions.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# nbgrader waits only 4 s for a cell's output after its reply, then fails the whole
# notebook; on a loaded 2-core machine output can arrive later than that.
c.Execute.iopub_timeout = 60

# Feedback must not reveal hidden tests (nbgrader shows them by design, jupyter/nbgrader#917).
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from helpers.infra.grading import HideTestCode  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, HideTestCode, CSSHTMLHeaderPreprocessor]
