"""The common student practical (lesson 09), run as written, and each of its choices changed alone.

Many students bring the same MNIST practical to the viva: images resized to 32x32 and divided
by 255, a frozen ImageNet MobileNetV2, GAP, Dense(128, relu), Dense(10, softmax), 3 epochs
with ``validation_split=0.1``. This module runs it as written and measures what each of its
four choices costs against the course's choice, one change at a time, under the course's
protocol (``helpers.protocol``): every comparison on validation data over seeds, the test
images used once per final row.

The frozen base is never run inside ``fit`` here. With the base frozen (BatchNorm therefore
in inference mode), no augmentation and nothing random before the pooling, the base gives
every image the same pooled vector in every epoch, so training the head on those vectors,
computed once and cached, is the same computation: the same batches, the same updates, the
same weights (``tests/test_practical.py`` proves it against the practical's own model).
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers import features
from helpers.backbones import MOBILENET_WEIGHT_SIZES, build_backbone, get_backbone
from helpers.evaluation import (
    Difference,
    Score,
    Spread,
    overlap,
    paired_difference,
    score,
)
from helpers.head_training import train_head
from helpers.infra import assets, results
from helpers.infra.cache import cached
from helpers.models import build_practical_head
from helpers.protocol import DEFAULT_SEEDS, Selection, select, validation_split
from helpers.scaling import unit_scaled_dataset, unit_scaled_features
from helpers.training import TrainingRun, predict_classes

BACKBONE = "mobilenet_v2"
UNIT_SCALING = "x / 255"  # the practical's scaling, to [0, 1]
OWN_SCALING = "preprocess_input"  # MobileNetV2's own: x / 127.5 - 1, to [-1, 1]
KERAS_VALIDATION_SPLIT = 0.1  # fit(..., validation_split=0.1): Keras holds out the LAST 10%, unshuffled
BATCH_SIZE = 32  # Keras's default, which the practical keeps (every row of the ablation keeps it too)
PROTOCOL_VALIDATION = 0.2  # the part of the ablation's training images that only chooses (stratified)


@dataclass(frozen=True)
class Recipe:
    """The four choices the lesson varies; the defaults are the practical as written."""

    size: int = 32
    scaling: str = UNIT_SCALING
    head: str = "practical"  # Dense(128, relu) + Dense(softmax); "course": Dropout + Dense logits
    epochs: int = 3  # with ``patience`` set: the upper bound of early stopping
    patience: int | None = None

    def __post_init__(self) -> None:
        if self.scaling not in (UNIT_SCALING, OWN_SCALING):
            raise ValueError(f"scaling must be {UNIT_SCALING!r} or {OWN_SCALING!r}, got {self.scaling!r}")
        if self.head not in ("practical", "course"):
            raise ValueError(f"head must be 'practical' or 'course', got {self.head!r}")

    def __str__(self) -> str:
        head = "Dense(128)+softmax" if self.head == "practical" else "Dropout+Dense logits"
        training = f"{self.epochs} epochs" if self.patience is None else \
            f"early stopping (patience {self.patience}, at most {self.epochs} epochs)"
        return f"{self.size} px, {self.scaling}, {head}, {training}"


AS_WRITTEN = Recipe()


def weights_in_use(size: int) -> str:
    """Which ImageNet weights a MobileNetV2 built at ``size`` px runs here, in one sentence.

    Keras has weight files for 96, 128, 160, 192 and 224 px and loads the 224 px file for any
    other size (32 px included); the course's offline mirror holds the 224-trained weights
    under every size's name, which this checks by content.
    """
    spec = get_backbone(BACKBONE)
    file_size = size if size in MOBILENET_WEIGHT_SIZES else 224
    loaded = assets.fetch(spec.weights_asset(size) or "")
    reference = assets.fetch(spec.weights_asset(224) or "")
    same = assets.payload_sha256(loaded) == assets.payload_sha256(reference)
    trained_at = 224 if same else file_size
    why = "Keras has no weights for this size and falls back to its 224 px file" if file_size != size \
        else f"Keras loads its {size} px file"
    return (f"{size} px: {why} ({loaded.name}), which holds the ImageNet weights trained on "
            f"{trained_at}x{trained_at} images")


@dataclass(frozen=True)
class Stage:
    """Consecutive layers of the base that work on feature maps of one width."""

    first_layer: str
    width: int
    layers: int


def resolution_stages(size: int) -> list[Stage]:
    """The widths of the base's feature maps at ``size`` px, from the input to the output
    (padding layers left out). Built with ``weights=None``: shapes do not depend on the weights."""
    import keras

    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False, weights=None)
    stages: list[Stage] = []
    for layer in base.layers[1:]:
        if isinstance(layer, keras.layers.ZeroPadding2D):
            continue
        width = int(layer.output.shape[1])
        if stages and stages[-1].width == width:
            stages[-1] = dataclasses.replace(stages[-1], layers=stages[-1].layers + 1)
        else:
            stages.append(Stage(layer.name, width, 1))
    return stages


def as_written_inputs(images: Any, size: int = 32) -> np.ndarray:
    """What the practical feeds its model: images resized to ``size``, gray -> RGB, divided by 255."""
    return np.concatenate([np.asarray(batch) for batch in unit_scaled_dataset(images, size)])


def build_practical_model(size: int = 32) -> Any:
    """The practical's model exactly as students write it: the frozen ImageNet base inside a
    Sequential (called without ``training=False``: its BatchNorm layers run in inference mode
    because they are frozen), GAP, Dense(128, relu), Dense(10, softmax), compiled with Adam
    and ``sparse_categorical_crossentropy``."""
    import keras

    base = build_backbone(BACKBONE, size=size)  # weights="imagenet", trainable=False
    head = build_practical_head(base.output.shape[1:])
    model = keras.Sequential([keras.Input((size, size, 3)), base, *head.layers], name="practical")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@dataclass(frozen=True)
class TimedFeatures:
    """Pooled features of a set of images and what the one pass that computed them cost."""

    features: np.ndarray
    seconds: float  # wall clock of the pass, building the model included
    n_images: int


@cached
def timed_features(images: Any, size: int, scaling: str) -> TimedFeatures:
    """Pooled frozen-base features of raw images at ``size`` px with the given scaling, computed in one
    timed pass (uncached underneath, so the time is the pass's and not a cache read) and kept in the
    course cache with the time it took."""
    array = np.asarray(images)
    start = time.perf_counter()
    if scaling == UNIT_SCALING:
        values = unit_scaled_features.__wrapped__(array, size)
    elif scaling == OWN_SCALING:
        values = features.compute_features(array, BACKBONE, size)
    else:
        raise ValueError(f"scaling must be {UNIT_SCALING!r} or {OWN_SCALING!r}, got {scaling!r}")
    return TimedFeatures(values, time.perf_counter() - start, len(array))


def features_of_both(x_train: np.ndarray, x_test: np.ndarray, size: int,
                     scaling: str) -> tuple[TimedFeatures, np.ndarray, np.ndarray]:
    """Training and test features in ONE pass (the model is built and its weights loaded once): the
    timed pass, then the training part and the test part. A frozen base treats every image alone,
    so this is the same as two passes; no label is involved."""
    timed = timed_features(np.concatenate([x_train, x_test]), size, scaling)
    return timed, timed.features[: len(x_train)], timed.features[len(x_train):]


def train_recipe_head(train_features: np.ndarray, labels: Any, recipe: Recipe, seed: int) -> tuple[Any, TrainingRun]:
    """The recipe's head trained as the practical trains: Adam 1e-3, batch 32, Keras's last 10% held out
    (watched by early stopping when the recipe has a patience).

    ``train_head`` uncached: the lesson's runs are kept whole in the cache (the figures they measured),
    so storing each of their heads as well would write models that are never read again.
    """
    fit_features, fit_labels, watched = keras_holdout(train_features, labels)
    return train_head.__wrapped__(fit_features, fit_labels, validation=watched, epochs=recipe.epochs,
                                  batch_size=BATCH_SIZE, patience=recipe.patience, seed=seed, head=recipe.head)


def keras_holdout(features: np.ndarray, labels: Any) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """What ``fit(..., validation_split=0.1)`` does: the last 10% held out, unshuffled (the split point
    as Keras computes it), returned as (fit features, fit labels, (held-out features, labels))."""
    labels = np.asarray(labels)
    cut = int(np.floor(len(features) * (1.0 - KERAS_VALIDATION_SPLIT)))
    return features[:cut], labels[:cut], (features[cut:], labels[cut:])


# ----------------------------------------------------------------------------- the practical as written


@dataclass(frozen=True)
class PracticalRun:
    """The practical as written: its test score, its training history and what it cost."""

    test: Score
    history: dict[str, list[float]]
    training_seconds: float  # the head's 3 epochs on cached features
    extraction_seconds: float  # one pass through the base for every training and test image
    n_images: int  # training and test images, each through the base once
    n_fit: int  # images fit trains on (Keras keeps the first 90%)
    n_keras_validation: int  # the last 10%, only printed by fit
    shown_index: int  # the random test image the practical displays
    shown_label: int
    shown_prediction: int

    @property
    def seconds(self) -> float:
        """Features once, then the head: what this run cost."""
        return self.extraction_seconds + self.training_seconds

    @property
    def images_through_base_as_written(self) -> int:
        """Images the base processes when it runs inside fit: every epoch's training and validation
        images, then the test images once."""
        return AS_WRITTEN.epochs * (self.n_fit + self.n_keras_validation) + self.test.n

    @property
    def base_seconds_as_written(self) -> float:
        """What the base's passes inside fit would cost at the rate measured here."""
        return self.extraction_seconds * self.images_through_base_as_written / self.n_images


@cached
def _run_as_written(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                    seed: int, display_seed: int) -> PracticalRun:
    timed, train, test = features_of_both(x_train, x_test, AS_WRITTEN.size, AS_WRITTEN.scaling)
    head, run = train_recipe_head(train, y_train, AS_WRITTEN, seed)
    predictions = predict_classes(head, test)
    shown = int(np.random.default_rng(display_seed).integers(len(x_test)))
    n_fit = int(np.floor(len(x_train) * (1 - KERAS_VALIDATION_SPLIT)))
    return PracticalRun(score(y_test, predictions), run.history, run.seconds, timed.seconds, timed.n_images,
                        n_fit, len(x_train) - n_fit, shown, int(y_test[shown]), int(predictions[shown]))


def run_as_written(x_train: Any, y_train: Any, x_test: Any, y_test: Any, seed: int = 0,
                   display_seed: int = 0) -> PracticalRun:
    """Train the practical as written on these images, score it once on the test images, and
    pick the random test image it displays (``display_seed``); records the full-size figures."""
    run = _run_as_written(*(np.asarray(a) for a in (x_train, y_train, x_test, y_test)), seed, display_seed)
    settings = {"n_train": len(x_train), "n_test": len(x_test), "size": AS_WRITTEN.size, "scaling": AS_WRITTEN.scaling,
                "epochs": AS_WRITTEN.epochs, "batch_size": BATCH_SIZE, "seed": seed}
    nothing = "nothing chosen: every setting is the practical's own"
    results.record("practical_as_written_accuracy", run.test.accuracy, run.test.interval, chosen_on=nothing, **settings)
    results.record("practical_as_written_seconds", run.seconds, chosen_on=nothing,
                   extraction_seconds=round(run.extraction_seconds, 1),
                   training_seconds=round(run.training_seconds, 1), **settings)
    return run


# ----------------------------------------------------------------------------- each choice changed alone


SINGLE_CHANGES = ("96 px input", "preprocess_input", "course head", "early stopping")
TABLE = ("as written", *SINGLE_CHANGES, "full recipe")  # each change alone, then all four together
PATH = ("as written", "96 px input", "96 px + preprocess_input", "96 px + preprocess_input + course head",
        "full recipe")  # the same four changes added one after another: each row against the one before
FIGURE_OF = {  # row -> the recorded figure of its effect against the practical as written
    "96 px input": "practical_effect_96px",
    "preprocess_input": "practical_effect_preprocess_input",
    "course head": "practical_effect_course_head",
    "early stopping": "practical_effect_early_stopping",
    "full recipe": "practical_effect_full_recipe",
}


def recipes(patience: int, max_epochs: int) -> dict[str, Recipe]:
    """Every row's recipe: the practical as written, each change alone, the changes added one after
    another, and all four together (the course's recipe)."""
    replace = dataclasses.replace
    return {
        "as written": AS_WRITTEN,
        "96 px input": replace(AS_WRITTEN, size=96),
        "preprocess_input": replace(AS_WRITTEN, scaling=OWN_SCALING),
        "course head": replace(AS_WRITTEN, head="course"),
        "early stopping": replace(AS_WRITTEN, epochs=max_epochs, patience=patience),
        "96 px + preprocess_input": Recipe(96, OWN_SCALING),
        "96 px + preprocess_input + course head": Recipe(96, OWN_SCALING, "course"),
        "full recipe": Recipe(96, OWN_SCALING, "course", max_epochs, patience),
    }


VARIANTS = ((32, UNIT_SCALING), (32, OWN_SCALING), (96, UNIT_SCALING), (96, OWN_SCALING))  # (size, scaling)
COMPARISONS = (*((name, "as written") for name in TABLE[1:]), *zip(PATH[1:], PATH[:-1]))  # (row, compared with)


@dataclass(frozen=True)
class Row:
    """One recipe: its validation accuracy over seeds, its one test score, what it cost."""

    name: str
    recipe: Recipe
    validation: Spread  # accuracy on the validation part, one value per seed
    test: Score  # the seed-0 head, scored once on the test images
    extraction_seconds: float  # the pass through the base for the subset's training and test images
    training_seconds: float  # the seed-0 head
    epochs_run: int

    @property
    def seconds(self) -> float:
        return self.extraction_seconds + self.training_seconds


@dataclass(frozen=True)
class Ablation:
    """Every row, the effects between rows, the validation choices behind them and the split."""

    rows: dict[str, Row]
    effects: dict[tuple[str, str], Difference]  # (row, compared with) -> test accuracy difference, paired, in points
    choices: dict[str, Selection]  # per single change: the practical's option against the course's, on validation
    patience: Selection  # early stopping's patience, chosen on validation data
    split: str
    n_train: int
    n_test: int
    seeds: tuple[int, ...]

    def verdict(self, name: str, reference: str) -> str:
        """Row ``name`` against row ``reference`` on validation data, over seeds, in words."""
        row, base = self.rows[name].validation, self.rows[reference].validation
        if overlap(row, base):
            return "no measurable difference"
        return f"{100 * (row.mean - base.mean):+.1f} points"

    def as_rows(self) -> list[dict[str, Any]]:
        """The main table as plain data: every row's name, test accuracy and seconds."""
        return [{"change": name, "accuracy": self.rows[name].test.accuracy, "seconds": round(self.rows[name].seconds, 1)}
                for name in TABLE]

    def table(self, names: Sequence[str] = TABLE, against_previous: bool = False) -> str:
        """Rows as text: validation over seeds, the verdict against the first row (or the row above),
        the one test score with its interval, the effect in points with its paired interval, the time."""
        seeds = f"{len(self.seeds)} seed" + ("s" if len(self.seeds) > 1 else "")
        width = max(len(name) for name in names)
        header = (f"{'row':{width}s} {f'validation ({seeds})':>20s} {'on validation':>24s} "
                  f"{'test [95% interval]':>21s} {'effect on test, points':>29s} {'time (s)':>8s}")
        lines = [header, "-" * len(header)]
        for index, name in enumerate(names):
            row = self.rows[name]
            if index == 0:
                verdict = effect = "(the baseline)"
            else:
                reference = names[index - 1] if against_previous else names[0]
                difference = self.effects[name, reference]
                verdict = self.verdict(name, reference)
                effect = f"{difference}" + ("" if difference.measurable else " n.m.d.")
            validation = f"{row.validation.mean:.3f} ± {row.validation.std:.3f}"
            lines.append(f"{name:{width}s} {validation:>20s} {verdict:>24s} {row.test!s:>21s} {effect:>29s} "
                         f"{row.seconds:8.1f}")
        against = "the row above" if against_previous else repr(names[0])
        lines.append(f"Each row against {against}; n.m.d.: no measurable difference (the paired 95% interval "
                     f"contains 0). {self.n_train:,} training images ({self.split}), {self.n_test:,} test images.")
        return "\n".join(lines)


@dataclass(frozen=True)
class Choices:
    """Everything decided on the training images alone: the validation comparisons, early stopping's
    patience, each row's recipe, and each row's seed-0 head (the one the test images will score)."""

    recipes: dict[str, Recipe]
    validation: dict[str, Spread]  # row -> validation accuracy over seeds
    choices: dict[str, Selection]
    patience: Selection
    heads: dict[str, Any]  # row -> its seed-0 head (a Keras model)
    training: dict[str, tuple[float, int]]  # row -> (seconds, epochs) of that head's training
    split: str


@cached
def choose(train_features: dict[tuple[int, str], np.ndarray], y_train: np.ndarray, seeds: tuple[int, ...],
           patiences: tuple[int, ...], max_epochs: int) -> Choices:
    """Every comparison and choice of the ablation, on a validation split of the training images
    (``train_features``: their pooled features for each (size, scaling) of VARIANTS). It receives no
    test data, so nothing it decides can depend on the test images."""
    split = validation_split(y_train, PROTOCOL_VALIDATION, seed=0)
    fit_labels, validation_labels = split.take(y_train)
    train_parts = {variant: split.take(values) for variant, values in train_features.items()}
    heads: dict[tuple[Recipe, int], tuple[Any, TrainingRun]] = {}
    scores: dict[tuple[Recipe, int], float] = {}  # several comparisons share a recipe: train and score it once

    def head_of(recipe: Recipe, seed: int) -> tuple[Any, TrainingRun]:
        key = (recipe.size, recipe.scaling)
        if (recipe, seed) not in heads:
            heads[recipe, seed] = train_recipe_head(train_parts[key][0], fit_labels, recipe, seed)
        return heads[recipe, seed]

    def validation_accuracy(recipe: Recipe, seed: int) -> float:
        if (recipe, seed) not in scores:
            head, _ = head_of(recipe, seed)
            validation_features = train_parts[recipe.size, recipe.scaling][1]
            scores[recipe, seed] = float(np.mean(predict_classes(head, validation_features) == validation_labels))
        return scores[recipe, seed]

    early = [dataclasses.replace(AS_WRITTEN, epochs=max_epochs, patience=p) for p in patiences]
    patience = select(validation_accuracy, early, seeds)  # the smallest patience among those tied
    recipe_of = recipes(patience.chosen_value.patience, max_epochs)
    # Candidates from the preferred one (kept when they tie) to the other: the cheaper size, the
    # weights' own scaling, the smaller head, the shorter training.
    candidates = {"96 px input": (AS_WRITTEN, recipe_of["96 px input"]),
                  "preprocess_input": (recipe_of["preprocess_input"], AS_WRITTEN),
                  "course head": (recipe_of["course head"], AS_WRITTEN),
                  "early stopping": (AS_WRITTEN, recipe_of["early stopping"])}
    choices = {change: select(validation_accuracy, list(order), seeds) for change, order in candidates.items()}
    spreads = {name: Spread(tuple(validation_accuracy(recipe, seed) for seed in seeds))
               for name, recipe in recipe_of.items()}
    final = {name: head_of(recipe, seeds[0]) for name, recipe in recipe_of.items()}
    return Choices(recipe_of, spreads, choices, patience, {name: head for name, (head, _) in final.items()},
                   {name: (run.seconds, len(run.history["loss"])) for name, (_, run) in final.items()}, str(split))


@cached
def _measure_ablation(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                      seeds: tuple[int, ...], patiences: tuple[int, ...], max_epochs: int) -> Ablation:
    passes = {variant: features_of_both(x_train, x_test, *variant) for variant in VARIANTS}
    chosen = choose({variant: train for variant, (_, train, _) in passes.items()}, y_train, seeds, patiences,
                    max_epochs)
    # Every choice is fixed: now, and only now, the test images' labels, once per row.
    rows, predictions = {}, {}
    for name, recipe in chosen.recipes.items():
        timed, _, test = passes[recipe.size, recipe.scaling]
        predictions[name] = predict_classes(chosen.heads[name], test)
        rows[name] = Row(name, recipe, chosen.validation[name], score(y_test, predictions[name]), timed.seconds,
                         *chosen.training[name])
    effects = {(name, reference): paired_difference(y_test, predictions[name], predictions[reference])
               for name, reference in COMPARISONS}
    return Ablation(rows, effects, chosen.choices, chosen.patience, chosen.split, len(x_train), len(x_test),
                    tuple(seeds))


def ablation(x_train: Any, y_train: Any, x_test: Any, y_test: Any, seeds: Sequence[int] = DEFAULT_SEEDS,
             patiences: Sequence[int] = (2, 5), max_epochs: int = 50) -> Ablation:
    """The practical with each choice changed alone, with the changes added one after another, and
    with all four, on one common set of images.

    ``x_train``/``y_train`` are split once (stratified, 20% for validation); every head trains on
    the training part (Keras holding out its last 10%, as in the practical), every comparison
    and early stopping's patience are decided on the validation part over ``seeds``, and then
    each row's seed-0 head is scored once on the test images. Records each single change's effect.
    """
    if len(seeds) < 1 or len(patiences) < 1:
        raise ValueError(f"need at least one seed and one patience, got seeds={seeds!r}, patiences={patiences!r}")
    measured = _measure_ablation(*(np.asarray(a) for a in (x_train, y_train, x_test, y_test)),
                                 tuple(int(s) for s in seeds), tuple(int(p) for p in patiences), int(max_epochs))
    chosen_on = f"validation: {measured.split}, seeds {list(measured.seeds)}"
    for name, figure in FIGURE_OF.items():
        row, effect = measured.rows[name], measured.effects[name, "as written"]
        results.record(figure, effect.points, (effect.low, effect.high), chosen_on=chosen_on,
                       n_train=measured.n_train, n_test=measured.n_test, test_accuracy=round(row.test.accuracy, 4),
                       seconds=round(row.seconds, 1), recipe=str(row.recipe))
    return measured
