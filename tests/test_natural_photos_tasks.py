"""Lesson 07's hidden tests pass for the model answer and fail for plausible wrong ones.

Each hidden block is taken from the solution notebook and executed as nbgrader would run it,
with the student's function replaced by a candidate answer.
"""
from __future__ import annotations

import re

import keras
import nbformat
import numpy as np
import pytest
from conftest import REPO

from helpers import photo_training
from helpers.backbones import build_backbone
from helpers.evaluation import Spread
from helpers.head_training import train_head
from helpers.photo_training import TransferGap
from helpers.training import predict_classes

LESSON = "07_natural_photos"


def hidden_block(grade_id: str) -> str:
    notebook = nbformat.read(REPO / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return re.search(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S).group(1)


def passes(grade_id: str, **answers: object) -> bool:
    try:
        exec(compile(hidden_block(grade_id), f"<{grade_id}>", "exec"), dict(answers))  # noqa: S102
    except Exception:  # noqa: BLE001 - an error in a test cell fails the task, as in nbgrader
        return False
    return True


# ----------------------------------------------------------------------------- task 1: a model that takes raw photos


def photo_model(resize=True, augment=True, flip="horizontal", scale=(1 / 127.5, -1.0), weights="imagenet",
                frozen=True, activation=None):
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
        x = keras.layers.Dropout(0.2)(x)
        return keras.Model(photos, keras.layers.Dense(num_classes, activation=activation)(x))

    return build


def test_the_model_answer_passes_task_1() -> None:
    assert passes("07_photo_model_test", build_my_photo_model=photo_model())


@pytest.mark.parametrize("wrong", [
    photo_model(scale=None),  # no preprocessing: 0-255 pixels into the base
    photo_model(scale=(1 / 255, 0.0)),  # [0, 1] instead of MobileNetV2's [-1, 1]
    photo_model(resize=False),  # only photos of the model's size
    photo_model(weights=None),  # random weights
    photo_model(frozen=False),  # the base trains with the head
    photo_model(activation="softmax"),  # probabilities, not logits
    photo_model(augment=False),  # no augmentation
    photo_model(flip="vertical"),  # flowers upside down
], ids=["no preprocessing", "scaled to [0, 1]", "no resizing", "random weights", "trainable base", "softmax",
        "no augmentation", "vertical flip"])
def test_plausible_wrong_models_fail_task_1(wrong) -> None:
    assert not passes("07_photo_model_test", build_my_photo_model=wrong)


def test_the_course_helper_is_not_accepted_for_task_1() -> None:
    from helpers import photo_models

    def build_my_photo_model(num_classes, size):
        return photo_models.build_photo_classifier(num_classes, size)

    assert not passes("07_photo_model_test", build_my_photo_model=build_my_photo_model)


# ----------------------------------------------------------------------------- task 2: a data-efficiency point


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


def first_photos_of_the_pool(split, per_class, seed):
    return split.train[: per_class * len(split.folder.class_names)]


def seed_ignored(split, per_class, seed):
    return split.training_subset(per_class, 0)


def test_the_model_answer_passes_task_2() -> None:
    assert passes("07_data_point_test", data_efficiency_point=point())


@pytest.mark.parametrize("wrong", [
    point(subset=first_photos_of_the_pool),  # not per class, not in hash order
    point(subset=seed_ignored),  # the same photos for every seed
    point(score_on="validation"),  # scored on the validation photos
    point(stop_on="test"),  # early stopping on the test photos
    point(scale=100.0),  # a percentage
], ids=["first photos of the pool", "seed ignored", "scored on validation", "stopped on test", "percentage"])
def test_plausible_wrong_points_fail_task_2(wrong) -> None:
    assert not passes("07_data_point_test", data_efficiency_point=wrong)


def test_calling_the_recipe_helper_fails_task_2() -> None:
    def data_efficiency_point(split, size, per_class, seed):
        recipe = photo_training.FrozenRecipe(size=size, copies=0, epochs=200, patience=10, batch_size=32)
        predictions = photo_training.frozen_test_predictions(split, recipe, per_class, seed)
        return float(np.mean(predictions == split.folder.labels[split.test]))

    assert not passes("07_data_point_test", data_efficiency_point=data_efficiency_point)


# ----------------------------------------------------------------------------- task 3: reading the comparison


def gaps(points=100.0, flip=False, first_seed=False, absolute=False, transfer_only=False):
    def gap_comparison(flowers, fashion):
        def gap(row):
            transfer = row.transfer.values[0] if first_seed else row.transfer.mean
            scratch = 0.0 if transfer_only else row.scratch.values[0] if first_seed else row.scratch.mean
            return points * (transfer - scratch)

        difference = gap(fashion) - gap(flowers) if flip else gap(flowers) - gap(fashion)
        if absolute:
            difference = abs(difference)
        return difference > 0, float(difference)

    return gap_comparison


def test_the_model_answer_passes_task_3() -> None:
    assert passes("07_read_gap_test", gap_comparison=gaps())
    answer = gaps()(TransferGap(50, Spread((0.9,)), Spread((0.5,))),
                    TransferGap(50, Spread((0.8,)), Spread((0.7,))))
    assert answer == (True, pytest.approx(30.0))


@pytest.mark.parametrize("wrong", [gaps(points=1.0), gaps(flip=True), gaps(first_seed=True), gaps(absolute=True),
                                   gaps(transfer_only=True)],
                         ids=["fractions", "fashion minus flowers", "first seed", "absolute", "transfer only"])
def test_plausible_wrong_readings_fail_task_3(wrong) -> None:
    assert not passes("07_read_gap_test", gap_comparison=wrong)
