"""The classifier head, the full transfer model, the scratch CNN, fine-tuning and counting.

The head is GAP + Dropout + Dense *logits* (no softmax): the loss is
``SparseCategoricalCrossentropy(from_logits=True)``, numerically safer than a
softmax followed by a log.

A pretrained base runs in inference mode through ``InferenceMode``. Writing
``base(inputs, training=False)`` in a functional model is not enough in Keras 3:
``fit`` calls the whole model with ``training=True`` and that value replaces the one
written in the graph for every layer inside (keras-team/keras#20285), so an unfrozen
BatchNorm layer would normalise with batch statistics and overwrite its ImageNet ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import keras
import numpy as np

from helpers.backbones import build_backbone


@keras.saving.register_keras_serializable(package="transfer_course")
class InferenceMode(keras.layers.Layer):
    """Calls ``inner`` with ``training=False`` whatever the outer call says, so its BatchNorm layers
    normalise with their stored statistics and never update them, even while its weights train."""

    def __init__(self, inner: keras.Model, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, inputs: Any) -> Any:  # no `training` argument: Keras has nothing to pass on
        return self.inner(inputs, training=False)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.inner.compute_output_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "inner": keras.saving.serialize_keras_object(self.inner)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> InferenceMode:
        inner = keras.saving.deserialize_keras_object(config.pop("inner"))
        return cls(inner, **config)


@dataclass(frozen=True)
class ParameterCounts:
    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


def parameter_counts(model: keras.Model | keras.layers.Layer) -> ParameterCounts:
    """Trainable and non-trainable parameters, counted from the model's weights."""
    count = lambda weights: int(sum(int(np.prod(w.shape)) for w in weights))  # noqa: E731
    return ParameterCounts(count(model.trainable_weights), count(model.non_trainable_weights))


def _head_input(feature_shape: Sequence[int]) -> list[keras.layers.Layer]:
    """The input of a head, with GAP when the features are a spatial map (H, W, C) rather than a vector."""
    import keras

    shape = tuple(feature_shape)
    if len(shape) not in (1, 3):
        raise ValueError(f"feature_shape must be (features,) or (height, width, channels), got {shape}")
    layers: list[Any] = [keras.Input(shape)]
    if len(shape) == 3:
        layers.append(keras.layers.GlobalAveragePooling2D(name="pool"))
    return layers


def build_head(feature_shape: Sequence[int], num_classes: int = 10, dropout: float = 0.2) -> keras.Sequential:
    """GAP (only for a spatial feature map) + Dropout + Dense logits."""
    import keras

    layers = _head_input(feature_shape) + [keras.layers.Dropout(dropout, name="dropout"),
                                           keras.layers.Dense(num_classes, name="logits")]
    return keras.Sequential(layers, name="head")


def build_practical_head(feature_shape: Sequence[int], num_classes: int = 10, hidden: int = 128) -> keras.Sequential:
    """The common student practical's head (lesson 09): GAP (only for a spatial feature map) +
    Dense(``hidden``, relu) + Dense(softmax). It outputs probabilities, so its loss takes
    ``from_logits=False``; the course's head (:func:`build_head`) outputs logits instead."""
    import keras

    layers = _head_input(feature_shape) + [keras.layers.Dense(hidden, activation="relu", name="hidden"),
                                           keras.layers.Dense(num_classes, activation="softmax", name="probabilities")]
    return keras.Sequential(layers, name="practical_head")


def build_transfer_model(
    backbone: str = "mobilenet_v2",
    size: int = 96,
    num_classes: int = 10,
    dropout: float = 0.2,
    weights: str | None = "imagenet",
    head: Any | None = None,
    tap: str | None = None,
    trainable_base: bool = False,
) -> Any:
    """Frozen base run in inference mode (``InferenceMode``), then GAP + Dropout + Dense logits.

    Inputs are already-adapted images (see ``helpers.data``). Pass a ``head``
    trained on pooled features to reuse its weights, and a ``tap`` layer to end
    the base there (see :func:`truncate`). ``trainable_base=True`` builds the same
    architecture for training from scratch instead: every layer trainable and BatchNorm
    following ``fit`` (batch statistics while training, its own moving ones after).
    """
    import keras

    base = build_backbone(backbone, size=size, weights=weights, trainable=trainable_base)
    if tap is not None:
        base = truncate(base, tap)
    inputs = keras.Input((size, size, 3), name="image")
    # A pretrained base stays in inference mode, even after unfreezing: its BatchNorm keeps ImageNet's statistics.
    x = base(inputs) if trainable_base else InferenceMode(base, name="inference_mode")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if head is None:
        head = build_head((x.shape[-1],), num_classes, dropout)
    outputs = head(x)
    return keras.Model(inputs, outputs, name=f"{backbone}_transfer")


