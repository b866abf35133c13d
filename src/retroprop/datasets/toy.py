"""Two-dimensional toy datasets, as in TensorFlow Playground: xor, circle, gauss,
spiral and moons.

Each generator returns a ``Dataset`` with ``X`` of shape ``(n_samples, 2)`` (features
``x1``, ``x2``) and ``y`` of shape ``(n_samples,)`` with two classes ``0`` and ``1``.
They are pure NumPy and deterministic from ``seed``; ``noise`` is the standard
deviation of the Gaussian jitter added to every point, in the data's own units.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from retroprop.datasets.dataset import Dataset
from retroprop.engine.init import as_generator
from retroprop.errors import ConfigError
from retroprop.i18n import _


def _finish(
    name: str, X: np.ndarray, y: np.ndarray, rng: np.random.Generator, noise: float
) -> Dataset:
    X = X + rng.normal(0.0, noise, size=X.shape)
    return Dataset(
        X=X.astype(np.float64),
        y=y.astype(np.int64),
        feature_names=["x1", "x2"],
        class_names=["0", "1"],
        name=name,
    )


def xor(n: int, noise: float, rng: np.random.Generator) -> Dataset:
    """Uniform points in the square [-1, 1]^2; class 1 where ``x1 * x2 < 0``."""
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    # a margin from the axes, as TensorFlow Playground does, so the classes separate
    X += np.sign(X) * 0.05
    return _finish("xor", X, (X[:, 0] * X[:, 1] < 0).astype(int), rng, noise)


def circle(n: int, noise: float, rng: np.random.Generator) -> Dataset:
    """Class 0 inside radius 0.5, class 1 on a ring of radius 0.7..1."""
    half = n // 2
    r = np.concatenate([rng.uniform(0.0, 0.5, half), rng.uniform(0.7, 1.0, n - half)])
    angle = rng.uniform(0.0, 2 * np.pi, n)
    X = np.column_stack([r * np.cos(angle), r * np.sin(angle)])
    y = np.r_[np.zeros(half, int), np.ones(n - half, int)]
    return _finish("circle", X, y, rng, noise)


def gauss(n: int, noise: float, rng: np.random.Generator) -> Dataset:
    """Two Gaussian blobs (standard deviation 0.3) centred at (0.5, 0.5) and
    (-0.5, -0.5), class 0 and class 1."""
    half = n // 2
    X = np.concatenate(
        [
            rng.normal(0.5, 0.3, size=(half, 2)),
            rng.normal(-0.5, 0.3, size=(n - half, 2)),
        ]
    )
    y = np.r_[np.zeros(half, int), np.ones(n - half, int)]
    return _finish("gauss", X, y, rng, noise)


def spiral(n: int, noise: float, rng: np.random.Generator) -> Dataset:
    """Two interleaved spirals, one turn and a half each."""
    half = n // 2
    parts = []
    for k, m in enumerate((half, n - half)):
        t = np.linspace(0.0, 1.0, m)
        r = 0.05 + 0.95 * t
        angle = 3 * np.pi * t + k * np.pi
        parts.append(np.column_stack([r * np.cos(angle), r * np.sin(angle)]))
    y = np.r_[np.zeros(half, int), np.ones(n - half, int)]
    return _finish("spiral", np.concatenate(parts), y, rng, noise)


def moons(n: int, noise: float, rng: np.random.Generator) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons`` shape)."""
    half = n // 2
    a = rng.uniform(0.0, np.pi, half)
    b = rng.uniform(0.0, np.pi, n - half)
    X = np.concatenate(
        [
            np.column_stack([np.cos(a), np.sin(a)]),
            np.column_stack([1.0 - np.cos(b), 0.5 - np.sin(b)]),
        ]
    )
    y = np.r_[np.zeros(half, int), np.ones(n - half, int)]
    return _finish("moons", X, y, rng, noise)


TOY: dict[str, Callable[[int, float, np.random.Generator], Dataset]] = {
    "xor": xor,
    "circle": circle,
    "gauss": gauss,
    "spiral": spiral,
    "moons": moons,
}
"""Name -> generator. The keys are the allowed ``make_toy`` names."""


def make_toy(
    name: str,
    n_samples: int = 200,
    *,
    noise: float = 0.1,
    seed: int | np.random.Generator | None = 0,
) -> Dataset:
    """A 2-D toy dataset by name.

    Parameters
    ----------
    name : str
        A key of ``TOY``: ``"xor"``, ``"circle"``, ``"gauss"``, ``"spiral"``, ``"moons"``.
    n_samples : int
        At least 4 (two per class).
    noise : float
        Standard deviation of the Gaussian jitter, >= 0.
    seed : int, Generator or None
        The same int gives the same points.

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 2)``, ``y`` of shape ``(n_samples,)`` in {0, 1}.
    """
    if name not in TOY:
        raise ConfigError(
            _("toy dataset must be one of {value}, got {name!r}").format(
                value=", ".join(TOY), name=name
            )
        )
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise ConfigError(
            _("n_samples must be an integer >= 4, got {n_samples!r}").format(
                n_samples=n_samples
            )
        )
    if n_samples < 4:
        raise ConfigError(
            _("n_samples must be an integer >= 4, got {n_samples}").format(
                n_samples=n_samples
            )
        )
    if not (isinstance(noise, (int, float)) and np.isfinite(noise) and noise >= 0):
        raise ConfigError(
            _("noise must be a number >= 0, got {noise!r}").format(noise=noise)
        )
    return TOY[name](int(n_samples), float(noise), as_generator(seed))
