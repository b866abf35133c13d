"""Reading a user's CSV into a Dataset: any usual dialect, an error naming line and column.

What spreadsheets and pandas write is read as it is: the separator (comma, semicolon,
tab or pipe), the decimal mark (point or comma) and the encoding (UTF-8 with or
without a byte-order mark, UTF-16 with one, else the single-byte cp1252 or Latin-1)
are detected and reported in ``Dataset.source``; ``sep=``, ``decimal=`` and
``encoding=`` override them. Lines are counted from 1, the header being line 1 (when
no blank line precedes it), as a text editor shows them; ``Dataset.lines`` keeps each
row's line.

Numbers are read strictly: ASCII digits, one decimal mark, an optional exponent (no
``1_000``, no full-width or other scripts' digits, which Python's ``float`` accepts).
``NA``, ``N/A``, ``NaN``, ``null``, ``?`` and an empty cell are missing values: an
error naming the first one, unless ``drop_missing=True`` drops their rows.

Two readers give the same result: NumPy's C ``loadtxt`` for the common case (a
decimal point, no missing value, every row as wide as the header) and the ``csv``
module, cell by cell, for everything else and for the error messages. Both fill
preallocated float64 arrays, so loading is linear in the file's size and holds about
twice the numbers' size in memory, not lists of Python floats.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retroprop.datasets.dataset import TASKS, Dataset
from retroprop.errors import DataError
from retroprop.i18n import N_, _

SEPARATORS = {",": N_("comma"), ";": N_("semicolon"), "\t": N_("tab"), "|": N_("pipe")}
"""The separators detected, in order of preference when several fit."""

DECIMALS = {".": N_("point"), ",": N_("comma")}
"""The decimal marks a number may use (one per file)."""

MISSING_TOKENS = frozenset(
    {"", "na", "n/a", "nan", "-nan", "+nan", "null", "?", "#n/a", "<na>"}
)
"""What marks a missing value, compared after stripping blanks and lower-casing."""

MAX_AUTO_CLASSES = 20
"""A numeric target is classes when it holds whole numbers, at most this many distinct."""

MIN_ROWS_FOR_ID = 10
"""Below this many rows, every column is unique per row by chance: no id check."""

_SAMPLE_BYTES = 1 << 16  # the dialect is read from the first 64 KiB
_CHUNK_BYTES = 1 << 20
_CHUNK_ROWS = 8192
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NON_FINITE = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_DATE = re.compile(
    r"(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?Z?",
    re.ASCII,
)
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:([.,' \u00a0])\d{3})(?:\1\d{3})*(?:[.,]\d+)?")
_UNNAMED = re.compile(r"Unnamed: ?0")  # pandas' name for an unnamed first column


# --- Reading bytes and choosing the encoding -------------------------------------------


def _opener(name: str) -> Callable[[], io.BufferedIOBase]:
    """A function that opens the file afresh (a pipe is read once, into memory)."""
    try:
        # A device such as /dev/zero never ends; a pipe (e.g. /dev/stdin) is read.
        mode = os.stat(name).st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
            raise DataError(
                _("{name}: is a device or socket, not a CSV file").format(name=name)
            )
        if stat.S_ISDIR(mode):
            raise DataError(
                _("{name}: is a directory, not a CSV file").format(name=name)
            )
        if not stat.S_ISREG(mode):
            with open(name, "rb") as f:
                raw = f.read()
            return lambda: io.BytesIO(raw)
        with open(name, "rb"):
            pass
    except FileNotFoundError:
        raise DataError(_("{name}: no such file").format(name=name)) from None
    except IsADirectoryError:
        raise DataError(
            _("{name}: is a directory, not a CSV file").format(name=name)
        ) from None
    except OSError as e:
        raise DataError(
            _("{name}: cannot be read ({reason})").format(name=name, reason=e.strerror)
        ) from None
    return lambda: open(name, "rb")


@dataclass
class _Scan:
    """One pass over the decoded file: the first problem, if any, and its size."""

    error: tuple[int, int] | None  # (line, byte) of the first undecodable byte
    nul_line: int | None
    control: bool  # C0/C1 control characters other than tab and newlines
    lines: int  # physical lines


def _scan(open_raw: Callable, encoding: str, controls: bool = False) -> _Scan:
    """Decode the whole file once, in chunks; ``controls``: look for control
    characters too (for the single-byte fallbacks, where they betray binary data)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines, nul, control = 0, None, False
    with open_raw() as f:
        last = ""
        while True:
            chunk = f.read(_CHUNK_BYTES)
            final = not chunk
            pending = decoder.getstate()[0]
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as e:
                data = pending + chunk
                before = data[: e.start].decode(encoding, errors="replace")
                return _Scan(
                    (lines + before.count("\n") + 1, data[e.start]), nul, False, 0
                )
            if nul is None and "\x00" in text:
                nul = lines + text.count("\n", 0, text.index("\x00")) + 1
            if controls and not control and _CONTROL.search(text):
                control = True
            lines += text.count("\n")
            if "\r" in text:  # \r alone ends a line too (the csv module counts it)
                lines += text.count("\r") - text.count("\r\n")
            if text:
                last = text[-1]
            if final:
                break
    return _Scan(None, nul, control, lines + (last not in ("\n", "\r", "")))


