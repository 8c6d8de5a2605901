"""Fine-tuning the top of a pretrained base, fast, on cached activations.

Once the bottom of the base is frozen *and* runs in inference mode
(``training=False``, BatchNorm frozen), its output is a fixed function of the
image. So we compute it once, at the *cut* (the input of the first unfrozen
layer), with ``helpers.features.extract_features(layer=cut, pooled=False)``,
and fine-tune only the top part + head on those activations. Without data
augmentation that gives the same outputs, gradients and updates as fine-tuning
the whole model, at a fraction of the cost. The top part is built over the SAME
layer objects as the base, so training it trains the base.

The fine-tuned model need not end at the base's last layer: ``helpers.models.truncate(base, tap)``
ends it at the tap layer whose features transfer best (lesson 03), and the top layers
of that truncated base are the ones fine-tuned.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers.backbones import build_backbone
from helpers.data import adapt_images, dataset_key, load_dataset, shifted_copies
from helpers.evaluation import Score, score
from helpers.features import extract_features
from helpers.head_training import train_head
from helpers.infra import results
from helpers.infra.cache import cached
from helpers.models import InferenceMode, build_head, compile_classifier, truncate, unfreeze_top
from helpers.protocol import DEFAULT_SEEDS, Selection, select, validation_split
from helpers.training import accuracy, early_stopping, fit, predict_classes

if TYPE_CHECKING:
    import keras


def cut_layer(base: keras.Model, n_layers: int) -> str:
    """The name of the layer whose output feeds the top ``n_layers`` layers of ``base``.

    ValueError when the top part also reads from a lower layer (a cut inside a
    residual block), because then one cached tensor is not enough.
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or not 1 <= n_layers < len(base.layers):
        raise ValueError(f"n_layers must be an int between 1 and {len(base.layers) - 1}, got {n_layers!r}")
    name = base.layers[-n_layers - 1].name
    top_part(base, name)  # raises when the top part needs more than this one tensor
    return name


def top_part(base: keras.Model, cut: str) -> keras.Model:
    """A model from the output of layer ``cut`` to the output of ``base``, sharing its layers."""
    import keras

    names = [layer.name for layer in base.layers]
    if cut not in names:
        raise ValueError(f"{base.name} has no layer {cut!r}; expected one of its {len(names)} layer names")
    try:
        return keras.Model(base.get_layer(cut).output, base.output, name=f"top_from_{cut}")
    except ValueError as error:
        raise ValueError(
            f"the layers above {cut!r} also read from layers below it (a residual connection crosses the cut), "
            f"so its output alone cannot stand in for the image; cut at a block boundary such as an '_add' layer"
        ) from error


def build_top_model(base: keras.Model, cut: str, head: keras.Model, batchnorm_mode: str = "inference") -> keras.Model:
    """Cached activations at ``cut`` -> the top of ``base`` -> GAP -> ``head``.

    ``head`` takes the pooled vector (``helpers.models.build_head((features,))``), so a head trained on
    pooled features is reused as it is. ``batchnorm_mode="inference"`` runs the top in inference mode
    (``helpers.models.InferenceMode``): BatchNorm normalises with its stored ImageNet statistics and never
    updates them, whether or not its gamma and beta are trainable. ``"training"`` lets ``fit`` put it in
    training mode: a trainable BatchNorm normalises with each batch's statistics and overwrites the stored
    ones (a frozen one stays in inference mode: Keras runs BatchNorm with ``trainable=False`` that way).
    """
    import keras

    if batchnorm_mode not in ("inference", "training"):
        raise ValueError(f"batchnorm_mode must be 'inference' or 'training', got {batchnorm_mode!r}")
    top = top_part(base, cut)
    inputs = keras.Input(tuple(top.input.shape[1:]), name=f"{cut}_activations")
    x = InferenceMode(top, name="inference_mode")(inputs) if batchnorm_mode == "inference" else top(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, head(x), name=f"fine_tune_from_{cut}")


def weights_of(layers: Sequence[keras.layers.Layer]) -> list[np.ndarray]:
    """Copies of the weights of ``layers`` (a snapshot to compare against later)."""
    return [np.array(w.numpy(), copy=True) for layer in layers for w in layer.weights]


