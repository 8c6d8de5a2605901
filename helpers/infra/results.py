"""The measured figures of the course, recorded by the lessons that measure them.

Each lesson calls ``record`` for the numbers it computes; ``python -m helpers
results`` shows them next to their targets. The store is a JSON file in the
course cache, written atomically.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.infra import assets


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
    text = json.dumps(stored, indent=1, sort_keys=True)
    assets.write_atomically(results_file(), lambda file: file.write(text.encode()))
    return float(measured)


def table() -> dict[str, dict[str, Any]]:
    """Every target figure with what was measured (None when not yet measured)."""
    stored = load()
    rows = {}
    for name, target in TARGETS.items():
        entry = stored.get(name, {})
        measured = entry.get("measured")
        rows[name] = {
            "description": target.description,
            "measured": measured,
            "target": target.target,
            "better": target.better,
            "published": target.published,
            "unit": target.unit,
            "met": None if measured is None else target.met(measured),
            "settings": entry.get("settings", {}),
            "recorded_at": entry.get("recorded_at"),
        }
    return rows


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if not unit else f"{value:.1f}{unit}"


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """A plain-text table: figure, measured, target, published, met, settings."""
    header = f"{'figure':32s} {'measured':>9s} {'target':>10s} {'published':>9s}  {'met':4s} settings"
    lines = [header, "-" * len(header)]
    for name, row in rows.items():
        sign = ">=" if row["better"] == "higher" else "<="
        met = {True: "yes", False: "NO", None: "?"}[row["met"]]
        settings = ", ".join(f"{k}={v}" for k, v in row["settings"].items()) or "(run the lessons to measure)"
        lines.append(
            f"{name:32s} {_number(row['measured'], row['unit']):>9s} {sign + _number(row['target'], row['unit']):>10s} "
            f"{_number(row['published'], row['unit']):>9s}  {met:4s} {settings}"
        )
    return "\n".join(lines)
