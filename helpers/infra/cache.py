"""The course's one cache: what an expensive function returned, kept on disk under one key.

Decorate the function where it is defined::

    @cached
    def extract_features(images, backbone="mobilenet_v2", size=96, ...): ...

A call looks its key up first and runs the function only on a miss. The key covers

- the function's own code (its source, or its bytecode when there is no source: functions
  defined in a notebook are covered too) and the code of every ``helpers`` module it uses,
  directly or through others;
- its arguments after defaults are applied (arrays by their bytes, dtype and shape,
  dataclasses by their fields, Keras models by their structure, trainable flags and weights);
- the library versions (Python, NumPy, TensorFlow, Keras), the settings that change numerics
  (``TF_ENABLE_ONEDNN_OPTS``) and where the pretrained weights came from (the mirror's files
  or a download, which differ).

Entries are folders written to a temporary name and renamed into place, under a lock per key,
so two processes asking for the same entry compute it once. Keras models inside a result are
stored as ``.keras`` files, everything else with pickle; any entry that cannot be read is a
miss, never a crash. The cache is bounded (``COURSE_CACHE_MAX_GB``, least recently used
entries go first) and ``python -m helpers cache info | clear | prune`` shows and manages it.

Read-only layers (``COURSE_CACHE_READONLY``, paths separated by ``os.pathsep``) are consulted
after the writable cache and never written: the grading sandbox reads the instructor's cache
through one.
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib.metadata
import inspect
import json
import marshal
import os
import pickle
import platform
import shutil
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from filelock import FileLock

from helpers.infra import assets

F = TypeVar("F", bound=Callable[..., Any])
CACHE_FORMAT = 2
DEFAULT_MAX_GB = 20.0
_PACKAGE = Path(__file__).resolve().parents[1]  # the helpers package


# ----------------------------------------------------------------------------- locations


def cache_root() -> Path:
    """The writable cache: ``$COURSE_CACHE/cache``."""
    return assets.cache_dir() / "cache"


def readonly_roots() -> list[Path]:
    """Read-only cache layers from ``COURSE_CACHE_READONLY`` (consulted after the writable one)."""
    raw = os.environ.get("COURSE_CACHE_READONLY", "")
    return [Path(part).expanduser().resolve() / "cache" for part in raw.split(os.pathsep) if part.strip()]


def _entry_dir(root: Path, key: str) -> Path:
    return root / "entries" / key[:2] / key


def max_bytes() -> int:
    """The size above which the least recently used entries are pruned (``COURSE_CACHE_MAX_GB``)."""
    raw = os.environ.get("COURSE_CACHE_MAX_GB", str(DEFAULT_MAX_GB))
    try:
        gigabytes = float(raw)
    except ValueError:
        raise ValueError(f"COURSE_CACHE_MAX_GB must be a number of gigabytes, got {raw!r}") from None
    if gigabytes <= 0:
        raise ValueError(f"COURSE_CACHE_MAX_GB must be positive, got {raw!r}")
    return int(gigabytes * 1e9)


# ----------------------------------------------------------------------------- the decorator


def cached(function: F) -> F:
    """``function`` with its results kept in the course cache (see the module docstring)."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        key = call_key(function, bound.arguments)
        fresh = os.environ.get("COURSE_FRESH", "") == "1"
        if not fresh:
            for root in readonly_roots():
                found = _load(_entry_dir(root, key))
                if found is not _MISS:
                    return found
        root = cache_root()
        _locks_dir(root).mkdir(parents=True, exist_ok=True)
        with FileLock(str(_locks_dir(root) / f"{key}.lock")):
            if not fresh:
                found = _load(_entry_dir(root, key))
                if found is not _MISS:
                    return found
            result = function(*args, **kwargs)
            _store(root, key, result, f"{function.__module__}.{function.__qualname__}")
        prune(max_bytes())
        return result

    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _locks_dir(root: Path) -> Path:
    return root / "locks"


# ----------------------------------------------------------------------------- the key


def call_key(function: Callable[..., Any], arguments: dict[str, Any]) -> str:
    """A hex key that changes when the function, its helpers, an argument or the environment changes."""
    function = inspect.unwrap(function)
    digest = hashlib.sha256(f"format {CACHE_FORMAT}\n".encode())
    digest.update(f"{function.__module__}.{function.__qualname__}\n".encode())  # a notebook's is "__main__"
    digest.update(function_code(function))
    for module in sorted(helpers_used_by(function)):
        digest.update(module.encode() + b"\n" + module_digest(module).encode())
    digest.update(json.dumps(environment(), sort_keys=True).encode())
    feed(digest, arguments)
    return digest.hexdigest()[:40]


def function_code(function: Callable[..., Any]) -> bytes:
    """The function's source, or its bytecode when no source can be found (e.g. an exec'd string)."""
    try:
        return inspect.getsource(function).encode()
    except (OSError, TypeError):
        code = getattr(function, "__code__", None)
        return marshal.dumps(code) if code is not None else repr(function).encode()  # bytecode, or a builtin's name


