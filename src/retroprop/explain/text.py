"""The terminal renderer: one rich table per layer, forward then backward.

Column headers carry the formulas (``z_i = w_i · out^(l-1) + b_i``,
``dL/dp_r = -1/p_r``...); the numbers are the trace's, formatted, never recomputed.
"""

from __future__ import annotations

import io

from retroprop.explain.data import TraceData, step_context
from retroprop.explain.views import views


def tables(trace: TraceData, digits: int = 6) -> list:
    """The rich renderables of ``trace``, in reading order (tables and notes)."""
    from rich.table import Table
    from rich.text import Text

    heading = (
        f"One SGD step: loss {trace.loss_function}, η = {trace.lr:g}, "
        f"{trace.n_samples} sample(s)"
    )
    where = step_context(trace.meta)
    items: list = [Text(heading + (f" ({where})" if where else ""), style="bold")]
    for view in views(trace, digits):
        t = Table(title=view.title, title_justify="left", title_style="bold")
        for col in view.columns:
            t.add_column(col.text, justify="right" if col.numeric else "left")
        for row in view.rows:
            t.add_row(*row)
        items.append(t)
        for text, _ in view.notes:
            items.append(Text(text))
    return items


def to_text(trace: TraceData, width: int = 120, digits: int = 6) -> str:
    """The tables rendered as plain text (no colour) at ``width`` columns."""
    from rich.console import Console

    con = Console(
        width=width,
        record=True,
        color_system=None,
        highlight=False,
        file=io.StringIO(),  # only the recording is wanted
    )
    for item in tables(trace, digits):
        con.print(item)
    return con.export_text()
