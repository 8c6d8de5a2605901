"""How accuracy grows with the number of labelled images: transfer, a CNN from scratch, and MobileNetV2
trained from random weights, compared fairly.

At every size the three see the same first ``n`` training images, split the same way (20% held out,
class by class, for validation), stop by the same rule (early stopping on validation accuracy, at most
``max_epochs``, best epoch kept) and are scored on the same test images, once per seed:

- transfer trains only a head on the cached pooled ImageNet features of the tap layer lesson 03 chose;
- the scratch CNN (``helpers.models.build_scratch_cnn``) learns everything from the raw 28x28 pixels;
- the control is the transfer model's own architecture (MobileNetV2 up to the tap layer, pooling and the
  same head) trained end to end from random weights: what the architecture gives without pretraining.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers.data import adapt_images, load_dataset
from helpers.evaluation import Difference, Score, Spread, paired_difference, score_over_seeds
from helpers.head_training import pooled_features_at_layers, train_head
from helpers.infra import results
from helpers.infra.cache import cached
from helpers.models import base_of, build_transfer_model, compile_classifier
from helpers.protocol import DEFAULT_SEEDS, validation_split
from helpers.training import (  # the course's one scratch-CNN trainer
    TrainingRun,
    as_channels_last,
    early_stopping,
    fit,
    predict_classes,
    train_scratch_cnn,
)

if TYPE_CHECKING:
    import keras

TAP_LAYER = "block_13_expand_relu"  # chosen on validation data in lesson 03
RANDOM_INIT_BATCHNORM_MOMENTUM = 0.9
VALIDATION_FRACTION = 0.2


@cached
def train_random_mobilenet(
    images: Any, labels: Any, validation: tuple[Any, Any], size: int = 96, tap: str = TAP_LAYER,
    epochs: int = 200, batch_size: int = 64, patience: int = 10, learning_rate: float = 1e-3, seed: int = 0,
) -> tuple[keras.Model, TrainingRun]:
    """The transfer model's architecture (MobileNetV2 up to ``tap``, pooling, Dropout + Dense logits) with
    random weights, every layer trained on the adapted images, early stopping on ``validation``. The one
    change: BatchNorm's moving statistics follow the batches faster (momentum 0.9, not 0.999)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_transfer_model("mobilenet_v2", size=size, weights=None, tap=tap, num_classes=int(np.max(labels)) + 1,
                                 trainable_base=True)
    for layer in base_of(model).layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # MobileNetV2 averages BatchNorm statistics over ~1,000 steps (momentum 0.999), made for ImageNet's
            # millions of images; on a few hundred images (4 steps an epoch) they would stay at their initial
            # values for hundreds of epochs and every validation score would be chance.
            layer.momentum = RANDOM_INIT_BATCHNORM_MOMENTUM
    compile_classifier(model, learning_rate)
    inputs = adapt_images(images, "mobilenet_v2", size)
    watched = (adapt_images(validation[0], "mobilenet_v2", size), np.asarray(validation[1]))
    run = fit(model, inputs, np.asarray(labels), epochs=epochs, batch_size=batch_size, validation_data=watched,
              callbacks=early_stopping(patience))
    return model, run


@dataclass(frozen=True)
class Approach:
    """One approach at one size: its test accuracy over seeds, and what training cost."""

    test: Score  # the seeds' mean accuracy, with a bootstrap interval over the test images
    seeds: Spread  # the test accuracy of each seed
    epochs: Spread  # epochs run before early stopping ended training
    seconds: float  # mean training seconds per seed (transfer: the head only; its features are cached)
    predictions: np.ndarray  # (seeds, test images) predicted classes


@dataclass(frozen=True)
class LabelledComparison:
    """Transfer against a CNN from scratch (and optionally MobileNetV2 from random weights) on the same images."""

    dataset: str
    per_class: int
    n_images: int
    transfer: Approach | None
    scratch: Approach
    random_mobilenet: Approach | None
    y_test: np.ndarray  # the test labels every approach was scored on

    @property
    def gap_points(self) -> float:
        """Transfer's mean test accuracy minus the scratch CNN's, in points."""
        if self.transfer is None:
            raise ValueError(f"no transfer run at {self.per_class} images per class")
        return 100 * (self.transfer.test.accuracy - self.scratch.test.accuracy)


def _approach(runs: list[tuple[Any, TrainingRun]], test_inputs: Any, y_test: np.ndarray) -> Approach:
    predictions = np.stack([predict_classes(model, test_inputs) for model, _ in runs])
    return Approach(
        test=score_over_seeds(y_test, predictions),
        seeds=Spread(tuple(float(np.mean(row == y_test)) for row in predictions)),
        epochs=Spread(tuple(float(len(run.history["loss"])) for _, run in runs)),
        seconds=float(np.mean([run.seconds for _, run in runs])),
        predictions=predictions,
    )


