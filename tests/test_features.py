"""Feature extraction at named layers, kept in the course cache."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import features
from helpers.infra import cache


def test_pooled_features_of_eight_images(fashion_small, isolated_cache) -> None:
    out = features.extract_features(fashion_small.x_train[:8], "mobilenet_v2", size=96)
    assert out.shape == (8, 1280) and out.dtype == np.float32
    assert (out >= 0).all() and out.std() > 0  # after ReLU6, and informative


def test_feature_map_at_a_named_layer(fashion_small, isolated_cache) -> None:
    out = features.extract_features(fashion_small.x_train[:2], layer="block_13_expand_relu", pooled=False)
    assert out.shape == (2, 6, 6, 576)
    with pytest.raises(ValueError, match=r"has no layer\(s\) \['block_99'\]"):
        features.extract_features(fashion_small.x_train[:2], layer="block_99")


def test_a_second_identical_request_is_read_back_and_any_change_computes_again(fashion_small, isolated_cache,
                                                                               monkeypatch) -> None:
    images = fashion_small.x_train[:4]
    first = features.extract_features(images)
    calls = []
    real_compute = features.compute_features
    monkeypatch.setattr(features, "compute_features", lambda *a, **k: calls.append(a[1:]) or real_compute(*a, **k))
    np.testing.assert_array_equal(features.extract_features(images), first)
    assert calls == []  # read back
    changed = images.copy()
    changed[0, 0, 0] ^= 1
    features.extract_features(changed)
    features.extract_features(images, size=128)
    features.extract_features(images, layer="block_16_project")
    assert len(calls) == 3  # every change is computed
    assert len([e for e in cache.entries() if e.function == "helpers.features.extract_features"]) == 4


def test_random_weights_are_drawn_from_the_seed(fashion_small, isolated_cache) -> None:
    images = fashion_small.x_train[:2]
    one = features.compute_features(images, "mobilenet_v2", size=32, weights=None, seed=1)
    again = features.compute_features(images, "mobilenet_v2", size=32, weights=None, seed=1)
    other = features.compute_features(images, "mobilenet_v2", size=32, weights=None, seed=2)
    np.testing.assert_allclose(one, again, rtol=1e-5, atol=0)  # random features are tiny: compare relatively
    assert not np.allclose(one, other, rtol=1e-3, atol=0)


def test_several_layers_in_one_pass_equal_each_layer_alone(fashion_small, isolated_cache) -> None:
    images = fashion_small.x_train[:4]
    both = features.features_at_layers(images, ("block_13_expand_relu", "out_relu"))
    np.testing.assert_allclose(both["block_13_expand_relu"],
                               features.compute_features(images, layer="block_13_expand_relu"), atol=1e-4)
    np.testing.assert_allclose(both["out_relu"], features.compute_features(images), atol=1e-4)


def test_extraction_time_pays_the_set_up_once_and_scales_only_the_pass(fashion_small, isolated_cache) -> None:
    sample = fashion_small.x_train[:32]
    timed = features.time_extraction(sample, 4000, layer="block_13_expand_relu")
    assert timed.n_images == 4000 and timed.setup_seconds > 0 and timed.images_per_second > 0
    assert timed.seconds == pytest.approx(timed.setup_seconds + 4000 / timed.images_per_second)
    # scaling the set-up with the pass (what the lesson once did) would charge it 125 times
    assert timed.seconds < 4000 / len(sample) * timed.setup_seconds
    with pytest.raises(ValueError, match="n_images must be a positive int, got 0"):
        features.time_extraction(sample, 0)
