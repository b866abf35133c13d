"""One training iteration, written once: forward, loss, backward, checked update.

``TrainingStep`` is what ``train`` (NumPy engine), ``partial_fit``, ``verify`` and
``advance_to_step`` (``explain --step``) run for every batch; the compiled paths in
``retroprop.fast`` run the same equations and are tested against it. Divergence
(too large an eta: the loss or a parameter becomes inf or NaN) is detected here and
raised as ``DivergenceError.at(epoch, iteration, lr, ...)``, the one message every
training path gives.
"""

from __future__ import annotations

import math

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.engine.losses import LOSSES
from retroprop.errors import DivergenceError


def loss_targets(y: np.ndarray, k: int, loss: str, dtype) -> np.ndarray:
    """What the loss compares the network's ``k`` outputs with.

    Cross-entropy: the class indices ``y`` of shape ``(n,)`` as they are. MSE: rows of
    shape ``(n, k)`` in ``dtype``: one-hot rows when ``y`` holds classes of a
    classifier (``k > 1``), else the target values themselves.
    """
    if loss != "mse":
        return y
    if k > 1 and y.ndim == 1:
        onehot = np.zeros((len(y), k), dtype=dtype)
        onehot[np.arange(len(y)), y] = 1.0
        return onehot
    t = np.asarray(y, dtype=dtype)
    return t.reshape(-1, 1) if t.ndim == 1 else t


def divergence_is_checked() -> np.errstate:
    """Let overflow and NaN through silently where training checks for them itself.

    Too large an eta shows as an overflow (inf) and then NaN in the forward pass, the
    loss, the gradients or the update. The training step tests the loss and every new
    parameter with ``isfinite`` and raises ``DivergenceError``, so NumPy's own
    warnings (or ``FloatingPointError`` under a caller's strict ``np.errstate``) would
    only hide that clear message behind a less useful one.
    """
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def check_loss(value: float, *, epoch: int, iteration: int, lr: float) -> None:
    """Raise ``DivergenceError`` when a measured loss is not finite."""
    if not math.isfinite(value):
        raise DivergenceError.at(epoch, iteration, lr, f"the loss became {value}")


def evaluate(
    net: Sequential, X: np.ndarray, y: np.ndarray, loss: str = "cross_entropy"
) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of ``net`` on ``X`` of shape ``(n, n_features)`` and
    ``y`` of shape ``(n,)``."""
    out = net(X)
    return float(
        LOSSES[loss]()(out, loss_targets(y, out.shape[1], loss, out.dtype))
    ), float(np.mean(np.argmax(out, axis=1) == y))


class TrainingStep:
    """One iteration of gradient descent on the engine's modules.

    ``step(X_batch, y_batch, epoch=e, iteration=i)`` runs the forward pass, the loss,
    the backward pass and the optimiser's update, and returns the batch's loss
    (measured before the update). The gradients stay in ``Parameter.grad`` until the
    next step (``verify`` compares them with PyTorch's).

    Parameters
    ----------
    net : Sequential
        Trained in place.
    loss : str
        A key of ``LOSSES``.
    optimizer : SGD (or any optimiser with ``lr``, ``zero_grad`` and ``step``)
        Kept by the caller, so momentum carries over between steps (and between
        ``partial_fit`` calls).

    Raises
    ------
    DivergenceError
        From ``__call__``, when the batch's loss is not finite (nothing is updated)
        or the update would make a parameter non-finite (the optimiser refuses it as
        a whole); it names ``epoch``, ``iteration`` and the learning rate.
    """

    def __init__(self, net: Sequential, loss: str, optimizer):
        self.net, self.loss, self.optimizer = net, loss, optimizer
        self.loss_fn = LOSSES[loss]()

    def __call__(
        self, X: np.ndarray, y: np.ndarray, *, epoch: int, iteration: int
    ) -> float:
        """One step on ``X`` of shape ``(B, n_features)`` and ``y`` of shape ``(B,)``
        (classes) or ``(B,)``/``(B, k)`` (MSE targets); ``epoch`` and ``iteration``
        (1-based) are only for the error message."""
        with divergence_is_checked():
            out = self.net(X)  # forward: z = a_prev @ W.T + b, a = f(z), layer by layer
            loss = self.loss_fn(
                out, loss_targets(y, out.shape[1], self.loss, out.dtype)
            )
        if not math.isfinite(loss):
            lr = float(self.optimizer.lr)
            raise DivergenceError.at(epoch, iteration, lr, f"the loss became {loss}")
        self.optimizer.zero_grad()
        try:
            with divergence_is_checked():
                # backward: delta = dL/dz from the loss down, grad_W and grad_b
                self.net.backward(self.loss_fn.backward())
                self.optimizer.step()  # w <- w - eta dL/dw, refused if non-finite
        except DivergenceError:
            raise DivergenceError.at(
                epoch,
                iteration,
                float(self.optimizer.lr),
                "an update made a parameter non-finite",
            ) from None
        return loss
