"""Lesson 05's fine-tuning recipe with 0, 1 and 2 fixed shifted copies per training image.

For each dataset and each number of copies: test accuracy after fine-tuning, epochs
run and seconds of `fit`, which grow with the training rows ((copies + 1) x 3,600).
This is the measurement behind the lesson's `copies=1`.

    python benchmarks/fine_tuning_copies.py [--copies 0 1 2] [--datasets fashion_mnist mnist]
"""
from __future__ import annotations

import argparse
import sys

from helpers import setup
from helpers.fine_tuning import fine_tune_recipe

N_TRAIN, N_TEST = 4000, 3000  # lesson 05's sizes
LEARNING_RATES = {"fashion_mnist": 1e-4, "mnist": 3e-4}  # lesson 05's learning_rate and second_learning_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(LEARNING_RATES), choices=list(LEARNING_RATES))
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    setup()
    print(f"{'dataset':<14} {'copies':>6} {'head':>6} {'fine-tuned':>10} {'epochs':>6} {'fit s':>7}")
    for dataset in args.datasets:
        for copies in args.copies:
            result = fine_tune_recipe(dataset, N_TRAIN, N_TEST, copies=copies, epochs=args.epochs,
                                      learning_rate=LEARNING_RATES[dataset])
            run = result.fine_tune_run
            print(f"{dataset:<14} {copies:>6} {result.head_accuracy:>6.3f} "
                  f"{result.fine_tuned_accuracy:>10.3f} {len(run.history['loss']):>6} {run.seconds:>7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
