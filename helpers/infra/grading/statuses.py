"""The status of a graded submission, and how it is read from the autograded notebook.

Whatever stopped or limited a kernel is written into the autograded notebook as an error
output with a distinctive ``ename`` (by ``helpers.infra.grading.execute``), so nbgrader scores
that cell 0 and formgrader shows the instructor what happened. The grades CSV reads the same
outputs back: one status per submission, the most serious first.
"""
from __future__ import annotations

from nbformat import NotebookNode

from helpers.infra import sandbox

OK = "ok"
TAMPERED = "tampered"
ERROR = "error"
INVALID = "invalid notebook"
MISSING = "missing"
UNKNOWN_LESSON = "unknown lesson"

# The ename of the error output each stop reason leaves in the cell where it happened.
ENAMES = {
    sandbox.MEMORY_LIMIT: "MemoryLimitExceeded",
    sandbox.CPU_LIMIT: "CPULimitExceeded",
    sandbox.DISK_LIMIT: "DiskLimitExceeded",
    sandbox.PROCESS_LIMIT: "ProcessLimitExceeded",
    sandbox.KERNEL_DIED: "KernelDied",
    sandbox.OUTPUT_LIMIT: "OutputLimitExceeded",
    sandbox.TIMEOUT: "CellTimeoutError",  # nbgrader's own name for a cell stopped at its time limit
}
NOT_RUN = "NotRun"  # cells after the kernel stopped
STATUS_OF_ENAME = {ename: status for status, ename in ENAMES.items()} | {"MemoryError": sandbox.MEMORY_LIMIT}
# One status per row: the first that applies, in this order.
SEVERITY = (TAMPERED, sandbox.MEMORY_LIMIT, sandbox.CPU_LIMIT, sandbox.DISK_LIMIT, sandbox.PROCESS_LIMIT,
            sandbox.KERNEL_DIED, sandbox.OUTPUT_LIMIT, sandbox.TIMEOUT, OK)
GRADED = SEVERITY  # rows with a score from the gradebook (the others have none)


def cell_name(cell: NotebookNode, index: int) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")


def kernel_events(autograded: NotebookNode) -> dict[str, list[str]]:
    """Status -> the cells where it happened, from the error outputs of an autograded notebook."""
    events: dict[str, list[str]] = {}
    for index, cell in enumerate(autograded.cells):
        for output in cell.get("outputs", []):
            status = STATUS_OF_ENAME.get(output.get("ename", "")) if output.get("output_type") == "error" else None
            if status is not None and cell_name(cell, index) not in events.get(status, []):
                events.setdefault(status, []).append(cell_name(cell, index))
    return events


def not_run(autograded: NotebookNode) -> list[str]:
    """Graded cells that never ran because the kernel had stopped before them."""
    return [cell_name(cell, index) for index, cell in enumerate(autograded.cells)
            if cell.metadata.get("nbgrader", {}).get("grade")
            and any(output.get("ename") == NOT_RUN for output in cell.get("outputs", []))]


def worst(statuses: set[str]) -> str:
    """The status a row shows when several apply."""
    return next((status for status in SEVERITY if status in statuses), OK)
