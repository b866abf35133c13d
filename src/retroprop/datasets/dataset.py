"""The ``Dataset`` record and the bundled Iris."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import numpy as np


@dataclass
class Dataset:
    """Features, integer classes and their names.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int64
        Class indices into ``class_names``.
    feature_names : list of str, length n_features
    class_names : list of str
    name : str
        Where the data came from (a file path, or ``"iris"``).
    lines : ndarray of shape (n_samples,) or None
        Each row's line in its CSV file (the header is line 1), for pointing a
        student at the sample (``train --record``); None when not read from a file.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    name: str = ""
    target_name: str = field(default="class")
    lines: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, {self.X.shape[0]} samples, "
            f"{self.X.shape[1]} features, classes {self.class_names})"
        )


def load_iris() -> Dataset:
    """Fisher's Iris, bundled: 150 flowers, 4 measurements in cm, 3 species.

    Classes 0, 1, 2 are setosa, versicolor and virginica (the lecture's
    "Iris Versicolour" is class 1).
    """
    from retroprop.datasets.csvfile import load_csv

    with resources.as_file(resources.files(__package__) / "iris.csv") as path:
        ds = load_csv(path, target="species")
    ds.name = "iris"
    return ds
