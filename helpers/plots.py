"""Figures the lessons show. Every function returns its matplotlib Figure.

Figures are made with ``pyplot``, so in a notebook each one appears at the end of
its cell wherever the call stands. When the call is the cell's last line, assign
it (``fig = training_curves(...)``) or end the line with ``;`` so Jupyter does not
show the returned figure a second time.

Images may be uint8 (N, H, W), or (N, H, W, 1) / (N, H, W, 3) in any range: raw
[0, 255] pixels or a backbone's preprocessed values such as [-1, 1]. Float images
are stretched to [0, 1] one image at a time for display only.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

GALLERY_COLUMNS = 8
BEST_COLOUR = "tab:orange"
OTHER_COLOUR = "tab:blue"


def use_course_style() -> None:
    """One look for every figure of the course."""
    import matplotlib

    matplotlib.rcParams.update({"figure.dpi": 90, "axes.grid": False, "figure.autolayout": True})


# ---------------------------------------------------------------- validation

def _images(images: Any, what: str = "images") -> list[np.ndarray]:
    """A batch (array, or list of arrays of any sizes) as a list of single images."""
    if hasattr(images, "shape"):  # numpy array or tensor: one batch
        batch = np.asarray(images)
        if batch.ndim not in (3, 4):
            raise ValueError(
                f"{what}: expected a batch of shape (N, H, W) or (N, H, W, C), got shape {batch.shape}; "
                "for a single image add a batch axis: image[None]"
            )
        singles = list(batch)
    else:
        singles = [np.asarray(image) for image in images]
    for index, image in enumerate(singles):
        channels_ok = image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (1, 3))
        if not channels_ok:
            raise ValueError(
                f"{what}[{index}]: expected an image of shape (H, W), (H, W, 1) or (H, W, 3), got shape {image.shape}"
            )
        if not np.issubdtype(image.dtype, np.number):
            raise ValueError(f"{what}[{index}]: expected numeric pixels, got dtype {image.dtype}")
    if not singles:
        raise ValueError(f"{what}: expected at least one image, got none")
    return singles


def _display(image: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """An image ready for ``imshow`` and the imshow keywords it needs."""
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype == np.uint8:
        scaled = image
        limits = {"vmin": 0, "vmax": 255}
    else:
        # Preprocessed pixels live in [-1, 1] or around a mean; stretch each image to [0, 1].
        values = image.astype(np.float32)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
        limits = {"vmin": 0.0, "vmax": 1.0}
    return scaled, ({"cmap": "gray", **limits} if scaled.ndim == 2 else {})


def _labels(labels: Any, what: str, count: int, class_names: Sequence[str]) -> np.ndarray:
    array = np.asarray(labels).reshape(-1)
    if len(array) != count:
        raise ValueError(f"expected one entry of {what} per image: {count} images, {len(array)} {what}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what}: expected integer class indices, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= len(class_names)):
        raise ValueError(
            f"{what}: expected class indices in [0, {len(class_names) - 1}] for {len(class_names)} class names, "
            f"got values in [{array.min()}, {array.max()}]"
        )
    return array


def _positive_count(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{what} must be a positive int, got {n!r}")
    return int(n)


def _grid(
    count: int, cols: int, cell: float = 1.4, title: str | None = None, caption_lines: int = 1
) -> tuple[Any, list[Any]]:
    """A figure with ``count`` image axes on rows of ``cols``; unused cells are removed."""
    import matplotlib.pyplot as plt

    cols = min(cols, count)
    rows = math.ceil(count / cols)
    row_height = cell + 0.2 * caption_lines  # room for each image's caption above it
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols, row_height * rows + (0.4 if title else 0)), squeeze=False)
    flat = list(axes.ravel())
    for extra in flat[count:]:
        fig.delaxes(extra)
    if title:
        fig.suptitle(title)
    return fig, flat[:count]


def _show(ax: Any, image: np.ndarray, caption: str, fontsize: float = 8) -> None:
    pixels, keywords = _display(image)
    ax.imshow(pixels, **keywords)
    ax.set_title(caption, fontsize=fontsize)
    ax.axis("off")


# ---------------------------------------------------------------- images

def sample_grid(
    images: Any, labels: Any, class_names: Sequence[str], n: int = 16, cols: int = 8, title: str | None = None
) -> Any:
    """The first ``n`` images, each titled with its class name."""
    singles = _images(images)
    classes = _labels(labels, "labels", len(singles), class_names)
    shown = min(_positive_count(n, "n"), len(singles))
    fig, axes = _grid(shown, _positive_count(cols, "cols"), title=title)
    for ax, image, label in zip(axes, singles, classes):
        _show(ax, image, class_names[label])
    return fig


def misclassified_gallery(
    images: Any, y_true: Any, y_pred: Any, class_names: Sequence[str], n: int = 16
) -> Any:
    """Up to ``n`` images the model got wrong, titled 'true: ... / pred: ...'."""
    singles = _images(images)
    true = _labels(y_true, "y_true", len(singles), class_names)
    pred = _labels(y_pred, "y_pred", len(singles), class_names)
    wrong = np.flatnonzero(true != pred)[: _positive_count(n, "n")]
    if wrong.size == 0:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 1))
        ax.text(0.5, 0.5, f"No misclassified images among {len(singles)}", ha="center", va="center")
        ax.axis("off")
        return fig
    heading = f"{len(wrong)} of {int((true != pred).sum())} misclassified images"
    fig, axes = _grid(len(wrong), GALLERY_COLUMNS, cell=1.6, title=heading, caption_lines=2)
    for ax, index in zip(axes, wrong):
        _show(ax, singles[index], f"true: {class_names[true[index]]}\npred: {class_names[pred[index]]}", fontsize=7)
    return fig


def photo_predictions(images: Any, captions: Sequence[str], title: str | None = None) -> Any:
    """Images side by side (any sizes), each captioned, e.g. with its top predictions."""
    singles = _images(images)
    if isinstance(captions, str) or len(captions) != len(singles):
        got = "a single string" if isinstance(captions, str) else f"{len(captions)} captions"
        raise ValueError(f"expected one caption per image: {len(singles)} images, got {got}")
    fig, axes = _grid(len(singles), cols=4, cell=3.0, title=title)
    for ax, image, caption in zip(axes, singles, captions):
        _show(ax, image, str(caption), fontsize=9)
    return fig


def feature_maps(feature_map: Any, n: int = 16, title: str | None = None) -> Any:
    """The ``n`` most active channels (largest mean) of one (H, W, C) feature map."""
    maps = np.asarray(feature_map, dtype=np.float32)
    if maps.ndim != 3:
        advice = "; pass one image's map, e.g. features[0]" if maps.ndim == 4 else ""
        raise ValueError(f"expected one feature map of shape (H, W, C), got shape {maps.shape}{advice}")
    shown = min(_positive_count(n, "n"), maps.shape[-1])
    # Many channels are all zero after ReLU; the most active ones show what the layer responds to.
    channels = np.argsort(maps.mean(axis=(0, 1)), kind="stable")[::-1][:shown]
    heading = title or f"{shown} most active of {maps.shape[-1]} channels ({maps.shape[0]}x{maps.shape[1]})"
    fig, axes = _grid(shown, GALLERY_COLUMNS, cell=1.4, title=heading)
    for ax, channel in zip(axes, channels):
        ax.imshow(maps[..., channel], cmap="viridis")
        ax.set_title(f"channel {channel}", fontsize=7)
        ax.axis("off")
    return fig


# ---------------------------------------------------------------- training and evaluation

def _history_dict(history: Any) -> dict[str, list[float]]:
    """A history dict from a dict, a TrainingRun or a keras History (both have ``.history``)."""
    raw = getattr(history, "history", history)
    if not isinstance(raw, Mapping):
        raise ValueError(
            f"expected a history dict (or an object with .history such as a TrainingRun), got {type(history).__name__}"
        )
    if "loss" not in raw:
        raise ValueError(f"expected a history with a 'loss' series, got keys {sorted(raw)}")
    series = {key: [float(v) for v in values] for key, values in raw.items()}
    if not series["loss"]:
        raise ValueError("expected at least one epoch in history['loss'], got an empty list")
    return series


def _accuracy_key(series: Mapping[str, list[float]]) -> str | None:
    candidates = [k for k in series if not k.startswith("val_") and "acc" in k]
    return sorted(candidates, key=len)[0] if candidates else None


def training_curves(history: Any, title: str | None = None) -> Any:
    """Loss and accuracy per epoch, training and (when present) validation series."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    series = _history_dict(history)
    metrics = ["loss"] + ([key] if (key := _accuracy_key(series)) else [])
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for prefix, label in (("", "train"), ("val_", "validation")):
            values = series.get(prefix + metric)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def confusion_matrix_plot(
    matrix: Any, class_names: Sequence[str], normalize: bool = False, title: str | None = None
) -> Any:
    """Counts (or row-normalised fractions) with true classes as rows, predictions as columns."""
    import matplotlib.pyplot as plt

    counts = np.asarray(matrix)
    k = len(class_names)
    if counts.ndim != 2 or counts.shape != (k, k):
        raise ValueError(f"expected a square matrix of shape ({k}, {k}) for {k} class names, got shape {counts.shape}")
    if normalize:
        values, spec = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1), ".2f"
    else:
        values, spec = counts, ("d" if np.issubdtype(counts.dtype, np.integer) else "g")
    fig, ax = plt.subplots(figsize=(0.6 * k + 2.5, 0.6 * k + 2))
    image = ax.imshow(values, cmap="Blues")
    threshold = (float(values.max()) + float(values.min())) / 2
    for i in range(k):
        for j in range(k):
            colour = "white" if values[i, j] > threshold else "black"
            ax.text(j, i, format(values[i, j], spec), ha="center", va="center", color=colour, fontsize=8)
    ax.set_xticks(range(k), labels=list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(k), labels=list(class_names))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or ("confusion matrix (each row sums to 1)" if normalize else "confusion matrix (counts)"))
    fig.colorbar(image, ax=ax, fraction=0.046)
    return fig


