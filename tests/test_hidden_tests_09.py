"""Lesson 09's hidden tests: constants recomputed from the reference rule, the instructor's answer
passes, plausible wrong answers and answers that try to talk the test round fail (tests/hidden.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hidden import constants, run_solution
from test_hidden_tests import Anything, fails, passes, restore_numpy_testing, talked_round  # noqa: F401 - fixture

L09 = "09_common_practical"
CHANGE, POINTS = "09_largest_gain_change_test", "09_largest_gain_points_test"


def _baseline(rows):
    return next(row["accuracy"] for row in rows if row["change"] == "as written")


def _best_single(rows):
    return max((row for row in rows if row["change"] not in ("as written", "full recipe")), key=lambda row: row["accuracy"])


def reference_largest_gain(rows):
    """The reference rule the hidden tests' constants are checked against."""
    best = _best_single(rows)
    return best["change"], float(100 * (best["accuracy"] - _baseline(rows)))


def test_09_constants_are_what_the_reference_computes():
    change, points = constants(L09, CHANGE), constants(L09, POINTS)
    assert change["TABLES"] == points["TABLES"]
    answers = [reference_largest_gain(list(table)) for table in change["TABLES"]]
    assert tuple(name for name, _ in answers) == change["EXPECTED"]
    assert points["EXPECTED"] == pytest.approx(tuple(gain for _, gain in answers), abs=1e-9)
    assert min(points["EXPECTED"]) < 0, "one table where every single change loses"


def namespace_with(largest_gain=None) -> dict:
    namespace = run_solution(L09, "09_largest_gain", {})
    if largest_gain is not None:
        namespace["largest_gain"] = largest_gain
    return namespace


@pytest.mark.parametrize("grade_id", [CHANGE, POINTS])
def test_09_hidden_tests_pass_the_solution_and_the_reference(grade_id):
    passes(L09, grade_id, namespace_with())
    passes(L09, grade_id, namespace_with(reference_largest_gain))


def counts_the_full_recipe(rows):
    best = max((row for row in rows if row["change"] != "as written"), key=lambda row: row["accuracy"])
    return best["change"], float(100 * (best["accuracy"] - _baseline(rows)))


def returns_a_fraction(rows):
    best = _best_single(rows)
    return best["change"], float(best["accuracy"] - _baseline(rows))


def largest_in_either_direction(rows):
    singles = [row for row in rows if row["change"] not in ("as written", "full recipe")]
    best = max(singles, key=lambda row: abs(row["accuracy"] - _baseline(rows)))
    return best["change"], float(100 * (best["accuracy"] - _baseline(rows)))


def finds_rows_by_position(rows):
    best = max(rows[1:-1], key=lambda row: row["accuracy"])
    return best["change"], float(100 * (best["accuracy"] - rows[0]["accuracy"]))


def returns_the_accuracy_not_the_gain(rows):
    best = _best_single(rows)
    return best["change"], float(100 * best["accuracy"])


def hard_codes_the_lessons_answer(rows):
    return "96 px input", 21.2


def returns_a_numpy_number(rows):
    best = _best_single(rows)
    return best["change"], np.float64(100 * (best["accuracy"] - _baseline(rows)))


def ignores_losses(rows):
    best = _best_single(rows)
    gain = 100 * (best["accuracy"] - _baseline(rows))
    return best["change"], float(gain) if gain > 0 else None


def claims_to_be_right(rows):
    return Anything(), Anything()


WRONG = [
    (counts_the_full_recipe, (CHANGE, POINTS)),
    (returns_a_fraction, (POINTS,)),
    (largest_in_either_direction, (CHANGE, POINTS)),
    (finds_rows_by_position, (CHANGE, POINTS)),
    (returns_the_accuracy_not_the_gain, (POINTS,)),
    (hard_codes_the_lessons_answer, (CHANGE, POINTS)),
    (returns_a_numpy_number, (POINTS,)),
    (ignores_losses, (POINTS,)),
    (claims_to_be_right, (CHANGE, POINTS)),
]


@pytest.mark.parametrize(("wrong", "failing"), WRONG, ids=[wrong.__name__ for wrong, _ in WRONG])
def test_09_each_hidden_test_fails_for_a_plausible_wrong_answer(wrong, failing):
    for grade_id in failing:
        fails(L09, grade_id, talked_round(namespace_with(wrong)))


def test_09_hidden_tests_are_not_talked_round_by_rebinding_type_str_and_float():
    namespace = talked_round(namespace_with(returns_a_numpy_number))
    namespace.update(type=lambda value: float, str=str, float=np.float64)
    fails(L09, POINTS, namespace)