def _choose_encoding(
    name: str, open_raw: Callable, encoding: str | None
) -> tuple[str, str | None, _Scan]:
    """``(codec, note or None, scan)``: the given encoding, a BOM's, UTF-8, or a fallback."""
    with open_raw() as f:
        head = f.read(4)
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise DataError(
                _(
                    "{name}: unknown encoding {encoding!r}; use e.g. utf-8, cp1252, "
                    "latin-1 or utf-16"
                ).format(name=name, encoding=encoding)
            ) from None
        if codec == "utf-8" and head.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        scan = _scan(open_raw, codec)
        if scan.error:
            line, byte = scan.error
            what = "UTF-8" if codec.startswith("utf-8") else codec
            raise DataError(
                _(
                    "{name}, line {line}: byte 0x{byte:02x} is not {what} text; save "
                    "the file as UTF-8, or give its encoding with --encoding"
                ).format(name=name, line=line, byte=byte, what=what)
            )
        return codec, None, scan
    if head.startswith(codecs.BOM_UTF8):
        codec = "utf-8-sig"
    elif head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        codec = "utf-16"
    else:
        codec = "utf-8"
    scan = _scan(open_raw, codec)
    if scan.error is None:
        return codec, None, scan
    line, byte = scan.error
    for fallback in ("cp1252", "latin-1"):
        other = _scan(open_raw, fallback, controls=True)
        if other.error is None and not other.control:
            note = _(
                "not UTF-8 (byte 0x{byte} on line {line}): read as {fallback}; if "
                "accented letters look wrong, give the right --encoding"
            ).format(byte=f"{byte:02x}", line=line, fallback=fallback)
            return fallback, note, other
    raise DataError(
        _(
            "{name}, line {line}: byte 0x{byte:02x} is not {what} text; save "
            "the file as UTF-8, or give its encoding with --encoding"
        ).format(name=name, line=line, byte=byte, what="UTF-8")
    )


# --- The dialect: separator, decimal mark, header ------------------------------------


def _text_sample(open_raw: Callable, codec: str) -> tuple[str, bool]:
    """Whole lines from the start: at least 64 KiB and 3 lines (a header wider than
    that is read whole); True when that is the whole file."""
    parts: list[str] = []
    size = 0
    with open_raw() as b, io.TextIOWrapper(b, encoding=codec, newline="") as f:
        while size < _SAMPLE_BYTES or len(parts) < 3:
            line = f.readline()
            if not line:
                return "".join(parts), True
            parts.append(line)
            size += len(line)
        whole = not f.read(1)
    return "".join(parts), whole


def _rows(text: str, sep: str) -> list[tuple[int, list[str]]]:
    """``(line, cells)`` of the non-blank rows of ``text``; raises ``csv.Error``."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    return [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]


def _rows_until_error(
    text: str, sep: str
) -> tuple[list[tuple[int, list[str]]], tuple[int, str] | None]:
    """The rows read before a ``csv.Error``, and its ``(line, message)`` if any."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    rows = []
    try:
        for r in reader:
            if r and any(c.strip() for c in r):
                rows.append((reader.line_num, r))
    except csv.Error as e:
        return rows, (reader.line_num, str(e))
    return rows, None


def _guess_sep(sample: str, whole: bool) -> str:
    """The candidate separator that splits every sampled row into the same number (at
    least 2) of fields, the most fields winning; else the one giving the header most."""
    best, best_k, widest, widest_k = None, 1, ",", 1
    for sep in SEPARATORS:
        try:
            rows = _rows(sample, sep)
        except csv.Error:
            continue
        if not whole and len(rows) > 1:
            rows = rows[:-1]  # the last sampled row may be cut short
        if not rows:
            continue
        counts = {len(cells) for _line, cells in rows}
        k = len(rows[0][1])
        if len(counts) == 1 and k > best_k:
            best, best_k = sep, k
        if k > widest_k:
            widest, widest_k = sep, k
    return best if best is not None else widest


def _guess_decimal(rows: list[tuple[int, list[str]]], sep: str) -> str:
    """A comma when cells like ``5,1`` outnumber those like ``5.1`` (never with ``,``)."""
    if sep == ",":
        return "."
    comma = point = 0
    for _line, cells in rows:
        for c in cells:
            s = c.strip()
            if "," in s and _NUMBER.fullmatch(s.replace(",", ".", 1)):
                comma += 1
            elif "." in s and _NUMBER.fullmatch(s):
                point += 1
    return "," if comma > point else "."


# --- Cells -----------------------------------------------------------------------------


def _cell(s: str, decimal: str) -> float | str:
    """The number in the stripped cell ``s``, or why it is not one: ``"missing"``,
    ``"not finite"``, ``"too large"``, ``"decimal"`` (the other mark), ``"grouped"``
    (thousands separators) or ``"text"``."""
    if s.lower() in MISSING_TOKENS:
        return "missing"
    t = s
    if decimal == ",":
        if "." in s and _NUMBER.fullmatch(s):
            return "decimal"
        t = s.replace(",", ".", 1)
    elif "," in s and _NUMBER.fullmatch(s.replace(",", ".", 1)):
        return "decimal"
    if _NUMBER.fullmatch(t):
        v = float(t)
        return v if math.isfinite(v) else "too large"
    if s.lower() in _NON_FINITE:
        return "not finite"
    if _GROUPED.fullmatch(s):
        return "grouped"
    return "text"


