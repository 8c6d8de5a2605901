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

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from helpers.backbones import build_backbone
from helpers.data import load_dataset, shifted_copies
from helpers.features import extract_features
from helpers.head_training import train_head
from helpers.models import compile_classifier, truncate, unfreeze_top
from helpers.training import TrainingRun, accuracy, early_stopping, fit


def cut_layer(base: Any, n_layers: int) -> str:
    """The name of the layer whose output feeds the top ``n_layers`` layers of ``base``.

    ValueError when the top part also reads from a lower layer (a cut inside a
    residual block), because then one cached tensor is not enough.
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or not 1 <= n_layers < len(base.layers):
        raise ValueError(f"n_layers must be an int between 1 and {len(base.layers) - 1}, got {n_layers!r}")
    name = base.layers[-n_layers - 1].name
    top_part(base, name)  # raises when the top part needs more than this one tensor
    return name


def top_part(base: Any, cut: str) -> Any:
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


def build_top_model(base: Any, cut: str, head: Any) -> Any:
    """Cached activations at ``cut`` -> the top of ``base`` (inference mode) -> GAP -> ``head``.

    ``head`` takes the pooled vector (``helpers.models.build_head((features,))``),
    so a head trained on pooled features is reused as it is.
    """
    import keras

    top = top_part(base, cut)
    inputs = keras.Input(tuple(top.input.shape[1:]), name=f"{cut}_activations")
    x = top(inputs, training=False)  # BatchNorm keeps its ImageNet statistics while the weights train
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, head(x), name=f"fine_tune_from_{cut}")


def cosine_schedule(learning_rate: float, epochs: int, steps_per_epoch: int) -> Any:
    """A learning rate that starts at ``learning_rate`` and decays to zero along a half cosine."""
    import keras

    if learning_rate <= 0 or epochs < 1 or steps_per_epoch < 1:
        raise ValueError(
            f"expected learning_rate > 0, epochs >= 1 and steps_per_epoch >= 1, "
            f"got {learning_rate!r}, {epochs!r}, {steps_per_epoch!r}"
        )
    return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps_per_epoch)


def weights_of(layers: Sequence[Any]) -> list[np.ndarray]:
    """Copies of the weights of ``layers`` (a snapshot to compare against later)."""
    return [np.array(w.numpy(), copy=True) for layer in layers for w in layer.weights]


def largest_change(before: Sequence[np.ndarray], layers: Sequence[Any]) -> float:
    """The largest absolute change of any weight of ``layers`` since the snapshot ``before``."""
    after = weights_of(layers)
    _check_same_shapes(before, after)
    return max((float(np.max(np.abs(a - b))) for a, b in zip(after, before) if a.size), default=0.0)


def relative_change(before: Sequence[np.ndarray], layers: Sequence[Any]) -> float:
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


def pooled_outputs(base: Any, cut: str, activations: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The base's pooled output (what a frozen-base head trains on), computed from cached activations at ``cut``."""
    import keras

    pooled = keras.Sequential([top_part(base, cut), keras.layers.GlobalAveragePooling2D()])
    return np.asarray(pooled.predict(activations, batch_size=batch_size, verbose=0), dtype=np.float32)


@dataclass(frozen=True)
class TrainingSet:
    """Cached activations to fine-tune on, with the held-out images that early stopping watches."""

    x: np.ndarray
    y: np.ndarray
    x_validation: np.ndarray
    y_validation: np.ndarray


def augmented_training_set(images: Any, labels: Any, activations: np.ndarray, cut: str, size: int = 96,
                           copies: int = 1, validation_split: float = 0.1, seed: int = 0) -> TrainingSet:
    """The activations at ``cut`` of the training images plus ``copies`` shifted copies of them
    (``helpers.data.shifted_copies``), computed once and cached like any features. The last
    ``validation_split`` of the images is held out, never copied, so validation sees no shifted twin
    of a training image. Fixed copies keep the activation cache valid: random augmentation in every
    epoch would need the full model."""
    labels = np.asarray(labels)
    if len(activations) != len(images) or len(labels) != len(images):
        raise ValueError(f"expected one activation and one label per image, got {len(images)} images, "
                         f"{len(activations)} activations, {len(labels)} labels")
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must lie strictly between 0 and 1, got {validation_split!r}")
    n_fit = len(images) - int(round(len(images) * validation_split))
    parts = [activations[:n_fit]]
    if copies:
        moved = shifted_copies(np.asarray(images)[:n_fit], copies, seed=seed)
        parts.append(extract_features(moved, "mobilenet_v2", size, layer=cut, pooled=False))
    return TrainingSet(np.concatenate(parts), np.tile(labels[:n_fit], copies + 1),
                       activations[n_fit:], labels[n_fit:])


def fine_tune(model: Any, training: TrainingSet, learning_rate: float, epochs: int, schedule: str = "cosine",
              batch_size: int = 64, patience: int | None = None) -> TrainingRun:
    """Compile ``model`` again (its ``trainable`` flags changed) with Adam at ``learning_rate``, constant or
    decaying along a cosine over ``epochs``, then fit it in place on ``training``, with early stopping on
    the held-out images' accuracy when ``patience`` is set."""
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    if schedule == "cosine":
        learning_rate = cosine_schedule(learning_rate, epochs, int(np.ceil(len(training.x) / batch_size)))
    compile_classifier(model, learning_rate)
    return fit(model, training.x, training.y, epochs=epochs, batch_size=batch_size,
               validation_data=(training.x_validation, training.y_validation), callbacks=early_stopping(patience))


@dataclass(frozen=True)
class FineTuningResult:
    """The recipe's figures for one dataset: accuracy before and after fine-tuning, and the runs."""

    dataset: str
    cut: str
    tap: str
    head_accuracy: float
    fine_tuned_accuracy: float
    head_run: TrainingRun
    fine_tune_run: TrainingRun


def fine_tune_recipe(
    dataset: str,
    n_train: int,
    n_test: int,
    size: int = 96,
    tap: str = "block_13_expand_relu",
    n_layers: int = 29,
    head_epochs: int = 200,
    head_patience: int = 10,
    copies: int = 1,
    epochs: int = 10,
    learning_rate: float = 1e-4,
    batch_size: int = 64,
    validation_split: float = 0.1,
    patience: int = 5,
) -> FineTuningResult:
    """Lesson 05's recipe end to end: the base truncated at ``tap``; a head on its pooled features first;
    then its top ``n_layers`` (BatchNorm frozen) fine-tuned on the images and ``copies`` shifted copies
    with Adam on a cosine schedule from ``learning_rate``, early stopping on validation accuracy."""
    data = load_dataset(dataset, n_train, n_test)
    base = truncate(build_backbone("mobilenet_v2", size=size, weights="imagenet"), tap)
    cut = cut_layer(base, n_layers)
    train = extract_features(data.x_train, "mobilenet_v2", size, layer=cut, pooled=False)
    test = extract_features(data.x_test, "mobilenet_v2", size, layer=cut, pooled=False)
    head, head_run = train_head(pooled_outputs(base, cut, train), data.y_train, epochs=head_epochs,
                                batch_size=batch_size, validation_split=validation_split, patience=head_patience)
    model = build_top_model(base, cut, head)
    head_accuracy = accuracy(model, test, data.y_test)
    unfreeze_top(base, n_layers)
    training = augmented_training_set(data.x_train, data.y_train, train, cut, size, copies, validation_split)
    run = fine_tune(model, training, learning_rate, epochs, batch_size=batch_size, patience=patience)
    return FineTuningResult(data.name, cut, tap, head_accuracy, accuracy(model, test, data.y_test), head_run, run)
