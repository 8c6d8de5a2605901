"""What dividing by 255 instead of calling ``preprocess_input`` does to frozen features, measured.

The mistake is common because [0, 1] is the "usual" scaling for images, but
MobileNetV2's ImageNet weights were trained on inputs in [-1, 1]. The
comparison keeps everything else identical: same images, same resize and
gray->RGB, same frozen base, same head recipe and seed; only the input range
differs. It measures how far the features move, what a head trained on the wrong
features scores, and what a head trained on correct features scores when it is
then fed wrong ones (preprocessing that differs between training and use).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers import features
from helpers.data import Dataset, adapted_dataset, check_images
from helpers.evaluation import Difference, Score, paired_difference, score_over_seeds
from helpers.head_training import train_head
from helpers.infra.cache import cached
from helpers.protocol import DEFAULT_SEEDS
from helpers.training import predict_classes

BACKBONE = "mobilenet_v2"  # the undoing below relies on its preprocess_input being x / 127.5 - 1


def unit_scaled_dataset(images: Any, size: int = 96, batch_size: int = 128) -> Any:
    """A ``tf.data`` pipeline of images resized and made RGB exactly as helpers.data does,
    but scaled x / 255 to [0, 1] instead of MobileNetV2's [-1, 1]."""
    correct = adapted_dataset(images, backbone=BACKBONE, size=size, batch_size=batch_size)
    # preprocess_input gave p = x / 127.5 - 1, so (p + 1) / 2 = x / 255: undoing it here keeps the
    # resize and channel steps in their one home (helpers.data) and changes only the scaling.
    return correct.map(lambda batch: (batch + 1.0) / 2.0)


@cached
def unit_scaled_features(images: Any, size: int = 96, batch_size: int = 128) -> np.ndarray:
    """Pooled (N, 1280) features of the frozen ImageNet MobileNetV2 fed [0, 1] inputs (kept in the course cache)."""
    model = features.feature_model(BACKBONE, size, "imagenet", layer=None, pooled=True)
    batches = unit_scaled_dataset(check_images(images), size, batch_size)
    return np.asarray(model.predict(batches, verbose=0), dtype=np.float32)


@dataclass(frozen=True)
class ScalingComparison:
    """The reference head on correctly and on wrongly scaled frozen features, measured on test images
    (each accuracy: the mean over seeds, with a 95% interval over the test images)."""

    correct: Score  # trained and tested on preprocess_input features (inputs in [-1, 1])
    wrong: Score  # trained and tested on x / 255 features (inputs in [0, 1])
    mismatch: Score  # trained on correct features, tested on x / 255 features
    wrong_vs_correct: Difference  # points, paired over the test images
    mismatch_vs_correct: Difference
    feature_shift: float  # mean |wrong - correct| / mean |correct| of the test features
    n_train: int
    n_test: int
    seeds: tuple[int, ...]


@cached
def compare_scaling(dataset: Dataset, size: int = 96, epochs: int = 5,
                    seeds: tuple[int, ...] = DEFAULT_SEEDS) -> ScalingComparison:
    """Train the same head (same seeds) on preprocess_input features and on x / 255 features of
    ``dataset``; also test the correctly trained heads on x / 255 features. Nothing is chosen: every
    setting is fixed, and the test images score each head once."""
    correct_train, correct_test = (features.extract_features(x, BACKBONE, size) for x in (dataset.x_train, dataset.x_test))
    wrong_train, wrong_test = (unit_scaled_features(x, size) for x in (dataset.x_train, dataset.x_test))
    num_classes = len(dataset.class_names)
    correct_heads = [train_head(correct_train, dataset.y_train, epochs=epochs, num_classes=num_classes, seed=seed)[0]
                     for seed in seeds]
    wrong_heads = [train_head(wrong_train, dataset.y_train, epochs=epochs, num_classes=num_classes, seed=seed)[0]
                   for seed in seeds]
    predicted = {
        "correct": np.stack([predict_classes(head, correct_test) for head in correct_heads]),
        "wrong": np.stack([predict_classes(head, wrong_test) for head in wrong_heads]),
        "mismatch": np.stack([predict_classes(head, wrong_test) for head in correct_heads]),
    }
    y = dataset.y_test
    return ScalingComparison(
        *(score_over_seeds(y, predicted[name]) for name in ("correct", "wrong", "mismatch")),
        wrong_vs_correct=paired_difference(y, predicted["wrong"], predicted["correct"]),
        mismatch_vs_correct=paired_difference(y, predicted["mismatch"], predicted["correct"]),
        feature_shift=float(np.mean(np.abs(wrong_test - correct_test)) / np.mean(np.abs(correct_test))),
        n_train=len(dataset.x_train),
        n_test=len(dataset.x_test),
        seeds=tuple(seeds),
    )
