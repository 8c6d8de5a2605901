"""Models that take raw photos: resizing, augmentation and the backbone's preprocessing are layers.

A photo classifier is one Keras model from raw 0-255 RGB pixels of any size to class logits::

    photo (H, W, 3) -> Resizing(size) -> augmentation -> preprocessing -> base -> pool -> head

so the saved ``.keras`` file needs nothing else to classify a photo: no resize, no scaling and
no ``preprocess_input`` outside it. Augmentation layers (``RandomFlip``, ``RandomRotation``,
``RandomZoom``...) transform their input only when the model is called with ``training=True``
(what ``fit`` does); ``predict`` and a call with ``training=False`` pass the photo through
unchanged, so a prediction is the same every time.

The same family saves a classifier with its class names (``save_classifier``), loads it
(``load_classifier``), classifies a photo file and prints the top classes (``classify_photo``)
and trains one on any folder of class subfolders (``train_on_folder``).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.backbones import build_backbone, check_size, get_backbone
from helpers.models import build_head

CLASS_NAMES_SUFFIX = ".classes.json"
BATCHNORM_MOMENTUM_FROM_SCRATCH = 0.9


def preprocessing_layer(backbone: str = "mobilenet_v2") -> Any:
    """A Keras layer computing ``backbone``'s own ``preprocess_input`` (a test proves they agree):
    MobileNetV2 scales 0-255 to [-1, 1]; EfficientNet's ``preprocess_input`` is the identity,
    because the model rescales inside. Built-in layers, so a saved model loads anywhere."""
    import keras

    spec = get_backbone(backbone)
    if spec.name == "mobilenet_v2":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")
    if spec.name == "efficientnet_b0":
        return keras.layers.Identity(name="preprocess")
    raise ValueError(f"no preprocessing layer for {backbone!r}; photo models support mobilenet_v2 and efficientnet_b0")


@dataclass(frozen=True)
class Augmentation:
    """Which random transformations the augmentation block applies (0 turns one off)."""

    flip: bool = True  # horizontal mirror image
    rotation: float = 0.1  # up to this fraction of a full turn, either way (0.1 = 36 degrees)
    zoom: float = 0.1  # zoom in or out by up to this fraction
    contrast: float = 0.0  # change the contrast by up to this fraction

    def __str__(self) -> str:
        parts = (["flip"] if self.flip else []) + [f"{name} {value:g}" for name, value in
                                                   (("rotation", self.rotation), ("zoom", self.zoom),
                                                    ("contrast", self.contrast)) if value]
        return " + ".join(parts) or "none"


NO_AUGMENTATION = Augmentation(flip=False, rotation=0.0, zoom=0.0, contrast=0.0)


def augmentation_layers(augmentation: Augmentation = Augmentation(), seed: int | None = None) -> Any:
    """The augmentation block: a ``keras.Sequential`` of Keras preprocessing layers, active only
    in training. ``seed`` makes its random draws repeatable."""
    import keras

    layers: list[Any] = []
    if augmentation.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if augmentation.rotation:
        layers.append(keras.layers.RandomRotation(augmentation.rotation, fill_mode="reflect", seed=seed))
    if augmentation.zoom:
        layers.append(keras.layers.RandomZoom(augmentation.zoom, fill_mode="reflect", seed=seed))
    if augmentation.contrast:
        layers.append(keras.layers.RandomContrast(augmentation.contrast, value_range=(0, 255), seed=seed))
    return keras.Sequential(layers, name="augmentation")


def build_photo_classifier(
    num_classes: int,
    size: int = 224,
    backbone: str = "mobilenet_v2",
    weights: str | None = "imagenet",
    augmentation: Augmentation = Augmentation(),
    head: Any | None = None,
    base: Any | None = None,
    dropout: float = 0.2,
    seed: int | None = None,
) -> Any:
    """Raw photos of any size -> Resizing(size) -> augmentation -> the backbone's preprocessing ->
    frozen base (inference mode) -> GAP -> head (Dropout + Dense logits).

    Pass a ``head`` trained on pooled features, and a ``base`` (e.g. one whose top layers were
    fine-tuned), to put them behind the photo layers as they are.
    """
    import keras

    check_size(get_backbone(backbone), size)
    if base is None:
        base = build_backbone(backbone, size=size, weights=weights)
    photos = keras.Input((None, None, 3), name="photo")
    x = keras.layers.Resizing(size, size, interpolation="bilinear", name="resize")(photos)
    x = augmentation_layers(augmentation, seed)(x)
    x = preprocessing_layer(backbone)(x)
    x = base(x, training=False)  # BatchNorm keeps its ImageNet statistics, also while the top layers train
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if head is None:
        head = build_head((x.shape[-1],), num_classes, dropout)
    return keras.Model(photos, head(x), name=f"{backbone}_photo_classifier")


def build_photo_cnn(num_classes: int, size: int = 64, augmentation: Augmentation = Augmentation(),
                    widths: Sequence[int] = (16, 32, 64, 128), dropout: float = 0.3, seed: int | None = None) -> Any:
    """A small CNN trained from scratch on photos, with the same photo layers in front:
    Resizing -> augmentation -> Rescaling to [-1, 1] -> [Conv 3x3 ReLU -> MaxPool 2] per width ->
    GAP -> Dropout -> Dense logits."""
    import keras

    photos = keras.Input((None, None, 3), name="photo")
    x = keras.layers.Resizing(size, size, interpolation="bilinear", name="resize")(photos)
    x = augmentation_layers(augmentation, seed)(x)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")(x)
    for index, width in enumerate(widths, 1):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(photos, keras.layers.Dense(num_classes, name="logits")(x), name="photo_cnn")


def build_random_mobilenet(num_classes: int, size: int = 64, augmentation: Augmentation = Augmentation(),
                           dropout: float = 0.2, seed: int = 0) -> Any:
    """MobileNetV2 from random weights (drawn with ``seed``), every layer trainable, BatchNorm in
    training mode with moving averages quick enough for a small data set: the transfer model's
    architecture without its pretraining."""
    import keras

    keras.utils.set_random_seed(seed)
    base = build_backbone("mobilenet_v2", size=size, weights=None, trainable=True)
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # Keras builds MobileNetV2 with momentum 0.999, made for ImageNet's millions of steps: after the
            # few hundred steps of a small data set the moving statistics that inference uses would still be
            # the initial ones, and every prediction one class (measured: validation accuracy at chance).
            layer.momentum = BATCHNORM_MOMENTUM_FROM_SCRATCH
    photos = keras.Input((None, None, 3), name="photo")
    x = keras.layers.Resizing(size, size, interpolation="bilinear", name="resize")(photos)
    x = augmentation_layers(augmentation, seed)(x)
    x = preprocessing_layer("mobilenet_v2")(x)
    x = base(x)  # no training=False: a network learning from scratch needs BatchNorm's batch statistics
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    head = build_head((x.shape[-1],), num_classes, dropout)
    return keras.Model(photos, head(x), name="random_mobilenet_v2")


@dataclass(frozen=True)
class InferenceCheck:
    """Largest absolute differences that show when the augmentation layers act."""

    model_twice_at_inference: float  # the model's logits, two calls with training=False
    block_at_inference: float  # the augmentation block's output against its input, training=False
    block_twice_in_training: float  # the augmentation block's output, two calls with training=True


def inference_check(model: Any, photo: np.ndarray) -> InferenceCheck:
    """Measure on one photo (H, W, 3) that augmentation acts only in training."""
    batch = np.asarray(photo, dtype=np.float32)[None]
    first, second = (np.asarray(model(batch, training=False)) for _ in range(2))
    resized = np.asarray(model.get_layer("resize")(batch))
    block = model.get_layer("augmentation")
    drawn = [np.asarray(block(resized, training=True)) for _ in range(2)]
    return InferenceCheck(float(np.max(np.abs(first - second))),
                          float(np.max(np.abs(np.asarray(block(resized, training=False)) - resized))),
                          float(np.max(np.abs(drawn[0] - drawn[1]))))


def augmented_copies(photos: Any, augmentation: Augmentation, seed: int) -> np.ndarray:
    """One randomly augmented version of each photo (a batch of equal-size raw photos), drawn with
    the augmentation block in training mode: the same transformations a model applies in ``fit``."""
    block = augmentation_layers(augmentation, seed)
    return np.asarray(block(np.asarray(photos, dtype=np.float32), training=True))


# ----------------------------------------------------------------------- saving and using a model


def class_names_path(model_path: str | Path) -> Path:
    """Where the class names of a saved classifier are kept: beside it, '<name>.classes.json'."""
    path = Path(model_path)
    return path.with_name(path.stem + CLASS_NAMES_SUFFIX)


def save_classifier(model: Any, class_names: Sequence[str], path: str | Path) -> Path:
    """Save ``model`` as a ``.keras`` file and its class names beside it; returns the model's path."""
    target = Path(path)
    if target.suffix != ".keras":
        raise ValueError(f"a classifier is saved as a .keras file, got {target.name!r}")
    outputs = int(model.output.shape[-1])
    if len(class_names) != outputs:
        raise ValueError(f"the model has {outputs} outputs but {len(class_names)} class names were given")
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    class_names_path(target).write_text(json.dumps(list(class_names), indent=1))
    return target


