"""Lesson 07's hidden tests: constants recomputed from helpers.photo_models and helpers.photo_training,
the instructor's answers pass, plausible wrong answers and answers that try to talk the test round
fail (tests/hidden.py)."""
from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest
from hidden import constants, run_solution
from test_hidden_tests import Anything, fails, passes, restore_numpy_testing, talked_round  # noqa: F401 - fixture

from helpers import photo_models, photo_training
from helpers.backbones import build_backbone
from helpers.evaluation import Spread
from helpers.head_training import train_head
from helpers.photo_training import TransferGap
from helpers.training import predict_classes

L07 = "07_natural_photos"

# ---------------------------------------------------------------- task 1: build_my_photo_model

PHOTOS = (np.arange(2 * 150 * 200 * 3).reshape(2, 150, 200, 3) * 37 % 256).astype("uint8")  # as in the hidden test
DENSE = [((np.arange(1280 * 3).reshape(1280, 3) * 7919 % 201 - 100) / 2000).astype("float32"),
         np.array([0.1, 0.0, -0.1], dtype="float32")]


def reference_photo_logits() -> tuple[int, np.ndarray]:
    model = photo_models.build_photo_classifier(3, 96)
    model.get_layer("head").get_layer("logits").set_weights(DENSE)
    trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
    return trainable, np.asarray(model(PHOTOS, training=False))


def test_07_photo_model_constants_are_build_photo_classifier():
    expected = constants(L07, "07_photo_model_test")
    trainable, logits = reference_photo_logits()
    assert expected["EXPECTED_TRAINABLE"] == trainable
    assert sorted(expected["EXPECTED_LOGITS"]) == [(photo, klass) for photo in range(2) for klass in range(3)]
    for (photo, klass), value in expected["EXPECTED_LOGITS"].items():
        assert logits[photo, klass] == pytest.approx(value, abs=1e-4)


def photo_model_namespace(**changes) -> dict:
    namespace = {"np": np, "keras": keras}
    return run_solution(L07, "07_photo_model", namespace, **changes)


def test_07_photo_model_hidden_test_passes_the_solution_and_puts_build_photo_classifier_back():
    code = photo_models.build_photo_classifier.__code__
    passes(L07, "07_photo_model_test", photo_model_namespace())
    assert photo_models.build_photo_classifier.__code__ is code


def photo_model(resize=True, augment=True, flip="horizontal", scale=(1 / 127.5, -1.0), weights="imagenet",
                frozen=True, activation=None, rate=0.2):
    def build(num_classes, size):
        photos = keras.Input((None, None, 3) if resize else (size, size, 3))
        x = keras.layers.Resizing(size, size)(photos) if resize else photos
        if augment:
            x = keras.layers.RandomFlip(flip)(x)
            x = keras.layers.RandomRotation(0.1)(x)
            x = keras.layers.RandomZoom(0.1)(x)
        if scale is not None:
            x = keras.layers.Rescaling(scale[0], offset=scale[1])(x)
        base = build_backbone("mobilenet_v2", size=size, weights=weights, trainable=not frozen)
        x = base(x, training=False)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dropout(rate)(x)
        return keras.Model(photos, keras.layers.Dense(num_classes, activation=activation)(x))

    return build


@pytest.mark.parametrize("wrong", [
    photo_model(scale=None),  # no preprocessing: 0-255 pixels into the base
    photo_model(scale=(1 / 255, 0.0)),  # [0, 1] instead of MobileNetV2's [-1, 1]
    photo_model(resize=False),  # only photos of the model's size
    photo_model(weights=None),  # random weights
    photo_model(frozen=False),  # the base trains with the head
    photo_model(activation="softmax"),  # probabilities, not logits
    photo_model(augment=False),  # no augmentation
    photo_model(flip="vertical"),  # flowers upside down
    photo_model(rate=0.5),  # another dropout rate
    lambda num_classes, size: photo_models.build_photo_classifier(num_classes, size),  # the course's, forbidden
], ids=["no preprocessing", "scaled to [0, 1]", "no resizing", "random weights", "trainable base", "softmax",
        "no augmentation", "vertical flip", "dropout 0.5", "forbidden"])
