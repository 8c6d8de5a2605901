"""Photo models: preprocessing and augmentation inside, a saved model that classifies any photo elsewhere."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import photo_models
from helpers.backbones import get_backbone

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "efficientnet_b0"])
def test_the_preprocessing_layer_is_the_backbones_preprocess_input(backbone: str) -> None:
    pixels = RNG.integers(0, 256, (2, 17, 23, 3)).astype(np.float32)
    layer = photo_models.preprocessing_layer(backbone)
    expected = get_backbone(backbone).preprocess_input(pixels.copy())
    assert np.max(np.abs(np.asarray(layer(pixels)) - expected)) < 1e-6


def test_no_preprocessing_layer_is_made_up_for_other_backbones() -> None:
    with pytest.raises(ValueError, match="no preprocessing layer for 'resnet50'"):
        photo_models.preprocessing_layer("resnet50")


@pytest.fixture(scope="module")
def classifier():
    import keras

    keras.utils.set_random_seed(1)
    return photo_models.build_photo_classifier(3, size=96)


def test_the_classifier_takes_raw_uint8_photos_of_any_size(classifier) -> None:
    layer_types = [type(layer).__name__ for layer in classifier.layers]
    assert layer_types[:4] == ["InputLayer", "Resizing", "Sequential", "Rescaling"]
    assert [type(layer).__name__ for layer in classifier.get_layer("augmentation").layers] == \
        ["RandomFlip", "RandomRotation", "RandomZoom"]
    for shape in ((1, 120, 90, 3), (2, 300, 400, 3)):
        photos = RNG.integers(0, 256, shape).astype(np.uint8)
        assert tuple(classifier(photos, training=False).shape) == (shape[0], 3)


def test_a_photo_of_the_models_size_is_not_resized_and_is_preprocessed_once(classifier) -> None:
    import keras

    photo = RNG.integers(0, 256, (1, 96, 96, 3)).astype(np.float32)
    base = next(layer for layer in classifier.layers if isinstance(layer, keras.Model) and "mobilenet" in layer.name)
    pooled = np.asarray(base(photo / 127.5 - 1, training=False)).mean(axis=(1, 2))
    expected = np.asarray(classifier.get_layer("head")(pooled, training=False))
    assert np.max(np.abs(np.asarray(classifier(photo, training=False)) - expected)) < 1e-4


def test_augmentation_is_inactive_at_inference_and_active_in_training(classifier) -> None:
    photo = RNG.integers(0, 256, (1, 150, 200, 3)).astype(np.float32)
    first, second = (np.asarray(classifier(photo, training=False)) for _ in range(2))
    assert np.array_equal(first, second)
    block = classifier.get_layer("augmentation")
    resized = np.asarray(classifier.get_layer("resize")(photo))
    assert np.array_equal(np.asarray(block(resized, training=False)), resized)
    drawn = [np.asarray(block(resized, training=True)) for _ in range(2)]
    assert not np.array_equal(drawn[0], drawn[1]) and not np.array_equal(drawn[0], resized)


def test_augmented_copies_are_repeatable_with_a_seed() -> None:
    photos = RNG.integers(0, 256, (3, 64, 64, 3)).astype(np.float32)
    one = photo_models.augmented_copies(photos, photo_models.Augmentation(), seed=5)
    assert one.shape == photos.shape and not np.array_equal(one, photos)
    assert np.array_equal(one, photo_models.augmented_copies(photos, photo_models.Augmentation(), seed=5))
    assert str(photo_models.Augmentation()) == "flip + rotation 0.1 + zoom 0.1"
    assert str(photo_models.NO_AUGMENTATION) == "none"


def test_the_scratch_cnn_and_the_random_mobilenet_take_raw_photos() -> None:
    photos = RNG.integers(0, 256, (2, 100, 80, 3)).astype(np.uint8)
    cnn = photo_models.build_photo_cnn(4, size=48)
    assert tuple(cnn(photos).shape) == (2, 4) and cnn.count_params() < 200_000
    random_mobilenet = photo_models.build_random_mobilenet(4, size=48)
    assert tuple(random_mobilenet(photos).shape) == (2, 4)
    assert all(layer.trainable for layer in random_mobilenet.layers)


def test_save_checks_the_name_and_the_class_names(classifier, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="saved as a .keras file, got 'model.h5'"):
        photo_models.save_classifier(classifier, ["a", "b", "c"], tmp_path / "model.h5")
    with pytest.raises(ValueError, match="3 outputs but 2 class names"):
        photo_models.save_classifier(classifier, ["a", "b"], tmp_path / "model.keras")


def test_saved_model_classifies_a_photo_in_a_fresh_process(classifier, tmp_path: Path) -> None:
    from helpers.infra import assets

    path = photo_models.save_classifier(classifier, ["daisy", "roses", "tulips"], tmp_path / "flowers.keras")
    assert json.loads(photo_models.class_names_path(path).read_text()) == ["daisy", "roses", "tulips"]
    photo = assets.fetch("images/parrot.jpg")
    expected = photo_models.top_classes(classifier, ("daisy", "roses", "tulips"), photo_models.read_photo(photo))
    done = subprocess.run([sys.executable, "-m", "helpers", "classify", str(photo), "--model", str(path)],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "parrot.jpg:"
    printed = [(line.split()[0], float(line.split()[1].rstrip("%")) / 100) for line in lines[1:]]
    assert [name for name, _ in printed] == [name for name, _ in expected]
    assert all(abs(p - q) < 0.0015 for (_, p), (_, q) in zip(printed, expected))  # printed to 0.1%
    assert abs(sum(p for _, p in printed) - 1) < 0.01


def test_classify_names_what_is_missing_or_wrong(classifier, tmp_path: Path) -> None:
    from helpers.infra.cli import main

    text = tmp_path / "note.jpg"
    text.write_text("not a photo")
    assert main(["classify", str(text), "--model", str(tmp_path / "none.keras")]) == 2
    path = photo_models.save_classifier(classifier, ["a", "b", "c"], tmp_path / "m.keras")
    with pytest.raises(ValueError, match=f"cannot classify {text}: not an image"):
        photo_models.classify_photo(text, path)
    photo_models.class_names_path(path).unlink()
    with pytest.raises(FileNotFoundError, match="has no class names beside it"):
        photo_models.load_classifier(path)
    with pytest.raises(FileNotFoundError, match="no saved model at"):
        photo_models.load_classifier(tmp_path / "none.keras")


def test_the_random_mobilenet_moving_statistics_follow_a_small_data_set() -> None:
    import keras

    model = photo_models.build_random_mobilenet(3, size=32)
    momenta = {layer.momentum for layer in model.get_layer("mobilenetv2_1.00_32").layers
               if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {photo_models.BATCHNORM_MOMENTUM_FROM_SCRATCH} == {0.9}
