"""Decision regions of a trained network on two chosen features.

A network sees every feature; to draw its regions on a plane, the two chosen features
vary over a grid and the others are held at their mean over the data. Each grid point
is classified by the network itself (``retroprop.predict``), so the picture is the
network's own decision, not an approximation of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retroprop.datasets.preprocessing import Standardizer
from retroprop.engine.layers import Sequential
from retroprop.errors import ConfigError
from retroprop.experiments.result import Result
from retroprop.i18n import N_, Message, _
from retroprop.jsondata import plain
from retroprop.train import predict, predict_proba


@dataclass
class DecisionBoundary(Result):
    """The network's class at every point of a grid over two features.

    Attributes
    ----------
    features : (int, int)
        Column indices of the two features on the axes.
    feature_names : list of str
        Names of the two features.
    class_names : list of str
    grid_x, grid_y : ndarray of shape (resolution,)
        The axes' values, in the units of the data given.
    inputs : ndarray of shape (resolution * resolution, n_features)
        The points the network classified (row-major over ``grid_y``, then
        ``grid_x``), before standardisation.
    predictions : ndarray of shape (resolution, resolution)
        ``predictions[i, j]``: class at ``(grid_x[j], grid_y[i])``.
    confidence : ndarray of shape (resolution, resolution)
        The largest softmax probability there.
    points : ndarray of shape (n_samples, 2)
        The data on the two features; ``labels`` their classes.
    accuracy : float
        The network's accuracy on the data with all its features (not what the
        picture shows).
    slice_accuracy : float
        The share of the data's points that lie in their own class's region on this
        slice: each point's two features with the others at their mean, as drawn.
    """

    caption = N_("Decision regions of the network over two features")

    features: tuple[int, int]
    feature_names: list[str]
    class_names: list[str]
    grid_x: np.ndarray
    grid_y: np.ndarray
    inputs: np.ndarray
    predictions: np.ndarray
    confidence: np.ndarray
    points: np.ndarray
    labels: np.ndarray
    accuracy: float = float("nan")
    slice_accuracy: float = float("nan")
    extra: dict = field(default_factory=dict)

    @property
    def class_share(self) -> np.ndarray:
        """Share of the drawn plane each class's region covers, shape (n_classes,)."""
        k = len(self.class_names)
        return (
            np.bincount(self.predictions.ravel(), minlength=k)[:k]
            / self.predictions.size
        )

    @property
    def class_points(self) -> np.ndarray:
        """How many of the drawn points belong to each class, shape (n_classes,)."""
        k = len(self.class_names)
        return np.bincount(np.asarray(self.labels, dtype=np.int64), minlength=k)[:k]

    def display_tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        """The share of the drawn plane each class takes, and the accuracies."""
        shares = [
            [c, f"{s:.1%}", int(n)]
            for c, s, n in zip(self.class_names, self.class_share, self.class_points)
        ]
        return [
            (
                Message(
                    N_(
                        "Decision regions on {a} and {b} (other features at their mean)"
                    ),
                    a=self.feature_names[0],
                    b=self.feature_names[1],
                ),
                [N_("class"), N_("share of the plane"), N_("points")],
                shares,
            ),
            (
                "",
                [N_("accuracy"), N_("value")],
                [
                    [N_("network (all features)"), self.accuracy],
                    [
                        N_("points in their own region on this slice"),
                        self.slice_accuracy,
                    ],
                ],
            ),
        ]

    def to_dict(self) -> dict:
        """Every field but ``inputs`` (the grid already gives them), plus
        ``class_share`` and ``class_points``."""
        d = super().to_dict()
        del d["inputs"]
        d["class_share"] = plain(self.class_share)
        d["class_points"] = plain(self.class_points)
        return d

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [[*self.feature_names, "class", "confidence"]]
        for i, gy in enumerate(self.grid_y):
            for j, gx in enumerate(self.grid_x):
                rows.append(
                    [
                        float(gx),
                        float(gy),
                        self.class_names[int(self.predictions[i, j])],
                        float(self.confidence[i, j]),
                    ]
                )
        return rows


