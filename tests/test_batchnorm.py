"""BatchNorm in training versus inference mode (why the base is called with training=False)."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import backbones, batchnorm, data


@pytest.fixture(scope="module")
def batch(fashion_small) -> np.ndarray:
    return data.adapt_images(fashion_small.x_train[:8], size=96)


def test_a_frozen_base_ignores_the_training_flag(batch) -> None:
    base = backbones.build_backbone("mobilenet_v2", size=96)
    assert batchnorm.training_mode_difference(base, batch).mean_abs_difference == 0.0


def test_an_unfrozen_base_changes_its_output_in_training_mode_and_is_left_unchanged(batch) -> None:
    base = backbones.build_backbone("mobilenet_v2", size=96, trainable=True)
    before = [w.numpy().copy() for w in base.weights]
    difference = batchnorm.training_mode_difference(base, batch)
    assert difference.relative > 0.1, difference
    for weight, value in zip(base.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value)


def test_a_single_image_is_refused(batch) -> None:
    with pytest.raises(ValueError, match="at least 2 images"):  # refused before the model is touched
        batchnorm.training_mode_difference(object(), batch[:1])
