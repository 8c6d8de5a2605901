"""Lesson 03's hidden tests: constants recomputed from helpers.models, the instructor's answers
pass, plausible wrong answers and answers that try to talk the test round fail (tests/hidden.py)."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from hidden import constants, run_solution
from test_hidden_tests import Anything, fails, passes, restore_numpy_testing, talked_round  # noqa: F401 - fixture

from helpers import models

L03 = "03_training_the_head"

# ---------------------------------------------------------------- build_classifier_head

HEAD_MAPS = (np.arange(2 * 2 * 2 * 3).reshape(2, 2, 2, 3) * 5 % 11 - 5).astype("float32")  # as in the hidden test
HEAD_KERNEL = np.array([[0.3, -0.2], [0.1, 0.4], [-0.25, 0.05]], dtype="float32")
HEAD_BIAS = np.array([0.5, -0.5], dtype="float32")


def head_logits() -> np.ndarray:
    head = models.build_head((2, 2, 3), 2)
    head.get_layer("logits").set_weights([HEAD_KERNEL, HEAD_BIAS])
    return np.asarray(head(HEAD_MAPS, training=False))


def test_03_build_head_constants_are_build_head():
    expected = constants(L03, "03_build_head_test")
    for (shape, classes), parameters in expected["EXPECTED_PARAMETERS"].items():
        assert models.build_head(shape, classes).count_params() == parameters
    logits = head_logits()
    for (image, klass), value in expected["EXPECTED_LOGITS"].items():
        assert logits[image, klass] == pytest.approx(value, abs=1e-6)


def head_namespace(**changes) -> dict:
    return run_solution(L03, "03_build_head", {}, **changes)


def test_03_build_head_hidden_test_passes_the_solution():
    passes(L03, "03_build_head_test", head_namespace())


def head_of(layers):
    def build(feature_map_shape, num_classes=10):
        return keras.Sequential([keras.Input(feature_map_shape), *layers(num_classes)])
    return build


@pytest.mark.parametrize("wrong, reason", [
    (head_of(lambda k: [keras.layers.Flatten(), keras.layers.Dropout(0.2), keras.layers.Dense(k)]), "Flatten"),
    (head_of(lambda k: [keras.layers.GlobalMaxPooling2D(), keras.layers.Dropout(0.2), keras.layers.Dense(k)]),
     "max pooling"),
    (head_of(lambda k: [keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.2),
                        keras.layers.Dense(k, activation="softmax")]), "softmax in the model"),
    (head_of(lambda k: [keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.5), keras.layers.Dense(k)]),
     "dropout 0.5"),
    (head_of(lambda k: [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(k)]), "no dropout"),
    (head_of(lambda k: [keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.2), keras.layers.Dense(10)]),
     "ten classes whatever num_classes"),
])
def test_03_build_head_hidden_test_fails(wrong, reason):
    fails(L03, "03_build_head_test", talked_round(head_namespace(build_classifier_head=wrong)))


# ---------------------------------------------------------------- count_parameters


def counts_models() -> dict:
    """The models of the hidden test, built the same way."""
    mixed = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.BatchNormalization(name="bn"), keras.layers.Dense(2, name="dense")])
    mixed.get_layer("conv").trainable = False
    frozen = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    frozen.trainable = False
    return {"mixed": mixed, "frozen": frozen, "scratch": models.build_scratch_cnn()}


def test_03_count_parameters_constants_are_parameter_counts():
    expected = constants(L03, "03_parameter_counts_test")["EXPECTED"]
    assert expected == {name: (models.parameter_counts(model).trainable, models.parameter_counts(model).non_trainable)
                        for name, model in counts_models().items()}


def counts_namespace(**changes) -> dict:
    return run_solution(L03, "03_parameter_counts", {"model": models.build_scratch_cnn()}, **changes)


def test_03_count_parameters_hidden_test_passes_the_solution_and_puts_parameter_counts_back():
    code = models.parameter_counts.__code__
    passes(L03, "03_parameter_counts_test", counts_namespace())
    assert models.parameter_counts.__code__ is code


def by_layer_flags(model):
    trainable = sum(layer.count_params() for layer in model.layers if layer.trainable)
    return trainable, model.count_params() - trainable


@pytest.mark.parametrize("wrong, reason", [
    (lambda model: (12_810, 2_257_984), "types the counts of the lesson's model"),
    (lambda model: (model.count_params(), 0), "everything trainable"),
    (lambda model: (len(model.trainable_weights), len(model.non_trainable_weights)), "counts arrays, not values"),
    (by_layer_flags, "reads the layers' flags: BatchNorm statistics and a frozen model's layers come out wrong"),
    (lambda model: (models.parameter_counts(model).trainable, models.parameter_counts(model).non_trainable),
     "calls the forbidden parameter_counts"),
    (lambda model: Anything(), "returns an object that equals anything"),
])
def test_03_count_parameters_hidden_test_fails(wrong, reason):
    fails(L03, "03_parameter_counts_test", talked_round(counts_namespace(count_parameters=wrong)))


def test_03_forbidden_call_is_named():
    message = fails(L03, "03_parameter_counts_test", counts_namespace(
        count_parameters=lambda model: tuple(models.parameter_counts(model))[:2]))
    assert "must not call parameter_counts" in message
