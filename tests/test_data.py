"""Loading the idx files and adapting images to a backbone."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import data


def test_first_labels_match_the_published_datasets() -> None:
    assert data.load_dataset("mnist", 10, 10).y_train.tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data.load_dataset("fashion-mnist", 10, 10).y_train.tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]


def test_full_splits_have_the_published_sizes() -> None:
    full = data.load_dataset("mnist")
    assert full.x_train.shape == (60000, 28, 28) and full.x_test.shape == (10000, 28, 28)
    assert full.x_train.dtype == np.uint8 and full.y_test.shape == (10000,)
    assert np.bincount(full.y_train).tolist()[:3] == [5923, 6742, 5958]


def test_subsets_are_the_first_images() -> None:
    small = data.load_dataset("fashion_mnist", n_train=4000, n_test=3000)
    full = data.load_dataset("fashion_mnist")
    assert small.x_train.shape == (4000, 28, 28) and small.y_test.shape == (3000,)
    np.testing.assert_array_equal(small.x_test, full.x_test[:3000])
    assert small.class_names[9] == "Ankle boot" and len(small.class_names) == 10


@pytest.mark.parametrize("bad", [0, -1, 60001, 2.5, True])
def test_bad_subset_size_names_the_valid_range(bad) -> None:
    with pytest.raises(ValueError, match="n_train must be an int between 1 and 60000"):
        data.load_dataset("mnist", n_train=bad)


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="expected one of: mnist, fashion_mnist"):
        data.load_dataset("cifar10")


def test_idx_parser_rejects_wrong_magic_and_short_payload() -> None:
    header = (2051).to_bytes(4, "big") + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + (2).to_bytes(4, "big")
    assert data.parse_idx(header + bytes(8), 2051).shape == (2, 2, 2)
    with pytest.raises(ValueError, match="magic number 2051, expected 2049"):
        data.parse_idx(header + bytes(8), 2049)
    with pytest.raises(ValueError, match="holds 7 values"):
        data.parse_idx(header + bytes(7), 2051)


def test_mobilenet_adaptation_resizes_to_rgb_in_minus_one_one(fashion_small) -> None:
    adapted = data.adapt_images(fashion_small.x_train[:8], "mobilenet_v2", 96)
    assert adapted.shape == (8, 96, 96, 3) and adapted.dtype == np.float32
    assert adapted.min() >= -1.0 and adapted.max() <= 1.0
    assert adapted.min() == pytest.approx(-1.0)  # the black background
    np.testing.assert_array_equal(adapted[..., 0], adapted[..., 2])  # gray repeated


def test_resnet_adaptation_is_caffe_mean_subtraction(fashion_small) -> None:
    adapted = data.adapt_images(fashion_small.x_train[:4], "resnet50", 64)
    black = adapted[0, 0, 0]  # a background pixel: 0 minus the ImageNet BGR means
    np.testing.assert_allclose(black, [-103.939, -116.779, -123.68], atol=1e-3)
    assert adapted.max() > 100


def test_efficientnet_adaptation_keeps_raw_pixels(fashion_small) -> None:
    adapted = data.adapt_images(fashion_small.x_train[:4], "efficientnet_b0", 32)
    assert adapted.min() >= 0 and 200 < adapted.max() <= 255


def test_rgb_and_channel_last_inputs_are_accepted(fashion_small) -> None:
    gray = fashion_small.x_train[:2]
    as_rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_allclose(data.adapt_images(gray), data.adapt_images(as_rgb), atol=1e-6)
    np.testing.assert_allclose(data.adapt_images(gray[..., None]), data.adapt_images(gray), atol=1e-6)


def test_streaming_pipeline_matches_the_array_path(fashion_small) -> None:
    images, labels = fashion_small.x_train[:20], fashion_small.y_train[:20]
    batches = list(data.adapted_dataset(images, labels, "mobilenet_v2", 96, batch_size=8))
    assert [len(y) for _, y in batches] == [8, 8, 4]
    streamed = np.concatenate([np.asarray(x) for x, _ in batches])
    np.testing.assert_allclose(streamed, data.adapt_images(images), atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([np.asarray(y) for _, y in batches]), labels)


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((28, 28), np.uint8), r"got shape \(28, 28\) \(rank 2\)"),
        (np.zeros((1, 2, 28, 28, 1), np.uint8), "rank 5"),
        (np.zeros((2, 28, 28, 2), np.uint8), "got 2"),
        (np.zeros((0, 28, 28), np.uint8), "empty batch"),
        (np.zeros((2, 28, 28), np.int64), "got int64"),
        (np.zeros((2, 28, 28), bool), "got bool"),
        (np.full((2, 28, 28), 300.0), r"got values in \[300.0, 300.0\]"),
        (np.full((2, 28, 28), -1.0), r"in \[0, 255\], got values in \[-1.0, -1.0\]"),
        (np.full((2, 28, 28), 0.5, np.float32), "already scaled"),
        (np.full((2, 28, 28), np.nan, np.float32), "nan"),
    ],
)
def test_bad_images_name_what_was_expected_and_what_came(images, message) -> None:
    with pytest.raises(ValueError, match=message):
        data.adapt_images(images)


def test_bad_size_and_backbone_are_rejected(fashion_small) -> None:
    with pytest.raises(ValueError, match="at least 32x32, got size 28"):
        data.adapt_images(fashion_small.x_train[:2], "mobilenet_v2", 28)
    with pytest.raises(ValueError, match="must be an int"):
        data.adapt_images(fashion_small.x_train[:2], "mobilenet_v2", 96.0)
    with pytest.raises(ValueError, match="unknown backbone 'vgg16'"):
        data.adapt_images(fashion_small.x_train[:2], "vgg16", 96)
    with pytest.raises(ValueError, match="one label per image: 2 images, 3 labels"):
        data.adapted_dataset(fashion_small.x_train[:2], [1, 2, 3])


def test_naive_memory_of_the_whole_dataset() -> None:
    assert data.bytes_as_float32(70000, 96) == 70000 * 96 * 96 * 3 * 4
    assert data.bytes_as_float32(70000, 96) / 1e9 == pytest.approx(7.74, abs=0.01)


def test_shifted_copies_move_each_image_by_at_most_max_shift() -> None:
    from helpers.data import shifted_copies

    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 13, 13] = 255  # one bright pixel: its new position is the shift
    moved = shifted_copies(np.repeat(image, 50, axis=0), copies=2, max_shift=2, seed=3)
    assert moved.shape == (100, 28, 28) and moved.dtype == np.uint8
    rows, columns = moved.max(axis=2).argmax(axis=1), moved.max(axis=1).argmax(axis=1)  # where the pixel went
    assert set(np.unique(rows)) <= set(range(11, 16)) and set(np.unique(columns)) <= set(range(11, 16))
    assert len(set(zip(rows, columns))) > 10  # shifts vary between images
    assert int(moved.sum()) == 100 * 255  # nothing falls off the edge at this distance
    np.testing.assert_array_equal(moved, shifted_copies(np.repeat(image, 50, axis=0), copies=2, max_shift=2, seed=3))


@pytest.mark.parametrize("kwargs, message", [
    ({"copies": -1}, "copies must be a whole number >= 0, got -1"),
    ({"copies": 1, "max_shift": 28}, r"max_shift must be a whole number of pixels in \[0, 27\], got 28"),
])
def test_shifted_copies_reject_bad_settings(kwargs, message) -> None:
    from helpers.data import shifted_copies

    with pytest.raises(ValueError, match=message):
        shifted_copies(np.zeros((2, 28, 28), np.uint8), **kwargs)
