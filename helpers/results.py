"""The measured figures of the course, recorded by the lessons that measure them.

Each lesson calls ``record`` for the numbers it computes; ``python -m helpers
results`` shows them next to their targets. The store is a JSON file in the
course cache, written atomically.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import assets


@dataclass(frozen=True)
class Target:
    description: str
    target: float
    better: str  # "higher" or "lower"
    published: float | None = None
    unit: str = ""

    def met(self, value: float) -> bool:
        return value >= self.target if self.better == "higher" else value <= self.target


TARGETS: dict[str, Target] = {
    "fashion_frozen_accuracy": Target("Fashion-MNIST, frozen base + head, test accuracy", 0.87, "higher", 0.859),
    "fashion_finetuned_accuracy": Target("Fashion-MNIST, fine-tuned, 4,000 images, test accuracy", 0.89, "higher"),
    "mnist_finetuned_accuracy": Target("MNIST, fine-tuned, 4,000 images, test accuracy", 0.98, "higher"),
    "cached_head_speedup_per_epoch": Target("head on cached features vs frozen base in fit, per epoch", 20.0, "higher", None, "x"),
    "course_seconds_cold": Target("whole course executed, cold cache", 600.0, "lower", None, "s"),
    "course_seconds_warm": Target("whole course executed, warm cache", 180.0, "lower", None, "s"),
    "ci_seconds": Target("full test suite (.ci/run)", 900.0, "lower", None, "s"),
}


def results_file() -> Path:
    return assets.cache_dir() / "results.json"


def load() -> dict[str, dict[str, Any]]:
    """Every recorded figure: name -> {measured, settings, recorded_at}."""
    try:
        return json.loads(results_file().read_text())
    except (OSError, ValueError):
        return {}


def record(name: str, measured: float, **settings: Any) -> float:
    """Store a measured figure with the settings that produced it; returns the value."""
    stored = load()
    stored[name] = {"measured": float(measured), "settings": settings, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    target = results_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(stored, indent=1, sort_keys=True))
    os.replace(tmp, target)
    return float(measured)
