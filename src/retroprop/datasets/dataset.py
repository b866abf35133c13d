"""The ``Dataset`` record: features, targets, names and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TASKS = ("classification", "regression")
"""What a target can be: class labels, or numbers to predict."""


@dataclass
class Dataset:
    """Features, targets and their names.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,) or None
        Classification: int64 class indices into ``class_names``. Regression: the
        float64 target values. None when the file had no target (for prediction).
    feature_names : list of str, length n_features
    class_names : list of str
        Empty for regression.
    name : str
        Where the data came from (a file path, or ``"iris"``).
    target_name : str
    task : {"classification", "regression"}
    lines : ndarray of shape (n_samples,), int64, or None
        The data file's line number of each row (the header is line 1), the name
        ``retroprop predict`` and ``explain --sample`` give rows and that
        ``train --record`` writes to point a student at the sample; None when the
        data was not read from a file.
    source : dict
        How the file was read: ``encoding``, ``sep``, ``decimal``, ``quotechar``,
        the columns dropped and why, the rows dropped for missing values.
    ids : dict of str to list of str
        Columns that identify rows rather than describe them (an index, an id), kept
        aside by name so predictions can be matched back to the rows.
    notes : list of str
        What the loader decided on its own, in a sentence each, for the user to see.
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    class_names: list[str]
    name: str = ""
    target_name: str = field(default="class")
    task: str = "classification"
    lines: np.ndarray | None = None
    source: dict = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        what = (
            f"classes {self.class_names}"
            if self.task == "classification"
            else f"regression target {self.target_name!r}"
        )
        return (
            f"Dataset({self.name!r}, {self.X.shape[0]} samples, "
            f"{self.X.shape[1]} features, {what})"
        )
