"""helpers.checks: every pass and fail branch, and that answers stay hidden unless revealed."""
from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest
import tensorflow as tf  # real tensors and TensorShapes are what students pass to the checks
from conftest import REPO

from helpers import checks
from helpers.checks import check_close, check_equal, check_shape
from helpers.exercise_hints import HINTS as EXERCISE_HINTS


def failure(check, *args, **kwargs) -> str:
    """The AssertionError message of a check that must fail."""
    with pytest.raises(AssertionError) as caught:
        check(*args, **kwargs)
    return str(caught.value)


# ---------------------------------------------------------------- check_equal

@pytest.mark.parametrize(
    ("got", "expected"),
    [
        (1280, 1280),
        (np.int64(10), 10),
        ("Trouser", "Trouser"),
        ([0, 1, 2], (0, 1, 2)),
        (np.arange(3), [0, 1, 2]),
        (tf.constant([4, 5]), [4, 5]),
        (tf.TensorShape([None, 1280]), (None, 1280)),
        (None, None),
    ],
)
def test_check_equal_passes_and_prints_ok(got, expected, capsys):
    check_equal("answer", got, expected)
    assert capsys.readouterr().out == "OK: answer\n"


def test_check_equal_wrong_value_hides_expected_by_default():
    message = failure(check_equal, "feature size", 1024, 1280, hint="Look at the last axis.")
    assert "Check 'feature size' failed" in message
    assert "Got: int 1024." in message
    assert "Hint: Look at the last axis." in message
    assert "1280" not in message


def test_check_equal_reveal_shows_expected():
    message = failure(check_equal, "feature size", 1024, 1280, reveal=True)
    assert "Expected: 1280." in message


def test_check_equal_none_asks_about_return():
    message = failure(check_equal, "count", None, 3)
    assert "is None" in message and "return" in message
    assert "3" not in message


def test_check_equal_string_where_number_expected_names_the_types():
    message = failure(check_equal, "count", "1280", 1280)
    assert "is a str, expected a number" in message
    assert "Got: str '1280'." in message


def test_check_equal_number_where_string_expected():
    message = failure(check_equal, "class", 1, "Trouser")
    assert "is an int, expected a str" in message
    assert "Trouser" not in message


def test_check_equal_array_shape_mismatch_and_value_mismatch():
    shape_message = failure(check_equal, "labels", np.arange(4), [0, 1, 2])
    assert "an array of shape (4,), expected an array of shape (3,)" in shape_message
    assert "Got: a numpy array of shape (4,) and dtype int64: [0 1 2 3]." in shape_message
    value_message = failure(check_equal, "labels", np.array([0, 1, 3]), [0, 1, 2])
    assert "does not have the expected value" in value_message
    assert "[0 1 2]" not in value_message


def test_check_equal_scalar_versus_sequence():
    message = failure(check_equal, "shape", 1280, (1280,))
    assert "is a single value, expected an array of shape (1,)" in message


def test_check_equal_tensor_failure_describes_the_tensor():
    message = failure(check_equal, "logits", tf.constant([1, 3]), [1, 2])
    assert "an EagerTensor of shape (2,) and dtype int32: [1 3]" in message


def test_check_equal_ragged_lists_compare_as_objects(capsys):
    check_equal("ragged", [[1, 2], [3]], [[1, 2], [3]])
    assert "OK: ragged" in capsys.readouterr().out
    failure(check_equal, "ragged", [[1, 2], [4]], [[1, 2], [3]])


def test_check_equal_hint_can_be_a_registered_key():
    message = failure(check_equal, "count", 1, 2, hint="parameter_counts")
    assert f"Hint: {checks.HINTS['parameter_counts']}" in message


# ---------------------------------------------------------------- check_shape

@pytest.mark.parametrize(
    "value",
    [
        np.zeros((32, 1280), dtype=np.float32),
        tf.zeros((32, 1280)),
        tf.TensorShape([None, 1280]),
        (8, 1280),
        [8, 1280],
    ],
)
def test_check_shape_passes_with_none_as_any_size(value, capsys):
    check_shape("pooled", value, (None, 1280))
    assert capsys.readouterr().out == "OK: pooled\n"


def test_check_shape_keras_tensor_and_nested_list(capsys):
    import keras

    check_shape("input", keras.Input((96, 96, 3)), (None, 96, 96, 3))
    check_shape("nested", [[1, 2, 3], [4, 5, 6]], (2, 3))
    assert capsys.readouterr().out == "OK: input\nOK: nested\n"


def test_check_shape_wrong_axis_named_without_the_answer():
    message = failure(check_shape, "pooled", np.zeros((4, 3, 3, 1280)), (4, 3, 3, 1024), hint="shapes")
    assert "wrong size on axis 3" in message
    assert "Got: a numpy array of shape (4, 3, 3, 1280)" in message
    assert "1024" not in message
    assert checks.HINTS["shapes"] in message


