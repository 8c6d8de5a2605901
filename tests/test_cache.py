"""helpers.infra.cache: one key for everything that changes a result, atomic locked entries, models as .keras."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from helpers.data import Dataset
from helpers.infra import cache

CALLS: list[tuple] = []


@cache.cached
def scaled_sum(values: np.ndarray, factor: float = 1.0) -> float:
    CALLS.append((values.tobytes(), factor))
    return float(values.sum() * factor)


@dataclass(frozen=True)
class Figures:
    accuracy: float
    history: dict


@cache.cached
def figures(n: int) -> Figures:
    CALLS.append((n,))
    return Figures(0.5 + n, {"loss": [1.0, 0.5]})


@cache.cached
def tiny_model(units: int):
    import keras

    CALLS.append((units,))
    keras.utils.set_random_seed(0)
    return {"model": keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, name="dense")]), "units": units}


@pytest.fixture(autouse=True)
def _clean(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CALLS.clear()
    monkeypatch.delenv("COURSE_FRESH", raising=False)
    monkeypatch.delenv("COURSE_CACHE_READONLY", raising=False)


def only_entry() -> cache.Entry:
    (entry,) = cache.entries()
    return entry


def test_the_second_identical_call_reads_the_cache() -> None:
    assert scaled_sum(np.arange(6.0), factor=2.0) == 30.0
    assert scaled_sum(np.arange(6.0).copy(), 2.0) == 30.0  # positional or keyword: one key
    assert len(CALLS) == 1
    assert only_entry().function == "test_cache.scaled_sum"


def test_defaults_are_part_of_the_key() -> None:
    scaled_sum(np.arange(3.0))
    scaled_sum(np.arange(3.0), factor=1.0)
    assert len(CALLS) == 1


@pytest.mark.parametrize("args, kwargs", [
    ((np.arange(6.0) + 1,), {"factor": 2.0}),  # different data
    ((np.arange(6.0),), {"factor": 3.0}),  # different setting
    ((np.arange(6.0).astype("float32"),), {"factor": 2.0}),  # same numbers, other dtype
    ((np.arange(6.0).reshape(2, 3),), {"factor": 2.0}),  # same bytes, other shape
])
def test_any_change_of_an_argument_computes_again(args: tuple, kwargs: dict) -> None:
    scaled_sum(np.arange(6.0), factor=2.0)
    assert scaled_sum(*args, **kwargs) == float(args[0].sum() * kwargs["factor"])
    assert len(CALLS) == 2


def test_dataclass_arguments_are_keyed_by_their_arrays(fashion_small: Dataset) -> None:
    same = Dataset(**{**fashion_small.__dict__, "x_train": fashion_small.x_train.copy()})
    changed_pixels = fashion_small.x_train.copy()
    changed_pixels[0, 0, 0] ^= 1
    changed = Dataset(**{**fashion_small.__dict__, "x_train": changed_pixels})
    key = cache.call_key(scaled_sum.__wrapped__, {"values": fashion_small})
    assert cache.call_key(scaled_sum.__wrapped__, {"values": same}) == key
    assert cache.call_key(scaled_sum.__wrapped__, {"values": changed}) != key


def notebook_function(body: str):
    """A function defined the way a notebook cell defines one: from source with no file behind it."""
    namespace: dict = {}
    exec(compile(f"def experiment(x):\n    return {body}\n", "<cell>", "exec"), namespace)
    return namespace["experiment"]


def test_the_key_covers_the_code_of_a_function_defined_in_a_notebook() -> None:
    double, triple = notebook_function("2 * x"), notebook_function("3 * x")
    assert double.__module__ == triple.__module__ and double.__qualname__ == triple.__qualname__
    assert cache.call_key(double, {"x": 1}) != cache.call_key(triple, {"x": 1})
    assert cache.call_key(double, {"x": 1}) == cache.call_key(notebook_function("2 * x"), {"x": 1})
    assert cache.cached(double)(4) == 8 and cache.cached(triple)(4) == 12


def test_the_key_covers_the_helpers_modules_a_function_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import data_efficiency, plots

    used = cache.helpers_used_by(data_efficiency.accuracy_vs_labelled_images)
    assert {"helpers", "helpers.data_efficiency", "helpers.head_training", "helpers.models", "helpers.training",
            "helpers.data", "helpers.features", "helpers.backbones", "helpers.infra.assets"} <= used
    assert not used & {"helpers.plots", "helpers.infra.grading", "helpers.viva", "helpers.infra.cli"}
    before = cache.call_key(data_efficiency.accuracy_vs_labelled_images, {"sizes": [10]})
    unrelated = cache.call_key(plots.sample_grid, {})
    real = cache.module_digest
    monkeypatch.setattr(cache, "module_digest", lambda name: "edited" if name == "helpers.models" else real(name))
    assert cache.call_key(data_efficiency.accuracy_vs_labelled_images, {"sizes": [10]}) != before
    assert cache.call_key(plots.sample_grid, {}) == unrelated  # plots does not use models


def test_a_notebook_function_that_calls_helpers_depends_on_them() -> None:
    namespace: dict = {}
    exec(compile("from helpers import models\ndef build():\n    return models.build_head((4,))\n", "<cell>", "exec"),
         namespace)
    assert "helpers.models" in cache.helpers_used_by(namespace["build"])


@pytest.mark.parametrize("change", [
    {"TF_ENABLE_ONEDNN_OPTS": "0"},
])
def test_the_key_covers_numerics_settings(monkeypatch: pytest.MonkeyPatch, change: dict) -> None:
    before = cache.call_key(scaled_sum.__wrapped__, {"values": np.arange(2)})
    for name, value in change.items():
        monkeypatch.setenv(name, value)
    assert cache.call_key(scaled_sum.__wrapped__, {"values": np.arange(2)}) != before


def test_the_key_covers_library_versions_and_downloaded_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    before = cache.call_key(scaled_sum.__wrapped__, {"values": np.arange(2)})
    monkeypatch.setattr(cache, "_version", lambda package: "9.9" if package == "keras" else "1.0")
    assert cache.call_key(scaled_sum.__wrapped__, {"values": np.arange(2)}) != before
    monkeypatch.undo()
    monkeypatch.setattr(cache.assets, "trusted_downloads", lambda: {"mobilenet_v2_96_no_top": "abc"})
    assert cache.call_key(scaled_sum.__wrapped__, {"values": np.arange(2)}) != before


def test_dataclass_results_come_back_equal() -> None:
    first = figures(1)
    assert figures(1) == first == Figures(1.5, {"loss": [1.0, 0.5]})
    assert len(CALLS) == 1


def test_keras_models_are_stored_as_keras_files_not_pickled() -> None:
    built = tiny_model(2)
    entry = only_entry()
    assert (entry.path / "model-0.keras").is_file()
    raw = (entry.path / "value.pkl").read_bytes()
    assert b"keras.src" not in raw and b"Sequential" not in raw  # only a reference to the .keras file
    again = tiny_model(2)
    assert len(CALLS) == 1 and again["units"] == 2
    x = np.ones((1, 3), "float32")
    np.testing.assert_array_equal(again["model"](x), built["model"](x))


def test_an_unreadable_entry_is_computed_again_not_trusted() -> None:
    scaled_sum(np.arange(4.0))
    (only_entry().path / "value.pkl").write_bytes(b"\x80\x05truncated")
    assert scaled_sum(np.arange(4.0)) == 6.0
    assert len(CALLS) == 2
    tiny_model(3)
    (entry,) = [e for e in cache.entries() if e.function.endswith("tiny_model")]
    (entry.path / "model-0.keras").write_bytes(b"not a zip")
    assert tiny_model(3)["units"] == 3 and len(CALLS) == 4


def test_an_entry_pickled_with_a_foreign_object_kind_is_a_miss() -> None:
    scaled_sum(np.arange(4.0))

    class Foreign(pickle.Pickler):
        def persistent_id(self, obj):
            return ("torch", "x") if isinstance(obj, float) else None

    with open(only_entry().path / "value.pkl", "wb") as file:
        Foreign(file).dump(6.0)
    assert scaled_sum(np.arange(4.0)) == 6.0 and len(CALLS) == 2


def test_course_fresh_measures_again(monkeypatch: pytest.MonkeyPatch) -> None:
    scaled_sum(np.arange(4.0))
    monkeypatch.setenv("COURSE_FRESH", "1")
    scaled_sum(np.arange(4.0))
    assert len(CALLS) == 2


def test_an_argument_that_cannot_be_keyed_is_refused_by_type() -> None:
    with pytest.raises(TypeError, match="type object"):
        scaled_sum(object())
    assert CALLS == []


def test_a_result_that_cannot_be_stored_is_refused_by_type() -> None:
    @cache.cached
    def a_layer():
        import keras

        return keras.layers.Dense(2)

    with pytest.raises(TypeError, match="cannot keep a Dense in the cache"):
        a_layer()
    assert cache.entries() == []  # nothing half-written


def test_a_read_only_layer_is_read_and_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scaled_sum(np.arange(5.0))  # fills the writable cache, which then becomes the read-only layer
    shared = Path(os.environ["COURSE_CACHE"])
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "scratch"))
    monkeypatch.setenv("COURSE_CACHE_READONLY", str(shared))
    assert scaled_sum(np.arange(5.0)) == 10.0 and len(CALLS) == 1  # read from the layer
    scaled_sum(np.arange(6.0))  # a miss is written to the writable cache only
    assert len(cache.entries(shared / "cache")) == 1 and len(cache.entries()) == 1


def test_prune_removes_the_least_recently_used_entries_first() -> None:
    for n in range(3):
        scaled_sum(np.arange(1000.0 + n))
    oldest, middle, newest = cache.entries()
    os.utime(oldest.path / cache.USED_FILE, (1, 1))
    os.utime(newest.path / cache.USED_FILE, (2, 2))
    scaled_sum(np.arange(1000.0 + 1))  # a hit marks `middle` as just used
    assert cache.prune(middle.bytes) == 2
    assert [entry.key for entry in cache.entries()] == [middle.key]
    assert cache.clear() == 1 and cache.entries() == []


CONCURRENT = """
import sys, time
sys.path.insert(0, {folder!r})
from helpers.infra.cache import cached

