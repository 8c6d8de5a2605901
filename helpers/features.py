"""Batched feature extraction at any named layer, cached on disk.

The cache key covers everything that changes the result: backbone, weights
(the SHA-256 of the weights file), image size, tap layer, pooling and the exact
image bytes. Features computed with random weights (``weights=None``) are never
cached. Files are written to a temporary name and renamed, so an interrupted
run never leaves a half-written cache entry behind.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.infra import assets
from helpers.backbones import build_backbone, get_backbone
from helpers.data import adapted_dataset, check_images

CACHE_FORMAT = 1


def feature_model(
    backbone: str = "mobilenet_v2",
    size: int = 96,
    weights: str | None = "imagenet",
    layer: str | None = None,
    pooled: bool = True,
) -> Any:
    """A frozen model from adapted images to the output of ``layer`` (the last layer by default),
    global-average-pooled to a vector when ``pooled``."""
    import keras

    base = build_backbone(backbone, size=size, weights=weights)
    if layer is None:
        tap = base.output
    else:
        names = [l.name for l in base.layers]
        if layer not in names:
            raise ValueError(f"{backbone} has no layer {layer!r}; expected one of its {len(names)} layer names, e.g. {names[-1]!r}")
        tap = base.get_layer(layer).output
    if pooled:
        tap = keras.layers.GlobalAveragePooling2D(name="pool")(tap)
    return keras.Model(base.input, tap, name=f"{backbone}_{layer or 'top'}_features")


def weights_id(backbone: str, size: int, weights: str | None) -> str | None:
    """The SHA-256 of the weights file in use, or None when the weights are random."""
    if weights is None:
        return None
    asset_name = get_backbone(backbone).weights_asset(size)
    if asset_name is None:  # downloaded by Keras, no asset entry: identify by name
        return f"{backbone}-imagenet-keras"
    return assets.payload_sha256(assets.fetch(asset_name))


def cache_key(images: np.ndarray, backbone: str, size: int, weights_sha: str, layer: str | None, pooled: bool) -> str:
    """A hex key that changes whenever anything that affects the features changes."""
    data = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    data.update(f"{images.shape}{images.dtype}".encode())
    description = {
        "format": CACHE_FORMAT, "backbone": backbone, "size": size, "weights": weights_sha,
        "layer": layer, "pooled": pooled, "data": data.hexdigest(),
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def features_cache_dir() -> Path:
    return assets.cache_dir() / "features"


def cache_path(images: np.ndarray, backbone: str, size: int, weights_sha: str, layer: str | None, pooled: bool) -> Path:
    """The cache file of one feature request (see ``cache_key``)."""
    return features_cache_dir() / f"{cache_key(images, backbone, size, weights_sha, layer, pooled)}.npy"


def save_atomically(array: np.ndarray, target: Path) -> None:
    assets.write_atomically(target, lambda file: np.save(file, array))


def compute_features(
    images: Any,
    backbone: str = "mobilenet_v2",
    size: int = 96,
    weights: str | None = "imagenet",
    layer: str | None = None,
    pooled: bool = True,
    batch_size: int = 128,
) -> np.ndarray:
    """Run raw images through the frozen backbone in inference mode, streaming batches.

    ``predict`` always calls the model with ``training=False``, so BatchNorm uses
    its ImageNet statistics.
    """
    model = feature_model(backbone, size, weights, layer, pooled)
    batches = adapted_dataset(images, backbone=backbone, size=size, batch_size=batch_size)
    return np.asarray(model.predict(batches, verbose=0), dtype=np.float32)


def extract_features(
    images: Any,
    backbone: str = "mobilenet_v2",
    size: int = 96,
    weights: str | None = "imagenet",
    layer: str | None = None,
    pooled: bool = True,
    batch_size: int = 128,
    cache: bool = True,
) -> np.ndarray:
    """Features of raw images, read from the disk cache when this exact request was seen before."""
    array = check_images(images)
    sha = weights_id(backbone, size, weights)
    if not cache or sha is None:
        return compute_features(array, backbone, size, weights, layer, pooled, batch_size)
    path = cache_path(array, backbone, size, sha, layer, pooled)
    if path.is_file():
        return np.load(path)
    features = compute_features(array, backbone, size, weights, layer, pooled, batch_size)
    save_atomically(features, path)
    return features


@dataclass(frozen=True)
class ExtractionTime:
    """What one pass through the frozen base costs for ``n_images`` images when nothing is cached."""

    n_images: int
    setup_seconds: float  # once: loading the weights, building and tracing the model (first pass - second)
    images_per_second: float  # then: the pass itself

    @property
    def seconds(self) -> float:
        return self.setup_seconds + self.n_images / self.images_per_second


def time_extraction(
    sample: Any,
    n_images: int,
    backbone: str = "mobilenet_v2",
    size: int = 96,
    layer: str | None = None,
    batch_size: int = 128,
) -> ExtractionTime:
    """Time extracting pooled ImageNet features of ``n_images`` images: the one-time set-up, then the
    pass measured on the raw images of ``sample`` (the cache is neither read nor written).

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
