"""helpers.plots: the figures hold the data they were given, on real Fashion-MNIST images."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no windows, no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import plots
from helpers.data import load_dataset
from helpers.evaluation import confusion_matrix


@pytest.fixture(scope="module")
def fashion():
    return load_dataset("fashion_mnist", 16, 16)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


# ---------------------------------------------------------------- sample_grid

def test_sample_grid_titles_each_image_with_its_class(fashion):
    fig = plots.sample_grid(fashion.x_train, fashion.y_train, fashion.class_names, n=12, cols=6, title="Fashion")
    assert isinstance(fig, Figure)
    axes = image_axes(fig)
    assert len(fig.axes) == len(axes) == 12
    assert [ax.get_title() for ax in axes] == [fashion.class_names[y] for y in fashion.y_train[:12]]
    np.testing.assert_array_equal(axes[0].images[0].get_array(), fashion.x_train[0])
    assert fig._suptitle.get_text() == "Fashion"


def test_sample_grid_shows_at_most_the_images_given(fashion):
    fig = plots.sample_grid(fashion.x_train[:5], fashion.y_train[:5], fashion.class_names, n=16)
    assert len(image_axes(fig)) == len(fig.axes) == 5


def test_sample_grid_stretches_preprocessed_float_images_per_image(fashion):
    scaled = fashion.x_train[:4, :, :, None].astype(np.float32) / 127.5 - 1.0  # MobileNetV2 range [-1, 1]
    fig = plots.sample_grid(scaled, fashion.y_train[:4], fashion.class_names)
    for ax, raw in zip(image_axes(fig), fashion.x_train[:4]):
        shown = np.asarray(ax.images[0].get_array())
        assert shown.shape == (28, 28)
        assert shown.min() == pytest.approx(0.0) and shown.max() == pytest.approx(1.0)
        expected = (raw - raw.min()) / float(raw.max() - raw.min())
        np.testing.assert_allclose(shown, expected, atol=1e-6)


def test_sample_grid_accepts_rgb_images(fashion):
    rgb = np.repeat(fashion.x_train[:3, :, :, None], 3, axis=-1).astype(np.float32)
    fig = plots.sample_grid(rgb, fashion.y_train[:3], fashion.class_names)
    assert np.asarray(image_axes(fig)[0].images[0].get_array()).shape == (28, 28, 3)


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        ("x16", "y15", "16 images, 15 labels"),
        ("x_flat", "y16", r"shape \(N, H, W\) or \(N, H, W, C\), got shape \(16, 784\)"),
        ("x_two_channels", "y16", r"\(H, W, 3\), got shape \(28, 28, 2\)"),
        ("x16", "y_out_of_range", r"class indices in \[0, 9\]"),
        ("x16", "y_float", "integer class indices"),
    ],
)
def test_sample_grid_rejects_bad_input(fashion, images, labels, message):
    inputs = {
        "x16": fashion.x_train,
        "x_flat": fashion.x_train.reshape(16, -1),
        "x_two_channels": np.zeros((16, 28, 28, 2), dtype=np.uint8),
        "y15": fashion.y_train[:15],
        "y16": fashion.y_train,
        "y_out_of_range": np.full(16, 10),
        "y_float": fashion.y_train.astype(float),
    }
    with pytest.raises(ValueError, match=message):
        plots.sample_grid(inputs[images], inputs[labels], fashion.class_names)


def test_sample_grid_rejects_bad_n(fashion):
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        plots.sample_grid(fashion.x_train, fashion.y_train, fashion.class_names, n=0)


# ---------------------------------------------------------------- misclassified_gallery

def test_misclassified_gallery_shows_only_the_mistakes(fashion):
    y_pred = fashion.y_test.copy()
    wrong = [1, 4, 9]
    y_pred[wrong] = (y_pred[wrong] + 1) % 10
    fig = plots.misclassified_gallery(fashion.x_test, fashion.y_test, y_pred, fashion.class_names)
    axes = image_axes(fig)
    assert len(axes) == 3
    names = fashion.class_names
    assert [ax.get_title() for ax in axes] == [
        f"true: {names[fashion.y_test[i]]}\npred: {names[y_pred[i]]}" for i in wrong
    ]
    for ax, index in zip(axes, wrong):
        np.testing.assert_array_equal(ax.images[0].get_array(), fashion.x_test[index])


def test_misclassified_gallery_caps_at_n_and_handles_no_mistakes(fashion):
    shifted = (fashion.y_test + 1) % 10
    assert len(image_axes(plots.misclassified_gallery(fashion.x_test, fashion.y_test, shifted, fashion.class_names, n=5))) == 5
    perfect = plots.misclassified_gallery(fashion.x_test, fashion.y_test, fashion.y_test, fashion.class_names)
    assert not image_axes(perfect)
    assert "No misclassified images among 16" in perfect.axes[0].texts[0].get_text()


def test_misclassified_gallery_rejects_mismatched_predictions(fashion):
    with pytest.raises(ValueError, match="16 images, 10 y_pred"):
        plots.misclassified_gallery(fashion.x_test, fashion.y_test, fashion.y_test[:10], fashion.class_names)


# ---------------------------------------------------------------- training_curves

HISTORY = {
    "loss": [1.2, 0.8, 0.6],
    "accuracy": [0.55, 0.71, 0.78],
    "val_loss": [1.0, 0.85, 0.8],
    "val_accuracy": [0.62, 0.70, 0.73],
}


def test_training_curves_plots_train_and_validation_series():
    fig = plots.training_curves(HISTORY, title="head only")
    loss_ax, acc_ax = fig.axes
    assert (loss_ax.get_title(), acc_ax.get_title()) == ("loss", "accuracy")
    for ax, metric in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        train, val = ax.get_lines()
        assert [train.get_label(), val.get_label()] == ["train", "validation"]
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
        np.testing.assert_allclose(train.get_ydata(), HISTORY[metric])
        np.testing.assert_allclose(val.get_ydata(), HISTORY[f"val_{metric}"])
    assert fig._suptitle.get_text() == "head only"


def test_training_curves_accepts_a_training_run_without_validation():
    from helpers.training import TrainingRun

    run = TrainingRun(history={"loss": [0.9, 0.5], "accuracy": [0.6, 0.8]}, seconds=1.0)
    fig = plots.training_curves(run)
    assert len(fig.axes) == 2
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 1]
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), [0.6, 0.8])


def test_training_curves_loss_only():
    assert len(plots.training_curves({"loss": [0.3, 0.2]}).axes) == 1


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ({"accuracy": [0.5]}, r"'loss' series, got keys \['accuracy'\]"),
        ({"loss": []}, "at least one epoch"),
        ([0.5, 0.4], "expected a history dict .* got list"),
    ],
)
def test_training_curves_rejects_bad_history(history, message):
    with pytest.raises(ValueError, match=message):
        plots.training_curves(history)


# ---------------------------------------------------------------- confusion_matrix_plot

def test_confusion_matrix_annotations_equal_the_counts(fashion):
    predictions = np.roll(fashion.y_test, 1)  # a deterministic, imperfect "model"
    matrix = confusion_matrix(fashion.y_test, predictions, 10)
    fig = plots.confusion_matrix_plot(matrix, fashion.class_names)
    ax = fig.axes[0]
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert len(texts) == 100
    assert all(texts[i, j] == str(matrix[i, j]) for i in range(10) for j in range(10))
    assert [t.get_text() for t in ax.get_xticklabels()] == list(fashion.class_names)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(fashion.class_names)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")


def test_confusion_matrix_normalized_rows(fashion):
    matrix = confusion_matrix(fashion.y_test, np.roll(fashion.y_test, 1), 10)
    fig = plots.confusion_matrix_plot(matrix, fashion.class_names, normalize=True, title="rows")
    ax = fig.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    rows = matrix.sum(axis=1)
    np.testing.assert_allclose(shown[rows > 0].sum(axis=1), 1.0)
    first_row = [t.get_text() for t in ax.texts[:10]]
    assert first_row == [f"{v:.2f}" for v in matrix[0] / max(rows[0], 1)]
    assert ax.get_title() == "rows"


def test_confusion_matrix_rejects_a_matrix_that_does_not_match_the_names(fashion):
    with pytest.raises(ValueError, match=r"shape \(10, 10\) for 10 class names, got shape \(9, 9\)"):
        plots.confusion_matrix_plot(np.zeros((9, 9), dtype=int), fashion.class_names)
    with pytest.raises(ValueError, match=r"got shape \(10, 9\)"):
        plots.confusion_matrix_plot(np.zeros((10, 9), dtype=int), fashion.class_names)


# ---------------------------------------------------------------- accuracy_vs_size

def test_accuracy_vs_size_one_line_per_approach_on_log_x():
    sizes = [100, 1000, 10000]
    curves = {"transfer": [0.71, 0.82, 0.88], "scratch": [0.45, 0.70, 0.86]}
    fig = plots.accuracy_vs_size(sizes, curves)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == list(curves)
    for line, values in zip(lines, curves.values()):
        np.testing.assert_array_equal(line.get_xdata(), sizes)
        np.testing.assert_allclose(line.get_ydata(), values)
        assert line.get_marker() == "o"


@pytest.mark.parametrize(
    ("sizes", "curves", "message"),
    [
        ([100, 1000], {"transfer": [0.7]}, r"curve 'transfer': expected one accuracy per size \(2\), got 1"),
        ([0, 1000], {"transfer": [0.7, 0.8]}, "positive sizes"),
        ([100], {}, "at least one curve"),
    ],
)
def test_accuracy_vs_size_rejects_bad_input(sizes, curves, message):
    with pytest.raises(ValueError, match=message):
        plots.accuracy_vs_size(sizes, curves)


# ---------------------------------------------------------------- layer_comparison

def test_layer_comparison_bars_labels_and_best_highlighted():
    names = ["block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu", "out_relu"]
    accuracies = [0.61, 0.74, 0.83, 0.79]
    fig = plots.layer_comparison(names, accuracies)
    (ax,) = fig.axes
    bars = ax.patches
    np.testing.assert_allclose([bar.get_width() for bar in bars], accuracies)
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert [t.get_text() for t in ax.texts] == ["0.610", "0.740", "0.830", "0.790"]
    colours = [bar.get_facecolor() for bar in bars]
    assert colours[2] != colours[0] and colours[0] == colours[1] == colours[3]
    assert "block_13_expand_relu" in ax.get_title()


@pytest.mark.parametrize(
    ("names", "accuracies", "message"),
    [
        (["a", "b"], [0.5], "2 names, 1 accuracies"),
        ([], [], "0 names, 0 accuracies"),
        (["a"], [float("nan")], "finite accuracies"),
    ],
)
def test_layer_comparison_rejects_bad_input(names, accuracies, message):
    with pytest.raises(ValueError, match=message):
        plots.layer_comparison(names, accuracies)


# ---------------------------------------------------------------- value_histogram

def test_value_histogram_one_panel_per_array_with_its_range(fashion):
    raw = fashion.x_train.astype(np.float32)
    arrays = {"raw pixels": raw, "scaled to [-1, 1]": raw / 127.5 - 1.0}
    fig = plots.value_histogram(arrays, title="pixel values")
    assert len(fig.axes) == 2
    for ax, (name, values) in zip(fig.axes, arrays.items()):
        assert ax.get_title() == f"{name}\n[{values.min():.3g}, {values.max():.3g}]"
        assert sum(bar.get_height() for bar in ax.patches) == values.size


def test_value_histogram_rejects_empty_input():
    with pytest.raises(ValueError, match="empty dict"):
        plots.value_histogram({})
    with pytest.raises(ValueError, match="array 'none': expected at least one value"):
        plots.value_histogram({"none": np.array([])})
    with pytest.raises(ValueError, match="only NaN/inf"):
        plots.value_histogram({"nan": np.array([np.nan])})


# ---------------------------------------------------------------- feature_maps

def test_feature_maps_show_the_most_active_channels(fashion):
    # A stand-in for a layer's output built from real images: channel c is image c scaled by c.
    maps = np.stack([fashion.x_train[c] * float(c) for c in range(16)], axis=-1).astype(np.float32)
    fig = plots.feature_maps(maps, n=4)
    axes = image_axes(fig)
    most_active = sorted(range(16), key=lambda c: maps[..., c].mean(), reverse=True)[:4]
    assert [ax.get_title() for ax in axes] == [f"channel {c}" for c in most_active]
    for ax, channel in zip(axes, most_active):
        np.testing.assert_allclose(ax.images[0].get_array(), maps[..., channel])
    assert "4 most active of 16 channels" in fig._suptitle.get_text()


def test_feature_maps_rejects_a_batch():
    with pytest.raises(ValueError, match=r"shape \(H, W, C\), got shape \(1, 3, 3, 8\); pass one image's map"):
        plots.feature_maps(np.zeros((1, 3, 3, 8)))


# ---------------------------------------------------------------- photo_predictions

def test_photo_predictions_captions_images_of_different_sizes(fashion):
    from PIL import Image

    from helpers.infra import assets

    photo = np.asarray(Image.open(assets.fetch("images/parrot.jpg")).convert("RGB"))
    images = [photo, fashion.x_test[0]]
    captions = ["macaw 0.91", "Ankle boot? 0.12"]
    fig = plots.photo_predictions(images, captions, title="ImageNet top-1")
    axes = image_axes(fig)
    assert [ax.get_title() for ax in axes] == captions
    np.testing.assert_array_equal(axes[0].images[0].get_array(), photo)
    np.testing.assert_array_equal(axes[1].images[0].get_array(), fashion.x_test[0])


def test_photo_predictions_rejects_caption_count(fashion):
    with pytest.raises(ValueError, match="3 images, got 2 captions"):
        plots.photo_predictions(fashion.x_test[:3], ["a", "b"])
    with pytest.raises(ValueError, match="got a single string"):
        plots.photo_predictions(fashion.x_test[:1], "a")



def test_accuracy_vs_size_draws_each_points_range_as_a_bar():
    curves = {"transfer": [0.6, 0.7, 0.8], "scratch": [0.3, float("nan"), float("nan")]}
    fig = plots.accuracy_vs_size([25, 50, 250], curves,
                                 ranges={"transfer": [(0.55, 0.62), (0.69, 0.75), (0.8, 0.8)],
                                         "scratch": [(0.25, 0.35), None, None]})
    bars = [c for c in fig.axes[0].collections]
    segments = [segment for bar in bars for segment in bar.get_segments()]
    assert len(segments) == 4  # three transfer points, one scratch point
    assert any(np.allclose(segment, [[25, 0.55], [25, 0.62]]) for segment in segments)
    with pytest.raises(ValueError, match="curve 'transfer': expected one accuracy per size"):
        plots.accuracy_vs_size([1, 2], {"transfer": [0.1, 0.2]}, ranges={"transfer": [(0.1, 0.2)]})
