"""Lesson 08's hidden tests: constants recomputed from helpers.channels and helpers.limits, the
instructor's answers pass, plausible wrong answers and answers that try to talk the test round fail
(tests/hidden.py)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hidden import constants, run_solution
from test_hidden_tests import Anything, fails, passes, restore_numpy_testing, talked_round  # noqa: F401 - fixture

from helpers import channels, limits

L08 = "08_limits_of_transfer"
KERNELS = {"2x2, 2 filters": np.arange(8, dtype="float32").reshape(2, 2, 1, 2),  # as in the hidden test
           "3x1, 1 filter": np.array([3.0, -6.0, 9.0], dtype="float32").reshape(3, 1, 1, 1)}

# ---------------------------------------------------------------- task 1: adapt_kernel


def test_08_kernel_constants_are_repeat_kernel():
    expected = constants(L08, "08_kernel_adaptation_test")
    assert set(expected["EXPECTED"]) == set(expected["GIVEN"]) == set(KERNELS)
    for name, kernel in KERNELS.items():
        assert expected["GIVEN"][name] == tuple(kernel.ravel().tolist())
        shape, values = expected["EXPECTED"][name]
        reference = channels.repeat_kernel(kernel)
        assert shape == reference.shape
        assert values == pytest.approx(reference.ravel().tolist(), abs=1e-6)


def kernel_namespace(**changes) -> dict:
    weights = []  # what the lesson's cell loads into its rgb_conv
    rgb_conv = SimpleNamespace(set_weights=weights.extend, get_weights=lambda: weights)
    given = {"np": np, "rgb_conv": rgb_conv, "bias": np.zeros(2), "kernel": KERNELS["2x2, 2 filters"]}
    return run_solution(L08, "08_kernel_adaptation", given, **changes)


def test_08_kernel_hidden_test_passes_the_solution_and_puts_repeat_kernel_back():
    code = channels.repeat_kernel.__code__
    passes(L08, "08_kernel_adaptation_test", kernel_namespace())
    passes(L08, "08_kernel_adaptation_test", kernel_namespace(adapt_kernel=lambda k: np.tile(k, (1, 1, 3, 1)) / 3.0))
    assert channels.repeat_kernel.__code__ is code


def divide_in_place(kernel):
    kernel /= 3
    return np.repeat(kernel, 3, axis=2)


@pytest.mark.parametrize("wrong", [
    lambda k: np.repeat(k, 3, axis=2),  # forgot to divide
    lambda k: np.concatenate([k, 0 * k, 0 * k], axis=2),  # right on gray images, but not adaptation 1
    lambda k: np.repeat(k, 3, axis=3) / 3,  # the filters axis
    lambda k: np.repeat(k, 3, axis=2) / 3 if k.shape[0] == 2 else k,  # only right for the lesson's kind of kernel
    divide_in_place,  # right values, but the caller's kernel is changed
    lambda k: channels.repeat_kernel(k),  # the course's version, forbidden
    lambda k: Anything(),  # an object that claims to be anything
], ids=["no_division", "one_channel", "wrong_axis", "not_general", "in_place", "forbidden", "anything"])
def test_08_kernel_hidden_test_fails(wrong):
    fails(L08, "08_kernel_adaptation_test", talked_round(kernel_namespace(adapt_kernel=wrong)))


def test_08_kernel_forbidden_call_is_named():
    message = fails(L08, "08_kernel_adaptation_test", kernel_namespace(adapt_kernel=lambda k: channels.repeat_kernel(k)))
    assert "must not call repeat_kernel" in message


# ---------------------------------------------------------------- task 2: pretraining_effect


def test_08_effect_constants_are_the_rule_of_helpers_limits():
    expected = constants(L08, "08_reading_table_test")["EXPECTED"]
    assert {True, False} == {measurable for _, measurable in expected.values()}
    for (pretrained, from_random), (points, measurable) in expected.items():
        got_points, got_measurable = limits._effect(list(pretrained), list(from_random))
        assert got_points == pytest.approx(points, abs=1e-9) and got_measurable == measurable


def effect_namespace(**changes) -> dict:
    return run_solution(L08, "08_reading_table", {"table": SimpleNamespace(sizes=()), "FINE_TUNED": None, "RANDOM": None}, **changes)


def test_08_effect_hidden_test_passes_the_solution_and_puts_the_rule_back():
    code = limits._effect.__code__
    passes(L08, "08_reading_table_test", effect_namespace())
    assert limits._effect.__code__ is code


def mean(values):
    return sum(values) / len(values)


@pytest.mark.parametrize("wrong", [
    lambda a, b: (mean(a) - mean(b), min(a) > max(b) or min(b) > max(a)),  # a fraction, not points
    lambda a, b: (100 * (mean(b) - mean(a)), min(a) > max(b) or min(b) > max(a)),  # random minus fine-tuned
    lambda a, b: (100 * (mean(a) - mean(b)), abs(mean(a) - mean(b)) > 0.01),  # a threshold on the means
    lambda a, b: (100 * (mean(a) - mean(b)), min(a) > max(b)),  # only a gain counts
    lambda a, b: (100 * (a[0] - b[0]), min(a) > max(b) or min(b) > max(a)),  # the first seed only
    lambda a, b: (100 * (mean(a) - mean(b)), abs(mean(a) - mean(b)) > float(np.std(a) + np.std(b))),  # mean ± sd
    lambda a, b: limits._effect(a, b),  # the course's rule, forbidden
    lambda a, b: (Anything(), Anything()),  # objects that claim to be anything
], ids=["fraction", "reversed", "threshold", "one_direction", "first_seed", "standard_deviations", "forbidden",
        "anything"])
def test_08_effect_hidden_test_fails(wrong):
    fails(L08, "08_reading_table_test", talked_round(effect_namespace(pretraining_effect=wrong)))
