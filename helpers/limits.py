"""When transfer does not help: features from a narrow source domain, measured.

Lesson 08 compares three ways to classify a small labelled Fashion-MNIST set:

1. a digit CNN trained on MNIST, reused as a frozen feature extractor + a new head;
2. ImageNet MobileNetV2 features (frozen, pooled) + the same kind of head;
3. the same small CNN trained from scratch on the Fashion images alone.

All three see exactly the same labelled images and are scored on the same test
images. The digit CNN is ``helpers.models.build_scratch_cnn``: the only
difference between rows 1 and 3 is where the convolution weights come from.
CIFAR (colour photos, the other direction of the digit->photo example) is not
in the offline mirror, so the experiment stays inside MNIST / Fashion-MNIST.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helpers.data import Dataset
from helpers.features import extract_features
from helpers.head_training import train_head
from helpers.infra import results
from helpers.models import build_scratch_cnn, compile_classifier
from helpers.training import accuracy, fit

DIGIT_FEATURES = "digit CNN features (MNIST, frozen)"
IMAGENET_FEATURES = "ImageNet MobileNetV2 features (frozen)"
SCRATCH = "small CNN from scratch"


@dataclass(frozen=True)
class TransferTable:
    """Test accuracies of the three approaches on the same small labelled set."""

    accuracies: dict[str, float]
    n_train: int
    n_test: int
    source_accuracy: float  # the digit CNN on MNIST test images: its features are good for digits
    seconds: dict[str, float] = field(default_factory=dict)

    def best(self) -> str:
        """The approach with the highest test accuracy."""
        return max(self.accuracies, key=self.accuracies.__getitem__)

    def __str__(self) -> str:
        width = max(len(name) for name in self.accuracies)
        lines = [f"{'approach':<{width}}  test accuracy  seconds", "-" * (width + 24)]
        for name, value in self.accuracies.items():
            lines.append(f"{name:<{width}}  {value:>13.1%}  {self.seconds.get(name, float('nan')):>7.1f}")
        lines.append(f"(same {self.n_train} labelled Fashion-MNIST images, {self.n_test} test images; "
                     f"the digit CNN scores {self.source_accuracy:.1%} on MNIST digits)")
        return "\n".join(lines)


def train_digit_cnn(mnist: Dataset, epochs: int = 3, batch_size: int = 64) -> tuple[Any, float]:
    """The small CNN trained on MNIST digits; returns (model, MNIST test accuracy)."""
    model = compile_classifier(build_scratch_cnn((28, 28, 1), len(mnist.class_names)))
    fit(model, mnist.x_train[..., None], mnist.y_train, epochs=epochs, batch_size=batch_size)
    return model, accuracy(model, mnist.x_test[..., None], mnist.y_test)


def frozen_extractor(model: Any, layer: str = "dense") -> Any:
    """A frozen sub-model from ``model``'s input to the output of ``layer`` (same weights, not copies)."""
    import keras

    names = [l.name for l in model.layers]
    if layer not in names:
        raise ValueError(f"model {model.name!r} has no layer {layer!r}; expected one of {names}")
    extractor = keras.Model(model.inputs, model.get_layer(layer).output, name=f"{model.name}_{layer}_features")
    extractor.trainable = False
    return extractor


def head_accuracy(
    train_features: np.ndarray, y_train: np.ndarray, test_features: np.ndarray, y_test: np.ndarray,
    epochs: int = 20, batch_size: int = 64, num_classes: int = 10,
) -> float:
    """Train Dropout + Dense logits on fixed feature vectors; return the test accuracy."""
    if train_features.ndim != 2 or test_features.ndim != 2 or train_features.shape[1] != test_features.shape[1]:
        raise ValueError(f"expected two (N, features) arrays of equal width, got {train_features.shape} and {test_features.shape}")
    head, _ = train_head(train_features, y_train, epochs=epochs, batch_size=batch_size, validation_split=0.0,
                         num_classes=num_classes)
    return accuracy(head, test_features, y_test)


def digit_features_accuracy(
    target: Dataset, digit_cnn: Any, layer: str = "dense", head_epochs: int = 20,
) -> float:
    """Test accuracy of a new head trained on the frozen digit CNN's ``layer`` outputs of ``target``."""
    extractor = frozen_extractor(digit_cnn, layer)
    train = extractor.predict(target.x_train[..., None], batch_size=256, verbose=0)
    test = extractor.predict(target.x_test[..., None], batch_size=256, verbose=0)
    return head_accuracy(train, target.y_train, test, target.y_test, head_epochs,
                         num_classes=len(target.class_names))


