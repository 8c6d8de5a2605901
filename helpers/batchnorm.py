"""Why a pretrained base is called with ``training=False``: BatchNorm's two modes, measured.

In training mode a BatchNormalization layer normalises with the statistics of
the current batch; in inference mode with the moving statistics learnt on
ImageNet. Keras runs a *frozen* BatchNorm layer in inference mode whatever the
flag says, so the flag matters as soon as the base is unfrozen for fine-tuning.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


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
