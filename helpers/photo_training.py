"""Lesson 07's recipes on the flower photos, each choice made on validation photos only.

The frozen recipe trains a head on the pooled features of ``helpers.photo_features`` (each photo
through the base once, cached); fine-tuning trains the top layers on the cached activations at
the cut; the CNN from scratch and MobileNetV2 from random weights train on decoded photos with
augmentation in every epoch. Every recipe function that also predicts the test photos makes its
choices (early stopping) on validation photos before it touches them, and never reads a test
label (``tests/test_photo_training.py`` permutes them to prove it). Results are small arrays and
numbers, cached, so a warm run reads them without loading a model.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from helpers import imagenet
from helpers.backbones import build_backbone
from helpers.evaluation import Score, Spread, paired_difference, score
from helpers.fine_tuning import build_top_model
from helpers.head_training import train_head
from helpers.infra import results
from helpers.infra.cache import cached
from helpers.models import compile_classifier, unfreeze_top
from helpers.photo_features import FINE_TUNING_CUT, PhotoFeatures, photo_features
from helpers.photo_models import (
    Augmentation,
    build_photo_classifier,
    build_photo_cnn,
    build_random_mobilenet,
    preprocessing_layer,
    save_classifier,
)
from helpers.photos import (
    PhotoSplit,
    decoded_photos,
    describe_skipped,
    flower_photos,
    name_position,
    photo_dataset,
    scan_folder,
    split_by_name,
)
from helpers.protocol import DEFAULT_SEEDS, Selection, select
from helpers.training import accuracy, early_stopping, fit, predict_classes

# ----------------------------------------------------------------------------- the photos of a lesson


def per_class_list(text: str) -> list[int | None]:
    """'5,10,all' -> [5, 10, None] (a lesson parameter: photos per class, 'all' for the whole train pool)."""
    values = [part.strip() for part in str(text).split(",") if part.strip()]
    try:
        return [None if value == "all" else int(value) for value in values]
    except ValueError:
        raise ValueError(f"expected whole numbers or 'all' separated by commas, got {text!r}") from None


def lesson_split(per_class: int | None = None, min_size: int | None = None) -> PhotoSplit:
    """The flower photos split by name (``helpers.photos.split_by_name``); with ``per_class``, only the
    first ``per_class`` photos of each class in name-hash order (a small, fixed sample for quick runs)."""
    folder = flower_photos(min_size=min_size)
    if per_class is not None:
        keep = [i for label in range(len(folder.class_names))
                for i in sorted(np.flatnonzero(folder.labels == label),
                                key=lambda i: name_position(folder.names[i], salt="sample:"))[:per_class]]
        folder = folder.take(np.sort(np.asarray(keep, dtype=np.int64)))
    return split_by_name(folder)


def features_of(split: PhotoSplit, part: str, size: int, cut: str | None = FINE_TUNING_CUT,
                augmented: Augmentation | None = None) -> PhotoFeatures:
    """``photo_features`` of one part of the split ("train", "validation" or "test")."""
    indices = {"train": split.train, "validation": split.validation, "test": split.test}
    if part not in indices:
        raise ValueError(f"part must be 'train', 'validation' or 'test', got {part!r}")
    return photo_features(split.folder.take(indices[part]), size, cut, augmented)


def positions_in_train_pool(split: PhotoSplit, indices: np.ndarray) -> np.ndarray:
    """Where photos of the folder (by index) sit in the train pool's order, i.e. in its feature rows."""
    where = {int(index): row for row, index in enumerate(split.train)}
    try:
        return np.asarray([where[int(index)] for index in indices], dtype=np.int64)
    except KeyError as error:
        raise ValueError(f"photo {error.args[0]} is not in the train pool") from None


# ----------------------------------------------------------------------------- the frozen recipe


@dataclass(frozen=True)
class FrozenRecipe:
    """The frozen MobileNetV2 + head recipe: input size, augmented copies per training photo, training."""

    size: int = 224
    copies: int = 0  # 0 or 1 fixed augmented copy of each training photo (features cached like the originals)
    augmentation: Augmentation = Augmentation()
    epochs: int = 200  # an upper bound: early stopping on validation accuracy ends training sooner
    patience: int = 10
    batch_size: int = 32