def load_classifier(path: str | Path) -> tuple[Any, tuple[str, ...]]:
    """A classifier saved by ``save_classifier`` and its class names (no helpers code inside: any
    Keras 3 can load the model itself)."""
    import keras

    target = Path(path).expanduser()
    if not target.is_file():
        raise FileNotFoundError(f"no saved model at {target}; train one first "
                                f"(python -m helpers train-folder FOLDER --out {target.name})")
    names_file = class_names_path(target)
    if not names_file.is_file():
        raise FileNotFoundError(f"{target} has no class names beside it ({names_file.name}); "
                                f"save models with helpers.photo_models.save_classifier")
    model = keras.models.load_model(target, compile=False)
    return model, tuple(json.loads(names_file.read_text()))


def read_photo(path: str | Path) -> np.ndarray:
    """A photo file at its own size as float32 RGB (raw 0-255), decoded by TensorFlow exactly as
    the training photos were (``helpers.photos.load_photo``); a clear error for what is not one."""
    from helpers.photos import inspect_photo, load_photo

    photo_path = Path(path).expanduser()
    if not photo_path.is_file():
        raise FileNotFoundError(f"no photo at {photo_path}")
    problem = inspect_photo(photo_path)
    if problem is not None:
        raise ValueError(f"cannot classify {photo_path}: {problem}")
    return np.asarray(load_photo(str(photo_path)))


