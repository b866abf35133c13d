"""What the compiled runners share: the network's parameters as one flat vector.

``FlatParameters`` is the base of ``single.FastRunner`` and ``blas.BlasRunner``: the
parameters are views of one vector ``theta`` (so updates in place are the network's),
and the training labels are prepared once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.training.callbacks import recorded_by_runner
from retroprop.training.step import loss_targets


class FlatParameters:
    """What both runners share: the network's parameters as views of one flat
    vector ``theta`` (so in-place updates are the network's), and the targets."""

    net: Sequential
    loss: str
    dtype: np.dtype
    views: dict
    params: dict
    X: np.ndarray  # the training inputs as the runner reads them
    X_given: np.ndarray  # and as train gave them
    y_given: np.ndarray
    layout: Any  # spec.Layout

    def _recording(self, callbacks) -> None:
        """Prepare to record what the ``RecordParameter`` callbacks ask for:
        ``self.record`` the flat positions to copy before each iteration, and per
        recorder its columns among them and its parameter's shape."""
        self.recorders: list[tuple[Any, slice, tuple[int, ...]]] = []
        positions: list[np.ndarray] = []
        start = 0
        for cb in callbacks:
            if not recorded_by_runner(cb):
                continue
            idx = self.layout.indices(cb.name)  # empty for an unknown name, which
            if idx.size == 0:  # the recorder's on_train_begin refuses
                continue
            shape = self.layout.shapes[self.layout.names.index(cb.name)]
            self.recorders.append((cb, slice(start, start + idx.size), shape))
            positions.append(idx)
            start += idx.size
        self.record = (
            np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
        )

    def _hand_over(self, rows: np.ndarray, first_iteration: int, epoch: int) -> None:
        """Give each recorder its columns of ``rows`` (one row per iteration, the
        parameters before it), reshaped to its parameter."""
        for cb, cols, shape in self.recorders:
            cb.add(rows[:, cols].reshape(rows.shape[0], *shape), first_iteration, epoch)

    def _labels(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``y`` as float64 (compared with the argmax, as ``evaluate``) and the MSE
        targets ``T`` of shape ``(n, k)`` (a placeholder for cross-entropy)."""
        k = self.net.out_features
        yf = np.asarray(y, dtype=np.float64)
        if self.loss == "cross_entropy":
            return yf, np.zeros((1, k), dtype=self.dtype)
        return yf, np.ascontiguousarray(
            loss_targets(np.asarray(y), k, self.loss, self.dtype)
        )

    def _loss_max(self) -> float:
        """Above this a summed loss (computed in float64) is non-finite in the
        network's dtype, as the engine computes it: float32's largest value for a
        float32 network, infinity for float64."""
        return float(np.finfo(self.dtype).max) if self.dtype != np.float64 else np.inf

    def _loss_text(self, total: float) -> str:
        """The non-finite loss as the engine reports it (inf where float64 was not)."""
        return str(float(total)) if not math.isfinite(total) else "inf"

    def _is_training_set(self, X: np.ndarray, y: np.ndarray) -> bool:
        """Whether ``(X, y)`` are the training arrays (so their prepared labels apply).

        Only the training array itself has the training labels: a slice or other
        view of it (validation data cut from the same array) has its own y, and the
        same X may come with other labels.
        """
        return (X is self.X or X is self.X_given) and (
            y is self.y_given or np.array_equal(y, self.y_given)
        )

    def _attach(self) -> None:
        """Make the network's parameters views of ``theta`` (copying in any that a
        callback or ``load_state_dict`` replaced)."""
        for name, view in self.views.items():
            p = self.params[name]
            if p.data is not view:
                view[...] = p.data
                p.data = view