def _training_rows(split: PhotoSplit, recipe: FrozenRecipe, per_class: int | None, seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and labels of the training subset, with its augmented copies when the recipe has them."""
    rows = positions_in_train_pool(split, split.training_subset(per_class, seed))
    labels = split.folder.labels[split.train][rows]
    features = [features_of(split, "train", recipe.size).pooled[rows]]
    if recipe.copies:
        features.append(features_of(split, "train", recipe.size, augmented=recipe.augmentation).pooled[rows])
    return np.concatenate(features), np.tile(labels, 1 + recipe.copies)


def train_frozen_head(split: PhotoSplit, recipe: FrozenRecipe, per_class: int | None, seed: int) -> tuple[Any, Any]:
    """The head of the frozen recipe trained on ``per_class`` photos of each class (None: the whole
    train pool, drawn in the hash order of ``seed``), early stopping on the validation photos."""
    x, y = _training_rows(split, recipe, per_class, seed)
    validation = features_of(split, "validation", recipe.size)
    return train_head(x, y, epochs=recipe.epochs, batch_size=recipe.batch_size, patience=recipe.patience,
                      num_classes=len(split.folder.class_names), seed=seed,
                      validation=(validation.pooled, split.folder.labels[split.validation]))


@dataclass(frozen=True)
class FrozenRun:
    """One training of the frozen recipe's head: what the protocol and the tables need, no model."""

    validation_accuracy: float
    test_predictions: np.ndarray
    epochs: int
    seconds: float


@cached
def frozen_run(split: PhotoSplit, recipe: FrozenRecipe, per_class: int | None, seed: int) -> FrozenRun:
    """``train_frozen_head``'s head scored on the validation photos, then its test predictions (early
    stopping chose the epoch before any test photo is seen; no test label is read)."""
    head, run = train_frozen_head(split, recipe, per_class, seed)
    validation = accuracy(head, features_of(split, "validation", recipe.size).pooled,
                          split.folder.labels[split.validation])
    return FrozenRun(validation, predict_classes(head, features_of(split, "test", recipe.size).pooled),
                     len(run.history["loss"]), run.seconds)


def frozen_validation_accuracy(split: PhotoSplit, recipe: FrozenRecipe, per_class: int | None, seed: int) -> float:
    """Validation accuracy of the frozen recipe (what ``protocol.select`` compares)."""
    return frozen_run(split, recipe, per_class, seed).validation_accuracy


def frozen_test_predictions(split: PhotoSplit, recipe: FrozenRecipe, per_class: int | None, seed: int) -> np.ndarray:
    """The frozen recipe's predicted classes for the test photos (the recipe is fixed before this)."""
    return frozen_run(split, recipe, per_class, seed).test_predictions


@dataclass(frozen=True)
class SizeChoice:
    """The input size of the frozen recipe, chosen on validation, and what a pass costs at each size."""

    selection: Selection
    photos_per_second: dict[int, float]

    @property
    def size(self) -> int:
        return int(self.selection.chosen_value)

    def table(self) -> str:
        lines = self.selection.table("input size").splitlines()
        lines[0] += "   photos/s through the base"
        for index, size in enumerate(self.photos_per_second, 1):
            lines[index] += f"   {self.photos_per_second[size]:.0f}"
        return "\n".join(lines)


def choose_input_size(split: PhotoSplit, sizes: Sequence[int] = (96, 160, 224), seeds: Sequence[int] = DEFAULT_SEEDS,
                      recipe: FrozenRecipe = FrozenRecipe()) -> SizeChoice:
    """The frozen recipe on every training photo at each input size, scored on validation over
    ``seeds``; sizes are given cheapest first, so a tie keeps the cheaper one."""
    selection = select(lambda size, seed: frozen_validation_accuracy(split, replace(recipe, size=size), None, seed),
                       list(sizes), seeds)
    speed = {size: features_of(split, "train", size).photos_per_second for size in sizes}
    return SizeChoice(selection, speed)


def choose_copies(split: PhotoSplit, recipe: FrozenRecipe, seeds: Sequence[int] = DEFAULT_SEEDS) -> Selection:
    """No augmented copy, or one per training photo: chosen on validation (no copy first: it is cheaper)."""
    return select(lambda copies, seed: frozen_validation_accuracy(split, replace(recipe, copies=copies), None, seed),
                  [0, 1], seeds)


# ----------------------------------------------------------------------------- models trained from the pixels


@dataclass(frozen=True)
class PixelRecipe:
    """A model trained from random weights on decoded photos, with augmentation in every epoch."""

    kind: str = "cnn"  # "cnn" (helpers.photo_models.build_photo_cnn) or "random_mobilenet"
    size: int = 64
    augmentation: Augmentation = Augmentation()
    epochs: int = 200  # the same upper bound and early stopping as the head's
    patience: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3


@dataclass(frozen=True)
class PixelRun:
    """What one training from the pixels gave: validation accuracy of the kept epoch and the test predictions."""

    validation_accuracy: float
    test_predictions: np.ndarray
    epochs: int
    seconds: float


@cached
def train_from_pixels(recipe: PixelRecipe, x: np.ndarray, y: np.ndarray, x_validation: np.ndarray,
                      y_validation: np.ndarray, x_test: np.ndarray, num_classes: int, seed: int) -> PixelRun:
    """Train ``recipe``'s model from random weights (seeded) with early stopping on the validation
    photos, then predict the test photos. It never sees a test label, so no choice can use one."""
    import keras

    if recipe.kind not in ("cnn", "random_mobilenet"):
        raise ValueError(f"kind must be 'cnn' or 'random_mobilenet', got {recipe.kind!r}")
    keras.utils.set_random_seed(seed)
    if recipe.kind == "cnn":
        model = build_photo_cnn(num_classes, recipe.size, recipe.augmentation, seed=seed)
    else:
        model = build_random_mobilenet(num_classes, recipe.size, recipe.augmentation, seed=seed)
    compile_classifier(model, recipe.learning_rate)
    run = fit(model, x, y, epochs=recipe.epochs, batch_size=recipe.batch_size,
              validation_data=(x_validation, y_validation), callbacks=early_stopping(recipe.patience))
    return PixelRun(accuracy(model, x_validation, y_validation), predict_classes(model, x_test),
                    len(run.history["loss"]), run.seconds)


def pixel_run(split: PhotoSplit, recipe: PixelRecipe, per_class: int | None, seed: int) -> PixelRun:
    """``train_from_pixels`` on ``per_class`` train-pool photos of each class (hash order of ``seed``)."""
    folder, rows = split.folder, positions_in_train_pool(split, split.training_subset(per_class, seed))
    pool = decoded_photos(folder.take(split.train), recipe.size)
    return train_from_pixels(recipe, pool[rows], folder.labels[split.train][rows],
                             decoded_photos(folder.take(split.validation), recipe.size),
                             folder.labels[split.validation], decoded_photos(folder.take(split.test), recipe.size),
                             len(folder.class_names), seed)


# ----------------------------------------------------------------------------- fine-tuning the top layers


@dataclass(frozen=True)
class FineTuneRecipe:
    """Fine-tuning the layers above ``FINE_TUNING_CUT`` (BatchNorm frozen) after the frozen recipe's head."""

    learning_rate: float = 1e-4
    epochs: int = 10  # an upper bound: early stopping on validation accuracy
    patience: int = 3
    batch_size: int = 32


@dataclass(frozen=True)
class FineTuned:
    """One fine-tuning run: its validation accuracy, test predictions, and the weights it trained."""

    validation_accuracy: float
    test_predictions: np.ndarray
    epochs: int
    seconds: float
    top_weights: dict[str, list[np.ndarray]]  # layer name -> weights, for the layers above the cut
    head_weights: list[np.ndarray]

    def classifier(self, num_classes: int, frozen: FrozenRecipe) -> Any:
        """The whole photo classifier (raw photos in) with these fine-tuned weights."""
        base = build_backbone("mobilenet_v2", size=frozen.size, weights="imagenet")
        for name, weights in self.top_weights.items():
            base.get_layer(name).set_weights(weights)
        model = build_photo_classifier(num_classes, frozen.size, augmentation=frozen.augmentation, base=base)
        model.get_layer("head").set_weights(self.head_weights)
        return model


@cached
def fine_tune_photos(split: PhotoSplit, frozen: FrozenRecipe, recipe: FineTuneRecipe, per_class: int | None,
                     seed: int) -> FineTuned:
    """The frozen recipe's head first, then the top layers of the base (above ``FINE_TUNING_CUT``,
    BatchNorm frozen and in inference mode) trained together with it at ``recipe.learning_rate`` on a
    constant schedule, on cached activations at the cut (lesson 05), early stopping on validation."""
    import keras

    trained, _ = train_frozen_head(split, frozen, per_class, seed)
    keras.utils.set_random_seed(seed)  # before any layer is made: Dropout draws its seed when it is created
    head = keras.models.clone_model(trained)  # a copy: fine-tuning changes the head too
    head.set_weights(trained.get_weights())
    rows = positions_in_train_pool(split, split.training_subset(per_class, seed))
    labels = split.folder.labels[split.train][rows]
    parts = [features_of(split, "train", frozen.size).activations[rows]]
    if frozen.copies:
        parts.append(features_of(split, "train", frozen.size, augmented=frozen.augmentation).activations[rows])
    validation = features_of(split, "validation", frozen.size).activations
    y_validation = split.folder.labels[split.validation]
    base = build_backbone("mobilenet_v2", size=frozen.size, weights="imagenet")
    model = build_top_model(base, FINE_TUNING_CUT, head)
    above = len(base.layers) - 1 - [layer.name for layer in base.layers].index(FINE_TUNING_CUT)
    unfreeze_top(base, above)
    compile_classifier(model, recipe.learning_rate)  # again: the trainable flags changed
    run = fit(model, np.concatenate(parts), np.tile(labels, 1 + frozen.copies), epochs=recipe.epochs,
              batch_size=recipe.batch_size, validation_data=(validation, y_validation),
              callbacks=early_stopping(recipe.patience))
    test = features_of(split, "test", frozen.size).activations
    top_weights = {layer.name: layer.get_weights() for layer in base.layers[-above:] if layer.weights}
    return FineTuned(accuracy(model, validation, y_validation), predict_classes(model, test),
                     len(run.history["loss"]), run.seconds, top_weights, head.get_weights())


def choose_fine_tuning_rate(split: PhotoSplit, frozen: FrozenRecipe, rates: Sequence[float], per_class: int | None,
                            seeds: Sequence[int] = DEFAULT_SEEDS, recipe: FineTuneRecipe = FineTuneRecipe(),
                            ) -> Selection:
    """The fine-tuning rate with the best validation accuracy (rates given smallest, i.e. safest, first)."""
    return select(lambda rate, seed: fine_tune_photos(split, frozen, replace(recipe, learning_rate=rate), per_class,
                                                      seed).validation_accuracy, list(rates), seeds)


# ----------------------------------------------------------------------------- accuracy against labelled photos


@dataclass(frozen=True)
class CurvePoint:
    """Test accuracy over seeds with ``per_class`` training photos of each class (None: all)."""

    per_class: int | None
    photos: int  # training photos in all (the smallest class decides for "all")
    transfer: Spread
    scratch: Spread | None  # None where the scratch CNN was not trained (see the lesson's parameters)

    @property
    def label(self) -> str:
        return "all" if self.per_class is None else str(self.per_class)

    @property
    def gap_points(self) -> float | None:
        """Transfer minus scratch, in points of accuracy (mean over seeds)."""
        return None if self.scratch is None else 100 * (self.transfer.mean - self.scratch.mean)


@dataclass(frozen=True)
class DataEfficiency:
    points: tuple[CurvePoint, ...]

    def at(self, per_class: int | None) -> CurvePoint:
        for point in self.points:
            if point.per_class == per_class:
                return point
        raise ValueError(f"no point with per_class={per_class!r}; measured: {[p.label for p in self.points]}")

    def table(self) -> str:
        lines = [f"{'per class':>9}  {'photos':>6}  {'frozen MobileNetV2 + head':<38}  {'CNN from scratch':<38}  gap"]
        for point in self.points:
            scratch = "-" if point.scratch is None else str(point.scratch)
            gap = "" if point.gap_points is None else f"{point.gap_points:+.1f} points"
            lines.append(f"{point.label:>9}  {point.photos:>6,}  {str(point.transfer):<38}  {scratch:<38}  {gap}")
        return "\n".join(lines)


def data_efficiency(split: PhotoSplit, frozen: FrozenRecipe, scratch: PixelRecipe, per_class: Sequence[int | None],
                    scratch_per_class: Sequence[int | None], seeds: Sequence[int] = DEFAULT_SEEDS) -> DataEfficiency:
    """Test accuracy of the frozen recipe at every size of ``per_class`` and of the CNN from scratch at
    those of ``scratch_per_class``, each over ``seeds`` (a seed draws its own photos and weights)."""
    test_labels = split.folder.labels[split.test]
    points = []
    for count in per_class:
        transfer = Spread(tuple(score(test_labels, frozen_test_predictions(split, frozen, count, seed)).accuracy
                                for seed in seeds))
        cnn = None
        if count in scratch_per_class:
            cnn = Spread(tuple(score(test_labels, pixel_run(split, scratch, count, seed).test_predictions).accuracy
                               for seed in seeds))
        photos = len(split.training_subset(count, seeds[0]))
        points.append(CurvePoint(count, photos, transfer, cnn))
    return DataEfficiency(tuple(points))


# ----------------------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class Approach:
    """One approach trained with several seeds on the same photos and tested on the same test photos."""

    name: str
    validation: Spread
    test: Spread
    scores: tuple[Score, ...]  # each seed's test accuracy with its 95% bootstrap interval
    predictions: np.ndarray  # the first seed's test predictions (confusion matrix, mistakes)
    seconds: float  # mean training time of one seed

    @property
    def widest_interval(self) -> tuple[float, float]:
        """From the lowest to the highest bound of the seeds' 95% intervals."""
        return min(s.low for s in self.scores), max(s.high for s in self.scores)


def _approach(name: str, per_class: int | None, test_labels: np.ndarray,
              runs: Sequence[tuple[float, np.ndarray, float]]) -> Approach:
    scores = tuple(score(test_labels, predictions) for _, predictions, _ in runs)
    name = f"{name}, {'all' if per_class is None else per_class} per class"
    return Approach(name, Spread(tuple(v for v, _, _ in runs)), Spread(tuple(s.accuracy for s in scores)), scores,
                    runs[0][1], float(np.mean([seconds for _, _, seconds in runs])))


def frozen_approach(split: PhotoSplit, frozen: FrozenRecipe, per_class: int | None, seeds: Sequence[int]) -> Approach:
    """The frozen recipe over ``seeds``."""
    runs = [(r.validation_accuracy, r.test_predictions, r.seconds)
            for r in (frozen_run(split, frozen, per_class, seed) for seed in seeds)]
    labels = split.folder.labels[split.test]
    return _approach(f"frozen MobileNetV2 + head, {frozen.size} px", per_class, labels, runs)


def fine_tuned_approach(split: PhotoSplit, frozen: FrozenRecipe, recipe: FineTuneRecipe, per_class: int | None,
                        seeds: Sequence[int]) -> Approach:
    runs = [(r.validation_accuracy, r.test_predictions, r.seconds)
            for r in (fine_tune_photos(split, frozen, recipe, per_class, seed) for seed in seeds)]
    labels = split.folder.labels[split.test]
    return _approach(f"fine-tuned top layers, rate {recipe.learning_rate:g}", per_class, labels, runs)


def pixel_approach(split: PhotoSplit, recipe: PixelRecipe, per_class: int | None, seeds: Sequence[int]) -> Approach:
    runs = [(r.validation_accuracy, r.test_predictions, r.seconds)
            for r in (pixel_run(split, recipe, per_class, seed) for seed in seeds)]
    name = {"cnn": "CNN from scratch", "random_mobilenet": "MobileNetV2 from random weights"}[recipe.kind]
    return _approach(f"{name}, {recipe.size} px", per_class, split.folder.labels[split.test], runs)


def comparison_table(approaches: Sequence[Approach]) -> str:
    """One line per approach: validation and test accuracy over seeds, the seeds' intervals, time."""
    width = max(len(a.name) for a in approaches)
    lines = [f"{'approach':<{width}}  {'validation (mean ± sd)':<24}  {'test (mean ± sd, seeds, range)':<38}  "
             f"{'95% intervals':<15}  training s"]
    for a in approaches:
        low, high = a.widest_interval
        lines.append(f"{a.name:<{width}}  {a.validation.mean:.3f} ± {a.validation.std:.3f}{'':<9}  {str(a.test):<38}  "
                     f"[{low:.3f}, {high:.3f}]  {a.seconds:8.1f}")
    return "\n".join(lines)


def record_approach(figure: str, approach: Approach, chosen_on: str, **settings: Any) -> bool:
    """Record an approach's mean test accuracy over seeds, with the widest of its seeds' 95% intervals."""
    return results.record(figure, approach.test.mean, approach.widest_interval, chosen_on=chosen_on,
                          seeds=len(approach.scores), **settings)


# ----------------------------------------------------------------------------- Fashion-MNIST's gap, for comparison


@dataclass(frozen=True)
class TransferGap:
    """Transfer and a CNN from scratch trained on ``per_class`` labelled images per class: each seed's test accuracy."""

    per_class: int
    transfer: Spread
    scratch: Spread

    @property
    def gap_points(self) -> float:
        return 100 * (self.transfer.mean - self.scratch.mean)


def fashion_comparison(per_class: int, seeds: Sequence[int] = DEFAULT_SEEDS, n_test: int = 3000) -> TransferGap:
    """Fashion-MNIST's transfer and scratch CNN at ``per_class`` labelled images per class, measured by
    lesson 04's ``labelled_comparison`` (same split, stopping rule and seeds; cached)."""
    from helpers.data_efficiency import labelled_comparison

    measured = labelled_comparison("fashion_mnist", per_class, tuple(seeds), n_test=n_test)
    return TransferGap(per_class, measured.transfer.seeds, measured.scratch.seeds)


# ----------------------------------------------------------------------------- EfficientNetB0, as the guide writes it


@dataclass(frozen=True)
class ForwardCost:
    """A photo classifier's size and the time of a forward pass (inference mode) per photo."""

    name: str
    weights: str | None
    parameters: int
    milliseconds_per_photo: float


def guide_efficientnet(num_classes: int, weights: str | None, size: int = 224) -> Any:
    """The keras.io guide's EfficientNetB0 recipe: raw photos at 224 px -> its augmentation (rotation,
    translation, flip, contrast) -> ``efficientnet.preprocess_input`` (the identity: the model rescales
    inside) -> frozen EfficientNetB0 -> GAP -> BatchNormalization -> Dropout 0.2 -> Dense (logits here)."""
    import keras

    base = build_backbone("efficientnet_b0", size=size, weights=weights)
    photos = keras.Input((size, size, 3), name="photo")
    x = keras.Sequential([keras.layers.RandomRotation(0.15), keras.layers.RandomTranslation(0.1, 0.1),
                          keras.layers.RandomFlip(), keras.layers.RandomContrast(0.1)], name="augmentation")(photos)
    x = preprocessing_layer("efficientnet_b0")(x)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dropout(0.2, name="top_dropout")(x)
    return keras.Model(photos, keras.layers.Dense(num_classes, name="pred")(x), name="guide_efficientnet_b0")


@cached
def forward_costs(num_classes: int, size: int = 224, photos: int = 64, efficientnet_weights: str | None = None
                  ) -> tuple[ForwardCost, ...]:
    """Parameters and forward milliseconds per photo (batch 32, second pass timed) of the MobileNetV2 photo
    classifier and the guide's EfficientNetB0, both at ``size``. The time does not depend on the weights."""
    batch = np.random.default_rng(0).integers(0, 256, (photos, size, size, 3)).astype(np.float32)
    models = {"MobileNetV2": (build_photo_classifier(num_classes, size), "imagenet"),
              "EfficientNetB0 (the guide's recipe)": (guide_efficientnet(num_classes, efficientnet_weights, size),
                                                      efficientnet_weights)}
    costs = []
    for name, (model, weights) in models.items():
        model.predict(batch[:32], batch_size=32, verbose=0)  # build and trace
        start = time.perf_counter()
        model.predict(batch, batch_size=32, verbose=0)
        milliseconds = 1000 * (time.perf_counter() - start) / photos
        costs.append(ForwardCost(name, weights, model.count_params(), milliseconds))
    return tuple(costs)


# ----------------------------------------------------------------------------- any folder of class subfolders


@dataclass(frozen=True)
class FolderTraining:
    """What ``train_on_folder`` made: the saved model and its accuracy on the folder's own held-out photos."""

    model_path: Path
    class_names: tuple[str, ...]
    validation: Score
    test: Score
    split: str
    skipped: int


def train_on_folder(folder: str | Path, out: str | Path, size: int = 160, seed: int = 0, copies: int = 0,
                    epochs: int = 200, patience: int = 10) -> FolderTraining:
    """Train the frozen MobileNetV2 + head recipe on any folder of class subfolders (skipping, and
    listing, what cannot be used), split by file name, and save a classifier that takes raw photos."""
    photos = scan_folder(folder, min_size=size)
    if photos.skipped:
        print(describe_skipped(photos))
    split = split_by_name(photos)
    recipe = FrozenRecipe(size=size, copies=copies, epochs=epochs, patience=patience)
    head, _ = train_frozen_head(split, recipe, None, seed)
    predictions = {part: predict_classes(head, features_of(split, part, size).pooled)
                   for part in ("validation", "test")}
    validation = score(photos.labels[split.validation], predictions["validation"])
    test = score(photos.labels[split.test], predictions["test"])
    model = build_photo_classifier(len(photos.class_names), size, augmentation=recipe.augmentation, head=head)
    path = save_classifier(model, photos.class_names, out)
    return FolderTraining(path, photos.class_names, validation, test, str(split), len(photos.skipped))


# ----------------------------------------------------------------------------- what ImageNet already knows


def imagenet_on_flowers(split: PhotoSplit, per_class: int = 3) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """The full ImageNet MobileNetV2 (its 1000-class classifier) on ``per_class`` train-pool photos of each
    class, each cut to its centre square and resized to 224 px as ImageNet's evaluation does: the pictures
    (uint8), their flower classes and the top-3 ImageNet labels of each."""
    chosen = split.training_subset(per_class, seed=0)
    pictures = np.concatenate([np.round(batch.numpy()).astype(np.uint8) for batch in
                               photo_dataset(split.folder.take(chosen).paths, size=imagenet.CLASSIFIER_SIZE,
                                             crop_to_aspect_ratio=True)])
    return pictures, split.folder.labels[chosen], imagenet.classify(pictures)


# ----------------------------------------------------------------------------- the headline figures


def _validation_note(split: PhotoSplit, seeds: Sequence[int], choices: str) -> str:
    return f"validation ({len(split.validation)} photos, {len(seeds)} seeds): {choices}"


def headline_frozen(split: PhotoSplit, frozen: FrozenRecipe, seeds: Sequence[int], per_class: int = 100) -> Approach:
    """The frozen recipe with ``per_class`` training photos per class over ``seeds``; recorded."""
    approach = frozen_approach(split, frozen, per_class, seeds)
    record_approach("photos_frozen_100_accuracy", approach,
                    _validation_note(split, seeds, f"input size {frozen.size} px, {frozen.copies} augmented copies"),
                    per_class=per_class, test_photos=len(split.test))
    return approach


def headline_fine_tuned(split: PhotoSplit, frozen: FrozenRecipe, fine: FineTuneRecipe, seeds: Sequence[int]
                        ) -> tuple[Approach, Approach]:
    """The frozen recipe and the fine-tuned one on every training photo, over ``seeds``; both recorded."""
    frozen_all = frozen_approach(split, frozen, None, seeds)
    tuned = fine_tuned_approach(split, frozen, fine, None, seeds)
    note = _validation_note(split, seeds, f"input size {frozen.size} px, {frozen.copies} augmented copies, "
                                          f"fine-tuning rate {fine.learning_rate:g}")
    record_approach("photos_frozen_all_accuracy", frozen_all, note, training_photos=len(split.train))
    record_approach("photos_finetuned_accuracy", tuned, note, training_photos=len(split.train),
                    layers=f"above {FINE_TUNING_CUT}")
    return frozen_all, tuned


def transfer_minus_scratch(split: PhotoSplit, frozen: FrozenRecipe, scratch: PixelRecipe, per_class: int,
                           seeds: Sequence[int]) -> tuple[float, tuple[float, float]]:
    """Transfer minus the CNN from scratch at ``per_class`` photos per class, in points: the mean over
    seeds of each seed's paired difference on the same test photos, and the widest of their 95%
    intervals; recorded."""
    labels = split.folder.labels[split.test]
    differences = [paired_difference(labels, frozen_test_predictions(split, frozen, per_class, seed),
                                     pixel_run(split, scratch, per_class, seed).test_predictions) for seed in seeds]
    points = float(np.mean([d.points for d in differences]))
    interval = (min(d.low for d in differences), max(d.high for d in differences))
    results.record("photos_transfer_minus_scratch_points", points, interval,
                   chosen_on=_validation_note(split, seeds, f"transfer at {frozen.size} px"), per_class=per_class,
                   scratch_size=scratch.size, seeds=len(seeds))
    return points, interval


def best_classifier(split: PhotoSplit, frozen: FrozenRecipe, fine: FineTuneRecipe, seeds: Sequence[int]
                    ) -> tuple[Selection, Any]:
    """Frozen or fine-tuned (every training photo), chosen on validation; the chosen recipe's first-seed
    model as a photo classifier (raw photos in)."""
    def validation_accuracy(kind: str, seed: int) -> float:
        if kind == "frozen":
            return frozen_validation_accuracy(split, frozen, None, seed)
        return fine_tune_photos(split, frozen, fine, None, seed).validation_accuracy

    selection = select(validation_accuracy, ["frozen", "fine-tuned"], seeds)
    classes = len(split.folder.class_names)
    if selection.chosen_value == "frozen":
        head, _ = train_frozen_head(split, frozen, None, seeds[0])
        return selection, build_photo_classifier(classes, frozen.size, augmentation=frozen.augmentation, head=head)
    return selection, fine_tune_photos(split, frozen, fine, None, seeds[0]).classifier(classes, frozen)


def side_by_side(split: PhotoSplit, frozen: FrozenRecipe, fine: FineTuneRecipe, scratch: PixelRecipe,
                 random_mobilenet: PixelRecipe, per_class: int, seeds: Sequence[int],
                 random_seeds: Sequence[int]) -> list[Approach]:
    """The four approaches on the same ``per_class`` photos per class and the same test photos: frozen,
    fine-tuned, the CNN from scratch and MobileNetV2 from random weights (left out when ``random_seeds``
    is empty); the last two recorded."""
    approaches = [frozen_approach(split, frozen, per_class, seeds),
                  fine_tuned_approach(split, frozen, fine, per_class, seeds),
                  pixel_approach(split, scratch, per_class, seeds)]
    if random_seeds:
        approaches.append(pixel_approach(split, random_mobilenet, per_class, random_seeds))
    note = _validation_note(split, seeds, "early stopping only (no setting chosen)")
    for figure, approach in zip(("photos_scratch_accuracy", "photos_random_mobilenet_accuracy"), approaches[2:]):
        record_approach(figure, approach, note, per_class=per_class)
    return approaches