def _numbers(
    cells: list[str], decimal: str
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """A column chunk as float64 (NaN where not a number) and ``(row, why)`` problems."""
    joined = "".join(cells)
    # The vectorised conversion is exact where it agrees with _cell: ASCII only, no
    # underscores (float("1_000") is 1000), no infinities or NaN.
    if joined.isascii() and "_" not in joined:
        if decimal == "." and "," not in joined:
            src = cells
        elif decimal == "," and "." not in joined:
            src = [c.replace(",", ".", 1) for c in cells]
        else:
            src = None
        if src is not None:
            try:
                v = np.array(src, dtype=np.float64)
            except ValueError:
                pass
            else:
                if np.isfinite(v).all():
                    return v, []
    out = np.empty(len(cells), dtype=np.float64)
    problems = []
    for i, c in enumerate(cells):
        r = _cell(c.strip(), decimal)
        if isinstance(r, float):
            out[i] = r
        else:
            out[i] = np.nan
            problems.append((i, r))
    return out, problems


# --- The table of columns ---------------------------------------------------------------


@dataclass
class _Numbers:
    """A column read as numbers."""

    values: np.ndarray  # float64 of shape (n,), NaN where not a number
    missing: np.ndarray  # bool of shape (n,): a missing-value token
    bad: tuple[int, str, str] | None = None  # first (row, why, cell) not a number
    missing_token: str = ""  # the first missing cell's text

    def texts(self) -> list[str]:
        return [_format_number(v) for v in self.values]

    def take(self, keep: np.ndarray) -> _Numbers:
        return _Numbers(self.values[keep], self.missing[keep], None, self.missing_token)


@dataclass
class _Texts:
    """A column read as text: ``codes`` of shape (n,) into the distinct ``vocab``."""

    codes: np.ndarray  # int64
    vocab: list[str]  # distinct stripped texts, in first-seen order

    def texts(self) -> list[str]:
        return [self.vocab[c] for c in self.codes]

    def missing(self) -> np.ndarray:
        gone = np.array([w.lower() in MISSING_TOKENS for w in self.vocab], dtype=bool)
        return gone[self.codes] if len(self.vocab) else np.zeros(0, dtype=bool)

    def take(self, keep: np.ndarray) -> _Texts:
        return _Texts(self.codes[keep], self.vocab)

    def as_numbers(self, decimal: str) -> _Numbers:
        """The same cells read as numbers, the first that is not one kept as ``bad``."""
        kinds = [_cell(w, decimal) for w in self.vocab]  # once per distinct text
        values = np.array([k if isinstance(k, float) else np.nan for k in kinds])
        missing = np.array([k == "missing" for k in kinds], dtype=bool)
        wrong = np.array([isinstance(k, str) and k != "missing" for k in kinds])
        col = _Numbers(values[self.codes], missing[self.codes])
        rows_wrong = wrong[self.codes]
        if rows_wrong.any():
            i = int(np.argmax(rows_wrong))
            code = int(self.codes[i])
            col.bad = (i, str(kinds[code]), self.vocab[code])
        if col.missing.any():
            col.missing_token = self.vocab[int(self.codes[np.argmax(col.missing)])]
        return col


_Column = _Numbers | _Texts


def _format_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 2**53 else repr(float(v))


@dataclass
class _Table:
    header: list[str]
    header_line: int
    lines: np.ndarray
    columns: list[_Column]


class _Vocab(dict):
    """Cell texts to codes in first-seen order; ``vocab[cell]`` is the code.

    A dict whose ``__missing__`` numbers a new text: a known text is found by the
    dict's own C lookup, so ``vocab.__getitem__`` is a fast ``loadtxt`` converter.
    """

    def __missing__(self, cell: str) -> float:
        code = self[cell] = float(len(self))
        return code

    def column(self, codes: np.ndarray) -> _Texts:
        """The ``_Texts`` of these codes, cells that differ only by blanks merged."""
        words: dict[str, int] = {}
        remap = np.array(
            [words.setdefault(cell.strip(), len(words)) for cell in self],
            dtype=np.int64,
        )
        return _Texts(remap[codes.astype(np.int64)], list(words))


def _read_fast(
    open_raw, codec, sep, header, header_line, text_cols, total_lines
) -> _Table | None:
    """``np.loadtxt`` in C: None when the file needs the careful reader."""
    n_cols = len(header)
    vocabs = {j: _Vocab() for j in text_cols}
    try:
        with open_raw() as b, io.TextIOWrapper(b, encoding=codec) as f:
            a = np.loadtxt(
                f,
                delimiter=sep,
                quotechar='"',
                comments=None,
                skiprows=header_line,
                converters={j: v.__getitem__ for j, v in vocabs.items()} or None,
                dtype=np.float64,
                ndmin=2,
                encoding=None,
            )
    except (ValueError, TypeError, csv.Error):
        return None
    n = a.shape[0]
    # Same number of rows as lines after the header: no blank line, no quoted line
    # break, so row i is line header_line + 1 + i.
    if n == 0 or a.shape[1] != n_cols or n != total_lines - header_line:
        return None
    limit = csv.field_size_limit()
    if any(len(w) > limit for v in vocabs.values() for w in v):
        return None  # the careful reader refuses it as the csv module does
    if not np.isfinite(a).all():  # (text columns hold finite codes)
        return None  # missing values, infinities: the careful reader names them
    columns: list[_Column] = []
    for j in range(n_cols):
        if j in vocabs:
            columns.append(vocabs[j].column(a[:, j]))
        else:
            columns.append(_Numbers(a[:, j], np.zeros(n, dtype=bool)))
    lines = np.arange(header_line + 1, header_line + 1 + n, dtype=np.int64)
    return _Table(header, header_line, lines, columns)


def _read_careful(
    name, open_raw, codec, sep, decimal, header, header_line, text_cols, total_lines
) -> _Table:
    """The ``csv`` module, cell by cell: every problem named by line and column."""
    n_cols = len(header)
    num = [j for j in range(n_cols) if j not in text_cols]
    pos = {j: k for k, j in enumerate(num)}
    cap = max(total_lines - header_line, 1)
    values = np.empty((cap, len(num)), dtype=np.float64)
    missing = np.zeros((cap, len(num)), dtype=bool)
    bad: dict[int, tuple[int, str, str]] = {}
    tokens: dict[int, str] = {}  # the first missing cell's text, per column
    vocabs = {j: _Vocab() for j in text_cols}
    codes = {j: np.empty(cap, dtype=np.int64) for j in text_cols}
    lines = np.empty(cap, dtype=np.int64)
    n = 0

    def flush(rows: list[list[str]]) -> None:
        nonlocal n
        m = len(rows)
        for j in num:
            cells = [r[j] for r in rows]
            v, problems = _numbers(cells, decimal)
            values[n : n + m, pos[j]] = v
            for i, why in problems:
                if why == "missing":
                    missing[n + i, pos[j]] = True
                    tokens.setdefault(j, cells[i].strip())
                elif j not in bad:
                    bad[j] = (n + i, why, cells[i].strip())
        for j in text_cols:
            vocab = vocabs[j]
            codes[j][n : n + m] = [vocab[r[j]] for r in rows]
        n += m

    with open_raw() as b, io.TextIOWrapper(b, encoding=codec, newline="") as f:
        reader = csv.reader(f, delimiter=sep, strict=True)
        rows: list[list[str]] = []
        try:
            for cells in reader:
                if reader.line_num <= header_line or not any(c.strip() for c in cells):
                    continue
                if len(cells) != n_cols:
                    raise DataError(
                        _(
                            "{name}, line {line}: has {fields} fields, the header has "
                            "{columns}; every row needs one value per column"
                        ).format(
                            name=name,
                            line=reader.line_num,
                            fields=len(cells),
                            columns=n_cols,
                        )
                        + _sep_hint(sep)
                    )
                if n + len(rows) >= cap:  # more rows than lines: cannot happen
                    raise DataError(
                        _("{name}: changed while it was read").format(name=name)
                    )
                lines[n + len(rows)] = reader.line_num
                rows.append(cells)
                if len(rows) == _CHUNK_ROWS:
                    flush(rows)
                    rows = []
        except csv.Error as e:
            # line_num counts the physical lines read so far, the failing one included
            raise DataError(
                _("{name}, line {line}: {error}; is this a CSV file?").format(
                    name=name, line=reader.line_num, error=e
                )
            ) from None
        flush(rows)
    if n == 0:
        raise DataError(_("{name}: has a header but no data rows").format(name=name))
    columns: list[_Column] = []
    for j in range(n_cols):
        if j in vocabs:
            columns.append(vocabs[j].column(codes[j][:n]))
        else:
            columns.append(
                _Numbers(
                    values[:n, pos[j]],
                    missing[:n, pos[j]],
                    bad.get(j),
                    tokens.get(j, ""),
                )
            )
    return _Table(header, header_line, lines[:n], columns)


def _sep_hint(sep: str) -> str:
    return _(" (the separator read is the {sep}; give --sep)").format(
        sep=_(SEPARATORS[sep]) if sep in SEPARATORS else repr(sep)
    )


# --- Choosing columns -------------------------------------------------------------------


def _column_index(position: dict[str, int], spec: str | int) -> int | None:
    """A column given by name, else by its 1-based number; None if there is none."""
    if isinstance(spec, str) and spec in position:
        return position[spec]
    if isinstance(spec, bool):
        return None
    try:
        k = int(spec)
    except (TypeError, ValueError):
        return None
    return k - 1 if 1 <= k <= len(position) else None


def _columns_list(header: list[str]) -> str:
    shown = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "")
    return _("the columns are {shown} (or give their numbers from 1 to {n})").format(
        shown=shown, n=len(header)
    )


