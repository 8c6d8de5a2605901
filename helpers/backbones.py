"""A small registry of pretrained backbones, each with its own preprocessing.

Every entry knows its constructor, its ``preprocess_input``, the size of its
pooled feature vector and whether the course has offline ImageNet weights for it
(only MobileNetV2 does: the others need a download, or ``weights=None`` offline).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from helpers.infra import assets

MOBILENET_WEIGHT_SIZES = (96, 128, 160, 192, 224)


@dataclass(frozen=True)
class Backbone:
    """What the course needs to know about one ImageNet architecture."""

    name: str
    module: str  # keras.applications submodule holding preprocess_input
    constructor_name: str
    feature_size: int
    offline_weights: bool
    preprocessing: str  # one line, for people
    min_size: int = 32

    def constructor(self) -> Callable[..., Any]:
        import keras

        return getattr(keras.applications, self.constructor_name)

    def preprocess_input(self, images: Any) -> Any:
        """This backbone's own ``keras.applications.<module>.preprocess_input``."""
        import keras

        return getattr(keras.applications, self.module).preprocess_input(images)

    def weights_asset(self, size: int, include_top: bool = False) -> str | None:
        """The course asset holding ImageNet weights for ``size``, if there is one."""
        if not self.offline_weights:
            return None
        if include_top:
            return "mobilenet_v2_224_top"
        nearest = size if size in MOBILENET_WEIGHT_SIZES else 224  # Keras falls back to 224 too
        return f"mobilenet_v2_{nearest}_no_top"


BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        Backbone("mobilenet_v2", "mobilenet_v2", "MobileNetV2", 1280, True, "scale to [-1, 1]: x / 127.5 - 1"),
        Backbone("resnet50", "resnet50", "ResNet50", 2048, False, "caffe: RGB->BGR, subtract ImageNet channel means, no scaling"),
        Backbone("efficientnet_b0", "efficientnet", "EfficientNetB0", 1280, False, "none outside: rescaling and normalisation are layers inside the model"),
    )
}


def get_backbone(name: str) -> Backbone:
    """The registry entry for ``name``; a ValueError lists the known names otherwise."""
    try:
        return BACKBONES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown backbone {name!r}; expected one of: {', '.join(BACKBONES)}") from None


def check_size(backbone: Backbone, size: int) -> None:
    """Raise a ValueError unless ``size`` is an integer the backbone accepts."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise ValueError(f"image size must be an int, got {size!r} ({type(size).__name__})")
    if size < backbone.min_size:
        raise ValueError(f"{backbone.name} needs images of at least {backbone.min_size}x{backbone.min_size}, got size {size}")


def build_backbone(
    name: str = "mobilenet_v2",
    size: int = 96,
    weights: str | None = "imagenet",
    include_top: bool = False,
    trainable: bool = False,
) -> Any:
    """Build a backbone; ImageNet weights come from the course assets when we have them.

    ``include_top=True`` gives the full 1000-class ImageNet classifier at 224x224.
    With ``include_top=False`` the base is frozen unless ``trainable=True``.
    """
    backbone = get_backbone(name)
    check_size(backbone, size)
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    if weights == "imagenet" and backbone.offline_weights:
        assets.fetch(backbone.weights_asset(size, include_top) or "")
    shape = (224, 224, 3) if include_top else (size, size, 3)
    try:
        model = backbone.constructor()(include_top=include_top, weights=weights, input_shape=shape)
    except Exception as error:  # Keras raises a bare Exception when its download fails
        if weights == "imagenet" and not backbone.offline_weights and "URL fetch failure" in str(error):
            raise assets.AssetMissingError(
                f"{backbone.name} ImageNet weights could not be downloaded ({error}). The course has no offline "
                f"copy of them: use weights=None offline (shapes, parameter counts and preprocessing do not "
                f"depend on the weights) or connect to the internet."
            ) from error
        raise
    model.trainable = trainable
    return model


def weights_note(name: str = "mobilenet_v2", size: int = 96) -> str:
    """Which pretrained weights ``build_backbone(name, size, "imagenet")`` runs here, for a lesson to print."""
    backbone = get_backbone(name)
    asset_name = backbone.weights_asset(size)
    if asset_name is None:
        return f"{name} at {size} px: ImageNet weights only by download (none offline; weights=None runs random ones)"
    return f"{name} at {size} px runs {assets.weights_origin(asset_name)}"


def imagenet_or_none(name: str) -> str | None:
    """'imagenet' when this backbone's ImageNet weights can be had here, else None.

    MobileNetV2 has offline weights; the others are tried once through Keras's
    normal download and fall back to None (random weights) offline, with a notice.
    """
    if get_backbone(name).offline_weights:
        return "imagenet"
    try:
        build_backbone(name, size=32, weights="imagenet")
    except assets.AssetMissingError as error:
        print(f"Offline: {name} uses weights=None (random). {error}")
        return None
    return "imagenet"
