"""How accuracy grows with the number of labelled images, for transfer and for a CNN from scratch.

Transfer trains only a head on cached ImageNet features; the scratch CNN
(``helpers.models.build_scratch_cnn``) learns everything from the raw 28x28
pixels. Both use the same protocol at every size: the first ``n`` training
images, 20 % of them held out for early stopping on validation accuracy, the
best epoch kept, accuracy measured on the same test images.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from helpers.head_training import train_head
from helpers.training import accuracy, as_channels_last, train_scratch_cnn  # the course's one scratch-CNN trainer


@dataclass(frozen=True)
class DataEfficiency:
    """Test accuracy and training seconds of both approaches at each number of labelled images.

    ``transfer_seconds`` covers the head's training only: its features come from
    the cache, so the one pass through the base is timed separately.
    """

    sizes: list[int]
    transfer: list[float]
    scratch: list[float]
    transfer_seconds: list[float] = field(default_factory=list)
    scratch_seconds: list[float] = field(default_factory=list)

    def at(self, n: int) -> dict[str, float]:
        """Both accuracies and training times measured with ``n`` labelled images."""
        if n not in self.sizes:
            raise ValueError(f"no measurement with {n} images; measured sizes: {self.sizes}")
        i = self.sizes.index(n)
        return {"transfer": self.transfer[i], "scratch": self.scratch[i],
                "transfer_seconds": self.transfer_seconds[i], "scratch_seconds": self.scratch_seconds[i]}

    def crossover(self) -> int | None:
        """The smallest measured size from which the scratch CNN is at least as accurate as transfer, or None."""
        for index, size in enumerate(self.sizes):
            if all(s >= t for s, t in zip(self.scratch[index:], self.transfer[index:])):
                return size
        return None


def accuracy_vs_labelled_images(
    sizes: Sequence[int],
    train_features: np.ndarray,
    train_images: Any,
    train_labels: Any,
    test_features: np.ndarray,
    test_images: Any,
    test_labels: Any,
    head_epochs: int = 100,
    scratch_epochs: int = 20,
    patience: int = 5,
) -> DataEfficiency:
    """Train the head (on features) and the scratch CNN (on pixels) on the first n images, for each n."""
    ordered = sorted(int(n) for n in sizes)
    if not ordered or ordered[0] < 10 or ordered[-1] > min(len(train_features), len(train_images)):
        raise ValueError(
            f"sizes must lie between 10 and the number of training images/features "
            f"({len(train_images)}/{len(train_features)}), got {list(sizes)}"
        )
    labels = np.asarray(train_labels)
    test_pixels = as_channels_last(test_images)
    curve = DataEfficiency(ordered, [], [])
    for n in ordered:
        head, head_run = train_head(train_features[:n], labels[:n], epochs=head_epochs, patience=patience)
        curve.transfer.append(accuracy(head, test_features, test_labels))
        curve.transfer_seconds.append(head_run.seconds)
        cnn, cnn_run = train_scratch_cnn(train_images[:n], labels[:n], epochs=scratch_epochs, patience=patience)
        curve.scratch.append(accuracy(cnn, test_pixels, test_labels))
        curve.scratch_seconds.append(cnn_run.seconds)
    return curve
