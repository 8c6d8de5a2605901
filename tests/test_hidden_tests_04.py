"""Lesson 04's hidden tests: constants recomputed from the reference code, the instructor's answers
pass, plausible wrong answers and answers that try to talk the test round fail (tests/hidden.py)."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from hidden import constants, run_solution
from test_hidden_tests import Anything, fails, passes, restore_numpy_testing, talked_round  # noqa: F401 - fixture

from helpers import models

L04 = "04_scratch_baseline"

# ---------------------------------------------------------------- build_my_scratch_cnn

IMAGES = (np.arange(2 * 28 * 28).reshape(2, 28, 28, 1) * 37 % 256).astype("float32")  # as in the hidden test


def scratch_logits() -> np.ndarray:
    """build_scratch_cnn's logits for 3 classes with the hidden test's weights."""
    network = models.build_scratch_cnn(num_classes=3)
    random = np.random.default_rng(4)
    network.set_weights([random.uniform(-0.1, 0.1, weight.shape).astype("float32") for weight in network.get_weights()])
    return np.asarray(network(IMAGES, training=False))


def test_04_scratch_cnn_constants_are_build_scratch_cnn():
    expected = constants(L04, "04_scratch_cnn_test")
    for classes, parameters in expected["EXPECTED_PARAMETERS"].items():
        assert models.build_scratch_cnn(num_classes=classes).count_params() == parameters
    logits = scratch_logits()
    assert sorted(expected["EXPECTED_LOGITS"]) == [(image, klass) for image in range(2) for klass in range(3)]
    for (image, klass), value in expected["EXPECTED_LOGITS"].items():
        assert logits[image, klass] == pytest.approx(value, abs=1e-5)


def scratch_namespace(**changes) -> dict:
    return run_solution(L04, "04_scratch_cnn", {}, **changes)


def test_04_scratch_cnn_hidden_test_passes_the_solution_and_puts_build_scratch_cnn_back():
    code = models.build_scratch_cnn.__code__
    passes(L04, "04_scratch_cnn_test", scratch_namespace())
    assert models.build_scratch_cnn.__code__ is code


def cnn(num_classes=10, rescale=True, pooling=keras.layers.MaxPooling2D, dense_activation="relu", rate=0.3,
        last_activation=None, kernel=3):
    layers = [keras.layers.Rescaling(1 / 255)] if rescale else []
    layers += [keras.layers.Conv2D(32, kernel, activation="relu"), pooling(2),
               keras.layers.Conv2D(64, kernel, activation="relu"), pooling(2), keras.layers.Flatten(),
               keras.layers.Dropout(rate), keras.layers.Dense(128, activation=dense_activation),
               keras.layers.Dense(num_classes, activation=last_activation)]
    return keras.Sequential([keras.Input((28, 28, 1)), *layers])


@pytest.mark.parametrize("wrong, reason", [
    (lambda num_classes=10: cnn(num_classes, rescale=False), "no Rescaling"),
    (lambda num_classes=10: cnn(num_classes, pooling=keras.layers.AveragePooling2D), "average pooling"),
    (lambda num_classes=10: cnn(num_classes, dense_activation=None), "Dense(128) without ReLU"),
    (lambda num_classes=10: cnn(num_classes, rate=0.5), "dropout 0.5"),
    (lambda num_classes=10: cnn(num_classes, last_activation="softmax"), "softmax in the model"),
    (lambda num_classes=10: cnn(10), "ten classes whatever num_classes"),
    (lambda num_classes=10: models.build_scratch_cnn(num_classes=num_classes), "calls the forbidden course copy"),
])
def test_04_scratch_cnn_hidden_test_fails(wrong, reason):
    fails(L04, "04_scratch_cnn_test", talked_round(scratch_namespace(build_my_scratch_cnn=wrong)))


def test_04_forbidden_call_is_named():
    message = fails(L04, "04_scratch_cnn_test",
                    scratch_namespace(build_my_scratch_cnn=lambda num_classes=10: models.build_scratch_cnn(
                        num_classes=num_classes)))
    assert "must not call build_scratch_cnn" in message


# ---------------------------------------------------------------- read_table


def reference_read_table(table: dict) -> tuple[float, float]:
    """The model answer's rule, which the constants are checked against."""
    return (table["scratch"]["images"] / table["transfer"]["images"],
            100 * (table["scratch"]["accuracy"] - table["transfer"]["accuracy"]))


def test_04_read_table_constants_are_the_rule():
    expected = constants(L04, "04_read_table_test")
    assert len(expected["TABLES"]) == len(expected["EXPECTED"])
    for table, (ratio, points) in zip(expected["TABLES"], expected["EXPECTED"]):
        assert reference_read_table(table) == pytest.approx((ratio, points), abs=1e-9)


def read_table_namespace(**changes) -> dict:
    table = constants(L04, "04_read_table_test")["TABLES"][0]
    return run_solution(L04, "04_read_table", {"table": table}, **changes)


def test_04_read_table_hidden_test_passes_the_solution():
    passes(L04, "04_read_table_test", read_table_namespace())


@pytest.mark.parametrize("wrong, reason", [
    (lambda table: (3.75, 5.0), "types the numbers the lesson printed (here those of the first table)"),
    (lambda table: (table["transfer"]["images"] / table["scratch"]["images"], reference_read_table(table)[1]),
     "ratio upside down"),
    (lambda table: (reference_read_table(table)[0], table["scratch"]["accuracy"] - table["transfer"]["accuracy"]),
     "a fraction, not points"),
    (lambda table: (reference_read_table(table)[0], -reference_read_table(table)[1]), "transfer minus scratch"),
    (lambda table: (reference_read_table(table)[0],
                    100 * (table["scratch"]["interval"][1] - table["transfer"]["interval"][1])), "interval bounds"),
    (lambda table: Anything(), "returns an object that equals anything"),
])
def test_04_read_table_hidden_test_fails(wrong, reason):
    fails(L04, "04_read_table_test", talked_round(read_table_namespace(read_table=wrong)))
