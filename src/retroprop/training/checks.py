"""Training data validated at the edge: ``check_xy``.

Used by ``train``, ``train_many`` and ``verify`` before any arithmetic, so that bad
data is one clear ``DataError`` naming the row and column, not a NumPy traceback.
"""

from __future__ import annotations

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.errors import DataError


def check_xy(
    X: np.ndarray,
    y: np.ndarray,
    net: Sequential | None = None,
    what: str = "X",
    loss: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate training data at the edge.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Finite numbers.
    y : array-like of shape (n_samples,)
        With ``net`` and ``loss``: integer classes ``0..k-1`` for cross-entropy (and for
        MSE against one-hot rows, ``k > 1``), finite numbers for MSE on ``k = 1``
        output. Without ``loss``, integer ``y`` is range-checked as classes.
    net : Sequential or None
        The network the data must fit (``in_features`` columns, ``out_features`` k).
    what : str
        How to call ``X`` in messages.
    loss : str or None
        A key of ``LOSSES``.

    Returns
    -------
    X, y : ndarray
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise DataError(
            f"{what} must be a non-empty 2-D array (n_samples, n_features), "
            f"got shape {X.shape}"
        )
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"{what} must be numeric, got dtype {X.dtype}")
    # min and max are NaN or +-inf exactly when some value is: two passes, no copy.
    bad: list | np.ndarray = (
        []
        if np.isfinite(X.min()) and np.isfinite(X.max())
        else np.argwhere(~np.isfinite(X))
    )
    if len(bad):
        r, c = bad[0]
        raise DataError(
            f"{what} has a non-finite value ({X[r, c]}) at row {r}, column {c}; "
            f"remove or fill it before training"
        )
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise DataError(
            f"y must have shape ({X.shape[0]},) to match {what}, got {y.shape}"
        )
    if net is None:
        return X, y
    if X.shape[1] != net.in_features:
        raise DataError(
            f"{what} has {X.shape[1]} features, the network expects {net.in_features}"
        )
    k = net.out_features
    classes = (
        np.issubdtype(y.dtype, np.integer)
        if loss is None
        else (loss == "cross_entropy" or k > 1)
    )
    if classes:
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"y must hold integer class labels 0..{k - 1} for {loss} with {k} "
                f"outputs, got dtype {y.dtype}; encode the classes as integers "
                f"(rp.datasets.load_csv does)"
            )
        if y.min() < 0 or y.max() >= k:
            raise DataError(f"y must hold classes 0..{k - 1}, got {y.min()}..{y.max()}")
    elif (
        not np.issubdtype(y.dtype, np.number) or not np.isfinite(y.astype(float)).all()
    ):
        raise DataError(
            f"y must hold finite numbers for {loss} regression, got dtype {y.dtype}"
        )
    return X, y
