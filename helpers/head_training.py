"""Training a classifier head on cached features, and what the features are worth.

Lesson 03 trains the head (Dropout + Dense logits) on pooled features that were
computed once and cached, instead of pushing every image through the frozen
base again in every epoch. This module measures that speed-up, runs the published
recipe as it is, and chooses the tap layer on validation data before the test
images are used once (``frozen_recipe``).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers.data import adapted_dataset, check_images
from helpers.evaluation import Score, score
from helpers.features import compute_features, features_at_layers
from helpers.infra import results
from helpers.infra.cache import cached
from helpers.models import (
    STEPS_PER_EXECUTION,
    build_head,
    build_practical_head,
    build_transfer_model,
    compile_classifier,
)
from helpers.protocol import DEFAULT_SEEDS, Selection, Split, select, validation_split
from helpers.training import TrainingRun, early_stopping, fit, predict_classes

if TYPE_CHECKING:
    import keras


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


@cached
def train_head(
    features: np.ndarray,
    labels: Any,
    validation: tuple[np.ndarray, Any] | None = None,
    epochs: int = 5,
    batch_size: int = 64,
    dropout: float = 0.2,
    learning_rate: float = 1e-3,
    patience: int | None = None,
    num_classes: int = 10,
    seed: int = 0,
    steps_per_execution: int = STEPS_PER_EXECUTION,
    head: str = "course",
) -> tuple[keras.Model, TrainingRun]:
    """Train Dropout + Dense logits (Adam, cross-entropy on logits) on cached pooled features.

    ``validation`` (features, labels) is watched every epoch; with ``patience`` set, training stops
    once its accuracy has not improved for that many epochs and the best epoch's weights are kept,
    so ``epochs`` becomes an upper bound instead of a guess. Seeded: the same call gives the same head.
    ``head="practical"`` trains the common practical's Dense(128, relu) + Dense(softmax) instead
    (lesson 09; ``dropout`` is then unused).
    """
    import keras

    array = np.asarray(features)
    if array.ndim != 2 or len(array) != len(labels):
        raise ValueError(f"expected features of shape (N, D) with one label each, got {array.shape} and {len(labels)} labels")
    if patience is not None and validation is None:
        raise ValueError("early stopping (patience) needs validation data to watch")
    if head not in ("course", "practical"):
        raise ValueError(f"head must be 'course' (Dropout + Dense logits) or 'practical' (Dense(128) + softmax), got {head!r}")
    keras.utils.set_random_seed(seed)
    if head == "course":
        model = compile_classifier(build_head((array.shape[1],), num_classes, dropout), learning_rate, steps_per_execution)
    else:
        model = compile_classifier(build_practical_head((array.shape[1],), num_classes), learning_rate,
                                   steps_per_execution, from_logits=False)
    watched = None if validation is None else (np.asarray(validation[0]), np.asarray(validation[1]))
    run = fit(model, array, np.asarray(labels), epochs=epochs, batch_size=batch_size, validation_data=watched,
              callbacks=early_stopping(patience))
    return model, run


def best_validation_accuracy(run: TrainingRun) -> float:
    """The validation accuracy of the epoch early stopping kept (the best one)."""
    return float(max(run.history["val_accuracy"]))


TAP_CANDIDATES = ("out_relu", "block_12_add", "block_13_expand_relu", "block_14_add", "block_16_project_BN")  # reference first
REFERENCE_LAYER = "out_relu"  # the published recipe taps the base's last layer


@dataclass(frozen=True)
class HeadResult:
    """A head recipe with every setting fixed, trained on the training part and scored once on the test images."""

    layers: tuple[str, ...]  # the tap layers whose pooled features are concatenated
    run: TrainingRun
    test: Score
    predictions: np.ndarray  # predicted class of every test image


@dataclass(frozen=True)
class FrozenRecipe:
    """Lesson 03's recipe: the tap layer (and whether to add a second one) chosen on validation data, then tested once."""

    split: Split
    layers: Selection  # one tap layer
    pair: Selection  # the chosen layer alone, or with the second best one concatenated
    final: HeadResult


def side_by_side(per_layer: dict[str, np.ndarray], layers: Sequence[str]) -> np.ndarray:
    """Pooled features of several layers next to each other: (N, sum of their channel counts)."""
    return np.concatenate([per_layer[layer] for layer in layers], axis=1)


