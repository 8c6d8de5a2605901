"""helpers.practical (lesson 09): the practical as written, its equivalence with a head trained on
cached features, the one-change-at-a-time protocol (its graded task's hidden tests: tests/test_hidden_tests_09.py)."""
from __future__ import annotations

import dataclasses
import inspect
import itertools

import numpy as np
import pytest

from helpers import practical
from helpers.data import adapt_images, load_dataset
from helpers.head_training import train_head
from helpers.models import build_practical_head
from helpers.scaling import unit_scaled_features


@pytest.fixture(scope="module")
def mnist_small():
    return load_dataset("mnist", n_train=120, n_test=60)


# ----------------------------------------------------------------------------- the practical as written


def test_the_practical_trained_inside_fit_equals_its_head_trained_on_cached_features(mnist_small):
    """The lesson's claim: with the base frozen, fit on images (the base inside the model, as students
    write it) and the head trained on pooled features computed once make the same updates."""
    import keras

    images, labels, seed = mnist_small.x_train[:96], mnist_small.y_train[:96], 3
    model = practical.build_practical_model(32)
    base_before = [weight.copy() for weight in model.layers[0].get_weights()]  # BatchNorm statistics included
    keras.utils.set_random_seed(seed)  # the same initial head as train_head draws with this seed
    model.set_weights(base_before + build_practical_head((1280,)).get_weights())
    keras.utils.set_random_seed(seed)
    history = model.fit(practical.as_written_inputs(images, 32), labels, epochs=3, validation_split=0.1, verbose=0)

    features = unit_scaled_features(images, 32)
    head, run = practical.train_recipe_head(features, labels, practical.AS_WRITTEN, seed)
    for inside_fit, on_features in zip(model.get_weights()[len(base_before):], head.get_weights()):
        assert np.abs(inside_fit - on_features).max() < 1e-6
    assert run.history["loss"] == pytest.approx(history.history["loss"], abs=1e-6)
    assert run.history["val_accuracy"] == pytest.approx(history.history["val_accuracy"], abs=1e-6)
    test_images = mnist_small.x_test[:20]
    probabilities = model.predict(practical.as_written_inputs(test_images, 32), verbose=0)
    assert np.abs(probabilities - head.predict(unit_scaled_features(test_images, 32), verbose=0)).max() < 1e-5
    # Frozen means inference mode: fit left every weight of the base, moving statistics included, unchanged.
    for before, after in zip(base_before, model.layers[0].get_weights()):
        np.testing.assert_array_equal(before, after)
    # The comparison can fail: the same head on the weights' own scaling learns other weights.
    other, _ = practical.train_recipe_head(practical.timed_features(images, 32, practical.OWN_SCALING).features, labels,
                                           practical.AS_WRITTEN, seed)
    assert np.abs(other.get_weights()[0] - head.get_weights()[0]).max() > 1e-3


def test_the_model_as_written_has_the_practicals_layers_and_counts():
    model = practical.build_practical_model(32)
    assert [type(layer).__name__ for layer in model.layers] == ["Functional", "GlobalAveragePooling2D", "Dense", "Dense"]
    assert tuple(model.layers[0].output.shape[1:]) == (1, 1, 1280)  # the 1x1 final map of 32 px inputs
    assert model.layers[-1].get_config()["activation"] == "softmax"
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 1280 * 128 + 128 + 128 * 10 + 10
    assert model.loss == "sparse_categorical_crossentropy"


def test_train_head_trains_the_practicals_head_with_a_loss_on_probabilities():
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(40, 1280)).astype("float32"), rng.integers(0, 10, 40)
    head, _ = train_head.__wrapped__(features, labels, epochs=1, head="practical")
    assert [layer.name for layer in head.layers] == ["hidden", "probabilities"]
    assert head.loss.get_config()["from_logits"] is False
    course, _ = train_head.__wrapped__(features, labels, epochs=1)
    assert course.loss.get_config()["from_logits"] is True
    with pytest.raises(ValueError, match="head must be 'course'"):
        train_head.__wrapped__(features, labels, epochs=1, head="mlp")


def test_the_practicals_inputs_are_raw_pixels_over_255(mnist_small):
    images = mnist_small.x_train[:5]
    inputs = practical.as_written_inputs(images, 32)
    assert inputs.shape == (5, 32, 32, 3) and inputs.min() == 0.0 and 0.99 < inputs.max() <= 1.0
    np.testing.assert_allclose(2 * inputs - 1, adapt_images(images, size=32), atol=1e-6)


def test_the_weights_that_run_are_named_by_their_content():
    at_32 = practical.weights_in_use(32)
    assert "falls back to its 224 px file" in at_32 and "trained on 224x224" in at_32
    assert "loads its 96 px file" in practical.weights_in_use(96)


def test_resolution_stages_show_the_1x1_map_of_32_px_inputs():
    small, large = practical.resolution_stages(32), practical.resolution_stages(96)
    assert [stage.width for stage in small] == [16, 8, 4, 2, 1]
    assert [stage.width for stage in large] == [48, 24, 12, 6, 3]
    assert [stage.layers for stage in small] == [stage.layers for stage in large]
    assert small[-1].first_layer == "block_13_depthwise"