def separating_features(X: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """The two features whose class means differ most relative to their spread.

    The ratio of between-class to within-class variance (the one-way ANOVA F
    statistic, up to constants) per feature; the two largest, in column order. For
    Iris these are the petal length and width.
    """
    if X.shape[1] < 2:
        raise ConfigError(
            _(
                "a decision boundary needs at least two features, the data has {shape}"
            ).format(shape=X.shape[1])
        )
    classes = np.unique(y)
    mean = X.mean(axis=0)
    between = sum(
        np.sum(y == c) * (X[y == c].mean(axis=0) - mean) ** 2 for c in classes
    )
    within = sum(
        ((X[y == c] - X[y == c].mean(axis=0)) ** 2).sum(axis=0) for c in classes
    )
    score = between / np.maximum(within, 1e-300)
    a, b = np.argsort(-score, kind="stable")[:2]
    return (int(min(a, b)), int(max(a, b)))


def decision_boundary(
    net: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    features: tuple[int, int] | None = None,
    *,
    standardizer: Standardizer | None = None,
    feature_names: list[str] | None = None,
    class_names: list[str] | None = None,
    resolution: int = 200,
    padding: float = 0.1,
) -> DecisionBoundary:
    """Classify a grid over two features with ``net``.

    Parameters
    ----------
    net : Sequential
    X : ndarray of shape (n_samples, n_features)
        The data, in the units to draw (raw when ``standardizer`` is given).
    y : ndarray of shape (n_samples,)
    features : (int, int) or None
        The two columns on the axes; None picks ``separating_features``.
    standardizer : Standardizer or None
        Applied to the grid's points before the network (the network's own input
        convention); None when ``X`` is already what the network takes.
    feature_names, class_names : list of str or None
    resolution : int
        Grid points per axis (at least 2).
    padding : float
        Margin around the data, as a fraction of each feature's range.

    Returns
    -------
    DecisionBoundary
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n_features = X.shape[1]
    if n_features != net.in_features:
        raise ConfigError(
            _(
                "the data has {n_features} features, the network expects {in_features}"
            ).format(n_features=n_features, in_features=net.in_features)
        )
    if features is None:
        features = separating_features(X, y)
    fx, fy = (int(v) for v in features)
    if fx == fy or not (0 <= fx < n_features and 0 <= fy < n_features):
        raise ConfigError(
            _(
                "features must be two different columns in 0..{value}, got {features}"
            ).format(value=n_features - 1, features=features)
        )
    if resolution < 2:
        raise ConfigError(
            _("resolution must be at least 2, got {resolution}").format(
                resolution=resolution
            )
        )
    feature_names = list(feature_names or [f"x{i}" for i in range(n_features)])
    class_names = list(class_names or [str(i) for i in range(net.out_features)])

    def axis(col: int) -> np.ndarray:
        lo, hi = X[:, col].min(), X[:, col].max()
        pad = padding * (hi - lo) if hi > lo else 1.0
        return np.linspace(lo - pad, hi + pad, resolution)

    gx, gy = axis(fx), axis(fy)
    mx, my = np.meshgrid(gx, gy)  # (resolution, resolution), row i is grid_y[i]
    inputs = np.tile(X.mean(axis=0), (resolution * resolution, 1))
    inputs[:, fx] = mx.ravel()
    inputs[:, fy] = my.ravel()
    net_in = standardizer.transform(inputs) if standardizer is not None else inputs
    pred = predict(net, net_in).reshape(resolution, resolution)
    conf = predict_proba(net, net_in).max(axis=1).reshape(resolution, resolution)
    data_in = standardizer.transform(X) if standardizer is not None else X
    accuracy = float(np.mean(predict(net, data_in) == y))
    on_slice = slice_inputs(X, (fx, fy))
    if standardizer is not None:
        on_slice = standardizer.transform(on_slice)
    slice_accuracy = float(np.mean(predict(net, on_slice) == y))
    return DecisionBoundary(
        features=(fx, fy),
        feature_names=[feature_names[fx], feature_names[fy]],
        class_names=class_names,
        grid_x=gx,
        grid_y=gy,
        inputs=inputs,
        predictions=pred,
        confidence=conf,
        points=X[:, [fx, fy]],
        labels=y,
        accuracy=accuracy,
        slice_accuracy=slice_accuracy,
    )


def slice_inputs(X: np.ndarray, features: tuple[int, int]) -> np.ndarray:
    """The data's points as the picture places them, shape ``(n_samples, n_features)``:
    their own values of the two ``features``, every other feature at its mean."""
    out = np.tile(X.mean(axis=0), (X.shape[0], 1))
    out[:, list(features)] = X[:, list(features)]
    return out
