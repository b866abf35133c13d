"""Loss functions on a network's output, each with its backward beside its forward.

``LOSSES`` maps the names used by ``train``, the command line and the estimators to
the classes.
"""

from __future__ import annotations

import numpy as np

from retroprop.errors import ConfigError

REDUCTIONS = ("mean", "sum")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``ln p_i = y_i - ln sum_j e^{y_j}`` by log-sum-exp: finite for any finite input.

    Shape ``(n, k) -> (n, k)``. Subtracting each row's maximum first means the largest
    exponent is ``e^0 = 1``, so nothing overflows and the sum is at least 1.
    """
    # When a row spans more than the float range (1e308 and -1e308) the subtraction
    # rounds to -inf: that class's p is 0 and its ln p is -inf, the correctly rounded
    # value; every other entry stays exact, so this is not an error.
    with np.errstate(over="ignore"):
        shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """``p_i = e^{y_i} / sum_j e^{y_j}``, shape ``(n, k) -> (n, k)``."""
    return np.exp(log_softmax(logits))


def _check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ConfigError(
            f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}"
        )
    return reduction


class CrossEntropyLoss:
    """Softmax followed by cross-entropy, on logits, like ``torch.nn.CrossEntropyLoss``.

    ``L = -ln p_r`` for each sample, ``r`` its true class; averaged over the batch
    (``reduction="mean"``, default) or summed (``"sum"``).
    """

    name = "cross_entropy"

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction(reduction)

    def __call__(self, logits: np.ndarray, y: np.ndarray) -> float:
        return self.forward(logits, y)

    def forward(self, logits: np.ndarray, y: np.ndarray) -> float:
        """The loss as a Python float.

        Parameters
        ----------
        logits : ndarray of shape (n, k)
        y : ndarray of shape (n,)
            Integer classes in ``0..k-1``.
        """
        y = np.asarray(y)
        n, k = logits.shape
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise ConfigError(
                f"CrossEntropyLoss needs integer targets of shape ({n},), got "
                f"{y.dtype} of shape {y.shape}"
            )
        if n and (y.min() < 0 or y.max() >= k):
            raise ConfigError(
                f"targets must be classes 0..{k - 1}, got {y.min()}..{y.max()}"
            )
        log_p = log_softmax(logits)
        self.p, self.y = np.exp(log_p), y
        losses = -log_p[np.arange(n), y]  # L = -ln p_r, one per sample
        return float(losses.mean() if self.reduction == "mean" else losses.sum())

    def backward(self) -> np.ndarray:
        """``dL/dy_i = p_i - delta_ri`` per sample (over ``n`` for the mean), ``(n, k)``.

        The lecture's chain ``dL/dp_r * dp_r/dy_i = (-1/p_r) * p_r (delta_ri - p_i)``
        simplifies to this.
        """
        delta = self.p.copy()
        n = delta.shape[0]
        delta[np.arange(n), self.y] -= 1.0
        if self.reduction == "mean":
            delta /= n
        return delta


class MSELoss:
    """Mean squared error, like ``torch.nn.MSELoss``: ``mean((out - target)^2)``.

    ``reduction="mean"`` averages over every element (samples times outputs), as torch.
    """

    name = "mse"

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction(reduction)

    def __call__(self, out: np.ndarray, target: np.ndarray) -> float:
        return self.forward(out, target)

    def forward(self, out: np.ndarray, target: np.ndarray) -> float:
        """The loss as a Python float.

        Parameters
        ----------
        out : ndarray of shape (n, k)
        target : ndarray of shape (n, k), or (n,) when ``k == 1``
        """
        target = np.asarray(target, dtype=out.dtype)
        if target.ndim == 1 and out.shape[1] == 1:
            target = target.reshape(-1, 1)
        if target.shape != out.shape:
            raise ConfigError(
                f"MSELoss target has shape {target.shape}, output has {out.shape}"
            )
        self.diff = out - target
        sq = self.diff * self.diff
        return float(sq.mean() if self.reduction == "mean" else sq.sum())

    def backward(self) -> np.ndarray:
        """``dL/dout = 2 (out - target)``, over ``n * k`` for the mean; ``(n, k)``."""
        g = 2.0 * self.diff
        if self.reduction == "mean":
            g /= self.diff.size
        return g


LOSSES: dict[str, type] = {"cross_entropy": CrossEntropyLoss, "mse": MSELoss}
"""Loss name -> class. The keys are the allowed ``loss=`` values."""
