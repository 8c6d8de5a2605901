"""The 1-channel -> 3-channel adaptations of a first convolution (lesson 07)."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.channels import (
    averaged_input_conv,
    conv_like,
    gray_as_rgb,
    output_difference,
    repeat_kernel,
    repeated_kernel_conv,
)


@pytest.fixture(scope="module")
def digit_conv():
    """A 1-channel Conv2D like the digit CNN's first layer, with seeded random weights."""
    import keras

    keras.utils.set_random_seed(0)
    layer = keras.layers.Conv2D(8, 3, activation="relu", padding="same", name="conv1")
    layer.build((None, 28, 28, 1))
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, np.linspace(-0.1, 0.1, bias.size).astype("float32")])
    return layer


@pytest.fixture(scope="module")
def gray_digits():
    from helpers.data import load_dataset

    return load_dataset("mnist", n_train=1, n_test=16).x_test.astype("float32") / 255


def test_repeat_kernel_sums_back_to_the_original():
    kernel = np.random.default_rng(1).normal(size=(3, 3, 1, 4))
    adapted = repeat_kernel(kernel)
    assert adapted.shape == (3, 3, 3, 4)
    assert np.allclose(adapted.sum(axis=2, keepdims=True), kernel)
    assert np.allclose(adapted[:, :, 0], adapted[:, :, 2])


@pytest.mark.parametrize("bad", [np.zeros((3, 3, 3, 4)), np.zeros((3, 3, 4)), np.zeros((3, 3, 2, 4))])
def test_repeat_kernel_rejects_kernels_without_one_input_channel(bad):
    with pytest.raises(ValueError, match=r"\(kh, kw, 1, filters\)"):
        repeat_kernel(bad)


def test_repeat_kernel_rejects_a_bad_channel_count():
    with pytest.raises(ValueError, match="channels"):
        repeat_kernel(np.zeros((3, 3, 1, 4)), channels=0)


def test_copying_a_one_channel_kernel_into_three_channels_fails(digit_conv):
    kernel, bias = digit_conv.get_weights()
    rgb = conv_like(digit_conv, repeat_kernel(kernel), bias, "rgb")
    with pytest.raises(ValueError):
        rgb.set_weights([kernel, bias])


@pytest.mark.parametrize("adapt", [repeated_kernel_conv, averaged_input_conv])
def test_adaptations_reproduce_the_original_on_gray_digits(digit_conv, gray_digits, adapt):
    adapted = adapt(digit_conv)
    assert output_difference(digit_conv, adapted, gray_digits) < 1e-5
    assert float(np.max(np.asarray(digit_conv(gray_as_rgb(gray_digits)[0])))) > 0.1  # the comparison is not 0 vs 0


def test_forgetting_the_division_is_detected(digit_conv, gray_digits):
    kernel, bias = digit_conv.get_weights()
    times_three = conv_like(digit_conv, np.repeat(kernel, 3, axis=2), bias, "times3")
    assert output_difference(digit_conv, times_three, gray_digits) > 0.1


def test_the_two_adaptations_agree_on_colour_images(digit_conv):
    colour = np.random.default_rng(2).uniform(0, 1, size=(4, 28, 28, 3)).astype("float32")
    repeated = np.asarray(repeated_kernel_conv(digit_conv)(colour))
    averaged = np.asarray(averaged_input_conv(digit_conv)(colour))
    assert np.allclose(repeated, averaged, atol=1e-5)


def test_gray_as_rgb_copies_the_gray_channel():
    one, three = gray_as_rgb(np.arange(2 * 4 * 4).reshape(2, 4, 4))
    assert one.shape == (2, 4, 4, 1) and three.shape == (2, 4, 4, 3) and three.dtype == np.float32
    assert np.array_equal(three[..., 1], one[..., 0])
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        gray_as_rgb(np.zeros((2, 4, 4, 1)))
