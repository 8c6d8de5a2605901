"""helpers.head_training on real Fashion-MNIST images and the mirror's MobileNetV2 weights."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import head_training
from helpers.features import extract_features
from helpers.training import accuracy

LAYERS = ["block_13_expand_relu", "out_relu"]


@pytest.fixture(scope="module")
def small_features(fashion_small):
    return head_training.pooled_features_at_layers(fashion_small.x_train[:16], LAYERS)


def test_pooled_features_have_each_layers_channel_count(small_features):
    assert small_features["block_13_expand_relu"].shape == (16, 576)
    assert small_features["out_relu"].shape == (16, 1280)


def test_one_pass_equals_extract_features_and_fills_its_cache(fashion_small, isolated_cache):
    images = fashion_small.x_train[:8]
    together = head_training.pooled_features_at_layers(images, LAYERS)
    cached = sorted((isolated_cache / "features").glob("*.npy"))
    assert len(cached) == 2
    alone = extract_features(images, layer="block_13_expand_relu")  # must be a cache hit
    np.testing.assert_array_equal(alone, together["block_13_expand_relu"])
    fresh = extract_features(images, cache=False)  # out_relu is the output layer
    np.testing.assert_allclose(together["out_relu"], fresh, atol=1e-4)


def test_concatenated_features_put_layers_side_by_side(fashion_small, small_features):
    both = head_training.concatenated_features(fashion_small.x_train[:16], LAYERS)
    assert both.shape == (16, 576 + 1280)
    np.testing.assert_array_equal(both[:, 576:], small_features["out_relu"])


@pytest.mark.parametrize("layers", ["out_relu", [], ["no_such_layer"]])
def test_bad_layers_are_rejected(fashion_small, layers, isolated_cache):
    with pytest.raises(ValueError, match="layer"):
        head_training.pooled_features_at_layers(fashion_small.x_train[:4], layers)


def test_train_head_is_seeded_and_learns(fashion_small):
    features = extract_features(fashion_small.x_train)
    first, run = head_training.train_head(features, fashion_small.y_train, epochs=30, validation_split=0.0)
    second, _ = head_training.train_head(features, fashion_small.y_train, epochs=30, validation_split=0.0)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert first.count_params() == 1280 * 10 + 10
    assert len(run.history["loss"]) == 30 and run.history["loss"][-1] < run.history["loss"][0] / 2
    assert accuracy(first, features, fashion_small.y_train) > 0.9


def test_early_stopping_keeps_epochs_an_upper_bound(fashion_small):
    features = extract_features(fashion_small.x_train)
    _, run = head_training.train_head(features, fashion_small.y_train, epochs=200, patience=3)
    assert 4 <= len(run.history["loss"]) < 200


def test_train_head_rejects_mismatched_input(fashion_small):
    with pytest.raises(ValueError, match="features of shape"):
        head_training.train_head(np.zeros((10, 3, 3, 1280)), np.zeros(10))
    with pytest.raises(ValueError, match="validation split"):
        head_training.train_head(np.zeros((10, 8)), np.zeros(10), patience=2, validation_split=0.0)


def test_layer_accuracies_returns_one_accuracy_per_layer(fashion_small):
    scores = head_training.layer_accuracies(fashion_small.x_train[:16], fashion_small.y_train[:16],
                                            fashion_small.x_test, fashion_small.y_test, LAYERS, epochs=2)
    assert list(scores) == LAYERS
    assert all(0.0 <= s <= 1.0 for s in scores.values())


@pytest.mark.slow
def test_speed_comparison_charges_the_cached_path_for_its_extraction(fashion_small):
    # how much faster is measured by benchmarks/head_speedup.py, not asserted here
    result = head_training.compare_cached_vs_frozen(fashion_small.x_train, fashion_small.y_train, epochs=3)
    assert result.n_images == 64 and result.epochs == 3
    assert result.cached_total_seconds > result.extraction_seconds > 0
    assert result.frozen_total_seconds > 2 * result.frozen_epoch_seconds > 0  # three epochs, the median one doubled
    assert result.speedup_per_epoch == pytest.approx(result.frozen_epoch_seconds / result.cached_epoch_seconds)


def test_speed_comparison_needs_three_epochs(fashion_small):
    with pytest.raises(ValueError, match="at least 3"):
        head_training.compare_cached_vs_frozen(fashion_small.x_train, fashion_small.y_train, epochs=2)
