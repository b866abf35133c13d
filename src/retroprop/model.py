"""``Model``: a trained network with what it needs to be used on raw data.

The network alone maps standardised features to logits; a Model also knows the
feature names, the class names and the standardisation fitted on the training data,
so ``model.predict(raw_X)`` gives class names. ``rp.save`` and ``rp.load`` store and
restore exactly this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retroprop.datasets.preprocessing import Standardizer
from retroprop.engine.layers import Sequential
from retroprop.i18n import _
from retroprop.train import predict, predict_proba


@dataclass
class Model:
    """A network plus its data conventions.

    Attributes
    ----------
    net : Sequential
    class_names : list of str
        ``class_names[k]`` is the class of output ``k``.
    feature_names : list of str
        The input columns, in order.
    standardizer : Standardizer or None
        Applied to raw features before the network.
    metadata : dict
        Free-form, JSON-serialisable notes (training settings, metrics).
    """

    net: Sequential
    class_names: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    standardizer: Standardizer | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Raw features -> the network's input, shape ``(n, n_features)``."""
        X = np.asarray(X, dtype=np.float64)
        return self.standardizer.transform(X) if self.standardizer is not None else X

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities for raw features, shape ``(n, n_classes)``."""
        return predict_proba(self.net, self.prepare(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices for raw features, shape ``(n,)``."""
        return predict(self.net, self.prepare(X))

    def _repr_html_(self) -> str:
        """Classes, features, the standardizer's mean and scale, the network."""
        from retroprop.display import html_block, html_table

        std = self.standardizer
        n_features = self.net.in_features if self.net.linears else 0
        names = self.feature_names or [f"x{j}" for j in range(n_features)]
        if std is not None and std.mean_ is not None and std.scale_ is not None:
            features = html_table(
                [_("feature"), _("mean (subtracted)"), _("scale (divided by)")],
                [[n, m, s] for n, m, s in zip(names, std.mean_, std.scale_)],
                caption=_("{n} features, standardised: (x - mean) / scale").format(
                    n=len(names)
                ),
            )
        else:
            features = html_table(
                [_("feature")],
                [[n] for n in names],
                caption=_("{n} features, not standardised").format(n=len(names)),
            )
        classes = html_table(
            [_("output"), _("class")],
            [[k, c] for k, c in enumerate(self.class_names)],
            caption=_("{n} classes").format(n=len(self.class_names)),
            numeric=[True, False],
        )
        meta = (
            html_table(
                [_("metadata"), _("value")],
                [[k, v] for k, v in self.metadata.items()],
                numeric=[False, False],
            )
            if self.metadata
            else ""
        )
        return html_block("Model", classes, features, meta, self.net._repr_html_())

    def __repr__(self) -> str:
        arch = (
            "-".join(
                str(n)
                for n in [
                    self.net.in_features,
                    *(l.out_features for l in self.net.linears),
                ]
            )
            if self.net.linears
            else "empty"
        )
        std = "standardised" if self.standardizer is not None else "raw"
        return (
            f"Model({arch} network, classes={self.class_names}, "
            f"features={self.feature_names} ({std}))"
        )
