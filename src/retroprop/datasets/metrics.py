"""Scores of a regression: R², mean absolute error, root mean squared error."""

from __future__ import annotations

import numpy as np


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``{"r2", "mae", "rmse"}`` of predictions ``y_pred`` of shape (n,) against
    ``y_true`` of shape (n,), as scikit-learn's ``r2_score``,
    ``mean_absolute_error`` and the square root of ``mean_squared_error``.

    R² = 1 - sum (y - y_hat)^2 / sum (y - mean(y))^2: 1 is perfect, 0 is what
    predicting the mean gives. With a constant ``y_true`` it is 1.0 for perfect
    predictions and 0.0 otherwise (scikit-learn's convention).
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    err = y_true - y_pred
    ss_res = float(np.sum(err**2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    if ss_tot == 0.0:
        r2 = 1.0 if ss_res == 0.0 else 0.0
    else:
        r2 = 1.0 - ss_res / ss_tot
    return {
        "r2": r2,
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
    }