def _is_index(col: _Column, n: int) -> bool:
    """Whether the column counts the rows, 0..n-1 or 1..n (what pandas writes)."""
    if not isinstance(col, _Numbers) or col.bad is not None or col.missing.any():
        return False
    v = col.values
    return bool(
        np.array_equal(v, np.arange(n)) or np.array_equal(v, np.arange(1, n + 1))
    )


_EXACT_INTEGERS = 2.0**53
"""Below this, float64 holds every whole number and little else; above, only whole
numbers: an identifier is a whole number below it."""


def _looks_like_id(col: _Column, n: int) -> str | None:
    """Why the column identifies rows rather than describes them, or None."""
    if n < MIN_ROWS_FOR_ID:
        return None
    if isinstance(col, _Texts):
        present = [w for w in col.vocab if w.lower() not in MISSING_TOKENS]
        if present and all(_DATE.fullmatch(w) for w in present):
            return _("holds dates (like {example!r})").format(example=present[0])
        if len(col.vocab) == n and any(_cell(w, ".") == "text" for w in present):
            return _("holds a different text on every row (like {example!r})").format(
                example=present[0]
            )
        return None
    if col.bad is not None or col.missing.any():
        return None
    v = col.values
    head = v[:1000]  # most columns show at once that they are not whole numbers
    if (
        np.all(head == np.round(head))
        and np.all(v == np.round(v))
        # from 2**53 on every float is whole: measurements at 1e300 are not counted
        and np.all(np.abs(v) < _EXACT_INTEGERS)
        and (len(np.unique(v)) == n)
    ):
        return _("holds a different whole number on every row ({low}..{high})").format(
            low=_format_number(v.min()), high=_format_number(v.max())
        )
    return None


