"""The full ImageNet MobileNetV2 on the sample photos and on a digit (lesson 02's domain gap)."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import imagenet


def test_mirror_weights_classify_the_sample_cat_as_a_cat() -> None:
    (predictions,) = imagenet.classify(imagenet.load_photo("cat")[None], top=3)
    top_label, top_score = predictions[0]
    assert top_label in imagenet.CAT_CLASSES, predictions
    assert top_score > 0.3, predictions
    scores = [score for _, score in predictions]
    assert scores == sorted(scores, reverse=True)


def test_each_sample_photo_is_a_square_rgb_uint8_picture() -> None:
    photos = imagenet.sample_photos(size=64)
    assert set(photos) == {"cat", "bird", "parrot", "hot_dog", "sunflower"}
    for name, photo in photos.items():
        assert photo.shape == (64, 64, 3) and photo.dtype == np.uint8, name
        assert photo.std() > 10, f"{name} looks blank"
        assert not np.array_equal(photo[..., 0], photo[..., 2]), f"{name} lost its colours"


def test_a_photo_can_be_named_with_or_without_folder_and_extension() -> None:
    assert np.array_equal(imagenet.load_photo("images/bird.bmp", 32), imagenet.load_photo("bird", 32))
    with pytest.raises(ValueError, match="cat, bird"):
        imagenet.load_photo("dog")


def test_a_digit_becomes_a_gray_rgb_picture_of_the_same_brightness(fashion_small) -> None:
    digit = fashion_small.x_train[0]
    picture = imagenet.digit_as_photo(digit)
    assert picture.shape == (224, 224, 3) and picture.dtype == np.uint8
    assert np.array_equal(picture[..., 0], picture[..., 1]) and np.array_equal(picture[..., 1], picture[..., 2])
    assert abs(float(picture.mean()) - float(digit.mean())) < 3
    with pytest.raises(ValueError, match="one gray uint8 image"):
        imagenet.digit_as_photo(fashion_small.x_train[:2])


def test_classify_rejects_other_sizes_and_prescaled_pixels() -> None:
    cat = imagenet.load_photo("cat")
    with pytest.raises(ValueError, match=r"\(N, 224, 224, 3\)"):
        imagenet.classify(imagenet.load_photo("cat", 96)[None])
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        imagenet.classify(cat[None] / 255.0)
