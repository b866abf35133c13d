"""What every experiment returns: a plain dataclass that writes itself as JSON or CSV.

An experiment's result holds NumPy arrays and numbers and nothing that draws; the
plots (``retroprop.plots``) and the command line read it. ``to_dict`` turns arrays
into lists and non-finite floats into ``None`` so the JSON is standard; ``write_json``
and ``write_csv`` go through ``retroprop.atomic``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os

import numpy as np

from retroprop.atomic import write_text


def plain(obj: object) -> object:
    """NumPy arrays and scalars, dataclasses, tuples -> JSON-ready Python values.

    Non-finite floats become ``None`` (JSON has no NaN or infinity).
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_dict"):
            return obj.to_dict()
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


class Result:
    """Mixin of the experiment results: ``to_dict``, ``to_json``, ``write_json``, CSV.

    Subclasses are dataclasses; they override ``csv_rows`` to say what one CSV row is
    (a header row first).
    """

    def to_dict(self) -> dict:
        """Every field as plain JSON-ready values (arrays as nested lists)."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def write_json(self, path: str | os.PathLike) -> None:
        """Write ``to_json()`` to ``path`` atomically."""
        write_text(path, self.to_json() + "\n")

    def csv_rows(self) -> list[list]:  # pragma: no cover - each result overrides
        raise NotImplementedError

    def to_csv(self) -> str:
        """``csv_rows()`` as CSV text (floats with repr precision)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for row in self.csv_rows():
            w.writerow(["" if v is None else repr(float(v))
                        if isinstance(v, (float, np.floating)) else v for v in row])
        return buf.getvalue()

    def write_csv(self, path: str | os.PathLike) -> None:
        """Write ``to_csv()`` to ``path`` atomically."""
        write_text(path, self.to_csv())
