"""Lesson 05's hidden tests: constants recomputed from helpers.models, the instructor's answers
pass, plausible wrong answers and answers that try to talk the test round fail (tests/hidden.py)."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from hidden import constants, run_solution
from test_hidden_tests import Anything, fails, passes, restore_numpy_testing, talked_round  # noqa: F401 - fixture

from helpers import models

L05 = "05_fine_tuning"


def small_base() -> keras.Model:
    """The base both hidden tests build."""
    pixels = keras.Input((8, 8, 3), name="pixels")
    features = pixels
    for block in (1, 2):
        features = keras.layers.Conv2D(4, 3, name=f"conv_{block}")(features)
        features = keras.layers.BatchNormalization(name=f"bn_{block}")(features)
        features = keras.layers.ReLU(name=f"relu_{block}")(features)
    return keras.Model(pixels, features, name="small_base")


# ---------------------------------------------------------------- unfreeze_top_layers


def test_05_unfreeze_top_constants_are_unfreeze_top():
    expected = constants(L05, "05_unfreeze_top_test")["EXPECTED"]
    base = small_base()
    base.trainable = False
    assert len(expected) >= 4 and {0, len(base.layers)} <= set(expected)
    for n, (flags, trainable) in expected.items():
        models.unfreeze_top(base, n)
        assert flags == tuple(layer.trainable for layer in base.layers)
        assert trainable == models.parameter_counts(base).trainable


def unfreeze_namespace(**changes) -> dict:
    return run_solution(L05, "05_unfreeze_top", {}, **changes)


def test_05_unfreeze_top_hidden_test_passes_the_solution_and_puts_unfreeze_top_back():
    code = models.unfreeze_top.__code__
    passes(L05, "05_unfreeze_top_test", unfreeze_namespace())
    assert models.unfreeze_top.__code__ is code


def setting_flags(base, n, cut=None, batchnorm=False, whole=True, refreeze=True):
    if whole:
        base.trainable = True
    cut = len(base.layers) - n if cut is None else cut(base, n)
    for index, layer in enumerate(base.layers):
        top = index >= cut
        if top or refreeze:
            layer.trainable = top and (batchnorm or not isinstance(layer, keras.layers.BatchNormalization))


@pytest.mark.parametrize("wrong, reason", [
    (lambda base, n: setting_flags(base, n, batchnorm=True), "BatchNorm unfrozen too"),
    (lambda base, n: setting_flags(base, n, whole=False), "the base itself left frozen"),
    (lambda base, n: setting_flags(base, n, refreeze=False), "layers below the cut never frozen again"),
    (lambda base, n: setting_flags(base, n, cut=lambda base, n: len(base.layers) - n + 1), "one layer too few"),
    (lambda base, n: setting_flags(base, n, cut=lambda base, n: n), "counts n layers from the bottom"),
    (lambda base, n: models.unfreeze_top(base, n), "calls the forbidden course version"),
])
def test_05_unfreeze_top_hidden_test_fails(wrong, reason):
    fails(L05, "05_unfreeze_top_test", talked_round(unfreeze_namespace(unfreeze_top_layers=wrong)))


def test_05_unfreeze_top_forbidden_call_is_named():
    message = fails(L05, "05_unfreeze_top_test",
                    unfreeze_namespace(unfreeze_top_layers=lambda base, n: models.unfreeze_top(base, n)))
    assert "must not call unfreeze_top" in message


# ---------------------------------------------------------------- count_trainable


def test_05_count_trainable_constants_are_parameter_counts():
    unfrozen = small_base()
    models.unfreeze_top(unfrozen, 4)
    mixed = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.BatchNormalization(name="bn"), keras.layers.Dense(2, name="dense")])
    mixed.get_layer("conv").trainable = False
    frozen = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    frozen.trainable = False
    expected = constants(L05, "05_count_trainable_test")["EXPECTED"]
    assert expected == {name: models.parameter_counts(model).trainable for name, model in (
        ("unfrozen top", unfrozen), ("mixed", mixed), ("frozen", frozen), ("scratch", models.build_scratch_cnn()))}


def count_namespace(**changes) -> dict:
    return run_solution(L05, "05_count_trainable", {"np": np, "model": models.build_scratch_cnn()}, **changes)


def test_05_count_trainable_hidden_test_passes_the_solution_and_puts_parameter_counts_back():
    code = models.parameter_counts.__code__
    passes(L05, "05_count_trainable_test", count_namespace())
    assert models.parameter_counts.__code__ is code


@pytest.mark.parametrize("wrong, reason", [
    (lambda model: 351_744 + 5_770, "types the count of the lesson's model"),
    (lambda model: model.count_params(), "all parameters"),
    (lambda model: len(model.trainable_weights), "counts arrays, not values"),
    (lambda model: sum(layer.count_params() for layer in model.layers if layer.trainable),
     "reads the layers' flags: BatchNorm statistics and a frozen model's layers come out wrong"),
    (lambda model: models.parameter_counts(model).trainable, "calls the forbidden parameter_counts"),
    (lambda model: Anything(), "returns an object that equals anything"),
])
def test_05_count_trainable_hidden_test_fails(wrong, reason):
    fails(L05, "05_count_trainable_test", talked_round(count_namespace(count_trainable=wrong)))
