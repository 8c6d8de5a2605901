"""Hidden tests of the solution notebooks, run outside nbgrader against right and wrong answers.

How a hidden test is written (issue 14), so that code in the student's notebook cannot talk
it round. Student code runs in the same process, before the test, so it can rebind any name
of the notebook, redefine builtins (``abs``, ``len``, ``isinstance``...), patch NumPy or the
course's helpers, and return objects whose ``==`` always says yes. A hidden test therefore

1. is one function, called at once and deleted, whose parameters bind everything the verdict
   uses when the test starts: the student's answers (``preprocess=preprocess``) and the
   builtins, taken from literals that no code can rebind (``float=(0.0).__class__``,
   ``int=(0).__class__``, ``tuple=().__class__``, ``str="".__class__``,
   ``type=().__class__.__class__``);
2. compares plain Python values only (``tuple(int(n) for n in shape) == (8, 1280)``,
   ``-1e-4 < float(value) - expected < 1e-4``) with plain ``assert``: no ``np.testing``, no
   ``helpers.checks``, no reference computed after the student's code ran;
3. takes its expected values from constants written in the test when the lesson is released,
   named in capitals (``EXPECTED = {...}``); ``tests/test_hidden_tests.py`` recomputes each
   constant from the reference implementation, so they cannot drift from the course's code;
4. asks for what the student computes on inputs it chooses (a function called on other
   images, sizes or models), never for a value printed in the lesson or a constant shape;
5. for "do not call X", replaces X's code while the student's function runs
   (``X.__code__ = forbidden.__code__``, restored in ``finally``), so a call through any name
   or any other helper fails.

What it cannot stop: code written to subvert the interpreter or the kernel itself (input or
AST transformers, patched IPython internals, frame or ``gc`` tricks, a changed ``sys.modules``
entry). The README's threat model says so.

This module finds those tests and runs them in a namespace standing in for the notebook's.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[1]
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
SOLUTION = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n", re.S)


def _cell(lesson: str, grade_id: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(REPO / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
    cells = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    if len(cells) != 1:
        raise ValueError(f"expected one cell {grade_id!r} in solutions/{lesson}, found {len(cells)}")
    return cells[0]


def hidden_source(lesson: str, grade_id: str) -> str:
    """The hidden part of a test cell."""
    blocks = HIDDEN.findall(_cell(lesson, grade_id).source)
    if not blocks:
        raise ValueError(f"{lesson} {grade_id} has no hidden test")
    return "\n".join(blocks)


def solution_source(lesson: str, grade_id: str) -> str:
    """An answer cell as the instructor wrote it (solution markers removed)."""
    return SOLUTION.sub(lambda match: match.group(1), _cell(lesson, grade_id).source)


def constants(lesson: str, grade_id: str) -> dict[str, Any]:
    """The capitalised constants a hidden test assigns (``EXPECTED = {...}``), evaluated."""
    found = {}
    for node in ast.walk(ast.parse(hidden_source(lesson, grade_id))):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id.isupper():
            found[node.targets[0].id] = eval(compile(ast.Expression(node.value), "<constant>", "eval"),
                                             {"__builtins__": {}})
    return found


def run_hidden(lesson: str, grade_id: str, namespace: dict[str, Any]) -> None:
    """Run the hidden test in ``namespace`` (the student's names); AssertionError when it fails."""
    exec(compile(hidden_source(lesson, grade_id), f"<hidden test {grade_id}>", "exec"), namespace)


def run_solution(lesson: str, grade_id: str, namespace: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Run the instructor's answer cell in ``namespace``, then replace some of its names with ``changes``
    (a wrong answer in place of the right one); returns the namespace."""
    exec(compile(solution_source(lesson, grade_id), f"<solution {grade_id}>", "exec"), namespace)
    namespace.update(changes)
    return namespace