def test_07_photo_model_hidden_test_fails(wrong):
    with pytest.raises(Exception):  # noqa: B017 - an AssertionError, or the error of a model that takes no 150x200
        passes(L07, "07_photo_model_test", talked_round(photo_model_namespace(build_my_photo_model=wrong)))


def test_07_photo_model_hidden_test_names_the_forbidden_call():
    message = fails(L07, "07_photo_model_test", photo_model_namespace(
        build_my_photo_model=lambda num_classes, size: photo_models.build_photo_classifier(num_classes, size)))
    assert "must not call build_photo_classifier" in message


# ---------------------------------------------------------------- task 2: data_efficiency_point


@pytest.fixture(scope="module")
def split():
    return photo_training.lesson_split(per_class=30, min_size=96)  # as in the hidden test


def test_07_data_point_constants_are_the_frozen_recipe(split):
    expected = constants(L07, "07_data_point_test")["EXPECTED"]
    recipe = photo_training.FrozenRecipe(size=96, copies=0, epochs=200, patience=10, batch_size=32)
    labels = split.folder.labels[split.test]
    assert len(expected) >= 2 and len({seed for _, seed in expected}) >= 2
    for (per_class, seed), accuracy in expected.items():
        predictions = photo_training.frozen_test_predictions(split, recipe, per_class, seed)
        assert float(np.mean(predictions == labels)) == pytest.approx(accuracy, abs=1e-12)


def test_07_data_point_forbidden_cached_code_fits_frozen_run():
    assert len(photo_training.frozen_run.__code__.co_freevars) == 2  # the hidden test's forbidden_cached has two


def point(subset=None, score_on="test", stop_on="validation", scale=1.0, patience=10):
    def data_efficiency_point(split, size, per_class, seed):
        chosen = subset(split, per_class, seed) if subset else split.training_subset(per_class, seed)
        rows = photo_training.positions_in_train_pool(split, chosen)
        parts = {part: photo_training.features_of(split, part, size).pooled for part in ("train", "validation", "test")}
        labels = {"validation": split.folder.labels[split.validation], "test": split.folder.labels[split.test]}
        head, _ = train_head(parts["train"][rows], split.folder.labels[chosen], epochs=200, batch_size=32,
                             patience=patience, num_classes=len(split.folder.class_names), seed=seed,
                             validation=(parts[stop_on], labels[stop_on]))
        return float(scale * np.mean(predict_classes(head, parts[score_on]) == labels[score_on]))

    return data_efficiency_point


def data_point_namespace(split, **changes) -> dict:
    namespace = {"np": np, "photo_training": photo_training, "split": split, "frozen": SimpleNamespace(size=96),
                 "PER_CLASS": [5], "SEEDS": (1,)}
    return run_solution(L07, "07_data_point", namespace, **changes)


def test_07_data_point_hidden_test_passes_the_solution_and_puts_the_recipe_back(split):
    codes = {name: getattr(photo_training, name).__code__ for name in (
        "frozen_run", "frozen_test_predictions", "train_frozen_head")}
    passes(L07, "07_data_point_test", data_point_namespace(split))
    assert codes == {name: getattr(photo_training, name).__code__ for name in codes}


def first_photos_of_the_pool(split, per_class, seed):
    return split.train[: per_class * len(split.folder.class_names)]


def seed_ignored(split, per_class, seed):
    return split.training_subset(per_class, 0)


def through_the_recipe(function_name):
    from helpers.photo_training import frozen_run, frozen_test_predictions  # bound before the test starts

    function = {"frozen_run": lambda *args: frozen_run(*args).test_predictions,
                "frozen_test_predictions": frozen_test_predictions}[function_name]

    def data_efficiency_point(split, size, per_class, seed):
        recipe = photo_training.FrozenRecipe(size=size, copies=0, epochs=200, patience=10, batch_size=32)
        return float(np.mean(function(split, recipe, per_class, seed) == split.folder.labels[split.test]))

    return data_efficiency_point


