"""What the course cache costs and saves, on the entries the lessons actually keep.

For each kind of entry (pooled features of 4,000 images, a trained head with its Keras model, the
cut activations fine-tuning reads) it times: computing the key, the first call (compute + store), and a
second call (read back). Runs in a temporary COURSE_CACHE, so the course's own cache is untouched.

    python benchmarks/cache_overhead.py
"""
from __future__ import annotations

import inspect
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def main() -> int:
    os.environ["COURSE_CACHE"] = tempfile.mkdtemp(prefix="cache-overhead-")
    from helpers import setup

    setup()
    from helpers.data import load_dataset
    from helpers.features import compute_features, extract_features
    from helpers.head_training import train_head
    from helpers.infra import cache

    fashion = load_dataset("fashion_mnist", n_train=4000, n_test=1)
    pooled = compute_features(fashion.x_train, layer="block_13_expand_relu")  # the head's input, not cached
    cases = {
        "pooled features, 4,000 images": (extract_features, (fashion.x_train,), {"layer": "block_13_expand_relu"}),
        "cut activations, 1,000 images": (extract_features, (fashion.x_train[:1000],),
                                          {"layer": "block_9_add", "pooled": False}),
        "trained head (Keras model)": (train_head, (pooled, fashion.y_train), {"epochs": 20}),
    }
    print(f"{'entry':<32} {'key ms':>7} {'first call s':>12} {'read back s':>11} {'size':>9}")
    for name, (function, args, kwargs) in cases.items():
        bound = inspect.signature(function).bind(*args, **kwargs)
        bound.apply_defaults()
        key_seconds, key = timed(lambda: cache.call_key(function, bound.arguments))  # noqa: B023
        first, _ = timed(lambda: function(*args, **kwargs))  # noqa: B023
        second, _ = timed(lambda: function(*args, **kwargs))  # noqa: B023
        size = next(entry.bytes for entry in cache.entries() if entry.key == key)
        print(f"{name:<32} {1000 * key_seconds:>7.1f} {first:>12.2f} {second:>11.3f} {cache.describe(size):>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
