"""Exercise 4 as a table: a ``RecordParameter`` turned into rows a spreadsheet reads.

One row per sample of every update: the iteration, the epoch, the sample (its row in
the training set and its line in the data file), its true class ``r``, the
probabilities ``p_i`` the network gave it before the update, and every recorded
parameter before and after the update, which is what the student needs to redo the
lecture's ``b_i <- b_i - eta (p_i - delta_ri)`` by hand. Written as CSV (in the
English dialect, ``,`` and ``.``, or the Portuguese one a pt-BR spreadsheet expects,
``;`` and ``,``) or as xlsx, where numbers are numbers in any locale.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retroprop.errors import ConfigError
from retroprop.i18n import _

CSV_DIALECTS: dict[str, tuple[str, str]] = {
    "en": (",", "."),
    "pt": (";", ","),
}
"""Spreadsheet dialect -> (field separator, decimal mark)."""


@dataclass
class RecordTable:
    """The rows of a recording: ``header`` names each column, ``rows`` hold numbers
    (int or float) and, in the class-name column, text."""

    header: list[str]
    rows: list[list[int | float | str]]


def record_table(
    recorders: Sequence,
    *,
    lines: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> RecordTable:
    """The table of one training run's ``RecordParameter`` callbacks.

    Parameters
    ----------
    recorders : sequence of RecordParameter
        Attached to the same ``train`` call (so their iterations agree); the first
        one's ``targets`` and ``probabilities`` fill the sample columns.
    lines : ndarray of shape (n_train,), optional
        The data-file line of each training row (``Dataset.lines`` picked by the
        split), for the ``line`` column.
    class_names : sequence of str, optional
        For a ``class`` column beside ``r``.
    """
    if not recorders:
        raise ConfigError(_("record_table needs at least one RecordParameter"))
    first = recorders[0]
    k = first.probabilities[0].shape[1] if first.probabilities else 0
    # A compiled path records no samples (a recorder without X, y): one row per
    # update, without the sample columns.
    by_sample = len(first.samples) >= len(first.iterations)
    header = ["iteration", "epoch"]
    if by_sample:
        header.append("sample")
    if by_sample and lines is not None:
        header.append("line")
    if first.targets:
        header.append("r")
        if class_names:
            header.append("class")
    header += [f"p_{i}" for i in range(k)]
    for rec in recorders:
        shape = rec.values[0].shape if rec.values else ()
        for idx in np.ndindex(*shape):
            header.append(f"{rec.name}[{','.join(map(str, idx))}] before")
        for idx in np.ndindex(*shape):
            header.append(f"{rec.name}[{','.join(map(str, idx))}] after")
    rows: list[list[int | float | str]] = []
    for u, it in enumerate(first.iterations):
        batch = first.samples[u] if by_sample else [None]
        for s, sample in enumerate(batch):
            row: list[int | float | str] = [int(it), int(first.epochs[u])]
            if sample is not None:
                row.append(int(sample))
                if lines is not None:
                    row.append(int(lines[sample]))
            if first.targets:
                r = int(first.targets[u][s])
                row.append(r)
                if class_names:
                    row.append(str(class_names[r]))
            if k:
                row += [float(v) for v in first.probabilities[u][s]]
            for rec in recorders:
                row += [float(v) for v in rec.values[u].ravel()]
                after = rec.after[u] if u < len(rec.after) else rec.values[u] * np.nan
                row += [float(v) for v in after.ravel()]
            rows.append(row)
    return RecordTable(header, rows)


def _number(v: float, decimal: str) -> str:
    text = repr(float(v))  # every digit, so a spreadsheet recomputes the same update
    return text.replace(".", decimal) if decimal != "." else text


def record_csv(table: RecordTable, dialect: str = "en") -> str:
    """The table as CSV text in ``dialect`` (a key of ``CSV_DIALECTS``)."""
    if dialect not in CSV_DIALECTS:
        raise ConfigError(
            _("the CSV dialect must be one of {value}, got {dialect!r}").format(
                value=", ".join(CSV_DIALECTS), dialect=dialect
            )
        )
    sep, decimal = CSV_DIALECTS[dialect]
    out = io.StringIO()
    w = csv.writer(out, delimiter=sep, lineterminator="\n")
    w.writerow(table.header)
    for row in table.rows:
        w.writerow([_number(v, decimal) if isinstance(v, float) else v for v in row])
    return out.getvalue()


def record_xlsx(table: RecordTable) -> bytes:
    """The table as an xlsx workbook (one sheet, numbers stored as numbers)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "record"
    ws.append(table.header)
    for row in table.rows:
        ws.append(row)
    ws.freeze_panes = "A2"
    for i, name in enumerate(table.header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, len(name) + 2)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def record_format(path: str | os.PathLike, fmt: str | None) -> str:
    """``"xlsx"`` or ``"csv"``: ``fmt`` if given, else from the file's extension."""
    if fmt is not None:
        return fmt
    return "xlsx" if os.fspath(path).lower().endswith(".xlsx") else "csv"


def write_record(
    path: str | os.PathLike,
    table: RecordTable,
    fmt: str | None = None,
    dialect: str = "en",
) -> str:
    """Write ``table`` to ``path`` atomically as CSV or xlsx; returns the format."""
    from retroprop.atomic import write_bytes, write_text

    fmt = record_format(path, fmt)
    if fmt == "xlsx":
        write_bytes(path, record_xlsx(table))
    elif fmt == "csv":
        write_text(path, record_csv(table, dialect))
    else:
        raise ConfigError(
            _("the record format must be csv or xlsx, got {fmt!r}").format(fmt=fmt)
        )
    return fmt


def replay_samples(
    recorder,
    net_before,
    snapshots: Sequence,
    X: np.ndarray,
    y: np.ndarray | None,
    *,
    batch_size: int,
    seed: int,
    probabilities: bool = True,
) -> None:
    """Fill ``recorder``'s ``samples`` (and ``targets``, ``probabilities``) after a
    run the compiled paths recorded, so that recording never changes the run.

    The batches are ``train``'s own (``epoch_order`` from ``seed``, cut into
    ``batch_size``); the probabilities ``p_i`` are the network's before each update,
    from ``snapshots``: plain ``RecordParameter`` of every parameter of the network
    (the recorder itself may be one of them), applied to a copy of ``net_before``.
    """
    import copy

    from retroprop.engine.init import as_generator
    from retroprop.engine.losses import softmax
    from retroprop.training.runner import batches, epoch_order

    n = len(X)
    rng = as_generator(seed)
    per_epoch: list[list[np.ndarray]] = []
    for ep in recorder.epochs:
        while len(per_epoch) < ep:
            per_epoch.append(list(batches(epoch_order(rng, n, True), batch_size)))
    per = -(-n // batch_size)  # updates per epoch
    recorder.samples, recorder.targets, recorder.probabilities = [], [], []
    net = copy.deepcopy(net_before)
    for u, (it, ep) in enumerate(zip(recorder.iterations, recorder.epochs)):
        idx = per_epoch[ep - 1][it - 1 - (ep - 1) * per]
        recorder.samples.append(idx.copy())
        if y is not None:
            recorder.targets.append(np.asarray(y)[idx].copy())
        if probabilities:
            net.load_state_dict({s.name: s.values[u] for s in snapshots})
            recorder.probabilities.append(softmax(net(X[idx])))
