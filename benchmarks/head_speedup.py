"""Head training on cached features versus the usual recipe (frozen base inside fit).

Same images, same head, same epochs, one run. Prints the per-epoch speed-up
(target >= 20x) and the total speed-up including the one extraction pass
(target >= 2x for 5 epochs), and records the per-epoch figure for
`python -m helpers results`.

    python benchmarks/head_speedup.py [--n 4000] [--epochs 5]
"""
from __future__ import annotations

import argparse
import sys

from helpers import data, setup
from helpers.head_training import compare_cached_vs_frozen

TARGET_PER_EPOCH = 20.0
TARGET_TOTAL = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="first N Fashion-MNIST training images")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args()
    setup(check_assets=False)
    fashion = data.load_dataset("fashion_mnist", n_train=args.n, n_test=1)
    # a fresh measurement, not one the cache kept from an earlier run
    speed = compare_cached_vs_frozen.__wrapped__(fashion.x_train, fashion.y_train, epochs=args.epochs, size=args.size)
    print(f"images, epochs                {speed.n_images:,}, {speed.epochs} at {args.size} px")
    print(f"frozen base inside fit        {speed.frozen_epoch_seconds:8.2f} s/epoch  {speed.frozen_total_seconds:8.1f} s total")
    print(f"head on cached features       {speed.cached_epoch_seconds:8.3f} s/epoch  {speed.cached_total_seconds:8.1f} s total "
          f"(extraction {speed.extraction_seconds:.1f} s)")
    print(f"speed-up per epoch            {speed.speedup_per_epoch:8.1f}x (target >= {TARGET_PER_EPOCH:.0f}x)")
    print(f"speed-up in total             {speed.speedup_total:8.1f}x (target >= {TARGET_TOTAL:.0f}x)")
    ok = speed.speedup_per_epoch >= TARGET_PER_EPOCH and speed.speedup_total >= TARGET_TOTAL
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
