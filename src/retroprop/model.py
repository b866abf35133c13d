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
