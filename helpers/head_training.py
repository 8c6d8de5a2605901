"""Training a classifier head on cached features, and what the features are worth.

Lesson 03 trains the head (Dropout + Dense logits) on pooled features that were
computed once and cached, instead of pushing every image through the frozen
base again in every epoch. This module measures that speed-up, compares the
features of several layers of the base, and trains the improved head.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from helpers.data import adapted_dataset, check_images
from helpers.features import compute_features, features_at_layers
from helpers.infra.cache import cached
from helpers.models import STEPS_PER_EXECUTION, build_head, build_transfer_model, compile_classifier
from helpers.training import TrainingRun, accuracy, early_stopping, fit


def pooled_features_at_layers(
    images: Any,
    layers: Sequence[str],
    backbone: str = "mobilenet_v2",
    size: int = 96,
) -> dict[str, np.ndarray]:
    """Global-average-pooled ImageNet features of ``images`` at each named layer, computed in one pass
    through the base and kept in the course cache (``helpers.features.features_at_layers``)."""
    if isinstance(layers, str) or not layers:
        raise ValueError(f"layers must be a non-empty sequence of layer names, got {layers!r}")
    return features_at_layers(check_images(images), tuple(layers), backbone=backbone, size=size)


def concatenated_features(
    images: Any, layers: Sequence[str], backbone: str = "mobilenet_v2", size: int = 96
) -> np.ndarray:
    """Pooled features of several layers side by side: (N, sum of their channel counts)."""
    per_layer = pooled_features_at_layers(images, layers, backbone=backbone, size=size)
    return np.concatenate([per_layer[layer] for layer in layers], axis=1)


@cached
def train_head(
    features: np.ndarray,
    labels: Any,
    epochs: int = 5,
    batch_size: int = 64,
    validation_split: float = 0.2,
    dropout: float = 0.2,
    learning_rate: float = 1e-3,
    patience: int | None = None,
    num_classes: int = 10,
    seed: int = 42,
    steps_per_execution: int = STEPS_PER_EXECUTION,
    validation_data: tuple[np.ndarray, Any] | None = None,
) -> tuple[Any, TrainingRun]:
    """Train Dropout + Dense logits (Adam, cross-entropy on logits) on cached pooled features.

    With ``patience`` set, training stops once validation accuracy has not
    improved for that many epochs and the best epoch's weights are kept, so
    ``epochs`` becomes an upper bound instead of a guess. Seeded: the same call
    gives the same head. ``validation_data`` (features, labels) replaces the
    ``validation_split`` carved from the end of the training features.
    """
    import keras

    array = np.asarray(features)
    if array.ndim != 2 or len(array) != len(labels):
        raise ValueError(f"expected features of shape (N, D) with one label each, got {array.shape} and {len(labels)} labels")
    if validation_data is not None:
        validation_split = 0.0
    elif patience is not None and validation_split <= 0:
        raise ValueError("early stopping (patience) needs a validation split > 0 (or validation_data) to watch")
    keras.utils.set_random_seed(seed)
    head = compile_classifier(build_head((array.shape[1],), num_classes, dropout), learning_rate, steps_per_execution)
    run = fit(head, array, np.asarray(labels), epochs=epochs, batch_size=batch_size,
              validation_split=validation_split, validation_data=validation_data, callbacks=early_stopping(patience))
    return head, run


@cached
def layer_accuracies(
    x_train: Any, y_train: Any, x_test: Any, y_test: Any, layers: Sequence[str],
    size: int = 96, epochs: int = 5, patience: int | None = None, backbone: str = "mobilenet_v2",
) -> dict[str, float]:
    """Test accuracy of the same head (same seed, same training) on the pooled features of each layer."""
    train = pooled_features_at_layers(x_train, layers, backbone=backbone, size=size)
    test = pooled_features_at_layers(x_test, layers, backbone=backbone, size=size)
    heads = {layer: train_head(train[layer], y_train, epochs=epochs, patience=patience)[0] for layer in layers}
    return {layer: accuracy(head, test[layer], y_test) for layer, head in heads.items()}


@dataclass(frozen=True)
class SpeedComparison:
    """Wall-clock seconds of the same head training done two ways on the same images."""

    n_images: int
    epochs: int
    frozen_epoch_seconds: float  # median epoch, every image through the frozen base
    cached_epoch_seconds: float  # median epoch, head on cached features
    frozen_total_seconds: float
    extraction_seconds: float  # one pass through the base to compute the features
    cached_total_seconds: float  # extraction + head training

    @property
    def speedup_per_epoch(self) -> float:
        return self.frozen_epoch_seconds / self.cached_epoch_seconds

    @property
    def speedup_total(self) -> float:
        return self.frozen_total_seconds / self.cached_total_seconds


@cached
def compare_cached_vs_frozen(
    images: Any, labels: Any, epochs: int = 3, size: int = 96, batch_size: int = 64, backbone: str = "mobilenet_v2",
) -> SpeedComparison:
    """Time head training with the frozen base inside ``fit`` against training on cached features.

    Both train the same head for the same epochs on the same images (no
    validation split, as a streamed dataset cannot be split). The features are
    computed afresh (not read from the cache), so the cached path pays for its
    one pass through the base. Median epochs leave out the first epoch's tracing.
    """
    if epochs < 3:
        raise ValueError(f"epochs must be at least 3 so the median epoch excludes graph tracing, got {epochs}")
    array, label_array = check_images(images), np.asarray(labels)
    model = compile_classifier(build_transfer_model(backbone, size=size))
    streamed = adapted_dataset(array, label_array, backbone=backbone, size=size, batch_size=batch_size)
    frozen = fit(model, streamed, epochs=epochs, batch_size=None)

    start = time.perf_counter()
    features = compute_features(array, backbone=backbone, size=size)
    extraction = time.perf_counter() - start
    _, cached = train_head(features, label_array, epochs=epochs, batch_size=batch_size, validation_split=0.0)
    return SpeedComparison(
        len(array), epochs, frozen.seconds_per_epoch, cached.seconds_per_epoch,
        frozen.seconds, extraction, extraction + cached.seconds,
    )