def largest_change(before: Sequence[np.ndarray], layers: Sequence[keras.layers.Layer]) -> float:
    """The largest absolute change of any weight of ``layers`` since the snapshot ``before``."""
    after = weights_of(layers)
    _check_same_shapes(before, after)
    return max((float(np.max(np.abs(a - b))) for a, b in zip(after, before) if a.size), default=0.0)


def relative_change(before: Sequence[np.ndarray], layers: Sequence[keras.layers.Layer]) -> float:
    """How far the weights of ``layers`` moved since ``before``: ||after - before|| / ||before||."""
    after = weights_of(layers)
    _check_same_shapes(before, after)
    moved = np.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(after, before)))
    size = np.sqrt(sum(float(np.sum(b**2)) for b in before))
    return float(moved / size) if size else float("nan")


def _check_same_shapes(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> None:
    shapes_before, shapes_after = [b.shape for b in before], [a.shape for a in after]
    if shapes_before != shapes_after:
        raise ValueError(f"the snapshot holds weights of shapes {shapes_before}, the layers now hold {shapes_after}")


def pooled_outputs(base: keras.Model, cut: str, activations: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The base's pooled output (what a frozen-base head trains on), computed from cached activations at ``cut``."""
    import keras

    pooled = keras.Sequential([top_part(base, cut), keras.layers.GlobalAveragePooling2D()])
    return np.asarray(pooled.predict(activations, batch_size=batch_size, verbose=0), dtype=np.float32)


BATCHNORM_MODES = ("frozen", "trainable, inference mode", "training mode")
FINETUNED_FIGURES = {"fashion_mnist": "fashion_finetuned_accuracy", "mnist": "mnist_finetuned_accuracy"}


@dataclass(frozen=True)
class Setting:
    """Everything one fine-tuning run depends on, so that an experiment changes exactly one field."""

    n_layers: int = 29  # top layers of the base (ended at ``tap``) that train; all of them: the whole base
    learning_rate: float = 1e-4  # Adam, constant
    epochs: int = 3  # at most, when ``patience`` is set
    patience: int | None = None  # early stopping on validation accuracy, best epoch kept
    batchnorm: str = "frozen"  # one of BATCHNORM_MODES
    head: str = "trained"  # "trained" first on the frozen base, or "random"
    copies: int = 0  # fixed shifted copies of each training image added (augmentation that keeps the cache valid)
    tap: str = "block_13_expand_relu"  # where the base ends (lesson 03's choice)

    def __post_init__(self) -> None:
        if self.batchnorm not in BATCHNORM_MODES:
            raise ValueError(f"batchnorm must be one of {BATCHNORM_MODES}, got {self.batchnorm!r}")
        if self.head not in ("trained", "random"):
            raise ValueError(f"head must be 'trained' or 'random', got {self.head!r}")


@dataclass(frozen=True)
class Run:
    """One fine-tuning run: how it did on the validation images (and on the test images, once, if asked)."""

    setting: Setting
    seed: int
    n_fit: int  # training images (before shifted copies)
    head_validation_accuracy: float  # the model before any layer of the base trained
    validation_accuracy: float  # after fine-tuning (the best epoch's when early stopping)
    history: dict[str, list[float]]
    seconds: float
    weights_moved: float  # ||after - before|| / ||before|| over the unfrozen layers
    test: Score | None = None
    predictions: np.ndarray | None = None


def activations(images: np.ndarray, cut: str | None, size: int) -> np.ndarray:
    """What the frozen bottom of the base gives at ``cut`` for raw images; with no cut (the whole base
    trains) the adapted images themselves."""
    if cut is None:
        return adapt_images(images, "mobilenet_v2", size)
    return extract_features(images, "mobilenet_v2", size, layer=cut, pooled=False)


@cached
def fine_tune_run(
    dataset: str, setting: Setting, seed: int = 0, n_train: int = 4000, n_fit: int | None = None,
    size: int = 96, validation_fraction: float = 0.2, test: bool = False, n_test: int = 3000, batch_size: int = 64,
) -> Run:
    """Head first (unless ``setting.head == "random"``), then the top ``setting.n_layers`` layers of the base
    fine-tuned on the first ``n_fit`` images of the training part of a validation split of the first
    ``n_train`` training images, on cached activations; scored on the validation part, and once on the first
    ``n_test`` test images when ``test``."""
    import keras

    data = load_dataset(dataset, n_train, n_test if test else 1)
    split = validation_split(data.y_train, validation_fraction)
    (x_fit, x_val), (y_fit, y_val) = split.take(data.x_train), split.take(data.y_train)
    x_fit, y_fit = x_fit[:n_fit], y_fit[:n_fit]
    base = truncate(build_backbone("mobilenet_v2", size=size, weights="imagenet"), setting.tap)
    cut = cut_layer(base, setting.n_layers)
    bottom = None if cut == base.layers[0].name else cut  # cut at the input: nothing below stays frozen
    fit_acts, val_acts = activations(x_fit, bottom, size), activations(x_val, bottom, size)
    keras.utils.set_random_seed(seed)
    if setting.head == "trained":
        head, _ = train_head(pooled_outputs(base, cut, fit_acts), y_fit,
                             validation=(pooled_outputs(base, cut, val_acts), y_val), epochs=200, patience=10,
                             seed=seed)
    else:
        head = build_head((base.output.shape[-1],))
    unfrozen = unfreeze_top(base, setting.n_layers, batchnorm_trainable=setting.batchnorm != "frozen")
    model = build_top_model(base, cut, head, "training" if setting.batchnorm == "training mode" else "inference")
    compile_classifier(model, setting.learning_rate)
    head_validation = accuracy(model, val_acts, y_val)
    watched = [base.get_layer(name) for name in unfrozen]
    before = weights_of(watched)
    if setting.copies:
        moved = shifted_copies(x_fit, setting.copies, seed=seed)
        fit_acts = np.concatenate([fit_acts, activations(moved, bottom, size)])
        y_fit = np.tile(y_fit, setting.copies + 1)
    run = fit(model, fit_acts, y_fit, epochs=setting.epochs, batch_size=batch_size, validation_data=(val_acts, y_val),
              callbacks=early_stopping(setting.patience),
              validation_freq=1 if setting.patience else setting.epochs)  # without early stopping: score the end only
    validation = max(run.history["val_accuracy"]) if setting.patience else run.history["val_accuracy"][-1]
    result = Run(setting, seed, len(x_fit), head_validation, float(validation), run.history, run.seconds,
                 relative_change(before, watched))
    if not test:
        return result
    predictions = predict_classes(model, activations(data.x_test, bottom, size))
    return replace(result, test=score(data.y_test, predictions), predictions=predictions)


def sweep(dataset: str, reference: Setting, field: str, values: Sequence[Any], seeds: Sequence[int] = DEFAULT_SEEDS,
          **run_settings: Any) -> Selection:
    """Change one field of ``reference`` through ``values`` (in order of preference for ties), everything
    else fixed, and compare the validation accuracy over seeds (``helpers.protocol.select``)."""
    def validation_accuracy(value: Any, seed: int) -> float:
        return fine_tune_run(dataset, replace(reference, **{field: value}), seed, **run_settings).validation_accuracy

    return select(validation_accuracy, list(values), tuple(seeds))


def runs_of(dataset: str, reference: Setting, field: str, value: Any, seeds: Sequence[int] = DEFAULT_SEEDS,
            **run_settings: Any) -> list[Run]:
    """The runs behind one row of a sweep (read back from the cache after ``sweep``)."""
    return [fine_tune_run(dataset, replace(reference, **{field: value}), seed, **run_settings) for seed in seeds]


@cached
def fine_tuned_recipe(dataset: str, setting: Setting, seed: int = 0, n_train: int = 4000, n_test: int = 3000,
                      chosen_on: str = "validation", size: int = 96) -> Run:
    """The final fine-tuning recipe, every setting fixed: trained on the whole training part, scored once on
    the test images; records ``<dataset>_finetuned_accuracy``."""
    run = fine_tune_run(dataset, setting, seed, n_train=n_train, size=size, test=True, n_test=n_test)
    if run.test is None:
        raise RuntimeError("fine_tune_run was asked for a test score and gave none")
    results.record(FINETUNED_FIGURES[dataset_key(dataset)], run.test.accuracy, run.test.interval, chosen_on=chosen_on,
                   tap=setting.tap, n_layers=setting.n_layers, learning_rate=setting.learning_rate,
                   epochs_run=len(run.history["loss"]), copies=setting.copies, batchnorm=setting.batchnorm,
                   n_train=n_train, n_test=n_test)
    return run
