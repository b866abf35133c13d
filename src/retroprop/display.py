"""How numbers and small tables are shown to people: one ``fmt``, HTML and Markdown.

``fmt`` is the one number format of the terminal tables, the notebook displays and the
Markdown: fixed-point where a person reads it at a glance, scientific notation for very
large or very small magnitudes (a loss of 1e302 is ``1e+302``, never 300 digits).
``html_table`` and ``markdown_table`` lay out rows of already formatted strings; the
notebook displays (``_repr_html_`` of ``Trace``, ``History``, ``Model``,
``Sequential``, ``ManyResult`` and the experiment results) are built from them. Nothing
here computes: the objects hand over the numbers they hold. This module imports no
other part of retroprop, so every layer may use it.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

from retroprop.i18n import decimal

LARGE = 1e6
"""From this magnitude on, ``fmt`` writes scientific notation."""
SMALL = 1e-4
"""Below this magnitude (and above 0), ``fmt`` writes scientific notation."""


def fmt(v: Any, digits: int = 6, *, decimals: int | None = None) -> str:
    """A number as people read it.

    Parameters
    ----------
    v : number (int, float, NumPy scalar) or anything else (shown with ``str``)
    digits : int
        Significant digits (``"g"`` style) when ``decimals`` is None.
    decimals : int or None
        Digits after the point, fixed-point (``0.9667``), for columns of numbers of
        one scale (losses, accuracies).

    Both styles switch to scientific notation outside ``[SMALL, LARGE)``, so no
    number is ever wider than about ``digits + 6`` characters; ``-0`` is ``0``;
    NaN and infinities are ``nan``, ``inf``, ``-inf``. In Portuguese
    (``retroprop.i18n.language()``) the decimal point is a comma: ``0,9667``.
    """
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return str(v)
    x = float(v)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if decimals is None:
        s = f"{x:.{digits}g}"
    elif x == 0 or SMALL <= abs(x) < LARGE:
        s = f"{x:.{decimals}f}"
    else:
        s = f"{x:.{max(decimals - 1, 1)}e}"
    if s.lstrip("-").strip("0.") == "":  # -0, -0.0000
        s = s.lstrip("-")
    return decimal(s)  # the decimal comma in Portuguese: people read this


def escape(text: Any) -> str:
    """``text`` safe inside HTML."""
    return html.escape(str(text), quote=True)


STYLE = (
    "<style>.retroprop table{border-collapse:collapse;margin:0.3em 0 0.8em 0;"
    "font-size:0.92em}.retroprop th,.retroprop td{padding:0.15em 0.6em;"
    "border-bottom:1px solid #ddd}.retroprop td.n{text-align:right;"
    "font-family:monospace}.retroprop caption{text-align:left;font-weight:bold;"
    "padding:0.2em 0}.retroprop .verdict{margin:0.2em 0}</style>"
)
"""The CSS of the displays, scoped to ``div.retroprop``."""


def html_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    numeric: Sequence[bool] | None = None,
) -> str:
    """An HTML table of ``rows`` (cells formatted with ``fmt`` when numbers).

    ``numeric[i]`` right-aligns column ``i`` in a monospace font (default: the columns
    after the first).
    """
    right = (
        list(numeric) if numeric is not None else [i > 0 for i in range(len(headers))]
    )
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{escape(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>")
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            cls = ' class="n"' if i < len(right) and right[i] else ""
            cells.append(f"<td{cls}>{escape(fmt(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def html_block(title: str, *parts: str) -> str:
    """A display: a bold title, then ``parts`` (HTML), in a ``div.retroprop``."""
    return (
        f'{STYLE}<div class="retroprop"><p><b>{escape(title)}</b></p>'
        + "".join(parts)
        + "</div>"
    )


def html_lines(lines: Iterable[str]) -> str:
    """Plain sentences (verdicts, notes) as paragraphs."""
    return "".join(f'<p class="verdict">{escape(line)}</p>' for line in lines)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table (GitHub style) of ``rows``, numbers with ``fmt``."""

    def cell(v: Any) -> str:
        return fmt(v).replace("|", "\\|")

    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(headers))) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
