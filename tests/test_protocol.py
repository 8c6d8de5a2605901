"""helpers.protocol and helpers.evaluation: choose on validation, test once, intervals and seeds."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from helpers import evaluation, protocol


def test_the_validation_split_is_stratified_disjoint_and_fixed_by_its_seed():
    labels = np.repeat(np.arange(5), [100, 80, 60, 40, 20])
    split = protocol.validation_split(labels, 0.25, seed=3)
    assert np.bincount(labels[split.validation]).tolist() == [25, 20, 15, 10, 5]
    assert not set(split.train) & set(split.validation)
    assert sorted([*split.train, *split.validation]) == list(range(len(labels)))
    again = protocol.validation_split(labels, 0.25, seed=3)
    np.testing.assert_array_equal(again.validation, split.validation)
    assert not np.array_equal(protocol.validation_split(labels, 0.25, seed=4).validation, split.validation)
    train, validation = split.take(np.arange(len(labels)) * 10)
    np.testing.assert_array_equal(validation, split.validation * 10)


@pytest.mark.parametrize("fraction", [0, 1, 1.5])
def test_a_split_that_leaves_a_part_empty_is_refused(fraction):
    with pytest.raises(ValueError, match="fraction"):
        protocol.validation_split(np.arange(10) % 2, fraction)


def test_select_keeps_the_first_of_tied_candidates_not_the_luckiest():
    noisy = {"cheap": [0.80, 0.82, 0.81], "costly": [0.81, 0.83, 0.82], "bad": [0.70, 0.71, 0.70]}
    selection = protocol.select(lambda name, seed: noisy[name][seed], ["cheap", "costly", "bad"])
    assert selection.best == "costly" and selection.chosen == "cheap"
    assert selection.tied == ("cheap", "costly")
    assert "not the luckiest (costly)" in selection.reason()
    assert "<- chosen" in selection.table().splitlines()[1]


def test_select_picks_a_measurably_better_candidate_wherever_it_is_listed():
    values = {1: [0.70, 0.71, 0.72], 2: [0.90, 0.91, 0.92]}
    selection = protocol.select(lambda n, seed: values[n][seed], [1, 2])
    assert selection.chosen_value == 2 and selection.tied == ("2",)


def test_select_receives_no_data_only_a_function_of_candidate_and_seed():
    assert list(inspect.signature(protocol.select).parameters) == ["validation_accuracy", "candidates", "seeds"]


def test_a_score_interval_is_about_two_standard_errors_wide():
    truth = np.zeros(3000, int)
    predicted = truth.copy()
    predicted[:300] = 1  # 90% right
    result = evaluation.score(truth, predicted)
    assert result.accuracy == pytest.approx(0.9)
    half_width = 1.96 * np.sqrt(0.9 * 0.1 / 3000)
    assert result.low == pytest.approx(0.9 - half_width, abs=0.003)
    assert result.high == pytest.approx(0.9 + half_width, abs=0.003)
    assert str(result) == f"0.900 [{result.low:.3f}, {result.high:.3f}]"


def test_a_paired_difference_is_measurable_only_when_its_interval_excludes_zero():
    truth = np.zeros(2000, int)
    a, b = truth.copy(), truth.copy()
    a[:100], b[:300] = 1, 1  # A right on 95%, B on 85%: ten points apart
    gap = evaluation.paired_difference(truth, a, b)
    assert gap.points == pytest.approx(10.0) and gap.measurable and gap.low > 8
    same = evaluation.paired_difference(truth, a, np.roll(a, 7))
    assert same.points == 0 and not same.measurable


def test_spreads_compare_by_their_ranges():
    low, high, close = evaluation.Spread((0.80, 0.81, 0.82)), evaluation.Spread((0.90, 0.91, 0.92)), \
        evaluation.Spread((0.815, 0.83, 0.84))
    assert low.mean == pytest.approx(0.81) and low.std == pytest.approx(0.01) and (low.low, low.high) == (0.80, 0.82)
    assert evaluation.compare("a", high, "b", low).startswith("a is higher by 10.0 points")
    assert evaluation.compare("a", low, "b", close).startswith("no measurable difference")
    with pytest.raises(ValueError, match="at least one value"):
        evaluation.Spread(())
