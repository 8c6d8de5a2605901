"""helpers.data_efficiency: fair comparisons of transfer, the scratch CNN and MobileNetV2 from random weights."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import data_efficiency
from helpers.data_efficiency import Approach, LabelledComparison
from helpers.evaluation import Score, Spread
from helpers.infra import results
from helpers.training import accuracy


def test_channels_last_adds_the_gray_axis(fashion_small):
    assert data_efficiency.as_channels_last(fashion_small.x_train).shape == (64, 28, 28, 1)
    assert data_efficiency.as_channels_last(fashion_small.x_train[..., None]).shape == (64, 28, 28, 1)


def test_scratch_cnn_training_is_seeded_and_learns(fashion_small, isolated_cache):
    train = data_efficiency.train_scratch_cnn
    first, run = train(fashion_small.x_train, fashion_small.y_train, epochs=15, validation_split=0.0, seed=5)
    second, _ = train(fashion_small.x_train, fashion_small.y_train, epochs=15, validation_split=0.0, seed=5)
    other, _ = train(fashion_small.x_train, fashion_small.y_train, epochs=15, validation_split=0.0, seed=6)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(first.get_weights()[0], other.get_weights()[0])
    assert run.history["loss"][-1] < run.history["loss"][0]
    assert accuracy(first, data_efficiency.as_channels_last(fashion_small.x_train), fashion_small.y_train) > 0.5


def test_scratch_cnn_rejects_mismatched_labels(fashion_small):
    with pytest.raises(ValueError, match="one label per image"):
        data_efficiency.train_scratch_cnn(fashion_small.x_train, fashion_small.y_train[:10])


def point(per_class: int, transfer: float | None, scratch: float) -> LabelledComparison:
    def approach(value: float) -> Approach:
        return Approach(Score(value, value - 0.01, value + 0.01, 100), Spread((value,)), Spread((5.0,)), 1.0,
                        np.zeros((1, 100), int))

    return LabelledComparison("fashion_mnist", per_class, per_class * 10, None if transfer is None else approach(transfer),
                              approach(scratch), None, np.zeros(100, int))


@pytest.mark.parametrize(("scratch", "expected"), [
    ([0.5, 0.7, 0.9], 400), ([0.5, 0.9, 0.95], 100), ([0.9, 0.95, 0.99], 10), ([0.5, 0.6, 0.7], None),
    ([0.5, 0.9, 0.7], None),
])
def test_crossover_is_where_scratch_stays_ahead(scratch, expected):
    curve = [point(n, t, s) for n, t, s in zip([10, 100, 400], [0.6, 0.8, 0.85], scratch)]
    assert data_efficiency.crossover(curve + [point(1500, None, 0.99)]) == expected


@pytest.fixture(scope="module")
def small_curve(tmp_path_factory):
    import os

    os.environ["COURSE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    return data_efficiency.accuracy_vs_labelled_images(
        "fashion_mnist", [5, 10], scratch_only=[20], random_mobilenet_at=[5], seeds=(0, 1), n_test=200,
        max_epochs=8, patience=3, feature_pool=100)


def test_every_approach_sees_the_same_images_split_and_test_set(small_curve):
    smallest, _, scratch_only = small_curve
    assert [p.per_class for p in small_curve] == [5, 10, 20] and [p.n_images for p in small_curve] == [50, 100, 200]
    assert scratch_only.transfer is None and smallest.random_mobilenet is not None
    for approach in (smallest.transfer, smallest.scratch, smallest.random_mobilenet):
        assert approach.predictions.shape == (2, 200) and len(approach.seeds.values) == 2
        assert approach.epochs.high <= 8  # the same budget
        assert approach.test.accuracy == pytest.approx(np.mean(approach.predictions == smallest.y_test))


def test_transfer_beyond_the_cached_pool_is_refused(isolated_cache):
    with pytest.raises(ValueError, match="pass transfer=False"):
        data_efficiency.labelled_comparison("fashion_mnist", 50, seeds=(0,), n_test=10, feature_pool=100)


def test_the_published_comparison_reads_the_curve_and_records_only_in_full_runs(small_curve, monkeypatch):
    comparison = data_efficiency.published_comparison(small_curve, transfer_per_class=10, scratch_per_class=20)
    images = {name: row[0] for name, row in comparison.rows().items()}
    assert images == {"transfer": 100, "scratch": 200}
    expected = 100 * (np.mean(small_curve[1].transfer.predictions == small_curve[1].y_test)
                      - np.mean(small_curve[2].scratch.predictions == small_curve[2].y_test))
    assert comparison.difference.points == pytest.approx(expected)
    assert results.recorded("fashion_transfer_4000_accuracy") is None  # the quick profile never records
    with pytest.raises(ValueError, match="no point at \\[30\\]"):
        data_efficiency.published_comparison(small_curve, transfer_per_class=30, scratch_per_class=20)