def label_order(labels: Sequence[str]) -> list[str]:
    """The classes in a fixed order, a pure function of the labels.

    Numbers by value, ties (``1``, ``01``, ``1.0``) broken by their text; anything else
    by its text. Never by the order of a set, so ``PYTHONHASHSEED`` cannot change it.
    """
    distinct = sorted(set(labels))
    values = [_cell(s, ".") for s in distinct]
    if all(isinstance(v, float) for v in values):
        return [s for _v, s in sorted(zip(values, distinct))]
    return distinct


# --- The loader ---------------------------------------------------------------------------


def load_csv(
    path: str | os.PathLike,
    target: str | None = None,
    *,
    features: Sequence[str | int] | None = None,
    drop: Sequence[str | int] | None = None,
    class_names: Sequence[str] | None = None,
    require_target: bool = True,
    task: str | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    drop_missing: bool = False,
) -> Dataset:
    """Read a CSV file of numeric features and a target column.

    Parameters
    ----------
    path : path-like
    target : str or None
        The target column's name (or 1-based number); None means the last column.
    features : sequence of str or int, or None
        Feature columns to use, in this order, by name or 1-based number (e.g. those
        a saved model was trained on); columns named here are used even when they
        look like identifiers. None: every column except the target, the dropped
        ones and a pandas index.
    drop : sequence of str or int, or None
        Columns to leave out (names or 1-based numbers).
    class_names : sequence of str or None
        Known classes (from a saved model): labels are mapped onto them and an unknown
        label is an error. None: the classes are the labels found, in
        ``label_order``.
    require_target : bool
        When False and the target column is absent, or present with every label
        left blank, ``y`` is None (for prediction).
    task : {"classification", "regression"} or None
        None: classification when the target holds text or at most
        ``MAX_AUTO_CLASSES`` distinct whole numbers, else regression.
    sep, decimal, encoding : str or None
        Override what is detected: the separator (one character), the decimal mark
        (``"."`` or ``","``), the text encoding (any Python codec name).
    drop_missing : bool
        Drop the rows with a missing value in a used column instead of refusing them.

    Returns
    -------
    Dataset
        ``X`` float64 of shape (n_samples, n_features); ``y`` int64 classes or
        float64 values of shape (n_samples,), or None; ``lines``, ``source``,
        ``ids`` and ``notes`` as described there.

    Raises
    ------
    DataError
        Naming the file, the line and the column of the first problem found, and
        how to fix it.
    """
    name = os.fspath(path)
    if task is not None and task not in TASKS:
        raise DataError(
            _("task must be one of {tasks}, got {task!r}").format(
                tasks=list(TASKS), task=task
            )
        )
    if sep is not None and (len(sep) != 1 or sep in '"\r\n'):
        raise DataError(
            _(
                "the separator must be one character (not a quote or a line break), "
                "got {sep!r}"
            ).format(sep=sep)
        )
    if decimal is not None and decimal not in DECIMALS:
        raise DataError(
            _("the decimal mark must be '.' or ',', got {decimal!r}").format(
                decimal=decimal
            )
        )
    if sep is not None and decimal is not None and sep == decimal:
        raise DataError(
            _("the separator and the decimal mark are both {sep!r}").format(sep=sep)
        )
    open_raw = _opener(name)
    codec, encoding_note, scan = _choose_encoding(name, open_raw, encoding)
    if scan.nul_line is not None:
        hint = (
            " (UTF-16 without a byte-order mark? give --encoding utf-16-le)"
            if _looks_utf16(open_raw)
            else ""
        )
        raise DataError(
            _(
                "{name}, line {line}: contains a NUL byte; this is not a CSV file"
            ).format(name=name, line=scan.nul_line)
            + hint
        )
    sep_found, dec, header, header_line, rows = _sniff(
        name, open_raw, codec, sep, decimal
    )
    trailing = len(header) - 1 if len(header) > 2 and not header[-1] else None
    last = len(header) - 1 if trailing is None else len(header) - 2
    t = _resolve_target(name, header, target, features, require_target, sep_found, last)
    # Text columns (and the target) are read as text; the others as numbers.
    text_cols = {
        j
        for j in range(len(header))
        if j == t
        or any(
            len(cells) == len(header) and _cell(cells[j].strip(), dec) == "text"
            for _line, cells in rows
        )
    }
    table = None
    if dec == "." and codec in ("utf-8", "utf-8-sig", "cp1252", "latin-1"):
        table = _read_fast(
            open_raw, codec, sep_found, header, header_line, text_cols, scan.lines
        )
    if table is None:
        table = _read_careful(
            name,
            open_raw,
            codec,
            sep_found,
            dec,
            header,
            header_line,
            text_cols,
            scan.lines,
        )
    source = {
        "encoding": codec,
        "sep": sep_found,
        "decimal": dec,
        "quotechar": '"',
        "detected": [
            k
            for k, given in (("sep", sep), ("decimal", decimal), ("encoding", encoding))
            if given is None
        ],
    }
    notes = [_("encoding {note}").format(note=encoding_note)] if encoding_note else []
    ask = _Choice(
        features=features,
        drop=drop,
        class_names=class_names,
        task=task,
        drop_missing=drop_missing,
        require_target=require_target,
        source=source,
        notes=notes,
        trailing=trailing,
    )
    return _build(name, table, t, ask)


