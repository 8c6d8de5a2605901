"""Training with timing (every lesson that quotes a time measures it here), and the course's one
seeded trainer of the small CNN from scratch."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers.data import check_images
from helpers.models import build_scratch_cnn, compile_classifier

if TYPE_CHECKING:
    import keras


@dataclass
class TrainingRun:
    """What one ``fit`` produced: the history, wall-clock seconds in total and per epoch."""

    history: dict[str, list[float]]
    seconds: float
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        """Median epoch time: the first epoch also pays for tracing the graph."""
        return float(np.median(self.epoch_seconds)) if self.epoch_seconds else float("nan")


def _epoch_timer() -> tuple[Any, list[float]]:
    import keras

    times: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            times.append(time.perf_counter() - self._start)

    return EpochTimer(), times


def fit(
    model: Any,
    x: Any,
    y: Any = None,
    epochs: int = 5,
    batch_size: int | None = 64,
    validation_split: float = 0.0,
    validation_data: Any = None,
    callbacks: list[Any] | None = None,
    verbose: int = 0,
    validation_freq: int = 1,
) -> TrainingRun:
    """``model.fit`` with wall-clock timing (no progress bars: verbose 0 or 2); ``validation_freq``: score the
    validation data every that many epochs (early stopping needs 1)."""
    if verbose not in (0, 2):
        raise ValueError(f"verbose must be 0 or 2 (no carriage-return progress bars in notebooks), got {verbose}")
    timer, epoch_seconds = _epoch_timer()
    start = time.perf_counter()
    history = model.fit(
        x, y, epochs=epochs, batch_size=batch_size, validation_split=validation_split,
        validation_data=validation_data, validation_freq=validation_freq, callbacks=[timer, *(callbacks or [])],
        verbose=verbose,
        shuffle=isinstance(x, np.ndarray),  # a tf.data pipeline comes in its own order
    )
    return TrainingRun({k: [float(v) for v in vs] for k, vs in history.history.items()}, time.perf_counter() - start, epoch_seconds)


def early_stopping(patience: int | None, monitor: str = "val_accuracy") -> list[keras.callbacks.Callback]:
    """Stop once ``monitor`` has not improved for ``patience`` epochs and keep the best epoch
    (no callback when ``patience`` is None)."""
    import keras

    if patience is None:
        return []
    return [keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True)]


def predict_classes(model: keras.Model, x: Any, batch_size: int = 256) -> np.ndarray:
    """Predicted class indices (argmax of the logits)."""
    return np.argmax(model.predict(x, batch_size=batch_size, verbose=0), axis=-1)


def accuracy(model: keras.Model, x: Any, y: Any, batch_size: int = 256) -> float:
    """Fraction of ``x`` whose predicted class equals ``y``."""
    labels = np.asarray(y)
    return float(np.mean(predict_classes(model, x, batch_size) == labels))


def train_classifier(
    model: Any,
    x: Any,
    y: Any,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    patience: int | None = None,
    validation_split: float = 0.0,
    validation_data: Any = None,
) -> TrainingRun:
    """Compile ``model`` (Adam at ``learning_rate``, cross-entropy on logits) and fit it, with early stopping
    on validation accuracy when ``patience`` is set (at most ``epochs`` epochs, the best one kept)."""
    if patience is not None and validation_data is None and validation_split <= 0:
        raise ValueError("early stopping (patience) needs validation_data or a validation_split > 0 to watch")
    compile_classifier(model, learning_rate)
    return fit(model, x, np.asarray(y), epochs=epochs, batch_size=batch_size, validation_split=validation_split,
               validation_data=validation_data, callbacks=early_stopping(patience))


def as_channels_last(images: Any) -> np.ndarray:
    """Raw (N, 28, 28) gray images as (N, 28, 28, 1), the scratch CNN's input."""
    array = check_images(images)
    return array[..., np.newaxis] if array.ndim == 3 else array


def train_scratch_cnn(
    images: Any,
    labels: Any,
    epochs: int = 10,
    batch_size: int = 64,
    validation_split: float = 0.2,
    patience: int | None = None,
    learning_rate: float = 1e-3,
    seed: int = 42,
    validation_data: tuple[Any, Any] | None = None,
    start_weights: dict[str, list[np.ndarray]] | None = None,
) -> tuple[Any, TrainingRun]:
    """Train ``helpers.models.build_scratch_cnn`` on raw images, seeded: the same call gives the same model.

    Early stopping on validation accuracy when ``patience`` is set, watching ``validation_data``
    (raw images, labels) when given, else the last ``validation_split`` of the images.

    The CNN is built right after seeding, so its random initial weights depend on ``seed`` alone.
    ``start_weights`` (layer name -> weights, e.g. from a CNN trained on another task) then replace
    those of the named layers; every other layer keeps the seed's random weights. A CNN fine-tuned
    from another's weights and one trained from random weights with the same seed therefore differ
    only in where the copied layers start.
    """
    import keras

    array = as_channels_last(images)
    if len(array) != len(labels):
        raise ValueError(f"expected one label per image: {len(array)} images, {len(labels)} labels")
    keras.utils.set_random_seed(seed)
    model = build_scratch_cnn(array.shape[1:])
    for name, weights in (start_weights or {}).items():
        names = [layer.name for layer in model.layers]
        if name not in names:
            raise ValueError(f"start_weights names layer {name!r}, which the scratch CNN lacks; its layers: {names}")
        model.get_layer(name).set_weights(weights)
    if validation_data is not None:
        validation_data = (as_channels_last(validation_data[0]), np.asarray(validation_data[1]))
    run = train_classifier(model, array, labels, epochs, batch_size, learning_rate, patience,
                           validation_split=0.0 if validation_data is not None else validation_split,
                           validation_data=validation_data)
    return model, run


def copied_weights(model: keras.Model, except_layers: Sequence[str] = ()) -> dict[str, list[np.ndarray]]:
    """Layer name -> weights of every layer of ``model`` that has weights, except ``except_layers``
    (those are reinitialised): what ``train_scratch_cnn(start_weights=...)`` starts from."""
    names = [layer.name for layer in model.layers]
    unknown = [name for name in except_layers if name not in names]
    if unknown:
        raise ValueError(f"{model.name} has no layer(s) {unknown}; its layers: {names}")
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights and layer.name not in except_layers}