def helpers_used_by(function: Callable[..., Any]) -> set[str]:
    """The ``helpers`` modules whose code the function's result depends on: its own module when it is
    one, the helpers modules and functions its code refers to, and everything those import."""
    function = inspect.unwrap(function)
    own = str(function.__module__)
    start = {own} if own.split(".")[0] == "helpers" else set()
    namespace = getattr(function, "__globals__", {})
    code = getattr(function, "__code__", None)
    for name in _names_in(code) if code is not None else ():
        value = namespace.get(name)
        module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(module, str) and module.split(".")[0] == "helpers":
            start.add(module)
    return {name for module in start for name in module_closure(module)}


def _names_in(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _names_in(constant)


@functools.lru_cache(maxsize=None)
def module_closure(module: str) -> frozenset[str]:
    """``module`` (a helpers module), ``helpers/__init__`` and every helpers module ``module`` imports,
    directly or through others; imports inside functions count."""
    found: set[str] = {"helpers"}  # its code (profile, parameters) counts; what setup() imports does not
    pending = [module]
    while pending:
        name = pending.pop()
        source = module_file(name)
        if source is None or name in found:
            continue
        found.add(name)
        pending.extend(_imported_helpers(source))
    return frozenset(found)


def module_file(module: str) -> Path | None:
    """The source file of a helpers module name, or None when the name is not a module file."""
    parts = module.split(".")
    if parts[0] != "helpers":
        return None
    path = _PACKAGE.joinpath(*parts[1:])
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported_helpers(source: Path) -> list[str]:
    """The ``helpers`` module names in one file's import statements (``from helpers import x`` gives
    ``helpers`` and ``helpers.x``, which may be a module or just a name of ``helpers/__init__``)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=str(source))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "helpers":
            names += [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names if alias.name.split(".")[0] == "helpers"]
    return names


@functools.lru_cache(maxsize=None)
def module_digest(module: str) -> str:
    source = module_file(module)
    return hashlib.sha256(source.read_bytes()).hexdigest() if source else "no file"


def environment() -> dict[str, str]:
    """What besides the code and the arguments changes a result: library versions, numerics settings,
    and where the pretrained weights came from."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        **{package: _version(package) for package in ("numpy", "keras", "tensorflow")},
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", ""),
        "downloaded_weights": json.dumps(assets.trusted_downloads(), sort_keys=True),
    }


@functools.lru_cache(maxsize=None)
def _version(package: str) -> str:
    for distribution in (package, f"{package}-cpu"):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def feed(digest: Any, value: Any) -> None:
    """Add ``value`` to ``digest`` unambiguously (type tags, lengths); TypeError for what cannot be keyed."""
    if value is None or isinstance(value, (bool, int, float, str)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, np.ndarray):
        digest.update(f"array:{value.dtype}:{value.shape};".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, np.generic):
        feed(digest, value.item())
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}:{len(value)};".encode())
        for item in value:
            feed(digest, item)
    elif isinstance(value, dict):
        digest.update(f"dict:{len(value)};".encode())
        for key, item in value.items():
            feed(digest, str(key))
            feed(digest, item)
    elif isinstance(value, Path):
        feed(digest, f"path:{value}")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        digest.update(f"dataclass:{type(value).__qualname__};".encode())
        feed(digest, {field.name: getattr(value, field.name) for field in dataclasses.fields(value)})
    elif hasattr(value, "get_weights") and hasattr(value, "trainable_weights"):  # a Keras model or layer
        trainable = {id(weight) for weight in value.trainable_weights}
        feed(digest, [keras_structure(value), [id(weight) in trainable for weight in value.weights], value.get_weights()])
    elif callable(value) and hasattr(value, "__code__"):
        digest.update(b"function:" + function_code(value))
    else:
        raise TypeError(f"cannot key a cached result on an argument of type {type(value).__name__}; expected "
                        f"arrays, numbers, strings, paths, lists, dicts, dataclasses, functions or Keras models")


def keras_structure(layer: Any) -> list[Any]:
    """A Keras layer or model as its classes, settings and trainable flags, without the automatic
    names (``dense_3``), which depend on what else the session built before."""
    if getattr(layer, "layers", None):
        return [type(layer).__name__, layer.trainable, [keras_structure(inner) for inner in layer.layers]]
    settings = {key: value for key, value in layer.get_config().items() if key != "name"}
    return [type(layer).__name__, layer.trainable, json.dumps(settings, sort_keys=True, default=str)]


# ----------------------------------------------------------------------------- storing and loading


_MISS = object()
VALUE_FILE = "value.pkl"
META_FILE = "meta.json"
USED_FILE = "used"  # its modification time is the entry's last use


