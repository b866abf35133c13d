"""``train``'s fast path: one epoch of one network in compiled code.

``make_runner`` decides whether the fast path applies (``spec.fast_reason``) and
returns an object with ``run_epoch(order, epoch, iteration)`` and ``evaluate(net, X,
y, loss)``; ``train`` keeps its own loop over epochs, History, callbacks and early
stopping, so only the inner loop over batches is swapped.
"""

from __future__ import annotations

import math

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.errors import ConfigError
from retroprop.fast.spec import Layout, fast_reason


def make_runner(
    net: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    *,
    engine: str,
    loss: str,
    optimizer: str,
    callbacks,
    batch_size: int,
    opt,
) -> FastRunner | None:
    """A fast runner for this training run, or None to use the NumPy engine.

    Raises ``ConfigError`` when ``engine="fast"`` and the fast path does not apply.
    """
    reason = fast_reason(net, loss=loss, optimizer=optimizer, callbacks=callbacks, y=y)
    if reason is not None:
        if engine == "fast":
            raise ConfigError(
                f"engine='fast' cannot train this: {reason}; "
                f"use engine='auto' or 'numpy'"
            )
        return None
    if batch_size * Layout.of(net).size >= BLAS_WORK and _have_scipy():
        from retroprop.fast.blas import BlasRunner

        return BlasRunner(net, X, y, loss=loss, batch_size=batch_size, opt=opt)
    return FastRunner(net, X, y, loss=loss, batch_size=batch_size, opt=opt)


def _have_scipy() -> bool:
    """The BLAS runner calls SciPy's BLAS (part of the ``fast`` extra)."""
    try:
        import scipy.linalg.blas  # noqa: F401
    except ImportError:
        return False
    return True


BLAS_WORK = 200_000
"""Batch size times parameter count from which the BLAS runner beats the per-sample
loops (below it the loops' lack of call overhead wins; measured on Iris-sized and
MNIST-sized networks)."""


class FlatParameters:
    """What both runners share: the network's parameters as views of one flat
    vector ``theta`` (so in-place updates are the network's), and the targets."""

    net: Sequential
    loss: str
    dtype: np.dtype
    views: dict
    params: dict

    def _labels(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``y`` as float64 (compared with the argmax, as ``evaluate``) and the MSE
        targets ``T`` of shape ``(n, k)`` (a placeholder for cross-entropy)."""
        from retroprop.train import loss_targets

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


class FastRunner(FlatParameters):
    """Runs ``train``'s epochs with ``kernels.train_epoch`` on a flat copy of the
    parameters; the network's arrays are views into it, so every change is seen.

    Parameters
    ----------
    net : Sequential
    X : ndarray of shape (n, n_features), in the network's dtype
    y : ndarray of shape (n,)
    loss : str
    batch_size : int
    opt : SGD
        Its settings (lr, momentum, dampening, weight_decay, nesterov) are used.
    """

    def __init__(
        self,
        net: Sequential,
        X: np.ndarray,
        y: np.ndarray,
        *,
        loss: str,
        batch_size: int,
        opt,
    ):
        from retroprop.fast import kernels
        from retroprop.fast.spec import LOSS_CODES, Layout

        self.k = kernels
        self.net, self.loss, self.batch_size = net, loss, int(batch_size)
        self.layout = Layout.of(net)
        self.dtype = net.dtype
        self.theta = self.layout.flatten(net)
        self.views = self.layout.views(self.theta)
        self.params = dict(net.named_parameters())
        self._attach()
        dt = self.dtype.type
        self.lr, self.momentum = dt(opt.lr), dt(opt.momentum)
        self.one_minus_damp = dt(1.0 - opt.dampening)
        self.weight_decay, self.nesterov = dt(opt.weight_decay), bool(opt.nesterov)
        self.buf = np.zeros_like(self.theta)
        self.first = np.ones(1, dtype=np.int64)
        self.loss_code = LOSS_CODES[loss]
        self.X_given, self.y_given = X, y  # to recognise the training set in evaluate
        self.X = np.ascontiguousarray(X)
        self.y, self.T = self._labels(y)
        L = self.layout
        self.arch = (L.kinds, L.widths, L.w_off, L.b_off, L.slopes, L.a_off)

    def run_epoch(self, order: np.ndarray, epoch: int, iteration: int) -> int:
        """Train one epoch in ``order``; returns the iteration count after it.

        Raises ``DivergenceError`` as ``train`` does, the parameters left at the last
        finite ones.
        """
        from retroprop.train import _diverged

        self._attach()
        status, its, batch_loss = self.k.train_epoch(
            self.theta,
            self.buf,
            self.first,
            self.X,
            self.y,
            self.T,
            np.ascontiguousarray(order, dtype=np.int64),
            self.batch_size,
            self.lr,
            self.momentum,
            self.one_minus_damp,
            self.weight_decay,
            self.nesterov,
            self.loss_code,
            *self.arch,
            self._loss_max(),
        )
        if status == self.k.LOSS_NOT_FINITE:
            raise _diverged(
                epoch,
                iteration + its,
                float(self.lr),
                f"the loss became {self._loss_text(batch_loss)}",
            )
        if status == self.k.STEP_NOT_FINITE:
            raise _diverged(
                epoch,
                iteration + its,
                float(self.lr),
                "an update made a parameter non-finite",
            )
        return iteration + its

    def evaluate(
        self, net: Sequential, X: np.ndarray, y: np.ndarray, loss: str
    ) -> tuple[float, float]:
        """``(mean loss, accuracy)`` as ``train.evaluate``, compiled."""
        self._attach()
        if self._is_training_set(X, y):
            yf, T = self.y, self.T
        else:
            X = np.ascontiguousarray(X, dtype=self.dtype)
            yf, T = self._labels(y)
        lo, ac = self.k.evaluate(self.theta, X, yf, T, self.loss_code, *self.arch)
        k = 1 if self.loss_code == self.k.CROSS_ENTROPY else self.net.out_features
        if lo * (X.shape[0] * k) > self._loss_max():  # the engine's sum overflows
            lo = np.inf
        return float(lo), float(ac)
