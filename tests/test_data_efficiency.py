"""helpers.data_efficiency: the scratch CNN and the accuracy-vs-labelled-images curve, on real Fashion-MNIST."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import data_efficiency
from helpers.data_efficiency import DataEfficiency
from helpers.features import extract_features
from helpers.training import accuracy


def test_channels_last_adds_the_gray_axis(fashion_small):
    assert data_efficiency.as_channels_last(fashion_small.x_train).shape == (64, 28, 28, 1)
    assert data_efficiency.as_channels_last(fashion_small.x_train[..., None]).shape == (64, 28, 28, 1)


@pytest.mark.parametrize(
    ("scratch", "expected"),
    [([0.5, 0.7, 0.9], 4000), ([0.5, 0.9, 0.95], 1000), ([0.9, 0.95, 0.99], 100), ([0.5, 0.6, 0.7], None),
     ([0.5, 0.9, 0.7], None)],
)
def test_crossover_is_where_scratch_stays_ahead(scratch, expected):
    curve = DataEfficiency([100, 1000, 4000], transfer=[0.6, 0.8, 0.85], scratch=scratch)
    assert curve.crossover() == expected


def test_scratch_cnn_training_is_seeded_and_learns(fashion_small):
    first, run = data_efficiency.train_scratch_cnn(fashion_small.x_train, fashion_small.y_train, epochs=15,
                                                   validation_split=0.0)
    second, _ = data_efficiency.train_scratch_cnn(fashion_small.x_train, fashion_small.y_train, epochs=15,
                                                  validation_split=0.0)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert run.history["loss"][-1] < run.history["loss"][0]
    train_pixels = data_efficiency.as_channels_last(fashion_small.x_train)
    assert accuracy(first, train_pixels, fashion_small.y_train) > 0.5


def test_scratch_cnn_rejects_mismatched_labels(fashion_small):
    with pytest.raises(ValueError, match="one label per image"):
        data_efficiency.train_scratch_cnn(fashion_small.x_train, fashion_small.y_train[:10])


@pytest.mark.slow
def test_curve_has_one_accuracy_per_size_for_both(fashion_small):
    train_features = extract_features(fashion_small.x_train)
    test_features = extract_features(fashion_small.x_test)
    curve = data_efficiency.accuracy_vs_labelled_images(
        [64, 32], train_features, fashion_small.x_train, fashion_small.y_train,
        test_features, fashion_small.x_test, fashion_small.y_test, head_epochs=30, scratch_epochs=2, patience=30,
    )
    assert curve.sizes == [32, 64]
    assert len(curve.transfer) == len(curve.scratch) == 2
    assert all(0.0 <= a <= 1.0 for a in curve.transfer + curve.scratch)
    assert max(curve.transfer) > 0.2  # ImageNet features beat chance (0.1) even on 64 images


def test_curve_rejects_sizes_beyond_the_data(fashion_small):
    features = np.zeros((64, 1280), dtype=np.float32)
    with pytest.raises(ValueError, match="sizes"):
        data_efficiency.accuracy_vs_labelled_images([100], features, fashion_small.x_train, fashion_small.y_train,
                                                    features[:32], fashion_small.x_test, fashion_small.y_test)


def test_at_returns_both_points_measured_with_n_images():
    curve = DataEfficiency([100, 1000], transfer=[0.6, 0.8], scratch=[0.4, 0.85],
                           transfer_seconds=[1.0, 2.0], scratch_seconds=[3.0, 9.0])
    assert curve.at(1000) == {"transfer": 0.8, "scratch": 0.85, "transfer_seconds": 2.0, "scratch_seconds": 9.0}
    with pytest.raises(ValueError, match="measured sizes"):
        curve.at(500)
