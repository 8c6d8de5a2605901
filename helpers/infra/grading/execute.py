"""nbgrader's ``Execute`` for untrusted notebooks: a sandboxed, limited kernel, and a notebook
that is always graded, whatever the code in it does.

``nbgrader_config.py`` puts :class:`GradingExecute` in place of ``Execute`` among the autograde
preprocessors, so every autograde of the course goes through it. On top of nbgrader's class it

* starts the kernel with :class:`helpers.infra.sandbox.SandboxKernelManager` (or, when the
  instructor chose ``--unsafe``, with the limits only: ``LimitedKernelManager``);
* when the kernel stops (it exited, crashed, or the watchdog stopped it at a limit), writes an
  error output saying why into the cell it was running and a ``NotRun`` error into every later
  code cell, instead of failing the whole notebook: nbgrader then scores the tasks reached
  before it stopped and gives 0 to the others;
* keeps at most ``Limits.output_bytes`` of output per notebook (errors, which decide scores, are
  kept, shortened): a cell that floods past it is interrupted and fails, and a kernel that keeps
  flooding is stopped;
* keeps only plain text and PNG/JPEG images from outputs (HTML and scripts a submission prints
  would run in the instructor's browser when formgrader shows it) and no widget state;
* never lets a test cell earn points from a number it displays (nbgrader reads an
  ``execute_result`` of a grade cell as partial credit, before any error that follows), and
  counts a cell whose reply says ``error`` as failed even when no error output arrived
  (nbgrader's own rule, kept here).
"""
from __future__ import annotations

import json
import time

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Bool

from helpers.infra import sandbox
from helpers.infra.grading.statuses import ENAMES, NOT_RUN

SAFE_MIME_TYPES = ("text/plain", "image/png", "image/jpeg")
ERROR_TEXT_LIMIT = 2000  # characters kept of one error's value and of its traceback
FLOOD_BYTES = 1_000_000  # output dropped in one cell before it is interrupted
FLOOD_GRACE_SECONDS = 10  # output still arriving this long after the interrupt: the kernel is stopped


