"""Backbones, the head, the transfer model, fine-tuning switches and parameter counts."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers import backbones, models


@pytest.fixture(scope="module")
def transfer_model():
    return models.build_transfer_model("mobilenet_v2", size=96, num_classes=10)


def test_mobilenet_96_head_counts(transfer_model) -> None:
    counts = models.parameter_counts(transfer_model)
    assert (counts.trainable, counts.non_trainable) == (12_810, 2_257_984)
    assert counts.total == transfer_model.count_params()


def test_base_has_154_layers_and_a_3x3x1280_map(transfer_model) -> None:
    base = models.base_of(transfer_model)
    assert len(base.layers) == 154
    assert tuple(base.output.shape[1:]) == (3, 3, 1280)
    assert not base.trainable


def test_head_outputs_logits_not_probabilities() -> None:
    head = models.build_head((3, 3, 1280))
    assert [type(l).__name__ for l in head.layers] == ["GlobalAveragePooling2D", "Dropout", "Dense"]
    assert head.layers[-1].activation is keras.activations.linear
    out = head(np.random.default_rng(0).normal(size=(4, 3, 3, 1280)).astype("float32") * 10)
    assert not np.allclose(np.sum(out, axis=1), 1.0)


def test_head_rejects_bad_feature_shape() -> None:
    with pytest.raises(ValueError, match=r"got \(3, 1280\)"):
        models.build_head((3, 1280))


def test_unfreeze_top_keeps_batchnorm_frozen(transfer_model) -> None:
    base = models.base_of(transfer_model)
    try:
        names = models.unfreeze_top(base, 20)
        last = base.layers[-20:]
        assert all(not l.trainable for l in last if isinstance(l, keras.layers.BatchNormalization))
        assert all(not l.trainable for l in base.layers[:-20])
        assert names == ["block_15_expand", "block_15_depthwise", "block_15_project", "block_16_expand",
                         "block_16_depthwise", "block_16_project", "Conv_1"]
        counts = models.parameter_counts(transfer_model)
        assert counts.trainable == 12_810 + 1_194_880
        assert counts.total == 12_810 + 2_257_984
    finally:
        models.unfreeze_top(base, 0)
        base.trainable = False
    with pytest.raises(ValueError, match="between 0 and 154"):
        models.unfreeze_top(base, 155)


def test_resnet50_without_weights_has_the_published_shape() -> None:
    base = backbones.build_backbone("resnet50", size=96, weights=None)
    assert base.count_params() == 23_587_712
    assert tuple(base.output.shape[1:]) == (3, 3, 2048)
    assert backbones.get_backbone("resnet50").feature_size == 2048
    head = models.build_head((2048,))
    assert head.count_params() == 20_490


def test_build_backbone_rejects_unknown_weights() -> None:
    with pytest.raises(ValueError, match="weights must be 'imagenet' or None, got 'cifar'"):
        backbones.build_backbone("mobilenet_v2", weights="cifar")


def test_resnet_imagenet_offline_says_to_use_none(monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://...: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.applications, "ResNet50", offline)
    with pytest.raises(backbones.assets.AssetMissingError, match="use weights=None offline"):
        backbones.build_backbone("resnet50", size=96, weights="imagenet")
    assert backbones.imagenet_or_none("resnet50") is None
    assert backbones.imagenet_or_none("mobilenet_v2") == "imagenet"


def test_scratch_cnn_maps_raw_digits_to_ten_logits() -> None:
    cnn = models.build_scratch_cnn()
    assert cnn(np.zeros((2, 28, 28, 1), "float32")).shape == (2, 10)
    assert cnn.count_params() == 225_034


def test_compile_uses_logits_loss_and_accuracy(transfer_model) -> None:
    models.compile_classifier(transfer_model, learning_rate=1e-4)
    assert transfer_model.loss.get_config()["from_logits"] is True
    assert float(transfer_model.optimizer.learning_rate) == pytest.approx(1e-4)


def test_many_steps_per_execution_train_exactly_like_one() -> None:
    # 120 training rows in batches of 16: 8 steps per epoch, so every call of 32 steps stops at the epoch end
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(150, 8)).astype("float32"), rng.integers(0, 3, 150)
    weights = []
    for steps in (1, models.STEPS_PER_EXECUTION):
        keras.utils.set_random_seed(7)
        head = models.compile_classifier(models.build_head((8,), 3), learning_rate=1e-2, steps_per_execution=steps)
        head.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
        weights.append(head.get_weights())
    assert models.STEPS_PER_EXECUTION > 1
    for one, many in zip(*weights):
        np.testing.assert_array_equal(one, many)
