"""The 1-channel vs 3-channel mismatch of a first convolution, and two ways around it.

A digit CNN's first Conv2D has a kernel of shape (kh, kw, 1, filters); a network
for RGB images needs (kh, kw, 3, filters). Copying one into the other fails.
Two adaptations give the same output on a gray image (R = G = B = g):

* repeat the kernel over the channel axis and divide by 3: sum_c (w / 3) * g = w * g;
* keep the 1-channel kernel and average the three input channels first: w * mean_c(g) = w * g.

Both are linear in the input, so they agree with each other on colour images
too: sum_c (w / 3) * x_c = w * mean_c(x). They differ in what can happen next.
The first is an ordinary 3-channel layer whose per-channel weights can drift
apart when it is fine-tuned on colour data; the second throws colour away for
good, whatever training follows.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def check_one_channel_kernel(kernel: Any) -> np.ndarray:
    """The kernel as an array, if it has shape (kh, kw, 1, filters); a ValueError otherwise."""
    array = np.asarray(kernel)
    if array.ndim != 4 or array.shape[2] != 1:
        raise ValueError(f"expected a Conv2D kernel of shape (kh, kw, 1, filters), got shape {array.shape}")
    return array


def repeat_kernel(kernel: Any, channels: int = 3) -> np.ndarray:
    """A (kh, kw, 1, f) kernel repeated to (kh, kw, channels, f) and divided by ``channels``."""
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a positive int, got {channels!r}")
    array = check_one_channel_kernel(kernel)
    return np.repeat(array, channels, axis=2) / channels


def conv_like(conv: Any, kernel: np.ndarray, bias: np.ndarray, name: str) -> Any:
    """A built Conv2D with ``conv``'s configuration (filters, size, strides, padding, activation) and new weights."""
    import keras

    config = conv.get_config() | {"name": name}
    layer = keras.layers.Conv2D.from_config(config)
    layer.build((None, None, None, kernel.shape[2]))
    layer.set_weights([kernel, bias])
    return layer


def repeated_kernel_conv(conv: Any) -> Any:
    """Adaptation 1: a 3-channel copy of a 1-channel Conv2D (kernel repeated over channels, / 3)."""
    kernel, bias = conv.get_weights()
    return conv_like(conv, repeat_kernel(kernel), bias, f"{conv.name}_rgb")


def averaged_input_conv(conv: Any) -> Any:
    """Adaptation 2: a model that averages RGB to one channel, then applies the unchanged 1-channel Conv2D."""
    import keras

    kernel, bias = conv.get_weights()
    check_one_channel_kernel(kernel)
    inputs = keras.Input((None, None, 3))
    gray = keras.layers.Lambda(lambda x: keras.ops.mean(x, axis=-1, keepdims=True), name="average_channels")(inputs)
    return keras.Model(inputs, conv_like(conv, kernel, bias, f"{conv.name}_gray")(gray), name=f"{conv.name}_averaged")


def gray_as_rgb(gray: Any) -> tuple[np.ndarray, np.ndarray]:
    """A batch of gray images (N, H, W) as float32 (N, H, W, 1) and its RGB copy (N, H, W, 3), R = G = B."""
    array = np.asarray(gray, dtype=np.float32)
    if array.ndim != 3:
        raise ValueError(f"expected gray images of shape (N, H, W), got shape {array.shape}")
    one = array[..., None]
    return one, np.repeat(one, 3, axis=-1)


def output_difference(conv: Any, adapted: Any, gray: Any) -> float:
    """Largest absolute difference between ``conv`` on gray images and ``adapted`` on their RGB copies."""
    one, three = gray_as_rgb(gray)
    expected = np.asarray(conv(one))
    got = np.asarray(adapted(three))
    if expected.shape != got.shape:
        raise ValueError(f"the adapted layer gives shape {got.shape}, the original {expected.shape}")
    return float(np.max(np.abs(expected - got)))
