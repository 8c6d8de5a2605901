"""The course's measured figures, recorded in one place by the code that measures them.

Every figure has an entry in ``FIGURES`` (what it is, its target and published value if any),
so the store documents itself and a typo is an error, not a new figure. ``record`` stores a
figure with its 95% interval, the data its settings were chosen on and the settings, but only
in a full-profile run with no ``COURSE_PARAM_<NAME>`` override: quick runs (CI, nbgrader) and
students' experiments never replace the course's figures, and no caller has to remember that.
``python -m helpers results`` shows the table.

The store is a JSON file in the course cache; each write is a locked read-modify-write,
written atomically, so two processes recording at once both keep their figure.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from helpers.infra import assets


@dataclass(frozen=True)
class Figure:
    description: str
    target: float | None = None
    better: str = "higher"  # or "lower"
    published: float | None = None
    unit: str = ""

    def met(self, value: float) -> bool | None:
        if self.target is None:
            return None
        return value >= self.target if self.better == "higher" else value <= self.target


FIGURES: dict[str, Figure] = {
    # lesson 03
    "fashion_reference_accuracy": Figure(
        "Fashion-MNIST, the published recipe (out_relu features, 5 epochs), same weights", published=0.859),
    "fashion_frozen_accuracy": Figure("Fashion-MNIST, frozen base + head, settings chosen on validation", 0.87),
    "cached_head_speedup_per_epoch": Figure("head on cached features vs frozen base in fit, per epoch", 20.0, unit="x"),
    # lesson 04
    "fashion_transfer_4000_accuracy": Figure("Fashion-MNIST, frozen transfer, 4,000 labelled images"),
    "fashion_scratch_15000_accuracy": Figure("Fashion-MNIST, CNN from scratch, 15,000 labelled images"),
    "fashion_random_mobilenet_accuracy": Figure("Fashion-MNIST, MobileNetV2 trained from random weights"),
    # lesson 05
    "fashion_finetuned_accuracy": Figure("Fashion-MNIST, fine-tuned, test accuracy", 0.90),
    "mnist_finetuned_accuracy": Figure("MNIST, fine-tuned, test accuracy", 0.985),
    # lesson 07 (flower photos; test accuracy is the mean over seeds, the interval the widest of the seeds' 95%)
    "photos_frozen_100_accuracy": Figure("Flowers, frozen MobileNetV2 + head, 100 training photos per class", 0.85),
    "photos_frozen_all_accuracy": Figure("Flowers, frozen MobileNetV2 + head, every training photo"),
    "photos_finetuned_accuracy": Figure("Flowers, top layers fine-tuned, every training photo", 0.90),
    "photos_transfer_minus_scratch_points": Figure(
        "Flowers, frozen transfer minus CNN from scratch, 50 photos per class", 20.0, unit=" points"),
    "photos_scratch_accuracy": Figure("Flowers, CNN from scratch with augmentation, 50 photos per class"),
    "photos_random_mobilenet_accuracy": Figure("Flowers, MobileNetV2 from random weights, 50 photos per class"),
    "photos_lesson_seconds_cold": Figure("lesson 07 executed, cold cache", 240.0, "lower", unit="s"),
    "photos_lesson_seconds_warm": Figure("lesson 07 executed, warm cache", 20.0, "lower", unit="s"),
    # lesson 08
    # (mean of the seeds, interval over the test images; the sizes are in the settings: 500 and 2,000 images)
    "limits_finetuned_small_accuracy": Figure(
        "Fashion-MNIST, smaller labelled set, the digit CNN fine-tuned from its MNIST weights"),
    "limits_random_small_accuracy": Figure(
        "Fashion-MNIST, smaller labelled set, the same CNN from random weights (same budget)"),
    "limits_finetuned_large_accuracy": Figure(
        "Fashion-MNIST, larger labelled set, the digit CNN fine-tuned from its MNIST weights"),
    "limits_random_large_accuracy": Figure(
        "Fashion-MNIST, larger labelled set, the same CNN from random weights (same budget)"),
    # lesson 09: the common practical (effects in points of test accuracy against the practical as written,
    # on the lesson's common subset; the practical as written on all 60,000 training images)
    "practical_as_written_accuracy": Figure(
        "MNIST, the common practical as written (32 px, x / 255, Dense(128)+softmax, 3 epochs)"),
    "practical_as_written_seconds": Figure("the practical as written: one pass through the base + the head", None,
                                           "lower", unit="s"),
    "practical_effect_96px": Figure("the practical with 96 px instead of 32 px alone", unit="pt"),
    "practical_effect_preprocess_input": Figure("the practical with preprocess_input instead of x / 255 alone",
                                                unit="pt"),
    "practical_effect_course_head": Figure("the practical with the course's Dropout + Dense logits head alone",
                                           unit="pt"),
    "practical_effect_early_stopping": Figure("the practical with early stopping instead of 3 epochs alone",
                                              unit="pt"),
    "practical_effect_full_recipe": Figure("the practical with all four changes (the course's recipe)", unit="pt"),
    # the course as a whole
    "course_seconds_cold": Figure("whole course executed, cold cache", 600.0, "lower", unit="s"),
    "course_seconds_warm": Figure("whole course executed, warm cache", 120.0, "lower", unit="s"),
    "ci_seconds": Figure("full test suite (.ci/run)", 900.0, "lower", unit="s"),
}

QUICK_OR_OVERRIDDEN = "not recorded: only a full-profile run with the lesson's own parameters records figures"


def results_file() -> Path:
    return assets.cache_dir() / "results.json"


def load() -> dict[str, dict[str, Any]]:
    """Every recorded figure: name -> {measured, interval, chosen_on, settings, recorded_at}."""
    try:
        return json.loads(results_file().read_text())
    except (OSError, ValueError):
        return {}


def recording_allowed() -> bool:
    """True in a full-profile run whose lesson parameters were not overridden from outside."""
    from helpers import profile

    overridden = any(name.startswith("COURSE_PARAM_") for name in os.environ)
    return profile() == "full" and not overridden


def record(name: str, measured: float, interval: tuple[float, float] | None = None,
           chosen_on: str | None = None, **settings: Any) -> bool:
    """Store a measured figure (see the module docstring); returns whether it was stored."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; add it to helpers.infra.results.FIGURES first "
                         f"(known: {', '.join(sorted(FIGURES))})")
    if interval is not None and not interval[0] <= measured <= interval[1]:
        raise ValueError(f"{name}: the interval {interval} does not contain the measured value {measured}")
    if not recording_allowed():
        return False
    entry = {"measured": float(measured), "interval": None if interval is None else [float(v) for v in interval],
             "chosen_on": chosen_on, "settings": settings, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    path = results_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        stored = load()
        stored[name] = entry
        text = json.dumps(stored, indent=1, sort_keys=True)
        assets.write_atomically(path, lambda file: file.write(text.encode()))
    return True


def recorded(name: str) -> float | None:
    """The recorded value of one figure, or None when nothing recorded it yet."""
    entry = load().get(name)
    return None if entry is None else float(entry["measured"])


def table() -> dict[str, dict[str, Any]]:
    """Every known figure with what was measured (None when not yet measured)."""
    stored = load()
    rows = {}
    for name, figure in FIGURES.items():
        entry = stored.get(name, {})
        measured = entry.get("measured")
        rows[name] = {
            "description": figure.description, "measured": measured, "interval": entry.get("interval"),
            "target": figure.target, "better": figure.better, "published": figure.published, "unit": figure.unit,
            "met": None if measured is None else figure.met(measured), "chosen_on": entry.get("chosen_on"),
            "settings": entry.get("settings", {}), "recorded_at": entry.get("recorded_at"),
        }
    return rows


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if not unit else f"{value:.1f}{unit}"


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """A plain-text table: figure, measured, 95% interval, target, published, met, chosen on, settings."""
    header = (f"{'figure':36s} {'measured':>9s} {'95% interval':>15s} {'target':>9s} {'published':>9s}  {'met':4s}"
              " chosen on / settings")
    lines = [header, "-" * len(header)]
    for name, row in rows.items():
        unit = row["unit"]
        interval = "-" if row["interval"] is None else "[" + ", ".join(_number(v, unit) for v in row["interval"]) + "]"
        target = "-" if row["target"] is None else (">=" if row["better"] == "higher" else "<=") + _number(row["target"], unit)
        met = {True: "yes", False: "NO", None: "-" if row["target"] is None else "?"}[row["met"]]
        settings = ", ".join(f"{k}={v}" for k, v in row["settings"].items())
        details = "; ".join(part for part in (row["chosen_on"] and f"chosen on {row['chosen_on']}", settings) if part)
        lines.append(f"{name:36s} {_number(row['measured'], unit):>9s} {interval:>15s} {target:>9s} "
                     f"{_number(row['published'], unit):>9s}  {met:4s} {details or '(not measured yet)'}")
    return "\n".join(lines)
