"""Every hidden test of lessons 03, 04, 05, 07, 08 and 09 has the form tests/hidden.py prescribes:
one function ``hidden_test``, called at once and deleted, that reads no name of the notebook (its
builtins come from its parameters' literals, everything else from its parameters, imports and
constants)."""
from __future__ import annotations

import ast
import builtins
import symtable

import nbformat
import pytest
from hidden import REPO, hidden_source

LESSONS = ("03_training_the_head", "04_scratch_baseline", "05_fine_tuning", "07_natural_photos",
           "08_limits_of_transfer", "09_common_practical")
ALLOWED_GLOBALS = {"AssertionError"}  # raised by the stand-ins of forbidden helpers, which run in the helpers' module


def graded_cells() -> list[tuple[str, str]]:
    found = []
    for lesson in LESSONS:
        for cell in nbformat.read(REPO / "solutions" / lesson / f"{lesson}.ipynb", as_version=4).cells:
            grading = cell.metadata.get("nbgrader", {})
            if grading.get("grade") and "### BEGIN HIDDEN TESTS" in cell.source:
                found.append((lesson, grading["grade_id"]))
    return found


def globals_read(table: symtable.SymbolTable) -> set[str]:
    names = {symbol.get_name() for symbol in table.get_symbols() if symbol.is_global() and symbol.is_referenced()}
    for child in table.get_children():
        names |= globals_read(child)
    return names


def test_every_graded_task_of_these_lessons_has_a_hidden_test():
    assert len(graded_cells()) == 13


@pytest.mark.parametrize("lesson, grade_id", graded_cells(), ids=[grade_id for _, grade_id in graded_cells()])
def test_hidden_test_is_one_bound_function_called_and_deleted(lesson, grade_id):
    source = hidden_source(lesson, grade_id)
    body = ast.parse(source).body
    assert [type(statement).__name__ for statement in body] == ["FunctionDef", "Expr", "Delete"]
    function, call, delete = body
    assert function.name == "hidden_test" and ast.unparse(call) == "hidden_test()"
    assert ast.unparse(delete) == "del hidden_test"
    defaults = dict(zip([argument.arg for argument in function.args.args][-len(function.args.defaults):],
                        function.args.defaults))
    for builtin, literal in {"float": "(0.0).__class__", "int": "(0).__class__", "tuple": "().__class__",
                             "str": "''.__class__", "type": "().__class__.__class__",
                             "bool": "True.__class__"}.items():
        if builtin in defaults:
            assert ast.dump(defaults[builtin]) == ast.dump(ast.parse(literal, mode="eval").body), (
                f"{builtin} must come from a literal")
    for name, default in defaults.items():
        if isinstance(default, ast.Name):
            assert default.id == name, f"parameter {name} must bind the student's {name}"
            assert not hasattr(builtins, name), f"{name} is a builtin the notebook may have rebound: use a literal"
        else:
            assert name in {"float", "int", "tuple", "str", "type", "bool"}, f"parameter {name}: what does it bind?"
    [table] = [child for child in symtable.symtable(source, "<hidden>", "exec").get_children()
               if child.get_name() == "hidden_test"]
    assert globals_read(table) <= ALLOWED_GLOBALS, "names read from the notebook: bind them as parameters"


def test_the_form_check_catches_a_builtin_read_from_the_notebook():
    source = "def hidden_test(f=f):\n    assert abs(f(1)) == 1\n\n\nhidden_test()\ndel hidden_test\n"
    [table] = symtable.symtable(source, "<hidden>", "exec").get_children()
    assert globals_read(table) == {"abs"}
