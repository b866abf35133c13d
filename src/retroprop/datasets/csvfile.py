"""Reading a user's CSV into a Dataset, with an error that names file, line and column.

The first line is the header. Every feature cell must be a finite number; the target
column holds class labels (words or integers). Lines are counted from 1, the header
being line 1, as a text editor shows them.
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from collections.abc import Sequence

import numpy as np

from retroprop.datasets.dataset import Dataset
from retroprop.errors import DataError


def _read_rows(
    path: str | os.PathLike,
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and ``(line number, cells)`` for each non-blank data line."""
    name = os.fspath(path)
    try:
        # A device such as /dev/zero never ends; a pipe (e.g. /dev/stdin) is read.
        mode = os.stat(name).st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
            raise DataError(f"{name}: is a device or socket, not a CSV file")
        with open(name, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, not a CSV file") from None
    except OSError as e:
        raise DataError(f"{name}: cannot be read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is accepted and dropped
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{name}, line {line}: byte 0x{raw[e.start]:02x} is not UTF-8 text; "
            f"save the file as UTF-8"
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DataError(
            f"{name}, line {line}: contains a NUL byte; this is not a CSV file"
        )
    # strict: a quote left open or text after a closing quote is an error with its
    # line, not silently read as data.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    try:
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                continue  # blank line
            if header is None:
                header = [c.strip() for c in cells]
            else:
                rows.append((reader.line_num, cells))
    except csv.Error as e:
        # line_num counts the physical lines read so far, the failing one included
        raise DataError(
            f"{name}, line {reader.line_num}: {e}; is this a CSV file?"
        ) from None
    if header is None:
        raise DataError(
            f"{name}: the file is empty; it needs a header line and data rows"
        )
    if not rows:
        raise DataError(f"{name}: has a header but no data rows")
    seen = set()
    for j, col in enumerate(header):
        if not col:
            raise DataError(
                f"{name}, line 1, column {j + 1}: the header has an empty name"
            )
        if col in seen:
            raise DataError(f"{name}, line 1: column name {col!r} appears twice")
        seen.add(col)
    for line, cells in rows:
        if len(cells) != len(header):
            raise DataError(
                f"{name}, line {line}: has {len(cells)} fields, the header has "
                f"{len(header)}; every row needs one value per column"
            )
    return header, rows


def _number(cell: str, name: str, line: int, col: str) -> float:
    s = cell.strip()
    where = f"{name}, line {line}, column {col!r}"
    if not s:
        raise DataError(f"{where}: missing value; fill it in or remove the row")
    try:
        v = float(s)
    except ValueError:
        shown = s if len(s) <= 40 else s[:40] + "..."
        raise DataError(f"{where}: {shown!r} is not a number") from None
    if not math.isfinite(v):
        why = (
            "is too large for a 64-bit float"
            if s.lower()
            not in (
                "nan",
                "+nan",
                "-nan",
                "inf",
                "+inf",
                "-inf",
                "infinity",
                "+infinity",
                "-infinity",
            )
            else "is not a finite number"
        )
        raise DataError(f"{where}: {s!r} {why}; features must be finite numbers")
    return v


def _sort_labels(labels: set[str]) -> list[str]:
    """Integers in numeric order, anything else alphabetically."""
    try:
        return sorted(labels, key=lambda s: int(s))
    except ValueError:
        return sorted(labels)


def load_csv(
    path: str | os.PathLike,
    target: str | None = None,
    *,
    features: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    require_target: bool = True,
) -> Dataset:
    """Read a CSV file of numeric features and a column of class labels.

    Parameters
    ----------
    path : path-like
    target : str or None
        The class column's name; None means the last column.
    features : sequence of str or None
        Feature columns to use, in this order (e.g. those a saved model was trained
        on); None means every column except the target.
    class_names : sequence of str or None
        Known classes (from a saved model): labels are mapped onto them and an unknown
        label is an error. None: the classes are the labels found, and there must be
        at least two.
    require_target : bool
        When False and the target column is absent, or present with every label
        left blank, ``y`` is None (for prediction).

    Returns
    -------
    Dataset
        ``X`` float64 of shape (n_samples, n_features), ``y`` int64 of shape
        (n_samples,) or None.

    Raises
    ------
    DataError
        Naming the file, the line and the column of the first problem found.
    """
    name = os.fspath(path)
    header, rows = _read_rows(path)
    if target is None and features is None:
        target = header[-1]
    if target is not None and target not in header:
        if require_target:
            raise DataError(
                f"{name}: no column named {target!r}; the columns are "
                f"{', '.join(header)} (choose one with --target)"
            )
        target = None
    if features is None:
        features = [c for c in header if c != target]
        if not features:
            raise DataError(
                f"{name}: has no feature columns besides the target {target!r}"
            )
    else:
        missing = [c for c in features if c not in header]
        if missing:
            raise DataError(
                f"{name}: lacks the feature column(s) {', '.join(map(repr, missing))} "
                f"that the model needs"
            )
    fcols = [header.index(c) for c in features]
    X = np.empty((len(rows), len(fcols)), dtype=np.float64)
    for i, (line, cells) in enumerate(rows):
        for j, c in enumerate(fcols):
            X[i, j] = _number(cells[c], name, line, header[c])
    y = None
    names: list[str] = list(class_names) if class_names is not None else []
    if target is not None:
        t = header.index(target)
        labels = [cells[t].strip() for _, cells in rows]
        if not require_target and not any(labels):
            target = None  # a class column left blank, as in rows still to predict
    if target is not None:
        for (line, _), lab in zip(rows, labels):
            if not lab:
                raise DataError(
                    f"{name}, line {line}, column {target!r}: missing class label; "
                    f"fill it in or remove the row"
                )
        if class_names is None:
            names = _sort_labels(set(labels))
            if len(names) < 2:
                raise DataError(
                    f"{name}: column {target!r} has only one class ({names[0]!r}); "
                    f"classification needs at least two"
                )
        index = {c: k for k, c in enumerate(names)}
        y = np.empty(len(rows), dtype=np.int64)
        for i, ((line, _), lab) in enumerate(zip(rows, labels)):
            if lab not in index:
                raise DataError(
                    f"{name}, line {line}, column {target!r}: class {lab!r} is not one "
                    f"the model knows ({', '.join(names)})"
                )
            y[i] = index[lab]
    return Dataset(
        X=X,
        y=y,  # type: ignore[arg-type]  # None: a file without classes (predict)
        feature_names=list(features),
        class_names=names,
        name=name,
        target_name=target or "class",
        lines=np.array([line for line, _ in rows], dtype=np.int64),
    )
