"""The bundled Iris, read by the same loader as a user's CSV."""

from __future__ import annotations

from importlib import resources

from retroprop.datasets.csvfile import load_csv
from retroprop.datasets.dataset import Dataset


def load_iris() -> Dataset:
    """Fisher's Iris, bundled: 150 flowers, 4 measurements in cm, 3 species.

    Classes 0, 1, 2 are setosa, versicolor and virginica (the lecture's
    "Iris Versicolour" is class 1). ``lines`` are the lines of the bundled
    ``iris.csv`` (2 to 151).
    """
    with resources.as_file(resources.files(__package__) / "iris.csv") as path:
        ds = load_csv(path, target="species")
    ds.name = "iris"
    ds.source = {}
    return ds