def compare_sources(
    target: Dataset,
    digit_cnn: Any,
    source_accuracy: float,
    digit_layer: str = "dense",
    size: int = 96,
    head_epochs: int = 20,
    scratch_epochs: int = 10,
) -> TransferTable:
    """Digit-CNN features vs ImageNet features vs scratch, on ``target``'s train/test split."""
    seconds: dict[str, float] = {}
    accuracies: dict[str, float] = {}

    start = time.perf_counter()
    accuracies[DIGIT_FEATURES] = digit_features_accuracy(target, digit_cnn, digit_layer, head_epochs)
    seconds[DIGIT_FEATURES] = time.perf_counter() - start

    start = time.perf_counter()
    imagenet_train = extract_features(target.x_train, "mobilenet_v2", size)
    imagenet_test = extract_features(target.x_test, "mobilenet_v2", size)
    accuracies[IMAGENET_FEATURES] = head_accuracy(
        imagenet_train, target.y_train, imagenet_test, target.y_test, head_epochs, num_classes=len(target.class_names))
    seconds[IMAGENET_FEATURES] = time.perf_counter() - start

    start = time.perf_counter()
    scratch = compile_classifier(build_scratch_cnn((28, 28, 1), len(target.class_names)))
    fit(scratch, target.x_train[..., None], target.y_train, epochs=scratch_epochs)
    accuracies[SCRATCH] = accuracy(scratch, target.x_test[..., None], target.y_test)
    seconds[SCRATCH] = time.perf_counter() - start

    return TransferTable(accuracies, len(target.x_train), len(target.x_test), source_accuracy, seconds)


def record_table(table: TransferTable) -> None:
    """Store the three accuracies in the course results (``python -m helpers results``)."""
    keys = {DIGIT_FEATURES: "limits_digit_features_accuracy", IMAGENET_FEATURES: "limits_imagenet_features_accuracy",
            SCRATCH: "limits_scratch_accuracy"}
    for name, value in table.accuracies.items():
        results.record(keys[name], value, n_train=table.n_train, n_test=table.n_test)


@dataclass(frozen=True)
class Decision:
    """One row of the fine-tune / freeze / scratch decision table."""

    situation: str
    choice: str
    evidence: str


def _recorded(name: str) -> float | None:
    entry = results.load().get(name)
    return None if entry is None else float(entry["measured"])


def decision_table(table: TransferTable) -> list[Decision]:
    """Fine-tune / freeze / scratch, each choice decided by measured accuracies.

    The first two rows come from ``table``; the fine-tuning row quotes lesson 05's
    recorded figures when that lesson has run on this machine.
    """
    digit, imagenet, scratch = (table.accuracies[k] for k in (DIGIT_FEATURES, IMAGENET_FEATURES, SCRATCH))
    rows = [
        Decision(
            "narrow source unlike the target (digits -> clothes), few labels",
            "train from scratch" if digit <= scratch else "reuse the frozen digit features",
            f"digit features {digit:.1%} vs scratch {scratch:.1%} ({100 * (digit - scratch):+.1f} points)",
        ),
        Decision(
            "broad source (ImageNet), few labels, little compute",
            "freeze the base, train only the head" if imagenet >= scratch else "scratch: frozen ImageNet features did not help",
            f"ImageNet features {imagenet:.1%} vs scratch {scratch:.1%} ({100 * (imagenet - scratch):+.1f} points)",
        ),
    ]
    frozen, finetuned = _recorded("fashion_frozen_accuracy"), _recorded("fashion_finetuned_accuracy")
    if frozen is None or finetuned is None:
        evidence = "lesson 05 has not recorded its figures on this machine yet: run it to fill this row"
        choice = "fine-tune the top layers (BatchNorm frozen, small learning rate) after training the head"
    else:
        evidence = f"lesson 05: frozen {frozen:.1%} -> fine-tuned {finetuned:.1%} ({100 * (finetuned - frozen):+.1f} points)"
        choice = "fine-tune the top layers (BatchNorm frozen, small learning rate)" if finetuned > frozen else "keep the base frozen"
    rows.append(Decision("broad source, thousands of labels, target unlike photos", choice, evidence))
    return rows


def format_decisions(rows: list[Decision]) -> str:
    """The decision table as aligned text."""
    width = max(len(row.situation) for row in rows)
    return "\n".join(f"{row.situation:<{width}} | {row.choice}\n{'':<{width}} |   because {row.evidence}" for row in rows)
