"""Markdown with LaTeX math (``$...$``), ready to paste into course notes.

The same tables as the terminal renderer; headers and the loss line are LaTeX.
"""

from __future__ import annotations

from retroprop.explain.data import TraceData, step_context
from retroprop.explain.views import views
from retroprop.i18n import _, decimal


def to_markdown(trace: TraceData, path=None, digits: int = 6) -> str:
    """The trace as Markdown; also written atomically to ``path`` if given."""
    lines = [
        _("# One SGD step ({loss}, $\\eta = {lr}$)").format(
            loss=trace.loss_function, lr=decimal(f"{trace.lr:g}")
        ),
        "",
    ]
    ctx = step_context(trace.meta)
    if ctx:
        lines += [ctx[0].upper() + ctx[1:] + ".", ""]
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
