"""The terminal renderer: one rich table per layer, forward then backward.

Column headers carry the formulas (``z_i = w_i · out^(l-1) + b_i``,
``dL/dp_r = -1/p_r``...); the numbers are the trace's, formatted, never recomputed.
"""

from __future__ import annotations

import io
from typing import Any

from retroprop.explain.data import TraceData, step_context
from retroprop.explain.views import views
from retroprop.i18n import decimal, ngettext


def tables(trace: TraceData, digits: int = 6, width: int | None = None) -> list:
    """The rich renderables of ``trace``, in reading order (tables and notes).

    No number is ever cut: a numeric column is at least as wide as its widest
    number (the headers wrap instead). A table whose numbers alone do not fit in
    ``width`` columns is shown vertically, one ``header: value`` line per cell.
    """
    from rich.text import Text

    heading = ngettext(
        "One SGD step: loss {loss}, η = {lr}, {n} sample",
        "One SGD step: loss {loss}, η = {lr}, {n} samples",
        trace.n_samples,
    ).format(loss=trace.loss_function, lr=decimal(f"{trace.lr:g}"), n=trace.n_samples)
    where = step_context(trace.meta)
    items: list = [Text(heading + (f" ({where})" if where else ""), style="bold")]
    for view in views(trace, digits):
        widest = [
            max([len(row[c]) for row in view.rows], default=0)
            for c in range(len(view.columns))
        ]
        t = _table(view, widest)
        if width is not None and not _fits(t, width):
            t = _table(view, widest, compact=True)  # lighter borders, no edge padding
            if not _fits(t, width):
                items.append(_vertical(view))
                continue
        items.append(t)
        for text, _latex in view.notes:
            items.append(Text(text))
    return items


def _table(view: Any, widest: list[int], compact: bool = False) -> Any:
    from rich import box
    from rich.table import Table

    t = Table(
        title=view.title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD,  # compact: no side edges
        pad_edge=not compact,
        show_edge=not compact,
    )
    for col, w in zip(view.columns, widest):
        t.add_column(
            col.text,
            justify="right" if col.numeric else "left",
            min_width=w,  # the numbers are never cut: the headers wrap instead
            overflow="fold",
        )
    for row in view.rows:
        t.add_row(*row)
    return t


def _fits(table: Any, width: int) -> bool:
    """Whether rich draws ``table`` in ``width`` columns without cropping it (a
    cropped table loses its right border, and the numbers next to it)."""
    from rich.console import Console

    con = Console(
        width=width,
        file=io.StringIO(),
        color_system=None,
        force_jupyter=False,
        record=True,
    )
    con.print(table)
    lines = con.export_text().splitlines()
    if table.show_edge:
        return all(line.rstrip()[-1:] in "┓┃┩│┘" for line in lines[1:] if line.strip())
    # without an edge: every cell of every row must be there in full
    text = "\n".join(lines)
    return max(len(line) for line in lines) <= width and all(
        cell in text for row in table.columns for cell in row._cells
    )


def _vertical(view) -> Any:
    """A table too wide for the terminal, one ``header: value`` line per cell."""
    from rich.text import Text

    lines = [view.title]
    for row in view.rows:
        lines.append("")
        lines += [f"  {col.text}: {v}" for col, v in zip(view.columns, row)]
    lines += [text for text, _ in view.notes]
    out = Text("\n".join(lines))
    out.stylize("bold", 0, len(view.title))
    out.no_wrap = False
    out.overflow = "fold"
    return out


def to_text(trace: TraceData, width: int = 120, digits: int = 6) -> str:
    """The tables rendered as plain text (no colour) at ``width`` columns."""
    from rich.console import Console

    con = Console(
        width=width,
        record=True,
        color_system=None,
        highlight=False,
        file=io.StringIO(),
        # In Jupyter rich displays every print itself (13 outputs for one call);
        # this console only records, the caller decides what to show.
        force_jupyter=False,
    )
    for item in tables(trace, digits, width):
        con.print(item)
    return con.export_text()