class GradingExecute(Execute):
    """``Execute`` with the course's sandbox and limits (see the module docstring)."""

    sandbox = Bool(True, help="Run each kernel in the bubblewrap sandbox (False: limits only, "
                              "student code runs with the grader's permissions).").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.limits = sandbox.Limits.from_environment()
        self._reset()

    def _reset(self) -> None:
        self.stopped: tuple[str, str] | None = None  # (status, detail) once the kernel has stopped
        self.started_manager = None
        self.output_bytes = 0
        self.cell_dropped = 0
        self.cell_flooded_at: float | None = None  # when a flooding cell was interrupted

    def preprocess(self, nb, resources=None, km=None):
        if self.sandbox:
            problem = sandbox.sandbox_problem()
            if problem is not None:
                raise RuntimeError(sandbox.refusal(problem))
        self.kernel_manager_class = sandbox.SandboxKernelManager if self.sandbox else sandbox.LimitedKernelManager
        self._reset()
        try:
            return super().preprocess(nb, resources, km)
        except RuntimeError as error:  # the kernel did not start: say what it wrote before it died
            written = getattr(self.started_manager, "last_stderr", "").strip().splitlines()
            raise RuntimeError(f"{error}; the kernel wrote: {written[-1]}" if written else str(error)) from error

    def create_kernel_manager(self):
        self.started_manager = super().create_kernel_manager()
        return self.started_manager

    # ---------------------------------------------------------------- one cell at a time

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self.stopped is not None:
            status, _ = self.stopped
            cell.outputs = [_error(NOT_RUN, f"not run: the kernel had stopped earlier ({status})")]
            return cell, resources
        self.cell_dropped, self.cell_flooded_at = 0, None
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self.stopped = self._why_the_kernel_stopped()
        except CellTimeoutError:  # interrupted at the time limit but still busy: stop it
            self.km.stop(sandbox.TIMEOUT, f"still running {self.iopub_timeout} s after the interrupt")
            self.stopped = (sandbox.TIMEOUT, self.km.stop_detail)
        if self.stopped is not None:
            status, detail = self.stopped
            cell.outputs.append(_error(ENAMES[status], f"{status}: {detail}" if detail else status))
        elif self.cell_flooded_at is not None:
            cell.outputs.append(_error(ENAMES[sandbox.OUTPUT_LIMIT],
                                       f"more than {self.limits.output_bytes / 1e6:g} MB of output: interrupted"))
        return cell, resources

    def _why_the_kernel_stopped(self) -> tuple[str, str]:
        manager = self.km
        if manager is not None and manager.stop_reason is not None:
            return manager.stop_reason, manager.stop_detail
        code = manager.provisioner.process.poll() if manager and manager.provisioner and \
            manager.provisioner.process else None
        detail = f"exit code {code}" if code is not None else "it stopped responding"
        return sandbox.KERNEL_DIED, detail

    def on_cell_executed(self, **kwargs):
        cell, reply = kwargs["cell"], kwargs["execute_reply"]
        content = reply.get("content", {})
        if content.get("status") == "error":  # nbgrader copies these into the notebook: keep them short
            content["evalue"] = _short(str(content.get("evalue", "")))
            content["traceback"] = [_tail("\n".join(map(str, content.get("traceback", []))))]
        super().on_cell_executed(**kwargs)
        if utils.is_grade(cell):
            for output in cell.outputs:
                if output.output_type == "execute_result":  # shown, but never read as partial credit
                    output.output_type = "display_data"
                    output.pop("execution_count", None)

    # ---------------------------------------------------------------- outputs

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        if msg.get("msg_type") == "error":  # errors decide scores: kept, shortened, unless they flood too
            content["evalue"] = _short(str(content.get("evalue", "")))
            content["traceback"] = [_tail("\n".join(map(str, content.get("traceback", []))))]
            self.output_bytes += len(content["evalue"]) + len(content["traceback"][0])
            if self.output_bytes > 2 * self.limits.output_bytes:
                return None  # nbgrader still adds the error of the cell's reply (on_cell_executed)
            return super().output(outs, msg, display_id, cell_index)
        _keep_safe_data(content)
        size = _size(content)
        if self.output_bytes + size > self.limits.output_bytes:
            self._drop(outs, size)
            return None
        self.output_bytes += size
        return super().output(outs, msg, display_id, cell_index)

    def _drop(self, outs, size: int) -> None:
        if self.output_bytes <= self.limits.output_bytes:  # the first output over the limit
            self.output_bytes = self.limits.output_bytes + 1
            outs.append(NotebookNode(output_type="stream", name="stdout", text=(
                f"\n[output limit: this notebook printed more than {self.limits.output_bytes / 1e6:g} MB; "
                "further output is not kept]\n")))
        self.cell_dropped += size
        if self.cell_dropped > FLOOD_BYTES and self.cell_flooded_at is None:
            self.cell_flooded_at = time.monotonic()
            self.km.interrupt_now()
        elif self.cell_flooded_at is not None and time.monotonic() - self.cell_flooded_at > FLOOD_GRACE_SECONDS:
            self.km.stop(sandbox.OUTPUT_LIMIT, "kept printing after it was interrupted")

    def _update_display_id(self, display_id, msg):
        content = msg.get("content", {})
        _keep_safe_data(content)
        if self.output_bytes + _size(content) > self.limits.output_bytes:
            content["data"] = {"text/plain": "[output limit: display update not kept]"}
        super()._update_display_id(display_id, msg)

    def handle_comm_msg(self, outs, msg, cell_index):
        """Widgets are not kept: their state would be stored in the notebook unchecked."""


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _short(text: str) -> str:
    return text if len(text) <= ERROR_TEXT_LIMIT else text[:ERROR_TEXT_LIMIT] + " [...]"


def _tail(traceback: str) -> str:
    """The end of a traceback (where the error is) when it is too long to keep whole."""
    return traceback if len(traceback) <= ERROR_TEXT_LIMIT else "[...] " + traceback[-ERROR_TEXT_LIMIT:]


def _keep_safe_data(content: dict) -> None:
    """Drop every representation but plain text and PNG/JPEG images (HTML, JavaScript, SVG,
    Markdown would be rendered by formgrader in the instructor's browser)."""
    data = content.get("data")
    if not isinstance(data, dict):
        return
    removed = sorted(key for key in data if key not in SAFE_MIME_TYPES)
    for key in removed:
        del data[key]
    if removed and not data:
        data["text/plain"] = f"[{', '.join(removed)} output is not kept by the grader]"


def _size(content: dict) -> int:
    """Bytes an output adds to the notebook (its text or its data)."""
    if "text" in content:
        return len(str(content["text"]))
    return len(json.dumps(content.get("data", {}))) + len(json.dumps(content.get("metadata", {})))
