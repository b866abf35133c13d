"""Training data validated at the edge: ``check_xy``.

Used by ``train``, ``train_many`` and ``verify`` before any arithmetic, so that bad
data is one clear ``DataError`` naming the row and column, not a NumPy traceback.
"""

from __future__ import annotations

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.errors import DataError
from retroprop.i18n import _


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
            _(
                "{what} must be a non-empty 2-D array (n_samples, n_features), got shape "
                "{shape}"
            ).format(what=what, shape=X.shape)
        )
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(
            _("{what} must be numeric, got dtype {dtype}").format(
                what=what, dtype=X.dtype
            )
        )
    # min and max are NaN or +-inf exactly when some value is: two passes, no copy.
    bad: list | np.ndarray = (
        []
        if np.isfinite(X.min()) and np.isfinite(X.max())
        else np.argwhere(~np.isfinite(X))
    )
    if len(bad):
        r, c = bad[0]
        raise DataError(
            _(
                "{what} has a non-finite value ({value}) at row {r}, column {c}; remove or "
                "fill it before training"
            ).format(what=what, value=X[r, c], r=r, c=c)
        )
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise DataError(
            _("y must have shape ({shape},) to match {what}, got {shape2}").format(
                shape=X.shape[0], what=what, shape2=y.shape
            )
        )
    if net is None:
        return X, y
    if X.shape[1] != net.in_features:
        raise DataError(
            _("{what} has {shape} features, the network expects {in_features}").format(
                what=what, shape=X.shape[1], in_features=net.in_features
            )
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
                _(
                    "y must hold integer class labels 0..{last} for {loss} with {k} "
                    "outputs, got dtype {dtype}; encode the classes as integers "
                    "(rp.datasets.load_csv does)"
                ).format(last=k - 1, loss=loss, k=k, dtype=y.dtype)
            )
        if y.min() < 0 or y.max() >= k:
            raise DataError(
                _("y must hold classes 0..{last}, got {low}..{high}").format(
                    last=k - 1, low=y.min(), high=y.max()
                )
            )
    elif (
        not np.issubdtype(y.dtype, np.number) or not np.isfinite(y.astype(float)).all()
    ):
        raise DataError(
            _(
                "y must hold finite numbers for {loss} regression, got dtype {dtype}"
            ).format(loss=loss, dtype=y.dtype)
        )
    return X, y
