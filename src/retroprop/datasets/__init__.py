"""Data: the bundled Iris, a user's CSV, a stratified split and standardisation.

Everything returns plain NumPy arrays: ``X`` of shape ``(n_samples, n_features)``
(float64) and ``y`` of shape ``(n_samples,)`` (integer classes ``0..k-1`` that index
``class_names``).
"""

from retroprop.datasets.csvfile import load_csv
from retroprop.datasets.dataset import Dataset, load_iris
from retroprop.datasets.preprocessing import Standardizer, train_test_split

__all__ = ["Dataset", "Standardizer", "load_csv", "load_iris", "train_test_split"]
