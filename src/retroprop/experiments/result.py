"""What every experiment returns: a plain dataclass that writes itself as JSON or CSV.

An experiment's result holds NumPy arrays and numbers and nothing that draws; the
plots (``retroprop.plots``) and the command line read it. It also carries its own
verdicts (a sweep's "too slow" or "diverged", a seed study's answers to the lecture's
questions) as properties, so the library, ``--json`` and the terminal agree; an answer
is an ``Answer``: the question, the short answer and the numbers behind it.
``to_dict`` turns arrays into lists and non-finite floats into ``None`` so the JSON is
standard; ``write_json`` and ``write_csv`` go through ``retroprop.atomic``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from retroprop.atomic import write_text
from retroprop.i18n import Message, _, shown
from retroprop.jsondata import plain


@dataclass(frozen=True)
class Answer:
    """An answer to one of the lecture's questions, with the numbers behind it.

    Attributes
    ----------
    question : str
        The question, as the lecture asks it ("Is a global minimum guaranteed?").
    answer : str
        The short answer: "yes", "no", "not guaranteed" or "cannot tell".
    because : str
        One sentence with the measured numbers that support it.
    numbers : dict
        Those numbers, by name.
    """

    question: str
    answer: str
    because: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.answer}: {self.because}"


class Result:
    """Mixin of the experiment results: ``to_dict``, ``to_json``, ``write_json``, CSV.

    Subclasses are dataclasses; they override ``csv_rows`` to say what one CSV row is
    (a header row first).
    """

    caption: ClassVar[str] = ""
    """What the result is, in a few words (an ``N_`` text): the notebook display's
    title, in the language in use."""

    def to_dict(self) -> dict:
        """Every field as plain JSON-ready values (arrays as nested lists)."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]  # subclasses are dataclasses
        return {f.name: plain(getattr(self, f.name)) for f in fields}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def write_json(self, path: str | os.PathLike) -> None:
        """Write ``to_json()`` to ``path`` atomically."""
        write_text(path, self.to_json() + "\n")

    def csv_rows(self) -> list[list[Any]]:  # pragma: no cover - each result overrides
        raise NotImplementedError

    def to_csv(self) -> str:
        """``csv_rows()`` as CSV text (floats with repr precision)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for row in self.csv_rows():
            w.writerow(
                [
                    ""
                    if v is None
                    else repr(float(v))
                    if isinstance(v, (float, np.floating))
                    else v
                    for v in row
                ]
            )
        return buf.getvalue()

    def write_csv(self, path: str | os.PathLike) -> None:
        """Write ``to_csv()`` to ``path`` atomically."""
        write_text(path, self.to_csv())

    # -- notebook display (Jupyter, Colab): reads the fields and verdicts ----------

    def display_tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        """``(caption, headers, rows)`` of the tables the notebook shows; each result
        lists its main numbers (default: its scalar fields)."""
        rows = [
            [f.name, getattr(self, f.name)]
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if isinstance(getattr(self, f.name), (int, float, str, np.number))
        ]
        return [("", ["field", "value"], rows)] if rows else []

    def answers(self) -> list[Answer]:
        """The result's answers to the lecture's questions (its ``Answer`` properties)."""
        out = []
        for name in dir(type(self)):
            if isinstance(getattr(type(self), name, None), property):
                value = getattr(self, name)
                if isinstance(value, Answer):
                    out.append(value)
        return out

    def _repr_html_(self) -> str:
        """The answers in words, then ``display_tables``, in the language in use."""
        from retroprop.display import escape, html_block, html_table

        title = (
            f"{type(self).__name__}: {_(self.caption)}"
            if self.caption
            else type(self).__name__
        )
        parts = [
            f'<p class="verdict"><b>{escape(_(a.question))}</b> {escape(_(a.answer))}: '
            f"{escape(shown(a.because))}.</p>"
            for a in self.answers()
        ]
        for caption, headers, rows in self.display_tables():
            # captions, headers and word cells are marked texts (N_ or Message):
            # shown in the language in use; numbers stay numbers
            parts.append(
                html_table(
                    [_(h) if h else h for h in headers],
                    [[_words(c) for c in row] for row in rows],
                    caption=_words(caption) or None,
                )
            )
        return html_block(title, *parts)


def _words(cell: Any) -> Any:
    """A table cell as shown: a ``Message`` translated, a marked word (``N_``)
    translated, anything else (numbers, names) as is."""
    if isinstance(cell, Message):
        return cell.translated()
    return _(cell) if isinstance(cell, str) and cell else cell
