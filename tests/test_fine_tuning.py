"""Fine-tuning on cached activations: the cut, the top model, weight movement, the recipe."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers import fine_tuning
from helpers.backbones import build_backbone
from helpers.data import adapt_images
from helpers.features import extract_features
from helpers.models import base_of, build_head, build_transfer_model, compile_classifier, truncate, unfreeze_top
from helpers.training import fit


@pytest.fixture(scope="module")
def random_base():
    return build_backbone("mobilenet_v2", size=96, weights=None)


def test_cut_for_the_top_20_layers_is_block_14_add(random_base) -> None:
    assert fine_tuning.cut_layer(random_base, 20) == "block_14_add"
    assert fine_tuning.cut_layer(random_base, 38) == "block_12_add"


def test_cut_inside_a_residual_block_is_rejected(random_base) -> None:
    # the top 12 layers start at block_15_add, which also reads block_14_add
    with pytest.raises(ValueError, match="residual connection crosses the cut"):
        fine_tuning.cut_layer(random_base, 12)


@pytest.mark.parametrize("n", [0, 154, 2.5, True])
def test_cut_rejects_bad_depths(random_base, n) -> None:
    with pytest.raises(ValueError, match="between 1 and 153"):
        fine_tuning.cut_layer(random_base, n)


def test_top_part_shares_the_base_layers(random_base) -> None:
    top = fine_tuning.top_part(random_base, "block_14_add")
    assert top.get_layer("Conv_1") is random_base.get_layer("Conv_1")
    assert len(top.layers) == 21  # the input plus the top 20 layers
    with pytest.raises(ValueError, match="no layer 'block_99_add'"):
        fine_tuning.top_part(random_base, "block_99_add")


@pytest.mark.slow
def test_top_model_on_cached_activations_equals_the_full_model(fashion_small) -> None:
    images = fashion_small.x_test[:8]
    activations = extract_features(images, "mobilenet_v2", 96, layer="block_14_add", pooled=False, cache=False)
    head = build_head((1280,))
    full = build_transfer_model("mobilenet_v2", size=96, head=head)
    top = fine_tuning.build_top_model(base_of(full), "block_14_add", head)
    full_logits = full.predict(adapt_images(images, "mobilenet_v2", 96), verbose=0)
    np.testing.assert_allclose(top.predict(activations, verbose=0), full_logits, atol=1e-4)
    assert np.abs(full_logits).max() > 0.1  # not a trivially zero output


@pytest.mark.slow
def test_pooled_outputs_equal_the_pooled_features(fashion_small) -> None:
    images = fashion_small.x_test[:8]
    base = build_backbone("mobilenet_v2", size=96)
    activations = extract_features(images, "mobilenet_v2", 96, layer="block_14_add", pooled=False, cache=False)
    pooled = extract_features(images, "mobilenet_v2", 96, pooled=True, cache=False)
    np.testing.assert_allclose(fine_tuning.pooled_outputs(base, "block_14_add", activations), pooled, atol=1e-4)


def test_weight_changes_are_measured() -> None:
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    layer.set_weights([np.full((3, 2), 2.0, "float32"), np.zeros(2, "float32")])
    before = fine_tuning.weights_of([layer])
    assert fine_tuning.largest_change(before, [layer]) == 0.0
    layer.set_weights([np.full((3, 2), 2.0, "float32"), np.array([0.0, 0.5], "float32")])
    assert fine_tuning.largest_change(before, [layer]) == pytest.approx(0.5)
    # ||change|| = 0.5, ||before|| = sqrt(6 * 4)
    assert fine_tuning.relative_change(before, [layer]) == pytest.approx(0.5 / np.sqrt(24))
    with pytest.raises(ValueError, match="snapshot holds weights of shapes"):
        fine_tuning.largest_change(before[:1], [layer])


def test_unfreezing_without_recompiling_does_not_train_the_new_layers() -> None:
    """The Keras behaviour lesson 05 demonstrates: the train step is fixed at the first fit after compile."""
    base = build_backbone("mobilenet_v2", size=96, weights=None)
    model = compile_classifier(fine_tuning.build_top_model(base, "block_14_add", build_head((1280,))))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3, 3, 160)).astype("float32"), rng.integers(0, 10, 64)
    fit(model, x, y, epochs=1)
    watched = [base.get_layer("block_15_expand")]
    before = fine_tuning.weights_of(watched)
    unfreeze_top(base, 20)
    fit(model, x, y, epochs=1)
    assert fine_tuning.largest_change(before, watched) == 0.0
    compile_classifier(model)
    fit(model, x, y, epochs=1)
    assert fine_tuning.largest_change(before, watched) > 1e-5


def test_truncated_base_ends_at_the_tap_and_shares_its_layers(random_base) -> None:
    truncated = truncate(random_base, "block_13_expand_relu")
    assert tuple(truncated.output.shape[1:]) == (6, 6, 576)
    assert truncated.get_layer("block_10_expand") is random_base.get_layer("block_10_expand")
    assert "Conv_1" not in [layer.name for layer in truncated.layers]
    assert fine_tuning.cut_layer(truncated, 29) == "block_9_add"
    with pytest.raises(ValueError, match="no layer 'block_99_add'"):
        truncate(random_base, "block_99_add")


def test_fine_tune_recompiles_so_newly_unfrozen_layers_train() -> None:
    base = truncate(build_backbone("mobilenet_v2", size=96, weights=None), "block_13_expand_relu")
    model = compile_classifier(fine_tuning.build_top_model(base, "block_9_add", build_head((576,))))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 6, 6, 64)).astype("float32"), rng.integers(0, 10, 64)
    fit(model, x, y, epochs=1)  # the train step is now built for the head only
    watched = [base.get_layer("block_10_expand")]
    before = fine_tuning.weights_of(watched)
    unfreeze_top(base, 29)
    training = fine_tuning.TrainingSet(x[:48], y[:48], x[48:], y[48:])
    run = fine_tuning.fine_tune(model, training, learning_rate=1e-3, epochs=2, schedule="constant")
    assert fine_tuning.largest_change(before, watched) > 1e-5
    assert len(run.history["loss"]) == 2 and "val_accuracy" in run.history
    with pytest.raises(ValueError, match="schedule must be 'cosine' or 'constant', got 'step'"):
        fine_tuning.fine_tune(model, training, learning_rate=1e-3, epochs=1, schedule="step")


@pytest.mark.slow
def test_augmented_training_set_holds_out_validation_images_uncopied(fashion_small, isolated_cache) -> None:
    images, labels = fashion_small.x_train[:40], fashion_small.y_train[:40]
    activations = extract_features(images, "mobilenet_v2", 96, layer="block_9_add", pooled=False)
    training = fine_tuning.augmented_training_set(images, labels, activations, "block_9_add", copies=2,
                                                  validation_split=0.25)
    assert training.x.shape == (90, 6, 6, 64) and training.x_validation.shape == (10, 6, 6, 64)
    np.testing.assert_array_equal(training.x[:30], activations[:30])  # the originals come first
    np.testing.assert_array_equal(training.x_validation, activations[30:])
    np.testing.assert_array_equal(training.y, np.tile(labels[:30], 3))
    np.testing.assert_array_equal(training.y_validation, labels[30:])
    assert not np.allclose(training.x[30:60], activations[:30])  # the copies are moved images
    with pytest.raises(ValueError, match="one activation and one label per image"):
        fine_tuning.augmented_training_set(images, labels[:39], activations, "block_9_add")


def test_cosine_schedule_decays_to_zero() -> None:
    schedule = fine_tuning.cosine_schedule(1e-4, epochs=4, steps_per_epoch=10)
    assert float(schedule(0)) == pytest.approx(1e-4)
    assert float(schedule(20)) == pytest.approx(5e-5, rel=1e-3)
    assert float(schedule(40)) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="learning_rate > 0"):
        fine_tuning.cosine_schedule(0.0, 4, 10)


@pytest.mark.slow
def test_recipe_runs_end_to_end_and_learns(isolated_cache) -> None:
    result = fine_tuning.fine_tune_recipe("mnist", n_train=256, n_test=128, head_epochs=20, epochs=2, patience=2)
    assert (result.tap, result.cut) == ("block_13_expand_relu", "block_9_add")
    # 230 training images: far from the lesson's figures, but three times chance (0.1) or more
    assert 0.3 < result.head_accuracy <= 1.0
    assert 0.3 < result.fine_tuned_accuracy <= 1.0
    assert 1 <= len(result.fine_tune_run.history["loss"]) <= 2