def _is_keras_model(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "keras" and hasattr(value, "save") and hasattr(value, "layers")


class _Pickler(pickle.Pickler):
    """Pickle with every Keras model inside the value saved beside it as a ``.keras`` file."""

    def __init__(self, file: Any, folder: Path) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.folder = folder
        self.models: dict[int, str] = {}

    def persistent_id(self, obj: Any) -> Any:
        if not _is_keras_model(obj):
            if type(obj).__module__.split(".")[0] in ("keras", "tensorflow"):
                raise TypeError(f"cannot keep a {type(obj).__name__} in the cache: return arrays, numbers, "
                                f"dataclasses or whole Keras models")
            return None
        if id(obj) not in self.models:
            name = f"model-{len(self.models)}.keras"
            obj.save(self.folder / name)
            self.models[id(obj)] = name
        return ("keras", self.models[id(obj)])


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, folder: Path) -> None:
        super().__init__(file)
        self.folder = folder
        self.models: dict[str, Any] = {}

    def persistent_load(self, pid: Any) -> Any:
        kind, name = pid
        if kind != "keras":
            raise pickle.UnpicklingError(f"unknown stored object kind {kind!r}")
        if name not in self.models:
            import keras

            self.models[name] = keras.models.load_model(self.folder / name, compile=False)
        return self.models[name]


def _load(entry: Path) -> Any:
    """The value stored in ``entry``, or _MISS when there is none or it cannot be read."""
    if not (entry / VALUE_FILE).is_file():
        return _MISS
    try:
        with open(entry / VALUE_FILE, "rb") as file:
            value = _Unpickler(file, entry).load()
    except Exception:  # noqa: BLE001 - a half-written, foreign or outdated entry is a miss, never a crash
        return _MISS
    try:
        (entry / USED_FILE).touch()
    except OSError:  # a read-only layer
        pass
    return value


def _store(root: Path, key: str, value: Any, function: str) -> None:
    """Write the entry into a temporary folder, then rename it into place (replacing an unreadable one)."""
    target = _entry_dir(root, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target.parent))
    try:
        with open(staging / VALUE_FILE, "wb") as file:
            _Pickler(file, staging).dump(value)
        size = sum(path.stat().st_size for path in staging.iterdir())
        meta = {"function": function, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "bytes": size}
        (staging / META_FILE).write_text(json.dumps(meta))
        (staging / USED_FILE).touch()
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ----------------------------------------------------------------------------- managing


@dataclass(frozen=True)
class Entry:
    key: str
    function: str
    bytes: int
    last_used: float
    path: Path


def entries(root: Path | None = None) -> list[Entry]:
    """Every complete entry of the writable cache (or of ``root``), oldest use first."""
    base = (root or cache_root()) / "entries"
    found = []
    for meta_path in base.glob(f"*/*/{META_FILE}"):
        folder = meta_path.parent
        try:
            meta = json.loads(meta_path.read_text())
            used = (folder / USED_FILE).stat().st_mtime
        except (OSError, ValueError):
            continue
        found.append(Entry(folder.name, str(meta.get("function", "?")), int(meta.get("bytes", 0)), used, folder))
    return sorted(found, key=lambda entry: entry.last_used)


def total_bytes(root: Path | None = None) -> int:
    return sum(entry.bytes for entry in entries(root))


def remove(entry: Entry) -> bool:
    """Delete one entry unless another process holds its lock right now; True when it is gone."""
    lock = FileLock(str(_locks_dir(entry.path.parents[2]) / f"{entry.key}.lock"))
    try:
        lock.acquire(timeout=0)
    except TimeoutError:
        return False
    try:
        shutil.rmtree(entry.path, ignore_errors=True)
        return True
    finally:
        lock.release()


def prune(limit: int, root: Path | None = None) -> int:
    """Remove least recently used entries until the cache holds at most ``limit`` bytes; returns how many went."""
    if limit < 0:
        raise ValueError(f"the size limit must be >= 0 bytes, got {limit}")
    current = entries(root)
    size = sum(entry.bytes for entry in current)
    removed = 0
    for entry in current:
        if size <= limit:
            break
        if remove(entry):
            size -= entry.bytes
            removed += 1
    return removed


def clear(function: str | None = None, root: Path | None = None) -> int:
    """Remove every entry (or those of one function, by its dotted name or last part); returns how many went."""
    chosen = [entry for entry in entries(root)
              if function is None or entry.function == function or entry.function.endswith(f".{function}")]
    return sum(remove(entry) for entry in chosen)


def summary(root: Path | None = None) -> dict[str, dict[str, int]]:
    """Entries and bytes per function."""
    table: dict[str, dict[str, int]] = {}
    for entry in entries(root):
        row = table.setdefault(entry.function, {"entries": 0, "bytes": 0})
        row["entries"] += 1
        row["bytes"] += entry.bytes
    return dict(sorted(table.items()))


def parse_size(text: str) -> int:
    """'500MB', '2GB', '1.5G', '1000' (bytes) -> bytes."""
    units = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9}
    cleaned = text.strip().upper().replace(" ", "")
    number = cleaned.rstrip("KMGB")
    unit = cleaned[len(number):]
    try:
        if unit not in units:
            raise ValueError
        return int(float(number) * units[unit])
    except ValueError:
        raise ValueError(f"expected a size such as 500MB or 2GB, got {text!r}") from None


def describe(value: int) -> str:
    """Bytes for people: '1.2 GB'."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"