def truncate(base: keras.Model, tap: str) -> keras.Model:
    """``base`` from its input to the output of layer ``tap``, sharing its layers (the layers above are dropped):
    the course's one sub-model builder (a backbone cut at a tap layer, the digit CNN cut at ``dense``)."""
    import keras

    names = [layer.name for layer in base.layers]
    if tap not in names:
        raise ValueError(f"{base.name} has no layer {tap!r}; expected one of its {len(names)} layer names")
    # inputs[0], not .input: a Sequential model (the scratch CNN) that was never called has no .input
    return keras.Model(base.inputs[0], base.get_layer(tap).output, name=f"{base.name}_to_{tap}")


def base_of(model: keras.Model) -> keras.Model:
    """The backbone inside a transfer model (its first nested Model, unwrapped from ``InferenceMode``)."""
    layers = [layer.inner if isinstance(layer, InferenceMode) else layer for layer in model.layers]
    nested = [layer for layer in layers if isinstance(layer, keras.Model) and layer.name != "head"]
    if not nested:
        raise ValueError(f"model {model.name!r} holds no nested backbone model")
    return nested[0]


STEPS_PER_EXECUTION = 32


def compile_classifier(model: keras.Model, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 1e-3,
                       steps_per_execution: int = STEPS_PER_EXECUTION, from_logits: bool = True) -> keras.Model:
    """Adam + sparse categorical cross-entropy on logits + accuracy (keywords: Keras 3).

    ``steps_per_execution`` batches run in one call into TensorFlow: the same updates in the same
    order, with less Python between steps, which is most of the time of a small head's epoch.
    ``from_logits=False`` is for a model that ends in a softmax (the practical's head).
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


def unfreeze_top(base: keras.Model, n_layers: int, batchnorm_trainable: bool = False) -> list[str]:
    """Make the last ``n_layers`` layers of ``base`` trainable, keeping BatchNorm frozen unless
    ``batchnorm_trainable`` (then its scale and offset, gamma and beta, learn too).

    Returns the names of the layers that became trainable. Recompile afterwards:
    Keras reads ``trainable`` when the model is compiled.
    """
    import keras

    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or not 0 <= n_layers <= len(base.layers):
        raise ValueError(f"n_layers must be an int between 0 and {len(base.layers)}, got {n_layers!r}")
    base.trainable = True
    cut = len(base.layers) - n_layers
    unfrozen = []
    for index, layer in enumerate(base.layers):
        batchnorm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = index >= cut and (batchnorm_trainable or not batchnorm)
        if layer.trainable and layer.weights:
            unfrozen.append(layer.name)
    return unfrozen


def build_scratch_cnn(input_shape: Sequence[int] = (28, 28, 1), num_classes: int = 10) -> keras.Sequential:
    """A small CNN trained from scratch on the raw 28x28 images (scaled to [0, 1] inside).

    Rescaling -> [Conv 32 3x3 ReLU -> MaxPool 2] -> [Conv 64 3x3 ReLU -> MaxPool 2]
    -> Flatten -> Dropout 0.3 -> Dense 128 ReLU -> Dense logits.
    """
    import keras

    return keras.Sequential(
        [
            keras.Input(tuple(input_shape)),
            keras.layers.Rescaling(1 / 255, name="scale"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(0.3, name="dropout"),
            keras.layers.Dense(128, activation="relu", name="dense"),
            keras.layers.Dense(num_classes, name="logits"),
        ],
        name="scratch_cnn",
    )
