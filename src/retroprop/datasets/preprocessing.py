"""A seeded stratified split and a standardiser fitted on training data only."""

from __future__ import annotations

import numpy as np

from retroprop.engine.init import as_generator
from retroprop.errors import ConfigError, DataError
from retroprop.i18n import _


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    *,
    test_size: float = 0.2,
    seed: int | np.random.Generator | None = 0,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into ``X_train, X_test, y_train, y_test``, keeping class proportions.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    test_size : float in (0, 1)
        Fraction of each class held out (rounded, at least one sample of each class in
        each part), so the test part is ``test_size`` of the rows to within one row
        per class.
    seed : int or Generator
        The split is a pure function of the seed.
    stratify : bool
        Split each class separately (default) or the whole set at once (for
        regression targets).

    Raises
    ------
    DataError
        When stratifying and a class has a single sample: it cannot be in both parts.
    """
    if not 0.0 < test_size < 1.0:
        raise ConfigError(
            _(
                "test_size must be between 0 and 1 (exclusive), got {test_size!r}"
            ).format(test_size=test_size)
        )
    X, y = np.asarray(X), np.asarray(y)
    rng = as_generator(seed)
    groups = (
        [np.flatnonzero(y == c) for c in np.unique(y)]
        if stratify
        else [np.arange(len(y))]
    )
    if stratify:
        sizes = [len(idx) for idx in groups]
        if sizes and min(sizes) < 2:
            c = np.unique(y)[int(np.argmin(sizes))]
            raise DataError(
                _(
                    "class {c} has a single sample: a stratified split needs at least 2 per "
                    "class (one to train on, one to test); add samples of it or remove it"
                ).format(c=c)
            )
    test = []
    for idx in groups:
        idx = rng.permutation(idx)
        k = round(test_size * len(idx))
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        test.append(idx[:k])
    test_idx = np.sort(np.concatenate(test)) if test else np.array([], dtype=int)
    mask = np.ones(len(y), dtype=bool)
    mask[test_idx] = False
    if not mask.any() or mask.all():
        raise DataError(
            _(
                "cannot split {n_y} samples into a train and a test part; use more data "
                "or another --test-size"
            ).format(n_y=len(y))
        )
    return X[mask], X[~mask], y[mask], y[~mask]


def _power_of_two(x: np.ndarray) -> np.ndarray:
    """``2**k`` with ``2**k <= x < 2**(k + 1)`` per element (1 for 0, inf or NaN)."""
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x) & (x > 0)
    _, exponent = np.frexp(np.where(finite, x, 1.0))
    return np.where(finite, np.ldexp(1.0, exponent - 1), 1.0)


class Standardizer:
    """``(X - mean) / scale`` per feature, with ``mean`` and ``scale`` from ``fit``.

    A feature that is constant in the training data gets ``scale = 1``. Constant
    means a spread that is rounding noise relative to the feature's own size (as
    scikit-learn's ``_handle_zeros_in_scale``): a feature measured in units of 1e-15
    is standardised like one in units of 1, and one near 1e300 without overflow.

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (n_features,)
    """

    def __init__(self, mean: np.ndarray | None = None, scale: np.ndarray | None = None):
        self.mean_ = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale_ = None if scale is None else np.asarray(scale, dtype=np.float64)

    def fit(self, X: np.ndarray) -> Standardizer:
        """Learn ``mean_`` and ``scale_`` from ``X`` of shape ``(n, n_features)``."""
        X = np.asarray(X, dtype=np.float64)
        # Each column divided by a power of two at its largest magnitude: exact, and
        # the squares below neither overflow (1e300**2) nor underflow (1e-200**2).
        unit = _power_of_two(np.max(np.abs(X), axis=0, initial=0.0))
        Xs = X / unit
        mean = Xs.mean(axis=0)
        mean = mean + (Xs - mean).mean(axis=0)  # one correction: within an ulp
        std = np.sqrt(np.mean((Xs - mean) ** 2, axis=0))
        self.mean_ = mean * unit
        scale = std * unit
        # A constant column's std is rounding noise (0.1 ten times gives 1.4e-17), not
        # 0; dividing by it would blow 1e-7 changes up to O(1e10). Noise is relative
        # to the column's own magnitude (its mean), never an absolute floor, so a
        # feature at 1e-15 keeps its spread.
        noise = 10 * np.finfo(np.float64).eps * np.abs(self.mean_)
        self.scale_ = np.where(scale > noise, scale, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean_) / scale_``: ``(n, n_features) -> (n, n_features)``, float64."""
        mean, scale = self._fitted()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != mean.shape[0]:
            raise DataError(
                _("expected {shape} features, got data of shape {shape2}").format(
                    shape=mean.shape[0], shape2=X.shape
                )
            )
        # Divided by the scale's power of two first, so that X - mean cannot overflow
        # for features near the largest float; exact, so ordinary data gives the
        # same bits as (X - mean_) / scale_.
        unit = _power_of_two(scale)
        return (X / unit - mean / unit) / (scale / unit)

    def _fitted(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean_ is None or self.scale_ is None:
            raise ConfigError(_("Standardizer is not fitted; call fit(X_train) first"))
        return self.mean_, self.scale_

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def to_dict(self) -> dict:
        mean, scale = self._fitted()
        return {"mean": mean.tolist(), "scale": scale.tolist()}

    def __repr__(self) -> str:
        if self.mean_ is None or self.scale_ is None:
            return "Standardizer(not fitted)"
        from retroprop.display import fmt
        from retroprop.i18n import list_separator

        def row(v: np.ndarray) -> str:  # "; " between numbers with decimal commas
            return "[" + list_separator().join(fmt(x, 4) for x in v) + "]"

        return f"Standardizer(mean={row(self.mean_)}, scale={row(self.scale_)})"

    @classmethod
    def from_dict(cls, d: dict) -> Standardizer:
        return cls(
            np.asarray(d["mean"], dtype=np.float64),
            np.asarray(d["scale"], dtype=np.float64),
        )
