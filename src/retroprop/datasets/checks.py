"""What to tell a user about their data before and after training.

``check_trainable`` refuses a dataset that cannot give a meaningful run (a class with
one row, more classes than a quarter of the rows); ``separating_features`` finds a
feature that alone tells the classes apart (often a leak, such as an id sorted by
class); ``capacity_hint`` says when the network is likely too narrow for the classes.
They return data or raise ``DataError``; the command line words them.
"""

from __future__ import annotations

import math

import numpy as np

from retroprop.datasets.csvfile import number_or_reason as _number
from retroprop.datasets.dataset import Dataset
from retroprop.errors import DataError
from retroprop.i18n import _, decimal


def check_trainable(ds: Dataset) -> np.ndarray:
    """``ds.y``, after raising ``DataError`` if ``ds`` cannot be split and trained on.

    Classification needs two rows of every class (one for each part of a stratified
    split), and at most a quarter as many classes as rows when there are more than
    two (else the target is most likely a number to predict: regression).
    """
    if ds.y is None:
        raise DataError(
            _("{name}: has no target column to learn; name it with --target").format(
                name=ds.name
            )
        )
    if ds.task != "classification":
        return ds.y
    n = len(ds.y)
    k = ds.n_classes
    if k > 2 and k > n / 4:
        numeric = all(isinstance(_number(c), float) for c in ds.class_names)
        fix = (
            _("if it is a number to predict, use --task regression (task='regression')")
            if numeric
            else _("that is too few rows per class to learn each and test it: add rows")
        )
        raise DataError(
            _(
                "{name}: column {target!r} has {k} classes for {n} rows (more than a "
                "quarter); {fix}"
            ).format(name=ds.name, target=ds.target_name, k=k, n=n, fix=fix)
        )
    counts = np.bincount(ds.y, minlength=k)
    for c in np.flatnonzero(counts == 1):
        where = ""
        if ds.lines is not None:
            where = _(" (line {line})").format(line=int(ds.lines[np.argmax(ds.y == c)]))
        raise DataError(
            _(
                "{name}: class {c!r} has a single row{where}; a stratified split "
                "needs at least 2 per class: add rows of it or remove it"
            ).format(name=ds.name, c=ds.class_names[c], where=where)
        )
    return ds.y


def separating_features(ds: Dataset) -> list[str]:
    """Names of the features that alone separate the classes perfectly.

    Sorted by such a feature, the classes form one run each, with no value shared
    across a boundary: a single threshold per class tells them apart.
    """
    if ds.task != "classification" or ds.y is None or len(ds.y) < 10:
        return []
    found = []
    for j, fname in enumerate(ds.feature_names):
        order = np.argsort(ds.X[:, j], kind="stable")
        x, y = ds.X[order, j], ds.y[order]
        change = np.flatnonzero(y[1:] != y[:-1])
        if len(change) == ds.n_classes - 1 and not np.any(x[change] == x[change + 1]):
            found.append(fname)
    return found


def capacity_hint(
    hidden: tuple[int, ...], n_classes: int, train_accuracy: float
) -> str | None:
    """A sentence suggesting a wider network, or None.

    Said when a hidden layer has fewer units than there are classes and the training
    accuracy stays below 0.9: the classes must then pass through a bottleneck
    narrower than their number, which a wider layer removes easily.
    """
    if not hidden or n_classes < 3 or train_accuracy >= 0.9:
        return None
    narrow = min(hidden)
    if narrow >= n_classes:
        return None
    wide = max(16, 2 ** math.ceil(math.log2(3 * n_classes)))
    return _(
        "the training accuracy is only {accuracy} and a hidden layer has {narrow} "
        "units for {k} classes: the network is probably too small; try a wider one, "
        "e.g. --hidden {wide}"
    ).format(
        accuracy=decimal(f"{train_accuracy:.2f}"), narrow=narrow, k=n_classes, wide=wide
    )


def split_lines(ds: Dataset, test_size: float, seed: int) -> tuple[np.ndarray, ...]:
    """The file lines of the train and the test rows, as ``prepare_data`` splits them.

    (The split is a pure function of ``y`` and the seed, so splitting the line
    numbers alongside gives the rows' names.)
    """
    from retroprop.datasets.preprocessing import train_test_split

    lines = ds.lines if ds.lines is not None else np.arange(2, len(ds.X) + 2)
    y = ds.y if ds.y is not None else np.zeros(len(lines), dtype=np.int64)
    tr, te, _, _ = train_test_split(
        lines, y, test_size=test_size, seed=seed, stratify=ds.task == "classification"
    )
    return tr, te
