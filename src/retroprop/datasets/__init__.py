"""Data: the bundled Iris, a user's CSV, a stratified split and standardisation.

Everything returns plain NumPy arrays: ``X`` of shape ``(n_samples, n_features)``
(float64) and ``y`` of shape ``(n_samples,)`` (integer classes ``0..k-1`` that index
``class_names``, or float64 values for regression).
"""

from retroprop.datasets.checks import (
    capacity_hint,
    check_trainable,
    separating_features,
    split_lines,
)
from retroprop.datasets.csvfile import label_order, load_csv
from retroprop.datasets.dataset import TASKS, Dataset
from retroprop.datasets.iris import load_iris
from retroprop.datasets.metrics import regression_scores
from retroprop.datasets.preprocessing import Standardizer, train_test_split

__all__ = [
    "TASKS",
    "Dataset",
    "Standardizer",
    "capacity_hint",
    "check_trainable",
    "label_order",
    "load_csv",
    "load_iris",
    "regression_scores",
    "separating_features",
    "split_lines",
    "train_test_split",
]