def test_check_shape_wrong_rank_and_reveal():
    message = failure(check_shape, "pooled", np.zeros((4, 3, 3, 1280)), (None, 1280))
    assert "has rank 4, expected rank 2" in message
    assert "Expected" not in message
    revealed = failure(check_shape, "pooled", np.zeros((4, 3, 3, 1280)), (None, 1280), reveal=True)
    assert "Expected: (None, 1280)." in revealed


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "is None, expected an array or a shape"),
        ("abc", "has no shape"),
        (3, "has no shape"),
        ([[1, 2], [3]], "ragged nested list"),
        (tf.TensorShape(None), "TensorShape of unknown rank"),
    ],
)
def test_check_shape_unusable_values_fail_readably(value, problem):
    assert problem in failure(check_shape, "x", value, (2, 2))


def test_check_shape_rejects_a_malformed_expected_shape():
    with pytest.raises(ValueError, match="expected shape must be a tuple of ints or None"):
        check_shape("x", np.zeros(3), "3")
    with pytest.raises(ValueError, match="expected shape must be a tuple"):
        check_shape("x", np.zeros(3), (3.0,))


# ---------------------------------------------------------------- check_close

@pytest.mark.parametrize(
    ("got", "expected", "tol"),
    [
        (0.5, 0.5000001, 1e-6),
        (np.float32(0.1), 0.1, 1e-6),
        (tf.constant(0.25), 0.25, 0.0),
        ([0.1, 0.2], np.array([0.1, 0.2 + 1e-9]), 1e-6),
    ],
)
def test_check_close_passes(got, expected, tol, capsys):
    check_close("accuracy", got, expected, tol=tol)
    assert capsys.readouterr().out == "OK: accuracy\n"


def test_check_close_outside_tolerance_hides_expected():
    message = failure(check_close, "accuracy", 0.6123, 0.8765, tol=1e-3, hint="Divide by the number of images.")
    assert "is not within 0.001 of the expected value" in message
    assert "Got: float 0.6123." in message
    assert "0.8765" not in message
    assert "Hint: Divide by the number of images." in message
    assert "Expected: 0.8765." in failure(check_close, "accuracy", 0.6123, 0.8765, reveal=True)


@pytest.mark.parametrize(
    ("got", "problem"),
    [
        (None, "is None"),
        ("0.5", "is not a number or an array of numbers"),
        ({"a": 1}, "is not a number or an array of numbers"),
        (float("nan"), "contains NaN"),
        ([0.5, 0.5], "is an array of shape (2,), expected a single value"),
    ],
)
def test_check_close_unusable_values_fail_readably(got, problem):
    assert problem in failure(check_close, "accuracy", got, 0.5)


def test_check_close_rejects_negative_tolerance():
    with pytest.raises(ValueError, match="tol must be a number >= 0"):
        check_close("accuracy", 0.5, 0.5, tol=-1)


# ---------------------------------------------------------------- hint

def test_hint_prints_the_registered_text(capsys):
    checks.hint("preprocessing")
    assert capsys.readouterr().out == f"Hint (preprocessing): {checks.HINTS['preprocessing']}\n"


def test_hint_unknown_id_lists_known_ids():
    with pytest.raises(ValueError, match=re.escape("no hint registered for '99_nothing'")) as caught:
        checks.hint("99_nothing")
    assert "shapes" in str(caught.value)


def test_registered_hints_are_nonempty_text():
    assert checks.HINTS and all(isinstance(text, str) and text.strip() for text in checks.HINTS.values())


# ---------------------------------------------------------------- hint keys named by the notebooks

HINT_ARGUMENT = re.compile(r"""\bhint\s*=\s*(['"])(.*?)\1""")


def test_an_exercise_grade_id_shows_its_first_hint_level():
    message = failure(check_shape, "resnet_features", np.zeros((8, 1280)), (8, 2048), hint="06_resnet_swap")
    assert f"Hint: {EXERCISE_HINTS['06_resnet_swap'][0]}" in message
    assert "show_hint('06_resnet_swap', level=2)" in message
    assert "Hint: 06_resnet_swap" not in message


def hint_keys(source: str) -> list[str]:
    """The one-word hints (keys, not text) a cell's checks name."""
    return [hint for _, hint in HINT_ARGUMENT.findall(source) if " " not in hint]


def unknown(keys: list[str]) -> list[str]:
    return [key for key in keys if key not in checks.HINTS and key not in EXERCISE_HINTS]


def test_every_hint_key_a_notebook_names_exists():
    """A hint written as one word is a key; it must be in helpers.checks.HINTS or helpers.exercise_hints,
    or students would read the bare key instead of a hint (issue 14: nine checks did)."""
    named = {path.parent.name: [key for cell in nbformat.read(path, as_version=4).cells for key in hint_keys(cell.source)]
             for path in sorted((REPO / "solutions").glob("*/*.ipynb"))}
    assert sum(map(len, named.values())) >= 9  # lessons 06 and 08 name hint keys
    missing = {lesson: unknown(keys) for lesson, keys in named.items() if unknown(keys)}
    assert not missing, f"checks name hints that exist nowhere: {missing}"


def test_a_misspelt_hint_key_is_caught():
    source = 'check_equal("x", a, b, hint="06_resnet_swp")\ncheck_equal("y", a, b, hint="Look at the last axis.")'
    assert unknown(hint_keys(source)) == ["06_resnet_swp"]
