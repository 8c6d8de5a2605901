"""Results of expensive runs (training curves, accuracies, timings), remembered on disk.

``remembered(function, *args, **kwargs)`` returns what ``function(*args, **kwargs)``
returned the last time it was called with the same arguments, or calls it and keeps the
result. This is what makes a second run of the course fast: lessons call their training
helpers through it, and a warm run reads the figures the first run measured.

The key covers the function's module and name, every argument (arrays by their bytes,
dataclasses by their fields, Keras models by their structure without automatic layer names,
their trainable flags and their weights) and the source of the function's module and of every
``helpers`` module it imports, directly or not. Editing such a helper or changing the data
recomputes; editing an unrelated one (a plot) keeps the results. Results (figures, curves,
even Keras models) are pickled into this user's own cache directory, written atomically; an
unreadable entry is recomputed, never trusted. ``COURSE_FRESH=1`` recomputes everything.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from helpers.infra import assets

T = TypeVar("T")
MEMO_FORMAT = 1


def remembered(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``, read from the results cache when this exact call was made before."""
    path = results_cache_dir() / f"{call_key(function, args, kwargs)}.pkl"
    if path.is_file() and os.environ.get("COURSE_FRESH", "") != "1":
        try:
            with path.open("rb") as file:
                return pickle.load(file)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
            pass  # an entry from an interrupted or older run: compute it again
    result = function(*args, **kwargs)
    assets.write_atomically(path, lambda file: pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL))
    return result


def remembered_fit(model: Any, train: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``train(model, *args, **kwargs)``, which trains ``model`` in place and returns a record of the run.

    On a second identical call (same weights and ``trainable`` flags before, same arguments) the
    trained weights are loaded into ``model`` and the record is read back, so the model is left
    exactly as the first run left it, still sharing its layers with any other model.
    """
    def trained(*_: Any, **__: Any) -> tuple[list[np.ndarray], T]:
        record = train(model, *args, **kwargs)
        return model.get_weights(), record

    weights, record = remembered(_keyed_as(trained, train), model, *args, **kwargs)
    model.set_weights(weights)
    return record


def _structure(layer: Any) -> list:
    """A Keras layer or model as its classes, settings and trainable flags, without the automatic
    names (``dense_3``), which depend on what else the session built before."""
    if getattr(layer, "layers", None):
        return [type(layer).__name__, layer.trainable, [_structure(inner) for inner in layer.layers]]
    settings = {key: value for key, value in layer.get_config().items() if key != "name"}
    return [type(layer).__name__, layer.trainable, json.dumps(settings, sort_keys=True, default=str)]


def _keyed_as(function: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` under ``original``'s name, so that its results are keyed as the original's."""
    function.__module__, function.__qualname__ = original.__module__, f"{original.__qualname__}[trained weights]"
    return function


def results_cache_dir() -> Path:
    return assets.cache_dir() / "results"


def call_key(function: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> str:
    """A hex key that changes when the function, any argument or the helpers code it uses changes."""
    name = f"{function.__module__}.{function.__qualname__}"
    digest = hashlib.sha256(f"{MEMO_FORMAT}:{name}:{code_digest(function.__module__)}".encode())
    _feed(digest, list(args))
    _feed(digest, dict(sorted(kwargs.items())))
    return digest.hexdigest()[:32]


@lru_cache(maxsize=None)
def code_digest(module: str) -> str:
    """SHA-256 over the source files of ``helper_sources(module)``."""
    digest = hashlib.sha256()
    for source in helper_sources(module):
        digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()


def helper_sources(module: str) -> list[Path]:
    """``helpers/__init__.py``, the source of ``module`` when it is a helpers module, and that of every
    helpers module it imports, directly or through others (imports inside functions count), sorted."""
    package = Path(__file__).parents[1]
    found = {package / "__init__.py"}
    pending = [module]
    while pending:
        source = package.joinpath(*pending.pop().removeprefix("helpers.").split(".")).with_suffix(".py")
        if source not in found and source.is_file():
            found.add(source)
            pending.extend(_imported_helpers(source))
    return sorted(found)


def _imported_helpers(source: Path) -> list[str]:
    """The ``helpers.*`` names in one file's import statements (``from helpers import x`` gives
    ``helpers.x``, which is a module or, for names of ``__init__``, no file)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "helpers":
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names if alias.name.startswith("helpers.")]
    return names


def _feed(digest: Any, value: Any) -> None:
    """Add ``value`` to ``digest`` unambiguously (type tags, lengths); TypeError for what cannot be keyed."""
    if value is None or isinstance(value, (bool, int, float, str)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, np.ndarray):
        digest.update(f"array:{value.dtype}:{value.shape};".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, np.generic):
        _feed(digest, value.item())
    elif isinstance(value, (list, tuple)):
        digest.update(f"seq:{len(value)};".encode())
        for item in value:
            _feed(digest, item)
    elif isinstance(value, dict):
        digest.update(f"dict:{len(value)};".encode())
        for key, item in value.items():
            _feed(digest, str(key))
            _feed(digest, item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        digest.update(f"dataclass:{type(value).__qualname__};".encode())
        _feed(digest, {field.name: getattr(value, field.name) for field in dataclasses.fields(value)})
    elif hasattr(value, "get_weights") and hasattr(value, "trainable_weights"):  # a Keras model or layer
        trainable = {id(weight) for weight in value.trainable_weights}
        _feed(digest, [_structure(value), [id(weight) in trainable for weight in value.weights], value.get_weights()])
    else:
        raise TypeError(f"cannot key a result on an argument of type {type(value).__name__}; expected arrays, "
                        f"numbers, strings, lists, dicts, dataclasses or Keras models")

