"""MNIST and Fashion-MNIST, and adapting their images to an ImageNet backbone.

The three adaptations are always the same: resize 28x28 to the backbone's size,
repeat the gray channel three times, apply that backbone's ``preprocess_input``.
``adapt_images`` returns arrays (small sets); ``adapted_dataset`` streams
batches through ``tf.data`` so memory stays flat for the full 70,000 images.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from helpers.backbones import Backbone, check_size, get_backbone
from helpers.infra import assets

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}
_ASSET_FOLDER = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}


@dataclass(frozen=True)
class Dataset:
    """A train/test split of 28x28 uint8 images with integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]


def dataset_key(name: str) -> str:
    """Normalise a dataset name ('fashion-mnist' -> 'fashion_mnist'); ValueError if unknown."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in CLASS_NAMES:
        raise ValueError(f"unknown dataset {name!r}; expected one of: {', '.join(CLASS_NAMES)}")
    return key


def parse_idx(raw: bytes, magic: int) -> np.ndarray:
    """Parse an uncompressed idx file: big-endian header (magic, sizes), then uint8 data."""
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(f"idx magic number {found}, expected {magic}")
    dims = 3 if magic == IMAGES_MAGIC else 1
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"idx payload holds {data.size} values, header announces shape {shape}")
    return data.reshape(shape)


@lru_cache(maxsize=8)
def _read_idx(asset_name: str, magic: int) -> np.ndarray:
    with gzip.open(assets.fetch(asset_name), "rb") as stream:
        array = parse_idx(stream.read(), magic)
    array.setflags(write=False)
    return array


def _split(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    folder = _ASSET_FOLDER[name]
    images = _read_idx(f"{folder}/{split}-images-idx3-ubyte", IMAGES_MAGIC)
    labels = _read_idx(f"{folder}/{split}-labels-idx1-ubyte", LABELS_MAGIC)
    return images, labels


def _first(array: np.ndarray, count: int | None, what: str) -> np.ndarray:
    if count is None:
        return array
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 0 < count <= len(array):
        raise ValueError(f"{what} must be an int between 1 and {len(array)}, got {count!r}")
    return array[:count]


def load_dataset(name: str, n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """The first ``n_train`` training and first ``n_test`` test images (all by default)."""
    key = dataset_key(name)
    x_train, y_train = _split(key, "train")
    x_test, y_test = _split(key, "t10k")
    return Dataset(
        name=key,
        x_train=_first(x_train, n_train, "n_train"),
        y_train=_first(y_train, n_train, "n_train"),
        x_test=_first(x_test, n_test, "n_test"),
        y_test=_first(y_test, n_test, "n_test"),
        class_names=CLASS_NAMES[key],
    )


def check_images(images: Any) -> np.ndarray:
    """Validate a batch of raw images and return it as an array.

    Expected: shape (N, H, W) or (N, H, W, C) with C in {1, 3}, dtype uint8 or
    float, raw pixel values in [0, 255] (not already scaled to [0, 1] or [-1, 1]).
    """
    array = np.asarray(images)
    if array.ndim not in (3, 4):
        raise ValueError(
            f"expected a batch of images with shape (N, H, W) or (N, H, W, C), got shape {array.shape} "
            f"(rank {array.ndim}); for a single image add a batch axis: images[None]"
        )
    if array.shape[0] == 0:
        raise ValueError(f"expected at least one image, got an empty batch of shape {array.shape}")
    if array.ndim == 4 and array.shape[-1] not in (1, 3):
        raise ValueError(f"expected 1 (gray) or 3 (RGB) channels in the last axis, got {array.shape[-1]} (shape {array.shape})")
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"expected dtype uint8 or a float dtype, got {array.dtype}; convert with .astype('uint8')")
    low, high = float(array.min()), float(array.max())
    if not np.isfinite([low, high]).all() or low < 0 or high > 255:
        raise ValueError(f"expected raw pixel values in [0, 255], got values in [{low}, {high}]")
    if np.issubdtype(array.dtype, np.floating) and 0 < high <= 1.0:
        raise ValueError(
            f"expected raw pixel values in [0, 255], got floats in [{low}, {high}]: these look already scaled "
            f"to [0, 1]; pass the raw 0-255 pixels and let the backbone's preprocess_input scale them"
        )
    return array


def _adapt_batch(batch: Any, backbone: Backbone, size: int) -> Any:
    """Resize to size x size, gray -> RGB, then the backbone's preprocess_input (a tf op)."""
    import tensorflow as tf

    images = tf.cast(batch, tf.float32)
    if images.shape.rank == 3:
        images = images[..., tf.newaxis]
    images = tf.image.resize(images, (size, size), method="bilinear")
    if images.shape[-1] == 1:
        images = tf.image.grayscale_to_rgb(images)
    return backbone.preprocess_input(images)


def adapt_images(images: Any, backbone: str = "mobilenet_v2", size: int = 96) -> np.ndarray:
    """Adapt a small batch of raw images to ``backbone`` as a float32 array (N, size, size, 3)."""
    spec = get_backbone(backbone)
    check_size(spec, size)
    array = check_images(images)
    return np.asarray(_adapt_batch(array, spec, size), dtype=np.float32)


def adapted_dataset(
    images: Any,
    labels: Any | None = None,
    backbone: str = "mobilenet_v2",
    size: int = 96,
    batch_size: int = 128,
) -> Any:
    """A ``tf.data.Dataset`` of adapted batches; only one batch is ever resized at a time."""
    import tensorflow as tf

    spec = get_backbone(backbone)
    check_size(spec, size)
    array = check_images(images)
    if labels is not None and len(labels) != len(array):
        raise ValueError(f"expected one label per image: {len(array)} images, {len(labels)} labels")
    slices = array if labels is None else (array, np.asarray(labels))
    dataset = tf.data.Dataset.from_tensor_slices(slices).batch(batch_size)
    if labels is None:
        dataset = dataset.map(lambda x: _adapt_batch(x, spec, size), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(lambda x, y: (_adapt_batch(x, spec, size), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def bytes_as_float32(n_images: int, size: int, channels: int = 3) -> int:
    """Memory (bytes) of n images of size x size x channels held as float32."""
    return n_images * size * size * channels * 4


def shifted_copies(images: Any, copies: int, max_shift: int = 2, seed: int = 0) -> np.ndarray:
    """``copies`` translated versions of raw (N, H, W) images, stacked (copy after copy): each image is
    moved by a random whole number of pixels in [-max_shift, max_shift] along each axis, the uncovered
    border filled with black (0). Seeded, so the same call gives the same images (and cache keys)."""
    array = check_images(images)
    if array.ndim != 3:
        raise ValueError(f"expected gray images of shape (N, H, W), got shape {array.shape}")
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 0:
        raise ValueError(f"copies must be a whole number >= 0, got {copies!r}")
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or not 0 <= max_shift < min(array.shape[1:]):
        raise ValueError(f"max_shift must be a whole number of pixels in [0, {min(array.shape[1:]) - 1}], got {max_shift!r}")
    rng = np.random.default_rng(seed)
    height, width = array.shape[1:]
    padded = np.pad(array, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    shifted = np.empty((copies * len(array), height, width), dtype=array.dtype)
    for copy in range(copies):
        offsets = rng.integers(0, 2 * max_shift + 1, size=(len(array), 2))  # window corner in the padded image
        for index, (row, column) in enumerate(offsets):
            shifted[copy * len(array) + index] = padded[index, row : row + height, column : column + width]
    return shifted
