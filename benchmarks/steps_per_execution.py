"""Head training with one batch per call into TensorFlow versus STEPS_PER_EXECUTION.

Lesson 03's best head (block_13_expand_relu features of the first N Fashion-MNIST
images, early stopping) trained twice, seeded alike: prints both times and checks
that the trained weights are identical, so only the overhead changed.

    python benchmarks/steps_per_execution.py [--n 4000]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from helpers import data, setup
from helpers.head_training import pooled_features_at_layers, train_head
from helpers.models import STEPS_PER_EXECUTION
from helpers.protocol import validation_split

LAYER = "block_13_expand_relu"


def train(features: np.ndarray, labels: np.ndarray, steps: int) -> tuple[float, int, list[np.ndarray]]:
    split = validation_split(labels)
    (fit_part, val_part), (y_fit, y_val) = split.take(features), split.take(labels)
    head, run = train_head.__wrapped__(fit_part, y_fit, validation=(val_part, y_val), epochs=200, patience=10,
                                       steps_per_execution=steps)  # timed: never read from the cache
    return run.seconds, len(run.history["loss"]), head.get_weights()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="first N Fashion-MNIST training images")
    args = parser.parse_args()
    setup()
    fashion = data.load_dataset("fashion_mnist", n_train=args.n, n_test=1)
    features = pooled_features_at_layers(fashion.x_train, [LAYER])[LAYER]
    one = train(features, fashion.y_train, 1)
    many = train(features, fashion.y_train, STEPS_PER_EXECUTION)
    identical = all(np.array_equal(a, b) for a, b in zip(one[2], many[2]))
    for steps, (seconds, epochs, _) in ((1, one), (STEPS_PER_EXECUTION, many)):
        print(f"steps_per_execution {steps:>3}: {seconds:6.1f} s for {epochs} epochs ({seconds / epochs * 1000:.0f} ms per epoch)")
    print(f"time saved {1 - many[0] / one[0]:.0%}; trained weights identical: {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
