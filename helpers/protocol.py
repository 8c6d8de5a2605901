"""The course's measurement protocol: choose on validation data, test once.

1. The training images are split once into a part that trains and a part that chooses
   (``validation_split``: stratified by class, fixed by a seed).
2. Every setting (tap layer, epochs, input size, learning rate, depth, ...) is chosen by
   ``select`` from validation accuracies, repeated over seeds. ``select`` receives no data at
   all, only a function that trains on the training part and scores on the validation part, so
   a choice cannot depend on the test images.
3. When every choice is fixed, the final recipe is scored once on the test images, with a
   95% interval (``helpers.evaluation.score``).

When candidates tie (their seed ranges overlap: no measurable difference), ``select`` does not
pick the luckiest one: it keeps the first of the tied candidates in the order the caller gave,
which the lessons order from the cheapest or simplest to the most expensive.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers.evaluation import Spread, overlap

DEFAULT_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Split:
    """Indices into a training set: the part that trains and the part that chooses (validation)."""

    train: np.ndarray
    validation: np.ndarray

    def take(self, values: Any) -> tuple[np.ndarray, np.ndarray]:
        """(training part, validation part) of an array aligned with the training set."""
        array = np.asarray(values)
        needed = int(max(self.train.max(initial=-1), self.validation.max(initial=-1))) + 1
        if len(array) < needed:
            raise ValueError(f"expected an array with at least {needed} rows (aligned with the training set), "
                             f"got {len(array)}")
        return array[self.train], array[self.validation]

    def __str__(self) -> str:
        return f"{len(self.train):,} training / {len(self.validation):,} validation images"


def validation_split(labels: Sequence[int], fraction: float = 0.2, seed: int = 0) -> Split:
    """Hold out ``fraction`` of each class for validation (stratified), the same for the same seed.

    Both parts keep the images' original order, so "the first n training images" stays meaningful.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) < 2:
        raise ValueError(f"expected a 1-D array of at least 2 labels, got shape {y.shape}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie strictly between 0 and 1, got {fraction!r}")
    rng = np.random.default_rng(seed)
    held_out = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        count = int(round(len(members) * fraction))
        held_out.append(rng.choice(members, size=count, replace=False))
    validation = np.sort(np.concatenate(held_out))
    if len(validation) in (0, len(y)):
        raise ValueError(f"a {fraction:.0%} validation split of {len(y)} labels leaves one part empty")
    train = np.setdiff1d(np.arange(len(y)), validation)
    return Split(train, validation)


@dataclass(frozen=True)
class Selection:
    """The validation accuracy of every candidate over seeds, and the one chosen."""

    scores: dict[str, Spread]  # keyed by str(candidate)
    options: dict[str, Any]  # str(candidate) -> the candidate itself
    chosen: str
    best: str  # the highest mean; equal to ``chosen`` unless a tie was broken towards an earlier candidate
    tied: tuple[str, ...]  # candidates with no measurable difference from the best

    @property
    def chosen_value(self) -> Any:
        """The chosen candidate itself (a layer name, a number of layers, a rate...)."""
        return self.options[self.chosen]

    def table(self, label: str = "candidate") -> str:
        """The candidates, their validation accuracy over seeds, and which was chosen."""
        width = max(len(label), *(len(str(name)) for name in self.scores))
        lines = [f"{label:<{width}}  validation accuracy (mean ± sd, seeds, range)"]
        for name, spread in self.scores.items():
            mark = "  <- chosen" if name == self.chosen else "  (tied with the best)" if name in self.tied else ""
            lines.append(f"{name:<{width}}  {spread}{mark}")
        return "\n".join(lines)

    def reason(self) -> str:
        """Why ``chosen`` was chosen, in one sentence."""
        if len(self.tied) <= 1:
            return f"{self.chosen} has the highest validation accuracy, measurably above the others"
        others = ", ".join(name for name in self.tied if name != self.chosen)
        if self.chosen == self.best:
            return (f"{self.chosen} has the highest validation accuracy, but no measurable difference from {others}; "
                    f"it is also the first of them in the order of preference")
        return (f"no measurable difference between {', '.join(self.tied)} on validation data: we keep "
                f"{self.chosen}, the first of them in the order of preference, not the luckiest ({self.best})")


def select(validation_accuracy: Callable[[Any, int], float], candidates: Sequence[Any],
           seeds: Sequence[int] = DEFAULT_SEEDS) -> Selection:
    """Choose among ``candidates`` (ordered from most to least preferred when they tie) by
    ``validation_accuracy(candidate, seed)``, which trains on the training part of a split and
    scores on its validation part. No test data goes in."""
    if not candidates:
        raise ValueError("select needs at least one candidate")
    if not seeds:
        raise ValueError("select needs at least one seed")
    if len(set(map(str, candidates))) != len(candidates):
        raise ValueError(f"candidates must be distinct, got {list(candidates)}")
    scores = {str(c): Spread(tuple(float(validation_accuracy(c, seed)) for seed in seeds)) for c in candidates}
    best = max(scores, key=lambda name: scores[name].mean)
    tied = tuple(name for name in scores if overlap(scores[name], scores[best]))
    return Selection(scores, {str(c): c for c in candidates}, tied[0], best, tied)
