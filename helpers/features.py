"""Batched feature extraction at any named layer or layers, kept in the course cache.

``extract_features`` and ``features_at_layers`` are cached (``helpers.infra.cache``): the key
covers the image bytes, every setting, the code of the helpers that compute the features and
where the weights came from. ``compute_features`` is the same computation without the cache,
for timing it.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers.backbones import build_backbone
from helpers.data import adapted_dataset, check_images
from helpers.infra.cache import cached

if TYPE_CHECKING:
    import keras


def feature_model(
    backbone: str = "mobilenet_v2",
    size: int = 96,
    weights: str | None = "imagenet",
    layer: str | None = None,
    pooled: bool = True,
    seed: int = 0,
) -> keras.Model:
    """A frozen model from adapted images to the output of ``layer`` (the last layer by default),
    global-average-pooled to a vector when ``pooled``. With ``weights=None`` the base's random
    initial weights are drawn with ``seed``."""
    return layers_model(backbone, size, weights, [layer], pooled, seed)


def layers_model(
    backbone: str, size: int, weights: str | None, layers: Sequence[str | None], pooled: bool, seed: int = 0,
) -> keras.Model:
    """A frozen model with one output per named layer (None: the last layer), each pooled when ``pooled``."""
    import keras

    if weights is None:
        keras.utils.set_random_seed(seed)
    base = build_backbone(backbone, size=size, weights=weights)
    names = [layer.name for layer in base.layers]
    unknown = [layer for layer in layers if layer is not None and layer not in names]
    if unknown:
        raise ValueError(f"{backbone} has no layer(s) {unknown}; expected names such as 'block_13_expand_relu' "
                         f"or {names[-1]!r}")
    outputs = [base.output if layer is None else base.get_layer(layer).output for layer in layers]
    if pooled:
        outputs = [keras.layers.GlobalAveragePooling2D()(tensor) for tensor in outputs]
    return keras.Model(base.input, outputs if len(outputs) > 1 else outputs[0], name=f"{backbone}_features")


def compute_features(
    images: Any,
    backbone: str = "mobilenet_v2",
    size: int = 96,
    weights: str | None = "imagenet",
    layer: str | None = None,
    pooled: bool = True,
    batch_size: int = 128,
    seed: int = 0,
) -> np.ndarray:
    """Run raw images through the frozen backbone in inference mode, streaming batches (not cached).

    ``predict`` always calls the model with ``training=False``, so BatchNorm uses
    its ImageNet statistics.
    """
    model = feature_model(backbone, size, weights, layer, pooled, seed)
    batches = adapted_dataset(check_images(images), backbone=backbone, size=size, batch_size=batch_size)
    return np.asarray(model.predict(batches, verbose=0), dtype=np.float32)


@cached
def extract_features(
    images: Any,
    backbone: str = "mobilenet_v2",
    size: int = 96,
    weights: str | None = "imagenet",
    layer: str | None = None,
    pooled: bool = True,
    batch_size: int = 128,
    seed: int = 0,
) -> np.ndarray:
    """``compute_features``, kept in the course cache: a second identical request reads it from disk."""
    return compute_features(np.asarray(images), backbone, size, weights, layer, pooled, batch_size, seed)


@cached
def features_at_layers(
    images: Any,
    layers: tuple[str, ...],
    backbone: str = "mobilenet_v2",
    size: int = 96,
    pooled: bool = True,
    batch_size: int = 128,
) -> dict[str, np.ndarray]:
    """ImageNet features of ``images`` at each named layer, all computed in ONE pass through the base."""
    if isinstance(layers, str) or not layers:
        raise ValueError(f"layers must be a non-empty tuple of layer names, got {layers!r}")
    model = layers_model(backbone, size, "imagenet", list(layers), pooled)
    batches = adapted_dataset(check_images(images), backbone=backbone, size=size, batch_size=batch_size)
    outputs = model.predict(batches, verbose=0)
    if len(layers) == 1:  # a one-output model predicts an array, not a list
        outputs = [outputs]
    return {layer: np.asarray(output, dtype=np.float32) for layer, output in zip(layers, outputs)}


@dataclass(frozen=True)
class ExtractionTime:
    """What one pass through the frozen base costs for ``n_images`` images when nothing is cached."""

    n_images: int
    setup_seconds: float  # once: loading the weights, building and tracing the model (first pass - second)
    images_per_second: float  # then: the pass itself

    @property
    def seconds(self) -> float:
        return self.setup_seconds + self.n_images / self.images_per_second


@cached
def time_extraction(
    sample: Any,
    n_images: int,
    backbone: str = "mobilenet_v2",
    size: int = 96,
    layer: str | None = None,
    batch_size: int = 128,
) -> ExtractionTime:
    """Time extracting pooled ImageNet features of ``n_images`` images: the one-time set-up, then the
    pass measured on the raw images of ``sample`` (no cached features are read or written; the
    measurement itself is kept in the course cache, so a second run shows what the first measured).

    Only the pass scales with the number of images; scaling the set-up too would charge it once
    per sample-sized slice.
    """
    array = check_images(sample)
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise ValueError(f"n_images must be a positive int, got {n_images!r}")
    batches = adapted_dataset(array, backbone=backbone, size=size, batch_size=batch_size)
    start = time.perf_counter()
    model = feature_model(backbone, size, "imagenet", layer, pooled=True)
    model.predict(batches, verbose=0)
    first = time.perf_counter() - start
    start = time.perf_counter()
    model.predict(batches, verbose=0)  # the same pass again: now only the pass itself
    second = time.perf_counter() - start
    return ExtractionTime(n_images, max(first - second, 0.0), len(array) / second)
