"""Training with timing: every lesson that quotes a time measures it here."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


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


def early_stopping(patience: int | None, monitor: str = "val_accuracy") -> list[Any]:
    """Stop once ``monitor`` has not improved for ``patience`` epochs and keep the best epoch
    (no callback when ``patience`` is None)."""
    import keras

    if patience is None:
        return []
    return [keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True)]


def predict_classes(model: Any, x: Any, batch_size: int = 256) -> np.ndarray:
    """Predicted class indices (argmax of the logits)."""
    return np.argmax(model.predict(x, batch_size=batch_size, verbose=0), axis=-1)


def accuracy(model: Any, x: Any, y: Any, batch_size: int = 256) -> float:
    """Fraction of ``x`` whose predicted class equals ``y``."""
    labels = np.asarray(y)
    return float(np.mean(predict_classes(model, x, batch_size) == labels))
