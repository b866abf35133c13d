"""CSV of a Trace: one row per parameter, ``name,index,value,grad,lr,updated`` and
then one column per chain-rule factor (empty where a parameter has no such factor).

Numbers are written with ``repr`` so that they read back as the same floats, and the
CSV carries exactly the numbers of ``Trace.to_json()``.
"""

from __future__ import annotations

import csv
import io

from retroprop.explain.data import TraceData

BASE_COLUMNS = ("name", "index", "value", "grad", "lr", "updated")


def factor_columns(trace: TraceData) -> list[str]:
    """Every factor key of the trace, in first-seen order, ``product`` last."""
    keys: list[str] = []
    for p in trace.parameters:
        for key in p.factors:
            if key not in keys and key != "product":
                keys.append(key)
    return [*keys, "product"]


def to_csv(trace: TraceData, path=None) -> str:
    """The CSV text; also written atomically to ``path`` if given."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if trace.stopped is not None:  # no parameter has a gradient: say why
        w.writerow(["stopped_at", "reason"])
        w.writerow([trace.stopped["at"], trace.stopped["reason"]])
    keys = factor_columns(trace) if trace.stopped is None else []
    if trace.stopped is None:
        w.writerow([*BASE_COLUMNS, *keys])
    for p in trace.parameters:
        w.writerow(
            [
                p.name,
                str(list(p.index)),
                repr(p.value),
                repr(p.grad),
                repr(trace.lr),
                repr(p.updated),
                *[repr(p.factors[k]) if k in p.factors else "" for k in keys],
            ]
        )
    text = buf.getvalue()
    if path is not None:
        from retroprop.atomic import write_text

        write_text(path, text)
    return text
