"""How ``train`` drives an engine: the ``Runner`` interface and the NumPy engine's.

``train`` keeps the loop over epochs (sample order, History, callbacks' epoch hooks,
the epoch-end divergence check); a runner does one epoch's iterations and measures
the network. ``EngineRunner`` runs each iteration as the shared ``TrainingStep``
and calls the per-iteration hooks; the compiled runners of ``retroprop.fast``
(``fast.single.make_runner``) implement the same two methods.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.training.callbacks import Callback, TrainState
from retroprop.training.step import TrainingStep, evaluate, loss_targets

ENGINES = ("auto", "fast", "numpy")
"""The allowed ``engine=`` values of ``train`` and ``train_many``."""

HISTORY_KINDS = ("auto", "full", "running")
"""The allowed ``history=`` values of ``train``: what ``History.loss`` measures."""

FULL_HISTORY_WORK = 100_000_000
"""Under ``history="auto"``, the full training-set loss is measured after each epoch
while samples times parameters (the multiply-adds of that forward pass) stay below
this: a few milliseconds per epoch. Above it, the running loss costs nothing."""


def history_kind(history: str, n_samples: int, n_parameters: int) -> str:
    """``"full"`` or ``"running"`` for ``train(history=...)`` (``"auto"`` resolved)."""
    if history != "auto":
        return history
    return "full" if n_samples * n_parameters <= FULL_HISTORY_WORK else "running"


class Runner(Protocol):
    """One epoch of training, and the measurement after it."""

    name: str  # which engine it is: "numpy", "fast" or "blas" (``History.engine``)
    # (mean loss, accuracy) over the last epoch's batches, each measured before its
    # update: what History records under history="running"
    running: tuple[float, float]

    def run_epoch(self, order: np.ndarray, epoch: int, iteration: int) -> int:
        """Train on the samples in ``order`` (shape ``(n,)``, cut into batches);
        ``iteration`` is the number of updates made before. Returns the number
        after. Raises ``DivergenceError`` naming ``epoch`` and the iteration."""
        ...

    def evaluate(
        self, net: Sequential, X: np.ndarray, y: np.ndarray, loss: str
    ) -> tuple[float, float]:
        """``(mean loss, accuracy)`` of ``net`` on ``X, y`` (as ``evaluate``)."""
        ...


def epoch_order(rng: np.random.Generator, n: int, shuffle: bool) -> np.ndarray:
    """The order in which one epoch visits the ``n`` samples: a new permutation from
    ``rng`` when shuffling, else ``0..n-1``. Every loop that must reproduce
    ``train``'s batches draws them with this."""
    return rng.permutation(n) if shuffle else np.arange(n)


def batches(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """``order`` cut into batches of ``batch_size`` (the last may be smaller)."""
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


class EngineRunner:
    """The NumPy engine (the reference) as a ``Runner``.

    Parameters
    ----------
    net : Sequential
    X : ndarray of shape (n_samples, n_features), in the network's dtype
    y : ndarray of shape (n_samples,)
    loss : str
        A key of ``LOSSES``.
    batch_size : int
    optimizer : SGD
        Its state (momentum) is kept across epochs and runners.
    callbacks : iterable of Callback
        Their ``on_iteration_begin``/``on_iteration_end`` run around every step.
    state : TrainState or None
        What the callbacks are shown (``iteration`` and ``batch`` are set here).
    """

    name = "numpy"

    def __init__(
        self,
        net: Sequential,
        X: np.ndarray,
        y: np.ndarray,
        *,
        loss: str,
        batch_size: int,
        optimizer,
        callbacks: Iterable[Callback] = (),
        state: TrainState | None = None,
    ):
        self.X, self.y, self.batch_size = X, y, int(batch_size)
        self.step = TrainingStep(net, loss, optimizer)
        self.callbacks = list(callbacks)
        self.state = state if state is not None else TrainState(net=net)
        self.running = (math.nan, math.nan)

    def run_epoch(self, order: np.ndarray, epoch: int, iteration: int) -> int:
        state = self.state
        total, correct = 0.0, 0
        for idx in batches(order, self.batch_size):
            iteration += 1
            state.iteration, state.batch = iteration, idx
            for cb in self.callbacks:
                cb.on_iteration_begin(state)
            loss = self.step(self.X[idx], self.y[idx], epoch=epoch, iteration=iteration)
            total += loss * len(idx)  # the batch's mean loss, back to a sum
            correct += self._correct(idx)
            for cb in self.callbacks:
                cb.on_iteration_end(state)
        n = max(len(order), 1)
        self.running = (total / n, correct / n)
        return iteration

    def _correct(self, idx: np.ndarray) -> int:
        """How many of the batch's samples the network (before its update) put in
        their class, read from what the loss cached: softmax ``p`` for
        cross-entropy, ``out - target`` for MSE."""
        fn, y = self.step.loss_fn, self.y[idx]
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            return 0  # regression targets: no classes
        if hasattr(fn, "p"):
            out = fn.p
        else:
            diff = getattr(fn, "diff", None)  # MSE caches out - target
            if diff is None:
                return 0  # a registered loss that caches neither: not counted
            out = diff + loss_targets(y, diff.shape[1], "mse", diff.dtype)
        return int(np.count_nonzero(np.argmax(out, axis=1) == y))

    def evaluate(
        self, net: Sequential, X: np.ndarray, y: np.ndarray, loss: str
    ) -> tuple[float, float]:
        return evaluate(net, X, y, loss)