@cached
def labelled_comparison(
    dataset: str, per_class: int, seeds: tuple[int, ...] = DEFAULT_SEEDS, n_test: int = 3000, size: int = 96,
    layer: str = TAP_LAYER, max_epochs: int = 200, patience: int = 10, feature_pool: int = 4000,
    transfer: bool = True, random_mobilenet: bool = False,
) -> LabelledComparison:
    """Transfer, the scratch CNN (and, if asked, MobileNetV2 from random weights) trained on the first
    ``per_class`` x classes training images of ``dataset`` with the same split, stopping rule and seeds,
    scored on the first ``n_test`` test images. Transfer reads the pooled features of the first
    ``feature_pool`` images (the ones lesson 03 cached), so it runs only up to that many images."""
    data = load_dataset(dataset, n_test=n_test)
    n_images = per_class * len(data.class_names)
    if transfer and n_images > feature_pool:
        raise ValueError(f"transfer runs on the first {feature_pool} images' cached features; "
                         f"{per_class} per class needs {n_images}: pass transfer=False")
    images, labels = data.x_train[:n_images], data.y_train[:n_images]
    split = validation_split(labels, VALIDATION_FRACTION)
    (x_fit, x_val), (y_fit, y_val) = split.take(images), split.take(labels)
    y_test = np.asarray(data.y_test)
    scratch = _approach([train_scratch_cnn(x_fit, y_fit, validation_data=(x_val, y_val), epochs=max_epochs,
                                           patience=patience, seed=seed) for seed in seeds],
                        as_channels_last(data.x_test), y_test)
    head = None
    if transfer:
        from helpers.head_training import TAP_CANDIDATES

        pool = pooled_features_at_layers(data.x_train[:feature_pool], TAP_CANDIDATES, size=size)[layer]
        f_fit, f_val = split.take(pool[:n_images])
        test_features = pooled_features_at_layers(data.x_test, (layer,), size=size)[layer]
        head = _approach([train_head(f_fit, y_fit, validation=(f_val, y_val), epochs=max_epochs, patience=patience,
                                     seed=seed) for seed in seeds], test_features, y_test)
    control = None
    if random_mobilenet:
        runs = [train_random_mobilenet(x_fit, y_fit, (x_val, y_val), size=size, tap=layer, epochs=max_epochs,
                                       patience=patience, seed=seed) for seed in seeds]
        control = _approach(runs, adapt_images(data.x_test, "mobilenet_v2", size), y_test)
    return LabelledComparison(data.name, per_class, n_images, head, scratch, control, y_test)


def accuracy_vs_labelled_images(
    dataset: str, per_class_sizes: Sequence[int], scratch_only: Sequence[int] = (),
    random_mobilenet_at: Sequence[int] = (), **settings: Any,
) -> list[LabelledComparison]:
    """``labelled_comparison`` at each size (cached point by point), in increasing order: the scratch CNN
    alone at the ``scratch_only`` sizes, the random-weights control at the ``random_mobilenet_at`` sizes."""
    sizes = sorted({*per_class_sizes, *scratch_only})
    return [labelled_comparison(dataset, n, transfer=n not in scratch_only, random_mobilenet=n in random_mobilenet_at,
                                **settings) for n in sizes]


def crossover(curve: Sequence[LabelledComparison]) -> int | None:
    """The smallest size (images per class) from which the scratch CNN is at least as accurate as transfer
    at every larger size with a transfer run, or None when transfer stays ahead."""
    compared = [point for point in curve if point.transfer is not None]
    for index, point in enumerate(compared):
        if all(p.scratch.test.accuracy >= p.transfer.test.accuracy for p in compared[index:]):
            return point.per_class
    return None


@dataclass(frozen=True)
class PublishedComparison:
    """The published lesson's question: transfer with 4,000 labelled images against the CNN from scratch with
    15,000, on the same test images."""

    transfer: LabelledComparison
    scratch: LabelledComparison
    difference: Difference  # transfer minus scratch, in points, paired over the test images

    def rows(self) -> dict[str, tuple[int, Approach]]:
        """"transfer" and "scratch": the labelled images each used, and how it did."""
        return {"transfer": (self.transfer.n_images, _present(self.transfer.transfer)),
                "scratch": (self.scratch.n_images, self.scratch.scratch)}


def _present(approach: Approach | None) -> Approach:
    if approach is None:
        raise ValueError("this point of the curve has no transfer run")
    return approach


def published_comparison(curve: Sequence[LabelledComparison], transfer_per_class: int = 400,
                         scratch_per_class: int = 1500) -> PublishedComparison:
    """Transfer at ``transfer_per_class`` against scratch at ``scratch_per_class`` images per class, read off
    the curve; records both figures (and the random-weights control where the curve has one)."""
    points = {point.per_class: point for point in curve}
    missing = [n for n in (transfer_per_class, scratch_per_class) if n not in points]
    if missing:
        raise ValueError(f"the curve has no point at {missing} images per class; it has {sorted(points)}")
    transfer, scratch = points[transfer_per_class], points[scratch_per_class]
    y_test = scratch.y_test
    difference = paired_difference(y_test, _present(transfer.transfer).predictions, scratch.scratch.predictions)
    comparison = PublishedComparison(transfer, scratch, difference)
    for name, point, approach in (("fashion_transfer_4000_accuracy", transfer, transfer.transfer),
                                  ("fashion_scratch_15000_accuracy", scratch, scratch.scratch)):
        results.record(name, approach.test.accuracy, approach.test.interval, chosen_on="nothing: fixed settings",
                       images=point.n_images, seeds=len(approach.seeds.values), mean_epochs=approach.epochs.mean)
    for point in curve:
        if point.random_mobilenet is not None:
            control = point.random_mobilenet
            results.record("fashion_random_mobilenet_accuracy", control.test.accuracy, control.test.interval,
                           chosen_on="nothing: fixed settings", images=point.n_images, seeds=len(control.seeds.values))
    return comparison
