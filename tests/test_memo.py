"""helpers.memo: a result is computed once per distinct call and read back afterwards."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from helpers.infra import memo
from helpers.data import Dataset

CALLS: list[tuple] = []


def scaled_sum(values: np.ndarray, factor: float = 1.0) -> float:
    CALLS.append((values.tobytes(), factor))
    return float(values.sum() * factor)


@pytest.fixture(autouse=True)
def _clean(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CALLS.clear()
    monkeypatch.delenv("COURSE_FRESH", raising=False)


def test_the_second_identical_call_reads_the_cache() -> None:
    values = np.arange(6.0)
    assert memo.remembered(scaled_sum, values, factor=2.0) == 30.0
    assert memo.remembered(scaled_sum, values.copy(), factor=2.0) == 30.0
    assert len(CALLS) == 1
    assert len(list(memo.results_cache_dir().glob("*.pkl"))) == 1


@pytest.mark.parametrize("other", [
    ((np.arange(6.0) + 1,), {"factor": 2.0}),  # different data
    ((np.arange(6.0),), {"factor": 3.0}),  # different setting
    ((np.arange(6.0).astype("float32"),), {"factor": 2.0}),  # same numbers, other dtype
    ((np.arange(6.0).reshape(2, 3),), {"factor": 2.0}),  # same bytes, other shape
])
def test_any_change_of_an_argument_computes_again(other: tuple) -> None:
    memo.remembered(scaled_sum, np.arange(6.0), factor=2.0)
    args, kwargs = other
    assert memo.remembered(scaled_sum, *args, **kwargs) == float(args[0].sum() * kwargs["factor"])
    assert len(CALLS) == 2


def test_the_key_covers_the_helpers_source_code(monkeypatch: pytest.MonkeyPatch) -> None:
    before = memo.call_key(scaled_sum, (np.arange(3),), {})
    monkeypatch.setattr(memo, "code_digest", lambda module: "edited")
    assert memo.call_key(scaled_sum, (np.arange(3),), {}) != before


def test_the_key_covers_the_helpers_a_function_uses_and_only_those() -> None:
    used = {path.name for path in memo.helper_sources("helpers.data_efficiency")}
    # itself, what it imports (head_training, models, training, data) and what those import in turn
    assert {"__init__.py", "data_efficiency.py", "head_training.py", "models.py", "training.py", "data.py",
            "features.py", "backbones.py", "assets.py"} <= used
    assert not used & {"plots.py", "grading.py", "fine_tuning.py", "viva.py", "memo.py"}
    assert {path.name for path in memo.helper_sources("tests.test_memo")} == {"__init__.py"}
    assert memo.code_digest("helpers.data_efficiency") != memo.code_digest("helpers.plots")


def test_dataclasses_are_keyed_by_their_arrays(fashion_small: Dataset) -> None:
    same = Dataset(**{**fashion_small.__dict__, "x_train": fashion_small.x_train.copy()})
    changed_pixels = fashion_small.x_train.copy()
    changed_pixels[0, 0, 0] ^= 1
    changed = Dataset(**{**fashion_small.__dict__, "x_train": changed_pixels})
    key = memo.call_key(scaled_sum, (fashion_small,), {})
    assert memo.call_key(scaled_sum, (same,), {}) == key
    assert memo.call_key(scaled_sum, (changed,), {}) != key


def test_a_corrupt_entry_is_computed_again_not_trusted() -> None:
    values = np.arange(4.0)
    memo.remembered(scaled_sum, values)
    (entry,) = memo.results_cache_dir().glob("*.pkl")
    entry.write_bytes(b"\x80\x05truncated")
    assert memo.remembered(scaled_sum, values) == 6.0
    assert len(CALLS) == 2


def test_course_fresh_measures_again(monkeypatch: pytest.MonkeyPatch) -> None:
    memo.remembered(scaled_sum, np.arange(4.0))
    monkeypatch.setenv("COURSE_FRESH", "1")
    memo.remembered(scaled_sum, np.arange(4.0))
    assert len(CALLS) == 2


def test_an_argument_that_cannot_be_keyed_is_refused_by_type() -> None:
    with pytest.raises(TypeError, match="type object"):
        memo.remembered(scaled_sum, object())
    assert CALLS == []


@dataclass(frozen=True)
class Figures:
    accuracy: float
    history: dict


def figures(n: int) -> Figures:
    CALLS.append((n,))
    return Figures(0.5 + n, {"loss": [1.0, 0.5]})


def test_dataclass_results_come_back_equal() -> None:
    first = memo.remembered(figures, 1)
    assert memo.remembered(figures, 1) == first == Figures(1.5, {"loss": [1.0, 0.5]})
    assert len(CALLS) == 1


MODEL_KEY = """
import sys, keras, numpy as np
from helpers.infra import memo
for _ in range(int(sys.argv[1])):  # layers and models built before shift the automatic names
    keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), keras.layers.Dense(2)])
model.set_weights([np.full(w.shape, 0.5, "float32") for w in model.get_weights()])
print(memo.call_key(print, (model,), {}))
model.layers[0].kernel.assign(model.layers[0].kernel + 1.0)
print(memo.call_key(print, (model,), {}))
"""


def test_a_keras_model_is_keyed_by_its_weights_the_same_way_in_every_process() -> None:
    runs = [subprocess.run([sys.executable, "-c", MODEL_KEY, str(built_before)], capture_output=True, text=True,
                           check=True).stdout.split() for built_before in (0, 3)]
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[0][1]


def nudge(model, step: float) -> str:
    """Trains ``model`` in place, the way a fit does: every trainable weight moves by ``step``."""
    CALLS.append((step,))
    for weight in model.trainable_weights:
        weight.assign(weight + step)
    return f"moved by {step}"


def small_model():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="a"), keras.layers.Dense(2, name="b")])
    for layer in model.layers:
        layer.set_weights([np.ones_like(w) for w in layer.get_weights()])
    return model


def test_remembered_fit_leaves_the_model_as_the_first_run_left_it() -> None:
    first = small_model()
    assert memo.remembered_fit(first, nudge, 0.5) == "moved by 0.5"
    second = small_model()
    assert memo.remembered_fit(second, nudge, 0.5) == "moved by 0.5"
    assert len(CALLS) == 1
    for got, expected in zip(second.get_weights(), first.get_weights()):
        np.testing.assert_array_equal(got, expected)
    assert float(second.get_weights()[0][0, 0]) == 1.5


def test_remembered_fit_trains_again_when_trainable_flags_differ() -> None:
    memo.remembered_fit(small_model(), nudge, 0.5)
    partly_frozen = small_model()
    partly_frozen.get_layer("a").trainable = False
    memo.remembered_fit(partly_frozen, nudge, 0.5)
    assert len(CALLS) == 2
    assert float(partly_frozen.get_layer("a").get_weights()[0][0, 0]) == 1.0  # frozen: not moved
    assert float(partly_frozen.get_layer("b").get_weights()[0][0, 0]) == 1.5
