"""Why a pretrained base runs in inference mode: BatchNorm's two modes, measured.

In training mode a BatchNormalization layer normalises with the statistics of
the current batch (and updates its moving ones); in inference mode with the moving
statistics learnt on ImageNet. Keras runs a *frozen* BatchNorm layer in inference mode
whatever the flag says, so the mode matters as soon as the base is unfrozen for
fine-tuning, and in Keras 3 ``fit`` overrides a ``training=False`` written into a
functional model (``moving_statistics_shift`` measures it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers.infra.cache import cached


@dataclass(frozen=True)
class ModeDifference:
    """How far a model's output moves when it is called in training instead of inference mode."""

    mean_abs_difference: float  # mean |out(training=True) - out(training=False)|
    mean_abs_output: float  # mean |out(training=False)|, for scale

    @property
    def relative(self) -> float:
        """The difference as a fraction of the typical output size."""
        return self.mean_abs_difference / self.mean_abs_output if self.mean_abs_output else float("nan")


def training_mode_difference(model: Any, batch: Any) -> ModeDifference:
    """Call ``model`` on the same adapted ``batch`` with training=True and training=False and compare.

    A call in training mode also nudges the moving statistics of trainable
    BatchNorm layers; they are restored afterwards, so the model is left unchanged.
    """
    inputs = np.asarray(batch, dtype=np.float32)
    if inputs.ndim != 4 or inputs.shape[0] < 2:
        raise ValueError(f"expected an adapted batch of at least 2 images (N, H, W, 3), got shape {inputs.shape}")
    saved = [weight.numpy() for weight in model.non_trainable_weights]
    try:
        in_training_mode = np.asarray(model(inputs, training=True))
    finally:
        for weight, value in zip(model.non_trainable_weights, saved):
            weight.assign(value)
    in_inference_mode = np.asarray(model(inputs, training=False))
    return ModeDifference(
        mean_abs_difference=float(np.mean(np.abs(in_training_mode - in_inference_mode))),
        mean_abs_output=float(np.mean(np.abs(in_inference_mode))),
    )


@cached  # a one-epoch fit of the whole base: a warm run reads the measured shift back
def moving_statistics_shift(batch: Any, labels: Any, wrapped: bool) -> float:
    """Train a transfer model whose whole base is unfrozen (BatchNorm included) for one epoch on ``batch``
    and return how far the BatchNorm layers' moving means moved (largest absolute change).

    ``wrapped=False`` writes ``base(inputs, training=False)`` into the functional model; ``wrapped=True``
    runs the base through ``helpers.models.InferenceMode``. Only the second keeps ``fit`` from putting the
    base in training mode (in Keras 3, the ``training=True`` of ``fit`` replaces the value in the graph).
    """
    import keras

    from helpers.backbones import build_backbone
    from helpers.models import InferenceMode, compile_classifier

    inputs = np.asarray(batch, dtype=np.float32)
    base = build_backbone("mobilenet_v2", size=inputs.shape[1], weights="imagenet", trainable=True)
    image = keras.Input(inputs.shape[1:])
    features = InferenceMode(base)(image) if wrapped else base(image, training=False)
    logits = keras.layers.Dense(int(np.max(labels)) + 1)(keras.layers.GlobalAveragePooling2D()(features))
    model = compile_classifier(keras.Model(image, logits), learning_rate=1e-4)
    norms = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    before = [layer.moving_mean.numpy().copy() for layer in norms]
    model.fit(inputs, np.asarray(labels), epochs=1, batch_size=len(inputs), verbose=0)
    return max(float(np.max(np.abs(layer.moving_mean.numpy() - old))) for layer, old in zip(norms, before))
