"""Fine-tuning on cached activations: the cut, the top model, weight movement, the recipe."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers import fine_tuning
from helpers.backbones import build_backbone
from helpers.data import adapt_images
from helpers.features import compute_features
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
    activations = compute_features(images, "mobilenet_v2", 96, layer="block_14_add", pooled=False)
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
    activations = compute_features(images, "mobilenet_v2", 96, layer="block_14_add", pooled=False)
    pooled = compute_features(images, "mobilenet_v2", 96, pooled=True)
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


def test_batchnorm_mode_and_trainability_are_two_settings() -> None:
    """Inference mode keeps the stored statistics even when gamma and beta learn; training mode overwrites them."""
    import keras

    moved = {}
    for mode in ("inference", "training"):
        base = truncate(build_backbone("mobilenet_v2", size=96, weights=None), "block_13_expand_relu")
        unfreeze_top(base, 29, batchnorm_trainable=True)
        model = compile_classifier(fine_tuning.build_top_model(base, "block_9_add", build_head((576,)), mode))
        norm = base.get_layer("block_10_expand_BN")
        mean, gamma = norm.moving_mean.numpy().copy(), norm.gamma.numpy().copy()
        rng = np.random.default_rng(0)
        fit(model, rng.normal(size=(64, 6, 6, 64)).astype("float32"), rng.integers(0, 10, 64), epochs=1)
        moved[mode] = (float(np.abs(norm.moving_mean.numpy() - mean).max()), float(np.abs(norm.gamma.numpy() - gamma).max()))
        assert isinstance(norm, keras.layers.BatchNormalization) and norm.trainable
    assert moved["inference"][0] == 0.0 and moved["inference"][1] > 0  # statistics kept, gamma learns
    assert moved["training"][0] > 0 and moved["training"][1] > 0
    with pytest.raises(ValueError, match="batchnorm_mode must be 'inference' or 'training'"):
        fine_tuning.build_top_model(base, "block_9_add", build_head((576,)), "frozen")


def test_a_setting_refuses_unknown_variants() -> None:
    with pytest.raises(ValueError, match="batchnorm must be one of"):
        fine_tuning.Setting(batchnorm="off")
    with pytest.raises(ValueError, match="head must be 'trained' or 'random'"):
        fine_tuning.Setting(head="pretrained")


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    import os

    os.environ["COURSE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    reference = fine_tuning.Setting(n_layers=12, epochs=1)
    return reference, dict(seeds=(0, 1), n_train=200, n_fit=80, size=96)


@pytest.mark.slow
def test_a_sweep_changes_one_field_and_never_sees_the_test_images(tiny_sweep) -> None:
    reference, experiment = tiny_sweep
    rates = fine_tuning.sweep("mnist", reference, "learning_rate", [1e-4, 0.5], **experiment)
    assert set(rates.scores) == {"0.0001", "0.5"} and len(rates.scores["0.5"].values) == 2
    runs = fine_tuning.runs_of("mnist", reference, "learning_rate", 0.5, **experiment)
    assert [run.setting for run in runs] == [fine_tuning.Setting(n_layers=12, epochs=1, learning_rate=0.5)] * 2
    assert all(run.test is None and run.n_fit == 80 for run in runs)  # validation only
    assert runs[0].weights_moved > 10 * fine_tuning.runs_of("mnist", reference, "learning_rate", 1e-4,
                                                           **experiment)[0].weights_moved


@pytest.mark.slow
def test_a_final_run_is_scored_once_on_the_test_images(tiny_sweep) -> None:
    reference, experiment = tiny_sweep
    final = fine_tuning.fine_tune_run("mnist", reference, 0, n_train=200, n_fit=80, test=True, n_test=60)
    assert final.test is not None and final.predictions.shape == (60,)
    assert final.test.accuracy == pytest.approx(np.mean(final.predictions == _mnist_test_labels(60)))
    with pytest.raises(ValueError, match="unknown figure"):  # every dataset's figure is registered
        from helpers.infra import results

        results.record("cifar_finetuned_accuracy", 0.5)
    assert set(fine_tuning.FINETUNED_FIGURES.values()) <= set(results.FIGURES)


def _mnist_test_labels(n: int) -> np.ndarray:
    from helpers.data import load_dataset

    return load_dataset("mnist", n_train=1, n_test=n).y_test
