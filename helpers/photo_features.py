"""Each photo through the frozen base once, kept in the course cache.

``photo_features`` streams photos from their files through MobileNetV2 in inference mode and
keeps two things per photo: the pooled output (what a head trains on) and the activations at a
*cut* inside the base (what fine-tuning its top layers trains on, as in lesson 05).
``augmented=`` draws each photo once more through the model's own augmentation layers first: a
fixed augmented copy whose features are cached like the originals' (random augmentation drawn
afresh in every epoch would need the whole base in every epoch). The cache key covers the photos'
bytes (their SHA-256), the settings and the code of this module and those it imports, so editing
a training recipe elsewhere does not extract the features again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers.backbones import build_backbone
from helpers.infra.cache import cached
from helpers.photo_models import Augmentation, augmentation_layers, preprocessing_layer
from helpers.photos import PhotoFolder, photo_dataset

FINE_TUNING_CUT = "block_15_add"  # the top 12 layers above it: block 16 and the last 1x1 convolution


@dataclass(frozen=True)
class PhotoFeatures:
    """What one pass of ``n`` photos through the frozen base gave, and what it cost."""

    pooled: np.ndarray  # (n, 1280): the base's output, global-average-pooled
    activations: np.ndarray | None  # (n, h, w, c) at the cut, or None
    seconds: float  # the pass: decoding, resizing and the base, model set-up excluded
    size: int

    @property
    def photos_per_second(self) -> float:
        return len(self.pooled) / self.seconds


def extractor(size: int, cut: str | None = None, backbone: str = "mobilenet_v2") -> Any:
    """Photos (size x size, raw 0-255) -> the backbone's preprocessing -> frozen base in inference
    mode -> [activations at ``cut``,] pooled output."""
    import keras

    base = build_backbone(backbone, size=size, weights="imagenet")
    outputs = [keras.layers.GlobalAveragePooling2D(name="pool")(base.output)]
    if cut is not None:
        outputs.insert(0, base.get_layer(cut).output)
    inner = keras.Model(base.input, outputs, name=f"{backbone}_outputs")
    photos = keras.Input((size, size, 3), name="photo")
    return keras.Model(photos, inner(preprocessing_layer(backbone)(photos), training=False), name="extractor")


@cached
def photo_features(photos: PhotoFolder, size: int, cut: str | None = None, augmented: Augmentation | None = None,
                   seed: int = 0, batch_size: int = 32) -> PhotoFeatures:
    """Pooled output (and activations at ``cut``) of every photo, one streamed pass through the
    frozen ImageNet MobileNetV2 at ``size`` px; with ``augmented``, of one augmented copy of each
    photo drawn with ``seed``. Cached: keyed by the photos' bytes, the settings and the code."""
    model = extractor(size, cut)
    model.predict(np.zeros((1, size, size, 3), np.float32), verbose=0)  # build and trace outside the timing
    block = augmentation_layers(augmented, seed) if augmented is not None else None
    pooled, activations = [], []
    start = time.perf_counter()
    for batch in photo_dataset(photos.paths, size=size, batch_size=batch_size):
        if block is not None:
            batch = block(batch, training=True)
        outputs = model(batch, training=False)
        pooled.append(np.asarray(outputs[-1]))
        if cut is not None:
            activations.append(np.asarray(outputs[0]))
    seconds = time.perf_counter() - start
    return PhotoFeatures(np.concatenate(pooled), np.concatenate(activations) if cut else None, seconds, size)
