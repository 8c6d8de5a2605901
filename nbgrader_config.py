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

# Student code is untrusted: every autograde (python -m helpers grade, nbgrader autograde,
# formgrader's button) runs each notebook's kernel in the sandbox, with the limits of
# helpers.infra.sandbox.Limits (memory, CPU time, output, wall time per cell; environment
# variables in the README). Without a sandbox it refuses, unless COURSE_GRADING_UNSAFE=1.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbconvert.preprocessors.sanitize import SanitizeHTML  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from helpers.infra import sandbox  # noqa: E402
from helpers.infra.grading.execute import GradingExecute  # noqa: E402

c.Autograde.autograde_preprocessors = [GradingExecute, SanitizeHTML, IgnorePattern, ClearMetadataPreprocessor,
                                       LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.GradingExecute.sandbox = not sandbox.unsafe_requested()
# nbgrader's default of 30 s per cell kills training cells. Graded runs use each
# lesson's quick profile (nbgrader sets NBGRADER_EXECUTION), whose slowest cell
# takes well under the default; an answer that loops forever is stopped here.
c.Execute.timeout = sandbox.Limits.from_environment().cell_timeout
c.Execute.interrupt_on_timeout = True
# HTML a submission wrote (Markdown cells, outputs) would run in the instructor's browser in
# formgrader: SanitizeHTML above escapes it in the autograded notebook (keeping the harmless
# tags the lessons' prose uses), and feedback sanitizes too.
c.SanitizeHTML.enabled = True  # nbconvert's preprocessors are off unless enabled
c.SanitizeHTML.tags = ["a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i",
                       "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead",
                       "tr", "ul"]
c.HTMLExporter.sanitize_html = True
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