# ---------------------------------------------------------------- comparisons

def _centres_and_ranges(values: Sequence[Any], what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Plain accuracies, or measurements with an interval (``Score``: bootstrap, ``Spread``: seed range):
    the centre of each, and (2, N) distances to the interval's ends for error bars (None for plain numbers)."""
    if all(hasattr(value, "low") and hasattr(value, "high") for value in values) and len(values):
        centres = np.asarray([getattr(value, "accuracy", getattr(value, "mean", np.nan)) for value in values], float)
        lows = np.asarray([value.low for value in values], float)
        highs = np.asarray([value.high for value in values], float)
        return centres, np.vstack([centres - lows, highs - centres])
    centres = np.asarray(values, dtype=float)
    if centres.ndim != 1:
        raise ValueError(f"expected one {what} per entry, got an array of shape {centres.shape}")
    return centres, None


def _positive_sizes(sizes: Sequence[int]) -> np.ndarray:
    """The numbers of labelled images as floats for a log axis; a clear error for an empty or non-positive list."""
    xs = np.asarray(sizes, dtype=float)
    if xs.ndim != 1 or xs.size == 0 or (xs <= 0).any():
        raise ValueError(f"expected a non-empty list of positive sizes, got {list(np.ravel(sizes))}")
    return xs


def _log_size_axis(ax: Any, xs: np.ndarray) -> None:
    """A log x axis with a tick at each measured size, written out in full (1,000, not 10^3)."""
    ax.set_xscale("log")
    ax.set_xticks(xs, labels=[f"{int(x):,}" for x in xs])
    ax.minorticks_off()


def accuracy_vs_size(sizes: Sequence[int], curves: Mapping[str, Sequence[Any]], title: str | None = None,
                     xlabel: str = "labelled training images (log scale)") -> Any:
    """Accuracy against the number of labelled images (log x), one line per approach; a shaded band shows
    each point's interval when the values carry one (``Score`` or ``Spread``). A curve may be shorter than
    ``sizes`` only by missing its first points: pass None there."""
    import matplotlib.pyplot as plt

    xs = _positive_sizes(sizes)
    if not curves:
        raise ValueError("expected at least one curve, got an empty dict")
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for name, values in curves.items():
        if len(values) != len(xs):
            raise ValueError(f"curve {name!r}: expected one accuracy per size ({len(xs)}), got {len(values)}")
        present = [i for i, value in enumerate(values) if value is not None]
        centres, ranges = _centres_and_ranges([values[i] for i in present], "accuracy")
        line, = ax.plot(xs[present], centres, marker="o", label=name)
        if ranges is not None:
            ax.fill_between(xs[present], centres - ranges[0], centres + ranges[1], color=line.get_color(), alpha=0.2)
    _log_size_axis(ax, xs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy")
    ax.set_title(title or "accuracy vs number of labelled images")
    ax.legend()
    return fig


def layer_comparison(names: Sequence[str], accuracies: Sequence[Any], title: str | None = None,
                     highlight: str | None = None, xlabel: str = "accuracy") -> Any:
    """Horizontal bars, one per name, each labelled with its value; error bars when the values carry an
    interval (``Score`` or ``Spread``). ``highlight`` (default: the highest) is drawn in the accent colour."""
    import matplotlib.pyplot as plt

    values, ranges = _centres_and_ranges(list(accuracies), "accuracy")
    if len(names) != len(values) or len(values) == 0:
        raise ValueError(f"expected one accuracy per name: {len(names)} names, {values.size} accuracies")
    if not np.isfinite(values).all():
        raise ValueError(f"expected finite accuracies, got {values.tolist()}")
    best = list(names).index(highlight) if highlight is not None else int(np.argmax(values))
    colours = [BEST_COLOUR if i == best else OTHER_COLOUR for i in range(len(values))]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(values) + 1.2))
    bars = ax.barh([str(name) for name in names], values, color=colours, xerr=ranges, capsize=3 if ranges is not None else 0)
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=3, fontsize=8)
    ax.invert_yaxis()  # first name on top, in the order given
    ax.set_xlim(0, max(1.0, float(values.max())) * 1.12)
    ax.set_xlabel(xlabel)
    ax.set_title(title or f"accuracy per layer (highlighted: {names[best]})")
    return fig


