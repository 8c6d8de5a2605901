"""helpers.head_training on real Fashion-MNIST images and the mirror's MobileNetV2 weights."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import head_training
from helpers.features import compute_features
from helpers.training import accuracy

LAYERS = ("block_13_expand_relu", "out_relu")


@pytest.fixture(scope="module")
def small_features(fashion_small):
    return head_training.pooled_features_at_layers(fashion_small.x_train[:16], LAYERS)


def test_pooled_features_have_each_layers_channel_count(small_features):
    assert small_features["block_13_expand_relu"].shape == (16, 576)
    assert small_features["out_relu"].shape == (16, 1280)


def test_one_pass_gives_what_each_layer_gives_alone(fashion_small, small_features):
    alone = compute_features(fashion_small.x_train[:16], layer="block_13_expand_relu")
    np.testing.assert_allclose(small_features["block_13_expand_relu"], alone, atol=1e-4)
    top = compute_features(fashion_small.x_train[:16])  # out_relu is the output layer
    np.testing.assert_allclose(small_features["out_relu"], top, atol=1e-4)
    both = head_training.side_by_side(small_features, LAYERS)
    assert both.shape == (16, 576 + 1280)
    np.testing.assert_array_equal(both[:, 576:], small_features["out_relu"])


@pytest.mark.parametrize("layers", ["out_relu", [], ["no_such_layer"]])
def test_bad_layers_are_rejected(fashion_small, layers, isolated_cache):
    with pytest.raises(ValueError, match="layer"):
        head_training.pooled_features_at_layers(fashion_small.x_train[:4], layers)


def test_train_head_is_seeded_and_learns(fashion_small, isolated_cache):
    features = compute_features(fashion_small.x_train)
    first, run = head_training.train_head.__wrapped__(features, fashion_small.y_train, epochs=30, seed=3)
    second, _ = head_training.train_head.__wrapped__(features, fashion_small.y_train, epochs=30, seed=3)
    other, _ = head_training.train_head.__wrapped__(features, fashion_small.y_train, epochs=30, seed=4)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert not np.allclose(first.get_weights()[0], other.get_weights()[0])  # the seed matters
    assert first.count_params() == 1280 * 10 + 10
    assert len(run.history["loss"]) == 30 and run.history["loss"][-1] < run.history["loss"][0] / 2
    assert accuracy(first, features, fashion_small.y_train) > 0.9


def test_early_stopping_keeps_the_best_epoch(fashion_small, isolated_cache):
    features = compute_features(fashion_small.x_train)
    validation = (features[:16], fashion_small.y_train[:16])
    head, run = head_training.train_head(features[16:], fashion_small.y_train[16:], validation=validation,
                                         epochs=200, patience=3)
    assert 4 <= len(run.history["loss"]) < 200
    kept = head_training.best_validation_accuracy(run)
    assert accuracy(head, *validation) == pytest.approx(kept, abs=1e-6)  # the best epoch's weights are restored


def test_train_head_rejects_mismatched_input():
    with pytest.raises(ValueError, match="features of shape"):
        head_training.train_head.__wrapped__(np.zeros((10, 3, 3, 1280)), np.zeros(10))
    with pytest.raises(ValueError, match="needs validation data"):
        head_training.train_head.__wrapped__(np.zeros((10, 8)), np.zeros(10), patience=2)


@pytest.fixture(scope="module")
def fashion_medium():
    from helpers.data import load_dataset

    return load_dataset("fashion_mnist", n_train=300, n_test=200)


def small_recipe(data, y_test):
    return head_training.frozen_recipe(data.x_train, data.y_train, data.x_test, y_test, layers=LAYERS,
                                       max_epochs=15, patience=3, seeds=(0, 1))


def test_the_frozen_recipe_makes_every_choice_without_the_test_labels(fashion_medium, isolated_cache):
    honest = small_recipe(fashion_medium, fashion_medium.y_test)
    shuffled = np.random.default_rng(0).permutation(fashion_medium.y_test)
    permuted = small_recipe(fashion_medium, shuffled)
    assert permuted.layers.scores == honest.layers.scores  # the same validation accuracies, seed by seed
    assert (permuted.layers.chosen, permuted.pair.chosen) == (honest.layers.chosen, honest.pair.chosen)
    np.testing.assert_array_equal(permuted.final.predictions, honest.final.predictions)
    assert permuted.final.test.accuracy != honest.final.test.accuracy  # only the test score moves
    assert honest.final.test.accuracy == pytest.approx(np.mean(honest.final.predictions == fashion_medium.y_test))
    assert len(honest.split.validation) == 60 and set(honest.layers.scores) == set(LAYERS)


def test_the_published_recipe_chooses_nothing(fashion_medium, isolated_cache):
    reference = head_training.reference_recipe(fashion_medium.x_train, fashion_medium.y_train,
                                               fashion_medium.x_test, fashion_medium.y_test)
    assert reference.layers == ("out_relu",) and len(reference.run.history["loss"]) == 5
    assert reference.test.low <= reference.test.accuracy <= reference.test.high


@pytest.mark.slow
def test_speed_comparison_charges_the_cached_path_for_its_extraction(fashion_small, isolated_cache):
    # how much faster is measured by benchmarks/head_speedup.py, not asserted here
    result = head_training.compare_cached_vs_frozen(fashion_small.x_train, fashion_small.y_train, epochs=3)
    assert result.n_images == 64 and result.epochs == 3
    assert result.cached_total_seconds > result.extraction_seconds > 0
    assert result.frozen_total_seconds > 2 * result.frozen_epoch_seconds > 0  # three epochs, the median one doubled
    assert result.speedup_per_epoch == pytest.approx(result.frozen_epoch_seconds / result.cached_epoch_seconds)


def test_speed_comparison_needs_three_epochs(fashion_small):
    with pytest.raises(ValueError, match="at least 3"):
        head_training.compare_cached_vs_frozen.__wrapped__(fashion_small.x_train, fashion_small.y_train, epochs=2)
