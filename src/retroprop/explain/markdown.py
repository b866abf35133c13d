"""Markdown with LaTeX math (``$...$``), ready to paste into course notes.

The same tables as the terminal renderer; headers and the loss line are LaTeX.
"""

from __future__ import annotations

from retroprop.explain.data import TraceData
from retroprop.explain.views import views
from retroprop.i18n import N_, _, decimal


def to_markdown(trace: TraceData, path=None, digits: int = 6) -> str:
    """The trace as Markdown; also written atomically to ``path`` if given."""
    lines = [
        _("# One SGD step ({loss}, $\\eta = {lr}$)").format(
            loss=trace.loss_function, lr=decimal(f"{trace.lr:g}")
        ),
        "",
    ]
    ctx = [
        f"{_(k)} {trace.meta[k]}"
        for k in (N_("step"), N_("sample"), N_("epoch"))
        if k in trace.meta
    ]
    if ctx:
        lines += [", ".join(ctx).capitalize() + ".", ""]
    lines += [
        (
            _(
                "Update rule: $\\theta \\leftarrow \\theta - \\eta "
                "\\frac{\\partial L}{\\partial \\theta}$."
            )
        ),
        "",
    ]
    for view in views(trace, digits):
        lines += [f"## {view.title}", ""]
        lines.append("| " + " | ".join(f"${c.latex}$" for c in view.columns) + " |")
        lines.append(
            "|" + "|".join("---:" if c.numeric else ":---" for c in view.columns) + "|"
        )
        for row in view.rows:
            lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
        lines.append("")
        for _text, latex in view.notes:
            lines += [f"$${latex}$$", ""]
    text = "\n".join(lines)
    if path is not None:
        from retroprop.atomic import write_text

        write_text(path, text)
    return text


def _cell(v: str) -> str:
    return v.replace("|", "\\|")
