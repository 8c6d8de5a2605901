"""Peak memory of extracting features for all 70,000 MNIST images at 96 px.

The images stream through helpers.data.adapted_dataset (tf.data, one batch
resized at a time), so resident memory stays far below the 7.7 GB that the
adapted images would take as one float32 array.

    python benchmarks/streaming_memory.py [--limit N] [--size 96]
"""
from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from helpers import data, features

TARGET_PEAK_GB = 2.5


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far (Linux reports kilobytes)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images (default: all 70,000)")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    mnist = data.load_dataset("mnist")
    images = np.concatenate([mnist.x_train, mnist.x_test])[: args.limit]
    naive_gb = data.bytes_as_float32(len(images), args.size) / 1e9
    before = peak_rss_gb()
    start = time.perf_counter()
    vectors = features.compute_features(images, "mobilenet_v2", size=args.size, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    peak = peak_rss_gb()
    print(f"images                 {len(images):,} MNIST at {args.size} px, batch {args.batch_size}")
    print(f"features               {vectors.shape} float32 = {vectors.nbytes / 1e9:.2f} GB")
    print(f"naive float32 array    {naive_gb:.2f} GB (adapted images held at once)")
    print(f"peak RSS before        {before:.2f} GB (Python and the raw uint8 images, before TensorFlow loads)")
    print(f"peak RSS               {peak:.2f} GB (target <= {TARGET_PEAK_GB} GB): {'OK' if peak <= TARGET_PEAK_GB else 'OVER'}")
    print(f"time                   {seconds:.1f} s ({1000 * seconds / len(images):.2f} ms per image)")
    return 0 if peak <= TARGET_PEAK_GB else 1


if __name__ == "__main__":
    sys.exit(main())