def value_histogram(arrays: Mapping[str, Any], title: str | None = None) -> Any:
    """One histogram panel per named array, titled with its value range."""
    import matplotlib.pyplot as plt

    if not arrays:
        raise ValueError("expected a dict of name -> array, got an empty dict")
    flat = {}
    for name, array in arrays.items():
        values = np.asarray(array, dtype=float).ravel()
        if values.size == 0:
            raise ValueError(f"array {name!r}: expected at least one value, got an empty array")
        flat[name] = values[np.isfinite(values)]
        if flat[name].size == 0:
            raise ValueError(f"array {name!r}: expected finite values, got only NaN/inf")
    fig, axes = plt.subplots(1, len(flat), figsize=(3.6 * len(flat), 3), squeeze=False)
    for ax, (name, values) in zip(axes[0], flat.items()):
        ax.hist(values, bins=50)
        ax.set_title(f"{name}\n[{values.min():.3g}, {values.max():.3g}]", fontsize=9)
        ax.set_xlabel("value")
    axes[0][0].set_ylabel("count")
    if title:
        fig.suptitle(title)
    return fig


def accuracy_over_seeds(sizes: Sequence[int], runs: Mapping[str, Sequence[Sequence[float]]],
                        title: str | None = None) -> Any:
    """Test accuracy against the number of labelled images (log x): for each approach, one dot per
    seed and a line through the means, so overlapping seed ranges are visible at a glance."""
    import matplotlib.pyplot as plt

    xs = _positive_sizes(sizes)
    if not runs:
        raise ValueError("expected at least one approach, got an empty dict")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for index, (name, per_size) in enumerate(runs.items()):
        if len(per_size) != len(xs) or any(len(values) == 0 for values in per_size):
            raise ValueError(f"{name!r}: expected a non-empty list of accuracies (one per seed) for each of the "
                             f"{len(xs)} sizes, got {[len(values) for values in per_size]}")
        shift = 1 + 0.03 * (index - (len(runs) - 1) / 2)  # side by side, so dots of equal values stay visible
        line = ax.plot(xs * shift, [np.mean(values) for values in per_size], marker="_", markersize=14, label=name)
        for x, values in zip(xs * shift, per_size):
            ax.scatter([x] * len(values), values, s=14, color=line[0].get_color(), alpha=0.7)
    _log_size_axis(ax, xs)
    ax.set_xlabel("labelled training images (log scale)")
    ax.set_ylabel("test accuracy (dots: seeds; line: mean)")
    ax.set_title(title or "test accuracy over seeds")
    ax.legend(fontsize=8)
    return fig
