"""Lesson 07's recipes: choices on validation only, fine-tuning from the cut, training on any folder."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import photo_features, photo_training, photos
from helpers.evaluation import Spread

SIZE = 96
FROZEN = photo_training.FrozenRecipe(size=SIZE, epochs=15, patience=3)


@pytest.fixture(scope="module")
def split() -> photos.PhotoSplit:
    return photo_training.lesson_split(per_class=30, min_size=SIZE)


def with_test_labels_permuted(split: photos.PhotoSplit) -> photos.PhotoSplit:
    labels = split.folder.labels.copy()
    labels[split.test] = np.roll(labels[split.test], 1)
    assert not np.array_equal(labels, split.folder.labels)
    return dataclasses.replace(split, folder=dataclasses.replace(split.folder, labels=labels))


def test_the_lesson_sample_takes_the_same_photos_per_class_and_splits_them_by_name(split) -> None:
    assert split.folder.counts() == dict.fromkeys(split.folder.class_names, 30)
    full = photos.split_by_name(photos.flower_photos())
    part_of = {full.folder.names[i]: part for part, members in
               (("train", full.train), ("validation", full.validation), ("test", full.test)) for i in members}
    for part, members in (("train", split.train), ("validation", split.validation), ("test", split.test)):
        assert all(part_of[split.folder.names[i]] == part for i in members)


def test_permuting_the_test_labels_changes_no_choice_only_the_test_score(split) -> None:
    permuted = with_test_labels_permuted(split)
    fine = photo_training.FineTuneRecipe(epochs=2, patience=1)
    pixels = photo_training.PixelRecipe(size=32, epochs=2, patience=1)
    for recipe_run in (
        lambda s: (photo_training.frozen_validation_accuracy(s, FROZEN, 10, 0),
                   photo_training.frozen_test_predictions(s, FROZEN, 10, 0)),
        lambda s: (lambda r: (r.validation_accuracy, r.test_predictions))(
            photo_training.fine_tune_photos(s, FROZEN, fine, 10, 0)),
        lambda s: (lambda r: (r.validation_accuracy, r.test_predictions))(photo_training.pixel_run(s, pixels, 10, 0)),
    ):
        (validation, predictions), (validation_permuted, predictions_permuted) = recipe_run(split), recipe_run(permuted)
        assert validation == validation_permuted and np.array_equal(predictions, predictions_permuted)
        right, right_permuted = (s.folder.labels[s.test] == predictions for s in (split, permuted))
        assert not np.array_equal(right, right_permuted)  # the permutation does change which answers count as right


def test_the_input_size_is_chosen_on_validation_accuracy_only(split, monkeypatch) -> None:
    seen = []

    def fake(s, recipe, per_class, seed):
        seen.append((recipe.size, per_class, seed))
        return {96: 0.80, 128: 0.90 + 0.03 * seed, 160: 0.95}[recipe.size]  # 128 and 160 overlap

    monkeypatch.setattr(photo_training, "frozen_validation_accuracy", fake)
    monkeypatch.setattr(photo_training, "features_of",
                        lambda s, part, size, **_: photo_features.PhotoFeatures(np.zeros((10, 2)), None, 2.0, size))
    choice = photo_training.choose_input_size(split, (96, 128, 160), seeds=(0, 1, 2), recipe=FROZEN)
    assert choice.size == 128 and choice.selection.best == "160"  # a tie keeps the cheaper size
    assert choice.photos_per_second == {96: 5.0, 128: 5.0, 160: 5.0}
    assert seen == [(size, None, seed) for size in (96, 128, 160) for seed in (0, 1, 2)]
    rows = choice.table().splitlines()
    assert rows[2].endswith("<- chosen   5") and rows[3].endswith("(tied with the best)   5")


def test_fine_tuning_starts_at_the_cut_with_batchnorm_frozen() -> None:
    from helpers.backbones import build_backbone
    from helpers.fine_tuning import cut_layer

    base = build_backbone("mobilenet_v2", size=SIZE, weights=None)
    layers_above = len(base.layers) - 1 - [layer.name for layer in base.layers].index(photo_features.FINE_TUNING_CUT)
    assert cut_layer(base, layers_above) == photo_features.FINE_TUNING_CUT and layers_above == 11


def test_fine_tuning_moves_only_the_top_layers_and_keeps_batchnorm_statistics(split) -> None:
    import keras

    result = photo_training.fine_tune_photos(split, FROZEN, photo_training.FineTuneRecipe(epochs=1), 10, 0)
    model = result.classifier(5, FROZEN)
    tuned = next(layer for layer in model.layers if isinstance(layer, keras.Model) and "mobilenet" in layer.name)
    from helpers.backbones import build_backbone

    pretrained = build_backbone("mobilenet_v2", size=SIZE)
    top = {"block_16_expand", "block_16_depthwise", "block_16_project", "Conv_1"}
    for layer in (layer for layer in tuned.layers if layer.weights):
        before = pretrained.get_layer(layer.name).get_weights()
        same = all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), before))
        assert same == (layer.name not in top), layer.name  # BatchNorm weights and statistics never move
    assert result.epochs == 1 and 0 <= result.validation_accuracy <= 1
    activations = photo_training.features_of(split, "test", SIZE).activations
    photo_logits = model.predict(photos.photo_dataset(split.folder.take(split.test).paths, size=SIZE), verbose=0)
    assert np.array_equal(np.argmax(photo_logits, axis=1), result.test_predictions)  # the same model, raw photos in
    assert activations.shape[0] == len(split.test)


def test_positions_in_the_train_pool(split) -> None:
    rows = photo_training.positions_in_train_pool(split, split.train[[3, 0]])
    assert rows.tolist() == [3, 0]
    with pytest.raises(ValueError, match="is not in the train pool"):
        photo_training.positions_in_train_pool(split, split.test[:1])


def test_a_comparison_gap_is_in_points() -> None:
    comparison = photo_training.TransferGap(50, Spread((0.80, 0.82)), Spread((0.55, 0.57)))
    assert abs(comparison.gap_points - 25.0) < 1e-9


def test_train_folder_and_classify_from_the_command_line(tmp_path: Path) -> None:
    folder = photos.write_practice_folder(tmp_path / "my_photos", per_class=30)
    model = tmp_path / "mine.keras"
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", "helpers", "train-folder", str(folder), "--out", str(model),
                           "--size", str(SIZE)], capture_output=True, text=True, timeout=900, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "6 file(s) skipped, never used" in done.stdout and "truncated.jpg: corrupt or truncated" in done.stdout
    assert "5 classes (daisy, dandelion, roses, sunflowers, tulips)" in done.stdout and model.is_file()
    photo = sorted((folder / "sunflowers").glob("*.jpg"))[0]
    done = subprocess.run([sys.executable, "-m", "helpers", "classify", str(photo), "--model", str(model)],
                          capture_output=True, text=True, timeout=600, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0] == f"{photo.name}:" and len(lines) == 4
    assert {line.split()[0] for line in lines[1:]} <= {"daisy", "dandelion", "roses", "sunflowers", "tulips"}


def test_train_folder_names_a_folder_it_cannot_use(tmp_path: Path) -> None:
    from helpers.infra.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["train-folder", str(tmp_path / "empty"), "--out", str(tmp_path / "m.keras")]) == 2
