"""Student-facing self-checks for the visible test cells of the lessons.

Each check prints ``OK: <name>`` when it passes. When it fails it raises an
AssertionError that says what was checked, what came (type, shape, value) and a
hint, but not the expected answer unless the author passes ``reveal=True``.

``hint`` may be the text itself, a key of ``HINTS`` (``"frozen_base"``), or the grade_id of a
graded exercise with levelled hints in ``helpers.exercise_hints`` (``"06_resnet_swap"``): a
failed check then shows its first level and says how to ask for more. A hint that looks like
a key (one word, no spaces) must be one of these; tests/test_checks.py checks every notebook.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from helpers.exercise_hints import HINTS as EXERCISE_HINTS

HINTS: dict[str, str] = {
    "returns_value": "Does your code end with `return ...`? A function without a return statement gives None.",
    "shapes": "Print the .shape of each intermediate result; the first axis is the batch (None in a model summary).",
    "parameter_counts": "Use model.count_params() or helpers.models.parameter_counts(model): frozen layers count as "
    "non-trainable, and BatchNormalization's moving mean and variance are never trainable.",
    "preprocessing": "Each backbone has its own preprocess_input: pass raw 0-255 pixels to it, not pixels you "
    "already divided by 255.",
    "frozen_base": "Set base.trainable = False before compile(); compile again after any change to trainable.",
}

_MAX_REPR = 80


def hint(task_id: str) -> None:
    """Print the hint registered for a task (a grade_id such as '06_pooled_shape')."""
    if task_id not in HINTS:
        raise ValueError(f"no hint registered for {task_id!r}; known: {', '.join(sorted(HINTS))}")
    print(f"Hint ({task_id}): {HINTS[task_id]}")


def check_equal(name: str, got: Any, expected: Any, hint: str = "", reveal: bool = False) -> None:
    """Pass when ``got`` equals ``expected`` (element-wise for arrays, lists, tuples, tensors, shapes)."""
    value, target = _plain(got), _plain(expected)
    if value is None and target is not None:
        _fail(name, "is None", got, hint)
    if _is_array_like(value) or _is_array_like(target):
        same = _arrays_equal(name, value, target, got, hint, reveal)
    else:
        same = _scalars_equal(name, value, target, got, hint)
    if not same:
        _fail(name, "does not have the expected value", got, hint, _expected(expected, reveal))
    print(f"OK: {name}")


def check_shape(name: str, array_or_shape: Any, expected: Sequence[int | None], hint: str = "",
                reveal: bool = False) -> None:
    """Pass when the shape matches ``expected``; an expected ``None`` accepts any size on that axis.

    ``array_or_shape`` is anything with ``.shape`` (array, tensor) or the shape itself
    (tuple, list or TensorShape).
    """
    target = _expected_shape(expected)
    shape = _shape_of(name, array_or_shape, hint)
    if len(shape) != len(target):
        _fail(name, f"has rank {len(shape)}, expected rank {len(target)}", array_or_shape, hint,
              _expected(target, reveal))
    wrong = [axis for axis, (size, want) in enumerate(zip(shape, target)) if want is not None and size != want]
    if wrong:
        _fail(name, f"has the wrong size on axis {', '.join(map(str, wrong))}", array_or_shape, hint,
              _expected(target, reveal))
    print(f"OK: {name}")


def check_close(name: str, got: Any, expected: Any, tol: float = 1e-6, hint: str = "", reveal: bool = False) -> None:
    """Pass when every value of ``got`` is within ``tol`` (absolute) of ``expected``."""
    if not tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    value = _plain(got)
    if value is None:
        _fail(name, "is None", got, hint)
    numbers = _numeric(value)
    if numbers is None:
        _fail(name, "is not a number or an array of numbers", got, hint)
    target = np.asarray(_plain(expected), dtype=float)
    if numbers.shape != target.shape:
        _fail(name, f"is {_shape_words(numbers)}, expected {_shape_words(target)}", got, hint)
    if np.isnan(numbers).any():
        _fail(name, "contains NaN", got, hint)
    if not np.all(np.abs(numbers - target) <= tol):
        _fail(name, f"is not within {tol:g} of the expected value", got, hint, _expected(expected, reveal))
    print(f"OK: {name}")


# ---------------------------------------------------------------- comparison

def _plain(value: Any) -> Any:
    """TensorShape -> tuple, eager tensor -> numpy array; everything else unchanged."""
    if type(value).__name__ == "TensorShape":
        return tuple(value.as_list()) if value.rank is not None else value
    if hasattr(value, "numpy") and callable(value.numpy) and not isinstance(value, np.ndarray):
        return np.asarray(value.numpy())
    return value


def _is_array_like(value: Any) -> bool:
    return isinstance(value, (np.ndarray, list, tuple))


def _arrays_equal(name: str, value: Any, target: Any, got: Any, hint_text: str, reveal: bool) -> bool:
    try:
        left, right = np.asarray(value), np.asarray(target)
    except (TypeError, ValueError):  # ragged nested lists, symbolic tensors: compare as Python objects
        return bool(value == target)
    if left.shape != right.shape:
        _fail(name, f"is {_shape_words(left)}, expected {_shape_words(right)}", got, hint_text, _expected(target, reveal))
    return bool(np.array_equal(left, right))


def _scalars_equal(name: str, value: Any, target: Any, got: Any, hint_text: str) -> bool:
    numeric = (int, float, np.number, bool, np.bool_)
    if isinstance(target, numeric) and not isinstance(value, numeric):
        _fail(name, f"is {_a(type(got).__name__)}, expected a number", got, hint_text)
    if isinstance(target, str) and not isinstance(value, str):
        _fail(name, f"is {_a(type(got).__name__)}, expected a str", got, hint_text)
    try:
        return bool(value == target)
    except (TypeError, ValueError):
        return False


def _numeric(value: Any) -> np.ndarray | None:
    """``value`` as a float array, or None when it is not numbers (strings, objects)."""
    if isinstance(value, str):
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def _expected_shape(expected: Any) -> tuple[int | None, ...]:
    shape = _plain(expected)
    if not isinstance(shape, (tuple, list)) or not all(_is_axis(size) for size in shape):
        raise ValueError(f"expected shape must be a tuple of ints or None, got {expected!r}")
    return tuple(None if size is None else int(size) for size in shape)


def _is_axis(size: Any) -> bool:
    return size is None or (isinstance(size, (int, np.integer)) and not isinstance(size, bool))


def _shape_of(name: str, value: Any, hint_text: str) -> tuple[int | None, ...]:
    """The shape of an array/tensor, or the shape itself when given one; fails readably otherwise."""
    plain = _plain(value)
    if plain is None:
        _fail(name, "is None, expected an array or a shape", value, hint_text)
    if type(plain).__name__ == "TensorShape":  # _plain keeps only unknown-rank shapes as TensorShape
        _fail(name, "is a TensorShape of unknown rank", value, hint_text)
    if isinstance(plain, (tuple, list)) and all(_is_axis(size) for size in plain):
        return tuple(plain)
    shape = getattr(plain, "shape", None)
    if shape is None and isinstance(plain, (tuple, list)):
        try:
            shape = np.asarray(plain).shape
        except ValueError:
            _fail(name, "is a ragged nested list with no single shape", value, hint_text)
    if shape is None:
        _fail(name, "has no shape; expected an array, a tensor or a shape tuple", value, hint_text)
    shape = _plain(shape)
    if not isinstance(shape, tuple):
        _fail(name, "has a shape of unknown rank", value, hint_text)
    return tuple(None if size is None else int(size) for size in shape)


# ---------------------------------------------------------------- messages

def _fail(name: str, problem: str, got: Any, hint_text: str, expected_text: str = "") -> NoReturn:
    lines = [f"Check '{name}' failed: your value {problem}.", f"Got: {_describe(got)}."]
    if expected_text:
        lines.append(expected_text)
    text = hint_for(hint_text)
    if text:
        lines.append(f"Hint: {text}")
    raise AssertionError("\n".join(lines))


def hint_for(hint_text: str) -> str:
    """The hint a check shows: a key's text (``HINTS``, or the first level of an exercise's
    hints), or ``hint_text`` itself."""
    if hint_text in HINTS:
        return HINTS[hint_text]
    if hint_text in EXERCISE_HINTS:
        levels = EXERCISE_HINTS[hint_text]
        more = f" (more: show_hint({hint_text!r}, level=2))" if len(levels) > 1 else ""
        return levels[0] + more
    return hint_text


def _expected(expected: Any, reveal: bool) -> str:
    return f"Expected: {_short(repr(_plain(expected)))}." if reveal else ""


def _describe(value: Any) -> str:
    """Type, shape and (short) value of what a student produced."""
    if value is None:
        return "None (did your code return or assign a result?)"
    kind = type(value).__name__
    if kind == "TensorShape":
        return f"a TensorShape {value}"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape} and dtype {value.dtype}" + _small_values(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        shape = tuple(value.shape)
        values = _small_values(np.asarray(value.numpy())) if callable(getattr(value, "numpy", None)) else ""
        return f"{_a(kind)} of shape {shape} and dtype {getattr(value.dtype, 'name', value.dtype)}" + values
    if isinstance(value, (list, tuple)):
        return f"{_a(kind)} of length {len(value)}: {_short(repr(value))}"
    return f"{kind} {_short(repr(value))}"


def _a(kind: str) -> str:
    return f"{'an' if kind[0].lower() in 'aeiou' else 'a'} {kind}"


def _shape_words(array: np.ndarray) -> str:
    return "a single value" if array.ndim == 0 else f"an array of shape {array.shape}"


def _small_values(array: np.ndarray) -> str:
    return f": {_short(' '.join(np.array2string(array).split()))}" if array.size <= 10 else ""


def _short(text: str) -> str:
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."