def _sniff(
    name: str, open_raw: Callable, codec: str, sep: str | None, decimal: str | None
) -> tuple[str, str, list[str], int, list[tuple[int, list[str]]]]:
    """``(separator, decimal mark, header, header line, sampled rows)`` from the
    file's first lines, the given ``sep`` and ``decimal`` taking precedence."""
    sample, whole = _text_sample(open_raw, codec)
    # Excel reads (and some tools write) a first line "sep=;" naming the separator.
    hint = re.fullmatch(r"sep=(.)", sample.split("\n", 1)[0].rstrip("\r"))
    if hint:
        sample = "\n" + sample.split("\n", 1)[1] if "\n" in sample else ""
    sep_found = sep or (hint.group(1) if hint else _guess_sep(sample, whole))
    sampled, error = _rows_until_error(sample, sep_found)
    if error is not None and whole:
        # line_num counts the physical lines read so far, the failing one included
        raise DataError(
            _("{name}, line {line}: {error}; is this a CSV file?").format(
                name=name, line=error[0], error=error[1]
            )
        )
    if not sampled:
        raise DataError(
            _("{name}: the file is empty; it needs a header line and data rows").format(
                name=name
            )
        )
    header_line, header_cells = sampled[0]
    header = [c.strip() for c in header_cells]
    rows = sampled[1:] if whole else sampled[1:-1] or sampled[1:]
    dec = decimal or _guess_decimal(rows, sep_found)
    if dec == sep_found:
        raise DataError(
            _("{name}: the separator and the decimal mark are both {sep!r}").format(
                name=name, sep=dec
            )
        )
    _check_header(name, header, header_line)
    if not rows and whole:
        raise DataError(_("{name}: has a header but no data rows").format(name=name))
    return sep_found, dec, header, header_line, rows


