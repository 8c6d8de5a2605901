"""Transfer from a narrow source (lesson 07): the table, its pieces and the decision rows."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.data import load_dataset
from helpers.infra import results
from helpers.limits import (
    DIGIT_FEATURES,
    IMAGENET_FEATURES,
    SCRATCH,
    TransferTable,
    compare_sources,
    decision_table,
    format_decisions,
    frozen_extractor,
    head_accuracy,
    record_table,
    train_digit_cnn,
)


def table_of(digit: float, imagenet: float, scratch: float) -> TransferTable:
    return TransferTable({DIGIT_FEATURES: digit, IMAGENET_FEATURES: imagenet, SCRATCH: scratch}, 100, 50, 0.95)


def test_frozen_extractor_shares_the_weights_and_is_frozen():
    from helpers.models import build_scratch_cnn

    model = build_scratch_cnn()
    extractor = frozen_extractor(model, "dense")
    assert extractor.trainable is False and tuple(extractor.output.shape) == (None, 128)
    assert extractor.get_layer("conv1").kernel is model.get_layer("conv1").kernel
    with pytest.raises(ValueError, match="no layer 'nope'"):
        frozen_extractor(model, "nope")


def test_head_accuracy_learns_from_informative_features():
    data = load_dataset("mnist", n_train=500, n_test=200)
    pixels = lambda x: x.reshape(len(x), -1).astype("float32") / 255  # noqa: E731
    score = head_accuracy(pixels(data.x_train), data.y_train, pixels(data.x_test), data.y_test, epochs=30)
    assert 0.7 < score <= 1.0
    with pytest.raises(ValueError, match="equal width"):
        head_accuracy(np.zeros((4, 3)), np.zeros(4), np.zeros((2, 5)), np.zeros(2))


def test_table_best_and_text():
    table = table_of(0.6, 0.8, 0.7)
    assert table.best() == IMAGENET_FEATURES
    text = str(table)
    assert all(name in text for name in table.accuracies) and "80.0%" in text


def test_decisions_follow_the_numbers(isolated_cache):
    negative = decision_table(table_of(0.60, 0.80, 0.70))
    assert negative[0].choice == "train from scratch" and "-10.0 points" in negative[0].evidence
    assert negative[1].choice.startswith("freeze")
    positive = decision_table(table_of(0.75, 0.65, 0.70))
    assert positive[0].choice.startswith("reuse") and positive[1].choice.startswith("scratch")
    assert "has not recorded" in positive[2].evidence


def test_fine_tuning_row_quotes_lesson_05(isolated_cache):
    results.record("fashion_frozen_accuracy", 0.85)
    results.record("fashion_finetuned_accuracy", 0.88)
    row = decision_table(table_of(0.6, 0.8, 0.7))[2]
    assert row.choice.startswith("fine-tune") and "+3.0 points" in row.evidence
    assert "because" in format_decisions([row])


def test_record_table_stores_three_figures(isolated_cache):
    record_table(table_of(0.6, 0.8, 0.7))
    stored = results.load()
    assert stored["limits_digit_features_accuracy"]["measured"] == pytest.approx(0.6)
    assert stored["limits_scratch_accuracy"]["settings"] == {"n_train": 100, "n_test": 50}


@pytest.mark.slow
def test_compare_sources_on_real_data():
    digit_cnn, source_accuracy = train_digit_cnn(load_dataset("mnist", n_train=2000, n_test=500), epochs=2)
    assert source_accuracy > 0.85
    table = compare_sources(load_dataset("fashion_mnist", n_train=300, n_test=300), digit_cnn, source_accuracy,
                            head_epochs=10, scratch_epochs=5)
    assert set(table.accuracies) == {DIGIT_FEATURES, IMAGENET_FEATURES, SCRATCH}
    assert all(0.3 < value <= 1.0 for value in table.accuracies.values()), table
    assert table.n_train == 300 and table.n_test == 300
