"""CSV input: every problem is a DataError (API) or one line and exit 2 (CLI).

Each case names the file and, where the problem has one, the line and the column. The
command-line cases run in-process through ``retroprop.cli.main`` (what the script
calls) and check stdout, stderr and the exit code.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from retroprop.cli import main
from retroprop.datasets import load_csv
from retroprop.errors import DataError

GOOD_ROWS = [
    "1.0,2.0,a",
    "1.5,2.5,b",
    "2.0,3.0,a",
    "2.5,3.5,b",
    "3.0,4.5,a",
    "3.5,5.0,b",
]


def _csv(*rows: str, header: str = "f1,f2,label") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


# name -> (content, a regex the message must match after the file name, or None
# when only the file name is expected). Lines count from 1 (the header).
CASES: dict[str, tuple[bytes, str]] = {
    "empty file": (b"", r"empty"),
    "only blank lines": (b"\n\n  \n", r"empty"),
    "header only": (b"f1,f2,label\n", r"no data rows"),
    "ragged row, too short": (
        _csv(*GOOD_ROWS[:3], "4.0,c", *GOOD_ROWS[3:]),
        r"line 5: has 2 fields, the header has 3",
    ),
    "ragged row, too long": (
        _csv(*GOOD_ROWS[:1], "4.0,5.0,a,9"),
        r"line 3: has 4 fields",
    ),
    "non-numeric cell": (
        _csv(*GOOD_ROWS[:2], "abc,2.0,a", *GOOD_ROWS[2:]),
        r"line 4, column 'f1': 'abc' is not a number",
    ),
    "missing cell": (_csv(*GOOD_ROWS[:4], "1.0,,a"), r"line 6, column 'f2': missing"),
    "nan": (
        _csv(*GOOD_ROWS[:1], "1.0,nan,b", *GOOD_ROWS[1:]),
        r"line 3, column 'f2': 'nan' is not a finite number",
    ),
    "NaN": (_csv("NaN,1.0,b", *GOOD_ROWS), r"line 2, column 'f1': 'NaN'"),
    "inf": (_csv(*GOOD_ROWS, "inf,1.0,b"), r"line 8, column 'f1': 'inf'"),
    "-Infinity": (_csv(*GOOD_ROWS, "1,-Infinity,b"), r"line 8, column 'f2'"),
    "1e400": (
        _csv(*GOOD_ROWS[:2], "1e400,1.0,b"),
        r"line 4, column 'f1': '1e400' is too large",
    ),
    "-1e400": (_csv(*GOOD_ROWS[:2], "1.0,-1e400,b"), r"line 4, column 'f2'"),
    "one class only": (_csv("1,2,a", "3,4,a", "5,6,a"), r"only one class \('a'\)"),
    "missing class label": (
        _csv(*GOOD_ROWS[:2], "1.0,2.0,"),
        r"line 4, column 'label': missing class label",
    ),
    "target column missing": (_csv(*GOOD_ROWS), r"no column named 'species'"),
    "duplicate column": (
        _csv(*GOOD_ROWS, header="f1,f1,label"),
        r"line 1: column name 'f1' appears twice",
    ),
    "empty column name": (
        _csv(*GOOD_ROWS, header="f1,,label"),
        r"line 1, column 2: the header has an empty name",
    ),
    "no feature column": (b"label\na\nb\n", r"no feature columns"),
    "oversized field": (
        _csv(*GOOD_ROWS[:2], "1," + "9" * 200_000 + ",a"),
        r"line 4: .*field larger than field limit",
    ),
    "oversized quoted field": (
        _csv(*GOOD_ROWS[:2], '1,"' + "x" * 200_000 + '",a'),
        r"line 4: .*field larger than field limit",
    ),
    # (a non-UTF-8 byte is now read as cp1252, and UTF-16 with a byte-order mark is
    # read: test_data_dialects.py; without a BOM it is NUL bytes, named as such)
    "UTF-16 file without BOM": (
        "f1,f2,label\n1,2,a\n".encode("utf-16-le"),
        r"line 1: contains a NUL byte.*--encoding utf-16-le",
    ),
    "NUL byte": (_csv(*GOOD_ROWS[:1], "1.0,2\x00,a"), r"line 3: contains a NUL byte"),
    # bytes 0..255: the newline (byte 10) ends line 1, so 0x80 is on line 2
    "binary garbage": (bytes(range(256)) * 4, r"line 2: byte 0x80 is not UTF-8"),
    "unterminated quote": (
        _csv(*GOOD_ROWS, '1,2,"a'),
        r"line 8: unexpected end of data",
    ),
    "text after a closing quote": (
        _csv(*GOOD_ROWS[:2], '1,2,"a"b', *GOOD_ROWS[2:]),
        r"line 4: ',' expected after '\"'",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_csv_is_one_data_error_naming_file_line_and_column(tmp_path, case):
    content, pattern = CASES[case]
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    target = "species" if case == "target column missing" else None
    with pytest.raises(DataError) as info:
        load_csv(path, target=target)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    assert re.search(pattern, msg), msg


@pytest.mark.parametrize("case", list(CASES))
def test_cli_bad_csv_exits_2_with_one_line(tmp_path, capsys, case):
    path = tmp_path / "data.csv"
    path.write_bytes(CASES[case][0])
    args = ["train", "-q", "--epochs", "1", "--data", str(path)]
    if case == "target column missing":
        args += ["--target", "species"]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"retroprop: error: {path}")
    assert "Traceback" not in err


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_not_a_file(tmp_path, capsys, make):
    path = tmp_path / "data.csv"
    if make == "directory":
        path.mkdir()
    with pytest.raises(
        DataError, match="no such file" if make == "missing" else "is a directory"
    ):
        load_csv(path)
    with pytest.raises(SystemExit) as info:
        main(["train", "-q", "--data", str(path)])
    assert info.value.code == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Traceback" not in err and str(path) in err


def test_a_non_utf8_byte_is_refused_when_utf8_is_asked_for(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(_csv(*GOOD_ROWS[:3]) + b"1.0,2.0,caf\xe9\n")
    with pytest.raises(DataError) as info:
        load_csv(path, encoding="utf-8")
    msg = str(info.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    assert re.search(r"line 5: byte 0xe9 is not UTF-8", msg), msg
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["train", "-q", "--epochs", "1", "--encoding", "utf-8", "--data", str(path)]
        )
    assert exit_info.value.code == 2


def test_a_byte_order_mark_is_accepted(tmp_path):
    plain, bom = tmp_path / "plain.csv", tmp_path / "bom.csv"
    plain.write_bytes(_csv(*GOOD_ROWS))
    bom.write_bytes(b"\xef\xbb\xbf" + _csv(*GOOD_ROWS))
    a, b = load_csv(plain), load_csv(bom)
    assert b.feature_names == ["f1", "f2"] and b.target_name == "label"
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert b.class_names == ["a", "b"]


def test_crlf_quotes_and_blank_lines_are_accepted(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'"f1","f2","label"\r\n\r\n1,2,"a"\r\n 3 , 4 ,b\r\n\r\n')
    ds = load_csv(path)
    np.testing.assert_array_equal(ds.X, [[1.0, 2.0], [3.0, 4.0]])
    assert ds.class_names == ["a", "b"] and list(ds.y) == [0, 1]


def test_cli_trains_on_a_bom_csv(tmp_path, capsys):
    rows = [f"{i % 7},{(i * 3) % 5},{'ab'[i % 2]}" for i in range(40)]
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _csv(*rows))
    with pytest.raises(SystemExit) as info:
        main(["train", "-q", "--epochs", "2", "--json", "--data", str(path)])
    assert info.value.code == 0
    out, _ = capsys.readouterr()
    assert '"class_names": [\n    "a",\n    "b"\n  ]' in out


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_device_is_refused_without_reading(device):
    """/dev/zero would never end: it is refused before reading."""
    import os

    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(DataError, match="is a device or socket"):
        load_csv(device)


def test_a_pipe_is_read(tmp_path):
    """A FIFO (like /dev/stdin in a shell pipeline) is a stream of CSV, and is read."""
    import os
    import threading

    if not hasattr(os, "mkfifo"):
        pytest.skip("needs POSIX FIFOs")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)

    def write():
        with open(fifo, "wb") as f:
            f.write(_csv(*GOOD_ROWS))

    t = threading.Thread(target=write, daemon=True)
    t.start()
    ds = load_csv(fifo)
    t.join()
    assert ds.X.shape == (6, 2)
