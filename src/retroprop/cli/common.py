"""What several commands share to render: consoles, JSON on stdout, tables, files.

Nothing here computes a number: the commands render what the library returns.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal

import click

from retroprop.i18n import _, shown


def stdout_console() -> Any:
    """Rich console for results; 120 columns when stdout is a file or a pipe.

    (Rich's default of 80 columns off a terminal wraps the explain tables' headers;
    ``COLUMNS`` still wins when set.)
    """
    from rich.console import Console

    width = None
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        width = 120
    return Console(highlight=False, soft_wrap=False, width=width)


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def emit_json(obj: object) -> None:
    """One JSON object on stdout (non-finite numbers as null)."""
    from retroprop.jsondata import plain

    click.echo(json.dumps(plain(obj), indent=2))


TEXT_COLUMNS = ("note", "status", "ended in", "verdict", "outcome", "answer")
"""Columns whose cells are words: left-aligned; the others are numbers."""


def table(title: str, columns: Sequence[str]) -> Any:
    """A rich table: the first and the word columns left, numbers right."""
    from rich.table import Table

    t = Table(title=_(title), title_justify="left")
    for i, c in enumerate(columns):
        justify: Literal["left", "right"] = (
            "left" if i == 0 or c in TEXT_COLUMNS else "right"
        )
        t.add_column(_(c) if c else c, justify=justify)  # marked N_ by the commands
    return t


def confusion_table(m: Any, class_names: Sequence[str], title: str) -> Any:
    """``m[i][j]``: samples of true class i predicted as j; the diagonal in bold."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    t.add_column(_("true \\ predicted"), style="bold")
    for c in class_names:
        t.add_column(c, justify="right")
    for i, c in enumerate(class_names):
        t.add_row(
            c,
            *[(f"[bold]{v}[/bold]" if i == j else str(v)) for j, v in enumerate(m[i])],
        )
    return t


def write_files(
    result: Any,
    output: str,
    draw: Callable[[Any, str], str],
    json_path: str | None,
    csv_path: str | None,
) -> list[str]:
    """Draw the PNG, write the JSON and CSV files; returns the paths written.

    ``json_path == "-"`` writes no JSON file (the command prints it instead).
    """
    written = [draw(result, output)]
    if json_path and json_path != "-":
        result.write_json(json_path)
        written.append(json_path)
    if csv_path:
        result.write_csv(csv_path)
        written.append(csv_path)
    return written


def answer_line(console: Any, answer: Any) -> None:
    """``Question? answer: because`` with the question in bold."""
    console.print(
        f"[bold]{_(answer.question)}[/bold] {_(answer.answer)}: {shown(answer.because)}."
    )


def json_to_stdout(result: Any, json_path: str | None) -> bool:
    """Print ``result``'s JSON when ``--json -`` was given; True when it was (the
    command then prints no tables)."""
    if json_path == "-":
        click.echo(result.to_json())
        return True
    return False


def footer(console: Any, written: list[str]) -> None:
    console.print(_("Wrote {paths}").format(paths=", ".join(written)))