@cached
def frozen_recipe(
    x_train: Any, y_train: Any, x_test: Any, y_test: Any,
    layers: tuple[str, ...] = TAP_CANDIDATES, size: int = 96, max_epochs: int = 200, patience: int = 10,
    seeds: tuple[int, ...] = DEFAULT_SEEDS, validation_fraction: float = 0.2, backbone: str = "mobilenet_v2",
) -> FrozenRecipe:
    """Choose the tap layer, then one layer or the best two side by side, on a validation split of the
    training images (a head with early stopping per candidate and seed); only then train the final head
    (the first seed) and score it once on the test images. The test images reach no choice."""
    labels = np.asarray(y_train)
    split = validation_split(labels, validation_fraction)
    features = pooled_features_at_layers(x_train, layers, backbone=backbone, size=size)
    y_fit, y_val = split.take(labels)

    def validation_accuracy(chosen: tuple[str, ...], seed: int) -> float:
        fit_part, val_part = split.take(side_by_side(features, chosen))
        _, run = train_head(fit_part, y_fit, validation=(val_part, y_val), epochs=max_epochs, patience=patience,
                            seed=seed)
        return best_validation_accuracy(run)

    by_layer = select(lambda layer, seed: validation_accuracy((layer,), seed), list(layers), seeds)
    ranked = sorted(by_layer.scores, key=lambda name: -by_layer.scores[name].mean)
    single, pair = (by_layer.chosen,), (by_layer.chosen, next(name for name in ranked if name != by_layer.chosen))
    by_pair = select(lambda option, seed: validation_accuracy(option, seed), [single, pair], seeds)
    chosen = by_pair.chosen_value
    fit_part, val_part = split.take(side_by_side(features, chosen))
    head, run = train_head(fit_part, y_fit, validation=(val_part, y_val), epochs=max_epochs, patience=patience,
                           seed=seeds[0])
    test_features = side_by_side(pooled_features_at_layers(x_test, chosen, backbone=backbone, size=size), chosen)
    predictions = predict_classes(head, test_features)
    final = HeadResult(chosen, run, score(np.asarray(y_test), predictions), predictions)
    results.record("fashion_frozen_accuracy", final.test.accuracy, final.test.interval,
                   chosen_on=f"validation, {split}, {len(seeds)} seeds", layers=" + ".join(chosen), size=size,
                   epochs_kept=int(np.argmax(run.history["val_accuracy"])) + 1, patience=patience,
                   n_train=len(labels), n_test=len(y_test))
    return FrozenRecipe(split, by_layer, by_pair, final)


@cached
def reference_recipe(
    x_train: Any, y_train: Any, x_test: Any, y_test: Any, size: int = 96, epochs: int = 5,
    validation_fraction: float = 0.2, backbone: str = "mobilenet_v2",
) -> HeadResult:
    """The published recipe, nothing chosen: pooled features of the base's last layer, Dropout(0.2) + Dense
    logits, Adam 1e-3, 5 epochs, batch 64, trained on the same training part; scored once on the test images."""
    labels = np.asarray(y_train)
    split = validation_split(labels, validation_fraction)
    features = pooled_features_at_layers(x_train, (REFERENCE_LAYER,), backbone=backbone, size=size)[REFERENCE_LAYER]
    fit_part, val_part = split.take(features)
    y_fit, y_val = split.take(labels)
    head, run = train_head(fit_part, y_fit, validation=(val_part, y_val), epochs=epochs)
    test_features = pooled_features_at_layers(x_test, (REFERENCE_LAYER,), backbone=backbone, size=size)
    predictions = predict_classes(head, test_features[REFERENCE_LAYER])
    result = HeadResult((REFERENCE_LAYER,), run, score(np.asarray(y_test), predictions), predictions)
    results.record("fashion_reference_accuracy", result.test.accuracy, result.test.interval,
                   chosen_on="nothing chosen: the published settings", size=size, epochs=epochs,
                   n_train=len(labels), n_test=len(y_test))
    return result


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
    _, cached = train_head.__wrapped__(features, label_array, epochs=epochs, batch_size=batch_size)  # timed: never cached
    comparison = SpeedComparison(len(array), epochs, frozen.seconds_per_epoch, cached.seconds_per_epoch,
                                 frozen.seconds, extraction, extraction + cached.seconds)
    results.record("cached_head_speedup_per_epoch", comparison.speedup_per_epoch, images=len(array), epochs=epochs,
                   size=size, batch_size=batch_size)
    return comparison