def top_classes(model: Any, class_names: Sequence[str], photo: np.ndarray, top: int = 3) -> list[tuple[str, float]]:
    """The ``top`` classes of one raw photo (H, W, 3) and their probabilities (softmax of the logits)."""
    import keras

    logits = model(np.asarray(photo, dtype=np.float32)[None], training=False)
    probabilities = np.asarray(keras.ops.softmax(logits, axis=-1))[0]
    order = np.argsort(probabilities)[::-1][: min(top, len(class_names))]
    return [(class_names[i], float(probabilities[i])) for i in order]


def classify_photos(photo_paths: Sequence[str | Path], model_path: str | Path, top: int = 3
                    ) -> list[list[tuple[str, float]]]:
    """Load the saved classifier once, classify photo files of any size and print each one's top classes."""
    model, class_names = load_classifier(model_path)
    rankings = []
    for photo_path in photo_paths:
        ranking = top_classes(model, class_names, read_photo(photo_path), top)
        print(f"{Path(photo_path).name}:")
        for name, probability in ranking:
            print(f"  {name:<20s} {probability:6.1%}")
        rankings.append(ranking)
    return rankings


def classify_photo(photo_path: str | Path, model_path: str | Path, top: int = 3) -> list[tuple[str, float]]:
    """``classify_photos`` for one photo: its top classes, printed and returned."""
    return classify_photos([photo_path], model_path, top)[0]
