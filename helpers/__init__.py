"""The one shared module of the transfer-learning course.

Every lesson starts with::

    from helpers import setup, lesson_parameters
    setup()

and then imports what it needs from the submodules (``data``, ``backbones``,
``features``, ``models``, ``training``, ``evaluation``, ``plots``, ``checks``).
"""
from __future__ import annotations

import contextlib
import os
import random
import sys
from types import SimpleNamespace
from typing import Any

# Both must be set before TensorFlow is imported. The first quiets its C++ start-up chatter;
# the second turns on oneDNN kernels, which TensorFlow 2.21 leaves off here and which make
# every forward pass about twice as fast on a laptop CPU (benchmarks/onednn_speed.py).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

DEFAULT_SEED = 42
QUICK_PROFILES = ("quick",)


def profile() -> str:
    """'quick' under nbgrader or when COURSE_PROFILE=quick (CI), else 'full'."""
    if os.environ.get("NBGRADER_EXECUTION"):
        return "quick"
    chosen = os.environ.get("COURSE_PROFILE", "full").strip().lower()
    if chosen not in ("full", "quick"):
        raise ValueError(f"COURSE_PROFILE must be 'full' or 'quick', got {chosen!r}")
    return chosen


def lesson_parameters(quick: dict[str, Any] | None = None, **defaults: Any) -> SimpleNamespace:
    """A lesson's parameters: the defaults, the quick profile's overrides, then env vars.

    Any parameter can be set from outside as ``COURSE_PARAM_<NAME>`` (for example
    ``COURSE_PARAM_EPOCHS=2``); the value is converted to the default's type.
    """
    values = dict(defaults)
    if profile() == "quick":
        unknown = set(quick or {}) - set(defaults)
        if unknown:
            raise ValueError(f"quick profile sets unknown parameters {sorted(unknown)}; known: {sorted(defaults)}")
        values.update(quick or {})
    for name, default in defaults.items():
        raw = os.environ.get(f"COURSE_PARAM_{name.upper()}")
        if raw is not None:
            values[name] = _convert(raw, default, name)
    print(f"profile={profile()} " + " ".join(f"{k}={v!r}" for k, v in values.items()))
    return SimpleNamespace(**values)


def _convert(raw: str, default: Any, name: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes")
    try:
        return type(default)(raw) if default is not None else raw
    except ValueError:
        raise ValueError(f"COURSE_PARAM_{name.upper()}={raw!r} is not a valid {type(default).__name__}") from None


@contextlib.contextmanager
def _native_stderr_silenced() -> Any:
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ notes bypass Python and its log level.

    Python exceptions still propagate; only text written straight to the descriptor is lost.
    """
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def setup(seed: int = DEFAULT_SEED, check_assets: bool = True) -> None:
    """Seeds, quiet logs, plot style and an asset check with a readable message.

    Every asset is verified by SHA-256 when it is used (``helpers.assets.fetch``).
    """
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    with _native_stderr_silenced():  # "oneDNN custom operations are on", twice, in every notebook
        import keras
        import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.get_logger().setLevel("ERROR")
    from helpers import plots

    plots.use_course_style()
    if check_assets:
        from helpers.infra import assets

        missing = assets.unavailable_locally()
        if missing and assets.mirror_dir() is not None:
            raise assets.AssetMissingError(
                f"COURSE_ASSETS={assets.mirror_dir()} lacks {', '.join(missing)}; "
                "run `python -m helpers doctor` to see where each asset is looked for"
            )
        if missing:
            print(f"{len(missing)} assets are not local yet; they are downloaded and verified on first use.")
    print(f"helpers ready: TensorFlow {tf.__version__}, Keras {keras.__version__}, seed {seed}, profile {profile()}")
