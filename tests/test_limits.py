"""Lesson 08: transfer from a narrow source measured against random weights, the frozen rows, the
decision table, the recorded figures (the hidden tests of its graded tasks: tests/test_hidden_tests_08.py)."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from helpers import limits
from helpers.data import load_dataset
from helpers.evaluation import Score, score, score_over_seeds
from helpers.infra import results
from helpers.limits import (
    FINE_TUNED,
    FREEZING_ROWS,
    FROZEN_DENSE,
    FROZEN_IMAGENET,
    RANDOM,
    TRANSFER_ROWS,
    Budget,
    Row,
    TransferTable,
    decision_table,
    format_decisions,
)
from helpers.models import build_scratch_cnn, truncate
from helpers.protocol import select, validation_split
from helpers.training import accuracy, as_channels_last, copied_weights, train_scratch_cnn

# ----------------------------------------------------------------------------- the one trainer


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist", n_train=120, n_test=10)


def test_fine_tuning_and_random_weights_differ_only_in_the_copied_layers(digits):
    """With a zero learning rate nothing moves, so the models show where each run started."""
    source = build_scratch_cnn()
    source.set_weights([np.full(w.shape, 0.5, "float32") for w in source.get_weights()])
    start = copied_weights(source, except_layers=["logits"])
    assert sorted(start) == ["conv1", "conv2", "dense"]
    settings = dict(epochs=1, validation_split=0.0, learning_rate=0.0, seed=3)
    tuned, _ = train_scratch_cnn(digits.x_train, digits.y_train, start_weights=start, **settings)
    random, _ = train_scratch_cnn(digits.x_train, digits.y_train, **settings)
    for name in ("conv1", "conv2", "dense"):
        assert all(np.array_equal(w, np.full(w.shape, 0.5)) for w in tuned.get_layer(name).get_weights()), name
        assert not np.array_equal(random.get_layer(name).get_weights()[0], tuned.get_layer(name).get_weights()[0])
    # the reinitialised classifier starts exactly where the seed's random one does
    for fine, fresh in zip(tuned.get_layer("logits").get_weights(), random.get_layer("logits").get_weights()):
        assert np.array_equal(fine, fresh)
    other_seed, _ = train_scratch_cnn(digits.x_train, digits.y_train, **{**settings, "seed": 4})
    assert not np.array_equal(other_seed.get_layer("logits").get_weights()[0], random.get_layer("logits").get_weights()[0])


def test_start_weights_must_name_layers_of_the_cnn(digits):
    with pytest.raises(ValueError, match="lacks"):
        train_scratch_cnn(digits.x_train, digits.y_train, epochs=1, start_weights={"fc9": []})
    with pytest.raises(ValueError, match="no layer"):
        copied_weights(build_scratch_cnn(), except_layers=["fc9"])
    with pytest.raises(ValueError, match="validation"):
        train_scratch_cnn(digits.x_train, digits.y_train, epochs=1, validation_split=0.0, patience=2)


def test_a_run_reports_the_validation_accuracy_of_the_epoch_it_kept(digits):
    budget = Budget(max_epochs=6, patience=2)
    trained = limits.train_cnn_on_split(digits.x_train, digits.y_train, budget, seed=0)
    split = validation_split(digits.y_train, budget.validation_fraction, seed=limits.SPLIT_SEED)
    (_, x_validation), (_, y_validation) = split.take(digits.x_train), split.take(digits.y_train)
    assert trained.validation_accuracy == pytest.approx(accuracy(trained.model, as_channels_last(x_validation),
                                                                 y_validation), abs=1e-6)
    assert 1 <= trained.best_epoch <= trained.epochs_run <= 6


def test_the_digit_cnn_is_cut_at_dense_by_the_one_sub_model_builder():
    model = build_scratch_cnn()  # a Sequential model never called: it has no .input
    cut = truncate(model, "dense")
    assert tuple(cut.output.shape) == (None, 128)
    assert cut.get_layer("conv1").kernel is model.get_layer("conv1").kernel
    assert "logits" not in [layer.name for layer in cut.layers]


# ----------------------------------------------------------------------------- intervals over seeds


def test_score_over_seeds_is_the_mean_accuracy_with_an_interval_over_images():
    truth = np.arange(1000) % 10
    half_right = np.where(np.arange(1000) < 500, truth, (truth + 1) % 10)
    other_half = np.where(np.arange(1000) >= 500, truth, (truth + 1) % 10)
    one, single = score_over_seeds(truth, [half_right]), score(truth, half_right)
    assert one.accuracy == single.accuracy  # one run: the interval of score(), up to resampling noise
    assert one.interval == pytest.approx(single.interval, abs=0.003)
    both = score_over_seeds(truth, [half_right, other_half])
    # every image is right in exactly one of the two runs: the mean is 0.5 with no image-to-image variation
    assert both.accuracy == 0.5 and both.low == both.high == 0.5
    same = score_over_seeds(truth, [half_right, half_right])
    assert same.low < 0.48 and same.high > 0.52  # two identical runs are one run: the interval stays wide
    with pytest.raises(ValueError):
        score_over_seeds(truth, [])


# ----------------------------------------------------------------------------- the rule of task 2


@pytest.mark.parametrize(("pretrained", "from_random", "points", "measurable"), [
    ([0.80, 0.82, 0.81], [0.70, 0.72, 0.71], 10.0, True),
    ([0.70, 0.74, 0.72], [0.71, 0.75, 0.73], -1.0, False),
    ([0.60, 0.61], [0.62, 0.63, 0.64], -2.5, True),
    ([0.70, 0.75], [0.75, 0.80], -5.0, False),  # ranges that touch overlap
])
def test_the_effect_is_the_mean_difference_and_measurable_when_the_ranges_part(pretrained, from_random, points,
                                                                               measurable):
    got_points, got_measurable = limits._effect(pretrained, from_random)
    assert got_points == pytest.approx(points) and got_measurable is measurable


# ----------------------------------------------------------------------------- the table and the decisions


def make_table(values: dict[tuple[str, int], list[float]], sizes=(500, 2000)) -> TransferTable:
    """A table with the given test accuracies (per seed) for every row; the rest filled in."""
    rows = []
    for (approach, n_train), accuracies in values.items():
        mean = float(np.mean(accuracies))
        rows.append(Row(approach, n_train, tuple(accuracies), Score(mean, mean - 0.02, mean + 0.02, 2000),
                        (5,) * len(accuracies), (0.8,) * len(accuracies), 1.0))
    selection = select(lambda layers, seed: 0.8, limits.REINITIALISE, seeds=(0, 1, 2))
    return TransferTable(tuple(rows), tuple(sizes), (100, 400), (0, 1, 2), 2000, selection, sizes[0], Budget(),
                         "digit CNN", "weights note")


def table_with(fine_tuned: list[float], random: list[float], frozen_dense: list[float] | None = None,
               imagenet: list[float] | None = None) -> TransferTable:
    values = {}
    for n_train in (500, 2000):
        values[(FINE_TUNED, n_train)] = fine_tuned
        values[(RANDOM, n_train)] = random
    for approach in FREEZING_ROWS:  # the frozen rows: the smallest training set only
        chosen = {FROZEN_DENSE: frozen_dense, FROZEN_IMAGENET: imagenet}.get(approach)
        values[(approach, 500)] = chosen or [0.5, 0.51, 0.52]
    return make_table(values)


def test_the_first_decision_follows_the_comparison_against_random_weights(isolated_cache):
    tie = decision_table(table_with([0.76, 0.77, 0.78], [0.75, 0.77, 0.79]))[0]
    assert tie.choice.startswith("either: no measurable difference") and "seed ranges overlap" in tie.evidence
    hurt = decision_table(table_with([0.70, 0.71, 0.72], [0.75, 0.76, 0.77]))[0]
    assert hurt.choice.startswith("train from random weights: negative transfer") and "-5.0 points" in hurt.evidence
    helped = decision_table(table_with([0.80, 0.81, 0.82], [0.75, 0.76, 0.77]))[0]
    assert helped.choice.startswith("fine-tune from the digit CNN") and "+5.0 points (measurable)" in helped.evidence


def test_the_frozen_rows_are_decided_on_their_own_comparisons(isolated_cache):
    rows = decision_table(table_with([0.8] * 3, [0.75, 0.76, 0.77], frozen_dense=[0.60, 0.61, 0.62],
                                     imagenet=[0.74, 0.76, 0.78]))
    assert rows[1].choice.startswith("do not freeze it") and "500 images" in rows[1].evidence
    assert rows[2].choice.startswith("either: no measurable difference") and "500 images" in rows[2].evidence
    better = decision_table(table_with([0.8] * 3, [0.75, 0.76, 0.77], imagenet=[0.80, 0.81, 0.82]))
    assert better[2].choice == "freeze the base, train only the head"


def test_rows_quoting_other_lessons_say_so_until_their_figures_are_recorded(isolated_cache):
    rows = decision_table(table_with([0.8] * 3, [0.8] * 3))
    assert rows[3].choice == rows[4].choice == "no choice made here"
    assert "fashion_frozen_accuracy" in rows[3].evidence and "fashion_finetuned_accuracy" in rows[3].evidence
    assert "not both recorded" in rows[3].evidence and "lesson 04" in rows[4].evidence
    assert not re.search(r"\d\.\d{3}", rows[3].evidence + rows[4].evidence), "a number was invented"


def test_recorded_figures_name_their_lessons_and_decide_by_their_intervals(full_profile):
    results.record("fashion_frozen_accuracy", 0.870, (0.858, 0.882), n_test=3000)
    results.record("fashion_finetuned_accuracy", 0.905, (0.894, 0.915), n_test=3000)
    row = decision_table(table_with([0.8] * 3, [0.8] * 3))[3]
    assert row.choice == "fine-tune the top layers"
    assert "frozen base + head (lesson 03) (`fashion_frozen_accuracy`) 0.870 [0.858, 0.882]" in row.evidence
    assert "fine-tuned (lesson 05) (`fashion_finetuned_accuracy`) 0.905" in row.evidence
    results.record("fashion_finetuned_accuracy", 0.875, (0.863, 0.887), n_test=3000)
    assert decision_table(table_with([0.8] * 3, [0.8] * 3))[3].choice.startswith("keep the base frozen (cheaper)")
    assert "because" in format_decisions([row])


# ----------------------------------------------------------------------------- recording


@pytest.fixture()
def stubbed_table(monkeypatch):
    table = table_with([0.80, 0.81, 0.82], [0.75, 0.76, 0.77])
    monkeypatch.setattr(limits, "compare_starting_points", lambda *args, **kwargs: table)
    return table


def test_a_full_profile_run_records_both_comparison_rows_at_both_sizes(full_profile, stubbed_table):
    limits.transfer_table(None, None)
    stored = results.load()
    assert set(limits.FIGURE_NAMES.values()) <= set(stored) and set(limits.FIGURE_NAMES.values()) <= set(results.FIGURES)
    small, large = stored["limits_finetuned_small_accuracy"], stored["limits_random_large_accuracy"]
    assert small["measured"] == pytest.approx(0.81) and small["interval"] == pytest.approx([0.79, 0.83])
    assert small["settings"]["n_train"] == 500 and large["settings"]["n_train"] == 2000
    assert large["settings"]["per_seed"] == [0.75, 0.76, 0.77] and "validation" in large["chosen_on"]
    assert "reinitialised layers: logits" in small["chosen_on"] and "reinitialised" not in large["chosen_on"]


def test_a_quick_run_records_nothing(isolated_cache, monkeypatch, stubbed_table):
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    limits.transfer_table(None, None)
    assert results.load() == {}


# ----------------------------------------------------------------------------- the protocol


@pytest.mark.slow
def test_permuting_the_test_labels_changes_no_choice_only_the_test_scores(isolated_cache):
    digit = limits.train_digit_cnn(n_digits=300, n_test=50, budget=Budget(max_epochs=2, patience=1))
    fashion = load_dataset("fashion_mnist", n_train=120, n_test=100)
    permuted = dataclasses.replace(fashion, y_test=np.random.default_rng(0).permutation(fashion.y_test))
    assert not np.array_equal(permuted.y_test, fashion.y_test)
    settings = dict(sizes=(60, 120), seeds=(0,), budget=Budget(max_epochs=2, patience=1))
    original = limits.compare_starting_points.__wrapped__(fashion, digit, **settings)
    shuffled = limits.compare_starting_points.__wrapped__(permuted, digit, **settings)
    assert original.reinitialised == shuffled.reinitialised  # the choice, with every validation score behind it
    changed = 0
    for row in original.rows:
        twin = shuffled.row(row.approach, row.n_train)
        assert (twin.best_epochs, twin.validation_accuracies) == (row.best_epochs, row.validation_accuracies)
        changed += twin.test_accuracies != row.test_accuracies
    assert changed >= 2 * len(TRANSFER_ROWS), "permuted test labels should change the test scores"
    assert {(row.approach, row.n_train) for row in original.rows} == {
        *((approach, n) for approach in TRANSFER_ROWS for n in (60, 120)), *((approach, 60) for approach in FREEZING_ROWS)}


def test_the_table_prints_each_measured_row_once_with_its_verdict():
    text = str(table_with([0.76, 0.77, 0.78], [0.75, 0.77, 0.79]))
    assert text.count(FINE_TUNED) == 2 and text.count(FROZEN_DENSE) == 1  # frozen rows: the smaller set only
    assert text.count("no measurable difference (the seed ranges overlap)") == 2
    assert "0.770 [0.750, 0.790]" in text and "too few" not in text
