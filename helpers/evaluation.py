"""Confusion matrices and what they say, computed once for every lesson."""
from __future__ import annotations

from typing import Sequence

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