def test_the_run_as_written_reports_its_score_time_and_display(mnist_small, isolated_cache):
    run = practical.run_as_written(mnist_small.x_train, mnist_small.y_train, mnist_small.x_test, mnist_small.y_test,
                                   display_seed=5)
    assert (run.n_fit, run.n_keras_validation) == (108, 12)  # Keras keeps the first 90%
    assert len(run.history["val_accuracy"]) == 3 and run.test.n == 60
    assert run.test.low <= run.test.accuracy <= run.test.high
    assert run.shown_index == int(np.random.default_rng(5).integers(60))
    assert run.shown_label == mnist_small.y_test[run.shown_index]
    assert run.images_through_base_as_written == 3 * 120 + 60
    assert run.seconds > run.training_seconds > 0 and run.n_images == 180
    assert run.base_seconds_as_written == pytest.approx(run.extraction_seconds * 420 / 180)


# ----------------------------------------------------------------------------- one change at a time


def test_recipes_reject_unknown_choices():
    with pytest.raises(ValueError, match="scaling must be"):
        practical.Recipe(scaling="x / 127")
    with pytest.raises(ValueError, match="head must be"):
        dataclasses.replace(practical.AS_WRITTEN, head="softmax")


def test_each_single_change_differs_from_the_practical_in_exactly_one_choice():
    recipes = practical.recipes(patience=5, max_epochs=50)
    fields = [field.name for field in dataclasses.fields(practical.Recipe)]
    changed = {name: {f for f in fields if getattr(recipes[name], f) != getattr(practical.AS_WRITTEN, f)}
               for name in practical.SINGLE_CHANGES}
    assert changed == {"96 px input": {"size"}, "preprocess_input": {"scaling"}, "course head": {"head"},
                       "early stopping": {"epochs", "patience"}}
    path = [recipes[name] for name in practical.PATH]
    for before, after in itertools.pairwise(path):
        assert len({f for f in fields if getattr(before, f) != getattr(after, f)} - {"epochs"}) == 1
    assert recipes["full recipe"] == practical.Recipe(96, practical.OWN_SCALING, "course", 50, 5)
    assert {(recipe.size, recipe.scaling) for recipe in recipes.values()} == set(practical.VARIANTS)


def test_one_pass_for_training_and_test_images_gives_each_its_own_features(mnist_small, isolated_cache):
    timed, train, test = practical.features_of_both(mnist_small.x_train[:30], mnist_small.x_test[:10], 32,
                                                    practical.UNIT_SCALING)
    assert (timed.n_images, train.shape, test.shape) == (40, (30, 1280), (10, 1280)) and timed.seconds > 0
    np.testing.assert_allclose(test, unit_scaled_features(mnist_small.x_test[:10], 32), atol=1e-4)


@pytest.fixture(scope="module")
def tiny_ablation_inputs():
    data = load_dataset("mnist", n_train=150, n_test=80)
    return data.x_train, data.y_train, data.x_test, data.y_test


TINY = {"seeds": (0,), "patiences": (1, 2), "max_epochs": 4}


@pytest.mark.slow
def test_permuting_the_test_labels_changes_no_choice_only_the_test_scores(tiny_ablation_inputs, isolated_cache):
    x_train, y_train, x_test, y_test = tiny_ablation_inputs
    assert not {"x_test", "y_test"} & set(inspect.signature(practical.choose).parameters)  # it cannot see them
    honest = practical.ablation(x_train, y_train, x_test, y_test, **TINY)
    permuted = practical.ablation(x_train, y_train, x_test, np.random.default_rng(0).permutation(y_test), **TINY)
    assert honest.patience.chosen == permuted.patience.chosen
    assert honest.patience.scores == permuted.patience.scores
    assert {c: s.chosen for c, s in honest.choices.items()} == {c: s.chosen for c, s in permuted.choices.items()}
    assert {n: r.validation for n, r in honest.rows.items()} == {n: r.validation for n, r in permuted.rows.items()}
    assert {n: r.test.accuracy for n, r in honest.rows.items()} != {n: r.test.accuracy for n, r in permuted.rows.items()}
    # the table the lesson prints, and the data the graded task receives
    assert set(honest.rows) == set(practical.TABLE) | set(practical.PATH)
    assert [row["change"] for row in honest.as_rows()] == list(practical.TABLE)
    text = honest.table()
    assert all(name in text for name in practical.TABLE) and "150 training images" in text
    for name, reference in practical.COMPARISONS:
        gain = honest.rows[name].test.accuracy - honest.rows[reference].test.accuracy
        assert honest.effects[name, reference].points == pytest.approx(100 * gain)
    assert {reference for name, reference in practical.COMPARISONS if name == "full recipe"} == {
        "as written", "96 px + preprocess_input + course head"}
    assert "against the row above" in honest.table(practical.PATH, against_previous=True)


def test_ablation_needs_a_seed_and_a_patience(tiny_ablation_inputs):
    with pytest.raises(ValueError, match="at least one seed"):
        practical.ablation(*tiny_ablation_inputs, seeds=())