@cached
def slow(x):
    with open({log!r}, "a") as log:
        log.write("computed\\n")
    time.sleep(1.0)
    return x * 2

print(slow(21))
"""


def test_two_processes_asking_for_one_key_compute_it_once(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    script = CONCURRENT.format(folder=str(tmp_path), log=str(log))
    processes = [subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0].split() for process in processes]
    assert outputs == [["42"], ["42"]]
    assert log.read_text().count("computed") == 1
    assert len(cache.entries()) == 1


def test_the_cli_shows_prunes_and_clears_the_cache() -> None:
    scaled_sum(np.arange(7.0))
    env = {**os.environ}

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "helpers", "cache", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, check=True).stdout

    assert "test_cache.scaled_sum" in cli("info") and "1 entries" in cli("info")
    assert "removed 1 least recently used entries" in cli("prune", "--max-size", "0B")
    scaled_sum(np.arange(8.0))
    assert "removed 1 entries" in cli("clear")
    assert cache.entries() == []


@pytest.mark.parametrize("text, expected", [("500MB", 500 * 10**6), ("2GB", 2 * 10**9), ("1.5G", 1_500_000_000),
                                            ("1000", 1000)])
def test_sizes_are_read_in_decimal_units(text: str, expected: int) -> None:
    assert cache.parse_size(text) == expected


def test_a_wrong_size_says_what_was_expected() -> None:
    with pytest.raises(ValueError, match="expected a size such as 500MB or 2GB, got 'lots'"):
        cache.parse_size("lots")


KEY_IN_A_FRESH_PROCESS = textwrap.dedent("""
    import sys, keras, numpy as np
    from helpers.infra import cache
    for _ in range(int(sys.argv[1])):  # layers and models built before shift the automatic names
        keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), keras.layers.Dense(2)])
    model.set_weights([np.full(w.shape, 0.5, "float32") for w in model.get_weights()])
    print(cache.call_key(print, {"model": model}))
    model.layers[0].kernel.assign(model.layers[0].kernel + 1.0)
    print(cache.call_key(print, {"model": model}))
    model.layers[0].trainable = False
    print(cache.call_key(print, {"model": model}))
""")


def test_a_keras_model_argument_is_keyed_by_its_weights_and_flags_the_same_way_in_every_process() -> None:
    runs = [subprocess.run([sys.executable, "-c", KEY_IN_A_FRESH_PROCESS, str(built_before)], capture_output=True,
                           text=True, check=True, cwd=REPO).stdout.split() for built_before in (0, 3)]
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 3  # weights and trainable flags both change the key
