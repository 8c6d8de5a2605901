"""Graded-exercise hints, hidden until a student asks for them.

Hints come in levels: ``show_hint("06_pooled_features")`` prints the first,
``show_hint("06_pooled_features", level=2)`` the first two, and so on. Each
level says more, none prints the answer. Keys are the grade_ids of the
answer cells in lessons 06 and 08.
"""
from __future__ import annotations

HINTS: dict[str, tuple[str, ...]] = {
    "06_pooled_features": (
        "Three steps: adapt the raw images (resize, gray->RGB, preprocess_input), call the frozen base, pool.",
        "helpers.data.adapt_images(images, 'mobilenet_v2', size) does the first step; build the base with "
        "helpers.backbones.build_backbone(..., size=...).",
        "Call the base as a function with training=False so BatchNorm uses its ImageNet statistics; "
        "keras.layers.GlobalAveragePooling2D() averages over the two spatial axes.",
    ),
    "06_other_shapes": (
        "Each stride-2 stage halves the spatial size: the last feature map is the input size divided by 32, rounded up.",
        "Pooling removes the spatial axes, so the pooled width is the number of channels of the tapped layer.",
        "Build a model that ends at base.get_layer(name).output and look at its output shape, or compute it.",
    ),
    "06_parameter_counts": (
        "Every weight tensor of the model is in model.trainable_weights or model.non_trainable_weights.",
        "The number of values in a tensor is the product of its shape: np.prod(w.shape).",
        "The head is the only trainable part; BatchNorm's moving mean and variance are never trainable.",
    ),
    "06_unfrozen_counts": (
        "Unfreezing changes which list a weight belongs to, not how many weights there are: the total stays the same.",
        "helpers.models.unfreeze_top(base, 20) unfreezes the last 20 layers of the base, except BatchNormalization.",
        "helpers.models.base_of(model) returns the base inside the transfer model; count again afterwards.",
    ),
    "06_resnet_swap": (
        "helpers.backbones.build_backbone('resnet50', size=..., weights=...) builds ResNet50 without its top, frozen.",
        "Offline, weights=helpers.backbones.imagenet_or_none('resnet50') is None (random weights); shapes and "
        "parameter counts do not depend on the weights.",
        "ResNet50's preprocess_input lives in keras.applications.resnet50; it expects raw 0-255 RGB pixels and "
        "may overwrite a float numpy input in place: pass it a copy.",
    ),
    "08_kernel_adaptation": (
        "On a gray image R = G = B, so a 3-channel kernel sees the same pixel three times.",
        "Repeat the kernel along axis 2 (its input-channel axis) to get 3 channels.",
        "Three copies of the same product add up to three times the original output: divide by 3.",
    ),
    "08_reading_table": (
        "Each list holds one test accuracy per seed; a mean is sum(values) / len(values).",
        "Points are 100 * (mean of pretrained - mean of from_random): positive when the digit weights helped.",
        "Two ranges [min, max] do not overlap when one lies entirely above the other, in either direction.",
    ),
}


def show_hint(task_id: str, level: int = 1) -> None:
    """Print hints 1..``level`` for a graded task (its grade_id)."""
    if task_id not in HINTS:
        raise ValueError(f"no hints for {task_id!r}; expected one of: {', '.join(HINTS)}")
    available = len(HINTS[task_id])
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= available:
        raise ValueError(f"level must be an int between 1 and {available} for {task_id!r}, got {level!r}")
    for number, text in enumerate(HINTS[task_id][:level], 1):
        print(f"Hint {number}/{available} ({task_id}): {text}")
