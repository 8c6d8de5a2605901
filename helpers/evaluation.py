"""Confusion matrices, accuracies with their 95% intervals, and spreads over seeds: computed once for every lesson."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts[i, j] = how many images of true class i were predicted as class j."""
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {true.shape} and {pred.shape}")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true, pred), 1)
    return matrix


def most_confused_pairs(matrix: np.ndarray, class_names: Sequence[str], top: int = 5) -> list[tuple[str, str, int]]:
    """The ``top`` off-diagonal cells: (true class, predicted class, count), largest first."""
    off_diagonal = matrix.copy()
    np.fill_diagonal(off_diagonal, 0)
    order = np.argsort(off_diagonal, axis=None)[::-1][:top]
    pairs = [np.unravel_index(i, matrix.shape) for i in order]
    return [(class_names[t], class_names[p], int(matrix[t, p])) for t, p in pairs if matrix[t, p] > 0]


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Recall of each class: the diagonal over the row sums."""
    return np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)


# --------------------------------------------------------------------- uncertainty
#
# Every headline accuracy is shown with a 95% interval, and two results whose intervals
# overlap are reported as "no measurable difference". Two kinds of noise are measured:
#
# * the test sample: which test images happened to be drawn. Resampling the images with
#   replacement (a bootstrap) shows how much the accuracy would move; for a mean of 0/1
#   outcomes the bootstrap distribution is exactly a binomial, so it is drawn as one.
# * training: the same recipe trained with another seed (initial weights, shuffling,
#   dropout) lands elsewhere. Repeating it over seeds shows the spread.

CONFIDENCE = 0.95
RESAMPLES = 10_000


@dataclass(frozen=True)
class Score:
    """An accuracy on ``n`` held-out images with its 95% bootstrap interval over those images."""

    accuracy: float
    low: float
    high: float
    n: int

    @property
    def interval(self) -> tuple[float, float]:
        return (self.low, self.high)

    def __str__(self) -> str:
        return f"{self.accuracy:.3f} [{self.low:.3f}, {self.high:.3f}]"


def score(y_true: Sequence[int], y_pred: Sequence[int], seed: int = 0) -> Score:
    """Accuracy of ``y_pred`` with a 95% bootstrap interval over the images (resampled with replacement)."""
    true, pred = _same_shape(y_true, y_pred)
    n = len(true)
    accuracy = float(np.mean(true == pred))
    resampled = np.random.default_rng(seed).binomial(n, accuracy, size=RESAMPLES) / n
    low, high = np.quantile(resampled, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return Score(accuracy, float(low), float(high), n)


@dataclass(frozen=True)
class Difference:
    """Accuracy of A minus accuracy of B on the same images, in points, with a paired 95% interval."""

    points: float
    low: float
    high: float

    @property
    def measurable(self) -> bool:
        """True when the interval excludes zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.points:+.1f} points [{self.low:+.1f}, {self.high:+.1f}]"


def paired_difference(y_true: Sequence[int], pred_a: Any, pred_b: Any, seed: int = 0) -> Difference:
    """A's accuracy minus B's on the same images, in points, with a bootstrap interval that resamples images
    and keeps each image's outcomes together. ``pred_a``/``pred_b`` are one run's predictions, or one row per
    seed (then each image counts by the share of seeds that got it right)."""
    true = np.asarray(y_true)
    right_a, right_b = _share_right(true, pred_a), _share_right(true, pred_b)
    difference = 100 * (right_a - right_b)
    rng = np.random.default_rng(seed)
    resampled = [difference[rng.integers(0, len(true), len(true))].mean() for _ in range(RESAMPLES // 5)]
    low, high = np.quantile(resampled, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return Difference(float(difference.mean()), float(low), float(high))


def _share_right(true: np.ndarray, predictions: Any) -> np.ndarray:
    rows = np.atleast_2d(np.asarray(predictions))
    if true.ndim != 1 or len(true) == 0 or rows.shape[1:] != true.shape:
        raise ValueError(f"expected predictions of shape ({len(true)},) or (seeds, {len(true)}) for {len(true)} "
                         f"labels, got {rows.shape}")
    return np.mean(rows == true, axis=0)


@dataclass(frozen=True)
class Spread:
    """One setting measured with several seeds: the values, their mean and their range."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a spread needs at least one value")

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else 0.0

    @property
    def low(self) -> float:
        return float(min(self.values))

    @property
    def high(self) -> float:
        return float(max(self.values))

    def __str__(self) -> str:
        seeds = f"{len(self.values)} seed" + ("s" if len(self.values) > 1 else "")
        return f"{self.mean:.3f} ± {self.std:.3f} ({seeds}, {self.low:.3f}-{self.high:.3f})"


def overlap(a: Score | Spread, b: Score | Spread) -> bool:
    """True when the two intervals (bootstrap intervals, or seed ranges) overlap: no measurable difference."""
    return a.low <= b.high and b.low <= a.high


def compare(name_a: str, a: Score | Spread, name_b: str, b: Score | Spread) -> str:
    """One sentence: which is higher and by how many points, or "no measurable difference"."""
    value_a, value_b = _central(a), _central(b)
    if overlap(a, b):
        return f"no measurable difference: {name_a} {a} and {name_b} {b} overlap"
    higher, lower = (name_a, name_b) if value_a > value_b else (name_b, name_a)
    return f"{higher} is higher by {100 * abs(value_a - value_b):.1f} points ({name_a} {a}, {name_b} {b})"


def _central(value: Score | Spread) -> float:
    return value.accuracy if isinstance(value, Score) else value.mean


def _same_shape(y_true: Sequence[int], y_pred: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    if true.shape != pred.shape or true.ndim != 1 or len(true) == 0:
        raise ValueError(f"expected two non-empty 1-D label arrays of the same length, got shapes {true.shape} and {pred.shape}")
    return true, pred


def score_over_seeds(y_true: Sequence[int], predictions: Sequence[Sequence[int]], seed: int = 0) -> Score:
    """Accuracy averaged over several runs (seeds) predicting the same images, with a 95% bootstrap
    interval over the images: each image counts with the share of runs that got it right, and
    resampling the images keeps those shares together."""
    if len(predictions) == 0:
        raise ValueError("score_over_seeds needs the predictions of at least one run")
    right = np.stack([np.equal(*_same_shape(y_true, pred)) for pred in predictions])
    shares, counts = np.unique(right.mean(axis=0), return_counts=True)
    n = right.shape[1]
    resampled = np.random.default_rng(seed).multinomial(n, counts / n, size=RESAMPLES) @ shares / n
    low, high = np.quantile(resampled, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return Score(float(right.mean()), float(low), float(high), n)
