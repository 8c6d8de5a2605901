"""What the full ImageNet MobileNetV2, classifier included, says about a picture.

Lesson 02 uses it to show the domain gap in one picture: the sample photos get
sensible ImageNet labels, an MNIST digit gets an absurd one. The classifier
works at 224x224 on RGB photos; pictures are given as raw 0-255 pixels and
MobileNetV2's own ``preprocess_input`` is applied here.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from helpers.backbones import build_backbone, get_backbone
from helpers.infra import assets

CLASSIFIER_SIZE = 224
# The ImageNet classes that are domestic cats (keras decode_predictions names).
CAT_CLASSES = frozenset({"tabby", "tiger_cat", "Persian_cat", "Siamese_cat", "Egyptian_cat"})


def photo_names() -> tuple[str, ...]:
    """Short names of the course's sample photos: ('cat', 'bird', ...)."""
    return tuple(name.split("/", 1)[1].rsplit(".", 1)[0] for name in assets.SAMPLE_PHOTOS)


def _photo_asset(name: str) -> str:
    for asset_name in assets.SAMPLE_PHOTOS:
        if name in (asset_name, asset_name.split("/", 1)[1], asset_name.split("/", 1)[1].rsplit(".", 1)[0]):
            return asset_name
    raise ValueError(f"unknown sample photo {name!r}; expected one of: {', '.join(photo_names())}")


def load_photo(name: str, size: int = CLASSIFIER_SIZE) -> np.ndarray:
    """A sample photo ('cat', 'cat.bmp' or 'images/cat.bmp') as uint8 RGB (size, size, 3).

    The photo is centre-cropped to a square first, as ImageNet evaluation does,
    so nothing is squashed.
    """
    from PIL import Image

    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    with Image.open(assets.fetch(_photo_asset(name))) as image:
        rgb = image.convert("RGB")
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    square = rgb.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(square, dtype=np.uint8)


def sample_photos(size: int = CLASSIFIER_SIZE) -> dict[str, np.ndarray]:
    """Every sample photo, keyed by its short name, as uint8 RGB (size, size, 3)."""
    return {name: load_photo(name, size) for name in photo_names()}


def digit_as_photo(image: Any, size: int = CLASSIFIER_SIZE) -> np.ndarray:
    """One 28x28 gray digit enlarged to a uint8 RGB (size, size, 3) picture (gray copied to R, G and B)."""
    from PIL import Image

    array = np.asarray(image)
    if array.ndim != 2 or array.dtype != np.uint8:
        raise ValueError(f"expected one gray uint8 image of shape (H, W), got shape {array.shape} and dtype {array.dtype}")
    return np.asarray(Image.fromarray(array).resize((size, size), Image.Resampling.BILINEAR).convert("RGB"), dtype=np.uint8)


@lru_cache(maxsize=1)
def imagenet_classifier() -> Any:
    """MobileNetV2 with its 1000-class ImageNet classifier (224x224), built once per process."""
    assets.fetch("imagenet_class_index")  # decode_predictions reads it from $KERAS_HOME/models
    return build_backbone("mobilenet_v2", include_top=True, weights="imagenet")


def classify(images: Any, top: int = 3) -> list[list[tuple[str, float]]]:
    """The ``top`` ImageNet labels and probabilities of each raw RGB picture (N, 224, 224, 3), 0-255."""
    import keras

    batch = np.asarray(images)
    expected = (CLASSIFIER_SIZE, CLASSIFIER_SIZE, 3)
    if batch.ndim != 4 or batch.shape[1:] != expected:
        raise ValueError(f"expected a batch of RGB pictures of shape (N, {', '.join(map(str, expected))}), got shape {batch.shape}")
    if batch.min() < 0 or batch.max() <= 1.0 or batch.max() > 255:
        raise ValueError(f"expected raw pixels in [0, 255], got values in [{batch.min()}, {batch.max()}]")
    inputs = get_backbone("mobilenet_v2").preprocess_input(batch.astype(np.float32))
    # A direct call (inference mode) suits a handful of pictures: no predict loop to trace.
    probabilities = np.asarray(imagenet_classifier()(inputs, training=False))
    decoded = keras.applications.mobilenet_v2.decode_predictions(probabilities, top=top)
    return [[(label, float(score)) for _, label, score in row] for row in decoded]


def caption(predictions: list[tuple[str, float]]) -> str:
    """'tabby 61%' lines, one per label, for a picture's caption."""
    return "\n".join(f"{label} {score:.0%}" for label, score in predictions)
