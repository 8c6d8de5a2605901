"""Feature extraction and its on-disk cache."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import features


def test_pooled_features_of_eight_images(fashion_small, isolated_cache) -> None:
    out = features.extract_features(fashion_small.x_train[:8], "mobilenet_v2", size=96)
    assert out.shape == (8, 1280) and out.dtype == np.float32
    assert (out >= 0).all() and out.std() > 0  # after ReLU6, and informative


def test_feature_map_at_a_named_layer(fashion_small, isolated_cache) -> None:
    out = features.extract_features(fashion_small.x_train[:2], layer="block_13_expand_relu", pooled=False)
    assert out.shape == (2, 6, 6, 576)
    with pytest.raises(ValueError, match="has no layer 'block_99'"):
        features.extract_features(fashion_small.x_train[:2], layer="block_99")


def test_cache_hit_miss_and_invalidation(fashion_small, isolated_cache, monkeypatch) -> None:
    images = fashion_small.x_train[:4]
    first = features.extract_features(images)
    files = list((isolated_cache / "features").glob("*.npy"))
    assert len(files) == 1 and not list((isolated_cache / "features").glob("*.part"))

    calls = []
    real_compute = features.compute_features
    monkeypatch.setattr(features, "compute_features", lambda *a, **k: calls.append(a[1:]) or real_compute(*a, **k))
    np.testing.assert_array_equal(features.extract_features(images), first)
    assert calls == []  # hit

    changed = images.copy()
    changed[0, 0, 0] ^= 1
    features.extract_features(changed)
    features.extract_features(images, size=128)
    features.extract_features(images, layer="block_16_project")
    assert len(calls) == 3  # every change is a miss
    assert len(list((isolated_cache / "features").glob("*.npy"))) == 4


def test_cache_key_depends_on_every_input(fashion_small) -> None:
    images = fashion_small.x_train[:4]
    base = dict(images=images, backbone="mobilenet_v2", size=96, weights_sha="a", layer=None, pooled=True)
    key = features.cache_key(**base)
    for change in ({"backbone": "resnet50"}, {"size": 128}, {"weights_sha": "b"}, {"layer": "x"},
                   {"pooled": False}, {"images": images[:3]}, {"images": images.astype(np.float32)}):
        assert features.cache_key(**{**base, **change}) != key, change


def test_random_weights_are_never_cached(fashion_small, isolated_cache) -> None:
    out = features.extract_features(fashion_small.x_train[:2], "resnet50", size=32, weights=None)
    assert out.shape == (2, 2048)
    assert not (isolated_cache / "features").exists()


def test_extraction_time_pays_the_set_up_once_and_scales_only_the_pass(fashion_small) -> None:
    sample = fashion_small.x_train[:32]
    timed = features.time_extraction(sample, 4000, layer="block_13_expand_relu")
    assert timed.n_images == 4000 and timed.setup_seconds > 0 and timed.images_per_second > 0
    assert timed.seconds == pytest.approx(timed.setup_seconds + 4000 / timed.images_per_second)
    # scaling the set-up with the pass (what the lesson once did) would charge it 125 times
    assert timed.seconds < 4000 / len(sample) * timed.setup_seconds
    with pytest.raises(ValueError, match="n_images must be a positive int, got 0"):
        features.time_extraction(sample, 0)