def _looks_utf16(open_raw: Callable) -> bool:
    with open_raw() as f:
        head = f.read(64)
    return len(head) >= 4 and (head[1::2].count(0) > len(head) // 4)


def _check_header(name: str, header: list[str], line: int) -> None:
    seen = set()
    for j, col in enumerate(header):
        # (an empty first name may be an index, an empty last one a trailing
        # separator: both are checked against their values)
        trailing = j == len(header) - 1 and len(header) > 2
        if not col and j > 0 and not trailing:
            raise DataError(
                _(
                    "{name}, line {line}, column {j}: the header has an empty name"
                ).format(name=name, line=line, j=j + 1)
            )
        if col in seen and col:
            raise DataError(
                _("{name}, line {line}: column name {col!r} appears twice").format(
                    name=name, line=line, col=col
                )
            )
        seen.add(col)


def _resolve_target(
    name: str,
    header: list[str],
    target: str | None,
    features: Sequence[str | int] | None,
    require_target: bool,
    sep: str,
    last: int,
) -> int | None:
    """The target column: ``target`` (a name or a number from 1), else column
    ``last`` (the last one with a name)."""
    if target is None:
        if features is not None and (
            not require_target or header[last] in features or last + 1 in features
        ):
            return None  # (predicting: the model's features, maybe no class column)
        if len(header) < 2:
            raise DataError(
                _(
                    "{name}: has no feature columns besides the target {target!r}"
                ).format(name=name, target=header[-1])
                + _sep_hint(sep)
            )
        return last
    j = _column_index({c: k for k, c in enumerate(header)}, target)
    if j is not None:
        return j
    if not require_target:
        return None
    raise DataError(
        _(
            "{name}: no column named {target!r}; the columns are {columns} "
            "(choose one with --target)"
        ).format(name=name, target=target, columns=", ".join(header))
    )


@dataclass
class _Choice:
    """What ``load_csv`` was asked for, and what it tells the user."""

    features: Sequence[str | int] | None
    drop: Sequence[str | int] | None
    class_names: Sequence[str] | None
    task: str | None
    drop_missing: bool
    require_target: bool
    source: dict
    notes: list[str]
    trailing: int | None = None  # an unnamed last column: a trailing separator?


def _build(name: str, table: _Table, t: int | None, ask: _Choice) -> Dataset:
    """The Dataset of ``table``, ``t`` being the target column (None: no target)."""
    header, cols = table.header, table.columns
    n = len(table.lines)
    ids: dict[str, list[str]] = {}
    index_col = _index_column(name, table, ask, ids)
    _check_trailing_column(name, table, ask)
    if t is not None and t == index_col:
        raise DataError(
            _("{name}: the target cannot be the unnamed index column").format(name=name)
        )
    fidx = _choose_features(name, header, t, index_col, ask)
    used = {*fidx, t, index_col, ask.trailing}
    for j in range(len(header)):  # kept aside to name the rows of predictions
        if j not in used and _looks_like_id(cols[j], n):
            ids[header[j]] = cols[j].texts()
    # Text ids and dates first (they are not numbers either), then the first cell
    # that is not a number, then whole-number ids (which are numbers).
    _refuse_identifiers(name, header, cols, fidx, n, ask, text=True)
    decimal = ask.source["decimal"]
    numbers = [
        col.as_numbers(decimal) if isinstance(col, _Texts) else col
        for col in (cols[j] for j in fidx)
    ]
    _raise_first_cell_problem(name, table, t, fidx, numbers, ask)
    _refuse_identifiers(name, header, cols, fidx, n, ask, text=False)
    keep = np.ones(n, dtype=bool)
    for col in numbers:
        keep &= ~col.missing
    target = cols[t] if t is not None else None
    target_name = header[t] if t is not None else "class"
    if isinstance(target, _Texts):
        labels_missing = target.missing()
        if not ask.require_target and labels_missing.all():
            t, target = None, None  # a class column left blank, as in rows to predict
        elif labels_missing.any() and ask.drop_missing:
            keep &= ~labels_missing
        elif labels_missing.any():
            i = int(np.argmax(labels_missing & keep))
            what = _("target value") if ask.task == "regression" else _("class label")
            raise DataError(
                _(
                    "{name}, line {line}, column {target!r}: missing {what}; fill it "
                    "in or remove the row, or drop the rows with missing values with "
                    "--drop-missing"
                ).format(name=name, line=table.lines[i], target=target_name, what=what)
            )
    lines = table.lines
    if not keep.all():
        if not keep.any():
            raise DataError(
                _("{name}: every row has a missing value; nothing is left").format(
                    name=name
                )
            )
        gone = table.lines[~keep]
        shown = ", ".join(map(str, gone[:5])) + (", ..." if len(gone) > 5 else "")
        ask.notes.append(
            _("dropped {n} row(s) with missing values (lines {shown})").format(
                n=len(gone), shown=shown
            )
        )
        ask.source["rows_dropped"] = len(gone)
        lines = table.lines[keep]
        numbers = [col.take(keep) for col in numbers]
        target = target.take(keep) if isinstance(target, _Texts) else None
        ids = {k: [v for v, kk in zip(col, keep) if kk] for k, col in ids.items()}
    X = np.empty((len(lines), len(fidx)), dtype=np.float64)
    for k, col in enumerate(numbers):
        X[:, k] = col.values
    y, names, task = None, list(ask.class_names or []), ask.task
    if isinstance(target, _Texts):
        y, names, task = _target(name, target_name, lines, target, ask)
    return Dataset(
        X=X,
        y=y,
        feature_names=[header[j] for j in fidx],
        class_names=names,
        name=name,
        target_name=target_name if target is not None else "class",
        task=task or "classification",
        lines=lines,
        source=ask.source,
        ids=ids,
        notes=ask.notes,
    )


def _refuse_identifiers(
    name: str,
    header: list[str],
    cols: list[_Column],
    fidx: list[int],
    n: int,
    ask: _Choice,
    *,
    text: bool,
) -> None:
    """Refuse an id-like feature column (text ones or numeric ones), unless the
    features were named explicitly."""
    if ask.features is not None:
        return
    for j in fidx:
        if isinstance(cols[j], _Texts) != text:
            continue
        why = _looks_like_id(cols[j], n)
        if why is not None:
            c = header[j]
            raise DataError(
                _(
                    "{name}: column {c!r} {why}: it looks like an identifier, not a "
                    "measurement; leave it out with --drop {shell} (drop=[{c!r}]), or "
                    "name it in --features to use it anyway"
                ).format(name=name, c=c, why=why, shell=_shell(c))
            )


def _index_column(
    name: str, table: _Table, ask: _Choice, ids: dict[str, list[str]]
) -> int | None:
    """0 when the first column is an unnamed row index (then kept in ``ids``)."""
    first = table.header[0]
    if first and not _UNNAMED.fullmatch(first):
        return None
    if not _is_index(table.columns[0], len(table.lines)):
        raise DataError(
            _(
                "{name}, line {line}, column 1: the header has an empty name (and "
                "the column is not a 0..n-1 or 1..n row index); name it"
            ).format(name=name, line=table.header_line)
        )
    ids["index"] = table.columns[0].texts()
    ask.notes.append(
        _(
            "column 1 has no name and counts the rows: read as the row index "
            "(as pandas writes it) and not used as a feature"
        )
    )
    ask.source["index_column"] = True
    return 0


def _check_trailing_column(name: str, table: _Table, ask: _Choice) -> None:
    """An unnamed last column is ignored when it is empty (every line ends with the
    separator), else it is an unnamed column: an error."""
    j = ask.trailing
    if j is None:
        return
    col = table.columns[j]
    empty = col.missing() if isinstance(col, _Texts) else col.missing
    if (isinstance(col, _Numbers) and col.bad is not None) or not empty.all():
        raise DataError(
            _("{name}, line {line}, column {j}: the header has an empty name").format(
                name=name, line=table.header_line, j=j + 1
            )
        )
    ask.notes.append(
        _("every line ends with the separator: the empty column {j} is ignored").format(
            j=j + 1
        )
    )


def _choose_features(
    name: str, header: list[str], t: int | None, index_col: int | None, ask: _Choice
) -> list[int]:
    position = {c: j for j, c in enumerate(header)}
    dropped = set()
    for spec in ask.drop or ():
        j = _column_index(position, spec)
        if j is None:
            raise DataError(
                _("{name}: no column named {spec!r} for --drop; {columns}").format(
                    name=name, spec=spec, columns=_columns_list(header)
                )
            )
        if j == t:
            raise DataError(
                _("{name}: column {c!r} is the target; it cannot be dropped").format(
                    name=name, c=header[j]
                )
            )
        dropped.add(j)
    if dropped:
        ask.source["dropped_columns"] = [header[j] for j in sorted(dropped)]
    if ask.features is None:
        left_out = {t, index_col, ask.trailing, *dropped}
        fidx = [j for j in range(len(header)) if j not in left_out]
        if not fidx:
            raise DataError(
                _(
                    "{name}: has no feature columns besides the target {target!r}"
                ).format(name=name, target=header[t] if t is not None else "")
            )
        return fidx
    found = [_column_index(position, f) for f in ask.features]
    absent = [f for f, j in zip(ask.features, found) if j is None]
    if absent:
        raise DataError(
            _("{name}: lacks the feature column(s) {absent}; {columns}").format(
                name=name,
                absent=", ".join(map(repr, absent)),
                columns=_columns_list(header),
            )
        )
    fidx = [j for j in found if j is not None]
    if t is not None and t in fidx:
        raise DataError(
            _("{name}: column {c!r} is the target; it cannot also be a feature").format(
                name=name, c=header[t]
            )
        )
    if len(set(fidx)) != len(fidx):
        raise DataError(_("{name}: a feature column is named twice").format(name=name))
    return fidx


def _raise_first_cell_problem(
    name: str,
    table: _Table,
    t: int | None,
    fidx: list[int],
    numbers: list[_Numbers],
    ask: _Choice,
) -> None:
    """The first cell, by line then column, that is not a number (or is missing)."""
    problems = []
    for j, col in zip(fidx, numbers):
        if col.bad is not None:
            i, why, w = col.bad
            problems.append((i, j, why, w))
        if col.missing.any() and not ask.drop_missing:
            i = int(np.argmax(col.missing))
            problems.append((i, j, "missing", col.missing_token))
    if problems:
        i, j, why, w = min(problems, key=lambda p: (p[0], p[1]))
        raise DataError(
            _cell_message(name, table, i, table.header, j, t, why, w, ask.source)
        )


def _target(
    name: str, column: str, lines: np.ndarray, target: _Texts, ask: _Choice
) -> tuple[np.ndarray, list[str], str]:
    """``(y, class_names, task)`` from the target's text."""
    vocab = target.vocab
    task = "classification" if ask.class_names is not None else ask.task
    if task is None:
        task = _auto_task(vocab, target.codes)
    if task == "regression":
        kinds = [_cell(w, ask.source["decimal"]) for w in vocab]
        for code in np.unique(target.codes):
            if not isinstance(kinds[code], float):
                i = int(np.argmax(target.codes == code))
                raise DataError(
                    _(
                        "{name}, line {line}, column {column!r}: {value!r} is not a "
                        "number; a regression target must be numbers (or use --task "
                        "classification)"
                    ).format(name=name, line=lines[i], column=column, value=vocab[code])
                )
        values = np.array([k if isinstance(k, float) else np.nan for k in kinds])
        return values[target.codes], [], task
    present = np.unique(target.codes)
    if ask.class_names is None:
        names = label_order([vocab[c] for c in present])
        if len(names) < 2:
            raise DataError(
                _(
                    "{name}: column {target!r} has only one class ({only!r}); "
                    "classification needs at least two"
                ).format(name=name, target=column, only=names[0])
            )
    else:
        names = list(ask.class_names)
    index = {c: k for k, c in enumerate(names)}
    to_class = np.full(len(vocab), -1, dtype=np.int64)
    for c in present:
        to_class[c] = index.get(vocab[c], -1)
    y = to_class[target.codes]
    if (y < 0).any():
        i = int(np.argmax(y < 0))
        raise DataError(
            _(
                "{name}, line {line}, column {column!r}: class {value!r} is not one "
                "the model knows ({classes})"
            ).format(
                name=name,
                line=lines[i],
                column=column,
                value=vocab[target.codes[i]],
                classes=", ".join(names),
            )
        )
    return y, names, task


def number_or_reason(text: str, decimal: str = ".") -> float | str:
    """The number a cell's text holds, read strictly, or why it is not one."""
    return _cell(text.strip(), decimal)


def _auto_task(vocab: list[str], codes: np.ndarray) -> str:
    present = [vocab[c] for c in np.unique(codes)]
    values = [_cell(w, ".") for w in present]
    if not all(isinstance(v, float) for v in values):
        return "classification"
    distinct = {float(v) for v in values}
    if all(float(v).is_integer() for v in distinct) and len(distinct) <= (
        MAX_AUTO_CLASSES
    ):
        return "classification"
    return "regression"


def _shell(c: str) -> str:
    return c if re.fullmatch(r"[\w.-]+", c) else repr(c)


def _cell_message(name, table, i, header, j, t, why, w, source) -> str:
    c = header[j]
    where = _("{name}, line {line}, column {col!r}").format(
        name=name, line=table.lines[i], col=c
    )
    shown = w if len(w) <= 40 else w[:40] + "..."
    if why == "missing":
        if shown.lower() in ("nan", "-nan", "+nan"):
            what = _("{shown!r} is not a finite number: a missing value").format(
                shown=shown
            )
        elif shown:
            what = _("missing value ({shown!r})").format(shown=shown)
        else:
            what = _("missing value")
        return _(
            "{where}: {what}; fill it in, or drop the rows with missing values "
            "with --drop-missing (drop_missing=True)"
        ).format(where=where, what=what)
    if why == "not finite":
        return _(
            "{where}: {shown!r} is not a finite number; features must be finite"
        ).format(where=where, shown=shown)
    if why == "too large":
        return _(
            "{where}: {shown!r} is too large for a 64-bit float; features must be "
            "finite numbers"
        ).format(where=where, shown=shown)
    if why == "grouped":
        return _(
            "{where}: {shown!r} has a thousands separator; save the numbers without "
            "one (e.g. 1234.5)"
        ).format(where=where, shown=shown)
    if why == "decimal":
        mark = source["decimal"]
        other = "," if mark == "." else "."
        return _(
            "{where}: {shown!r} uses the decimal {other}, the file's is the {mark}; "
            "give --decimal {other_mark} if that is the file's mark"
        ).format(
            where=where,
            shown=shown,
            other=_(DECIMALS[other]),
            mark=_(DECIMALS[mark]),
            other_mark=other,
        )
    hint = ""
    if t != j:
        hint = _(
            "; if {col!r} is the class column, choose it with --target {shell}, "
            "or leave it out with --drop {shell}"
        ).format(col=c, shell=_shell(c))
    return (
        _("{where}: {shown!r} is not a number").format(where=where, shown=shown) + hint
    )
