"""The wrong-scaling demonstration: x / 255 inputs versus preprocess_input, same everything else."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import data, features, scaling


def _resized_rgb(images: np.ndarray, size: int) -> np.ndarray:
    import tensorflow as tf

    resized = tf.image.resize(images[..., None].astype(np.float32), (size, size), method="bilinear")
    return np.repeat(np.asarray(resized), 3, axis=-1)


def test_unit_scaled_pipeline_is_raw_pixels_over_255(fashion_small) -> None:
    images = fashion_small.x_train[:10]
    (batch,) = list(scaling.unit_scaled_dataset(images, size=64, batch_size=10))
    batch = np.asarray(batch)
    assert batch.shape == (10, 64, 64, 3)
    assert batch.min() >= 0.0 and 0.9 < batch.max() <= 1.0
    np.testing.assert_allclose(batch, _resized_rgb(images, 64) / 255.0, atol=1e-6)
    np.testing.assert_allclose(2 * batch - 1, data.adapt_images(images, size=64), atol=1e-6)


class _InputRecorder:
    """Stands in for the feature model and records the range of every batch it is fed."""

    def __init__(self) -> None:
        self.ranges: list[tuple[float, float]] = []

    def predict(self, batches, verbose: int = 0) -> np.ndarray:
        count = 0
        for batch in batches:
            values = np.asarray(batch)
            self.ranges.append((float(values.min()), float(values.max())))
            count += len(values)
        return np.zeros((count, 1280), dtype=np.float32)


def test_unit_scaled_features_feed_the_base_zero_one_inputs(fashion_small, monkeypatch, isolated_cache) -> None:
    recorder = _InputRecorder()
    monkeypatch.setattr(features, "feature_model", lambda *args, **kwargs: recorder)
    result = scaling.unit_scaled_features.__wrapped__(fashion_small.x_train[:20], size=32, batch_size=8)
    assert result.shape == (20, 1280)
    assert len(recorder.ranges) == 3
    assert all(0.0 <= low and high <= 1.0 for low, high in recorder.ranges)
    assert max(high for _, high in recorder.ranges) > 0.9


def test_unit_scaled_features_are_cached_apart_from_the_correct_ones(fashion_small, isolated_cache) -> None:
    images = fashion_small.x_train[:16]
    wrong = scaling.unit_scaled_features(images, size=96)
    right = features.extract_features(images, size=96)
    assert wrong.shape == right.shape == (16, 1280)
    assert np.abs(wrong - right).mean() > 0.05 * np.abs(right).mean()
    from helpers.infra import cache

    assert {entry.function for entry in cache.entries()} == {"helpers.scaling.unit_scaled_features",
                                                               "helpers.features.extract_features"}
    np.testing.assert_array_equal(scaling.unit_scaled_features(images, size=96), wrong)


def test_already_scaled_images_are_refused(fashion_small) -> None:
    with pytest.raises(ValueError, match="already scaled"):
        scaling.unit_scaled_features(fashion_small.x_train[:4] / 255.0)


@pytest.mark.slow
def test_dividing_by_255_moves_the_features_and_a_mismatch_costs_accuracy() -> None:
    result = scaling.compare_scaling(data.load_dataset("fashion_mnist", n_train=1000, n_test=500), seeds=(0, 1))
    assert result.correct.accuracy > 0.7, result
    assert result.feature_shift > 0.2, result
    assert result.mismatch_vs_correct.measurable and result.mismatch_vs_correct.points < -3, result
    assert abs(result.wrong_vs_correct.points) < 10, result