@pytest.mark.parametrize("wrong", [
    point(subset=first_photos_of_the_pool),  # not per class, not in hash order
    point(subset=seed_ignored),  # the same photos for every seed
    point(score_on="validation"),  # scored on the validation photos
    point(stop_on="test"),  # early stopping on the test photos
    point(scale=100.0),  # a percentage
    through_the_recipe("frozen_test_predictions"),  # the recipe's function, forbidden
    through_the_recipe("frozen_run"),  # its cached run, forbidden too
    lambda split, size, per_class, seed: Anything(),  # an object that claims to equal anything
], ids=["first photos of the pool", "seed ignored", "scored on validation", "stopped on test", "percentage",
        "frozen_test_predictions", "frozen_run", "anything"])
def test_07_data_point_hidden_test_fails(wrong, split):
    fails(L07, "07_data_point_test", talked_round(data_point_namespace(split, data_efficiency_point=wrong)))


# ---------------------------------------------------------------- task 3: gap_comparison


def reference_gap_comparison(flowers, fashion) -> tuple[bool, float]:
    difference = 100 * (flowers.transfer.mean - flowers.scratch.mean) - 100 * (fashion.transfer.mean - fashion.scratch.mean)
    return difference > 0, float(difference)


def test_07_read_gap_constants_are_the_rule():
    expected = constants(L07, "07_read_gap_test")["EXPECTED"]
    assert {larger for larger, _ in expected.values()} == {True, False}
    for (flowers_t, flowers_s, fashion_t, fashion_s), (larger, difference) in expected.items():
        got = reference_gap_comparison(TransferGap(50, Spread(flowers_t), Spread(flowers_s)),
                                       TransferGap(50, Spread(fashion_t), Spread(fashion_s)))
        assert got == (larger, pytest.approx(difference, abs=1e-9))


def gaps(points=100.0, flip=False, first_seed=False, absolute=False, transfer_only=False, numpy_bool=False):
    def gap_comparison(flowers, fashion):
        def gap(row):
            transfer = row.transfer.values[0] if first_seed else row.transfer.mean
            scratch = 0.0 if transfer_only else row.scratch.values[0] if first_seed else row.scratch.mean
            return points * (transfer - scratch)

        difference = gap(fashion) - gap(flowers) if flip else gap(flowers) - gap(fashion)
        if absolute:
            difference = abs(difference)
        return (np.bool_(difference > 0) if numpy_bool else difference > 0), float(difference)

    return gap_comparison


def read_gap_namespace(**changes) -> dict:
    row = TransferGap(50, Spread((0.9,)), Spread((0.5,)))
    return run_solution(L07, "07_read_gap", {"flowers": row, "fashion": row}, **changes)


def test_07_read_gap_hidden_test_passes_the_solution():
    passes(L07, "07_read_gap_test", read_gap_namespace())
    passes(L07, "07_read_gap_test", read_gap_namespace(gap_comparison=reference_gap_comparison))


@pytest.mark.parametrize("wrong", [gaps(points=1.0), gaps(flip=True), gaps(first_seed=True), gaps(absolute=True),
                                   gaps(transfer_only=True), gaps(numpy_bool=True),
                                   lambda flowers, fashion: (Anything(), Anything())],
                         ids=["fractions", "fashion minus flowers", "first seed", "absolute", "transfer only",
                              "numpy bool", "anything"])
def test_07_read_gap_hidden_test_fails(wrong):
    fails(L07, "07_read_gap_test", talked_round(read_gap_namespace(gap_comparison=wrong)))


@pytest.mark.parametrize("function_name", ["frozen_test_predictions", "frozen_run"])
def test_07_data_point_forbidden_calls_are_named(function_name, split):
    message = fails(L07, "07_data_point_test",
                    data_point_namespace(split, data_efficiency_point=through_the_recipe(function_name)))
    assert "must not call" in message and ("frozen_run" in message) == (function_name == "frozen_run")
