"""Feedback without hidden test code (nbgrader shows it by design, jupyter/nbgrader#917)."""
from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests


class HideTestCode(ClearHiddenTests):
    """Feedback preprocessor: remove hidden test regions, and shorten the tracebacks of test
    cells to their last line (a traceback quotes the failing line of a hidden test)."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if utils.is_grade(cell) and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
