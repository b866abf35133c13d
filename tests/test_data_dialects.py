"""Files as spreadsheets and pandas write them: each reads to the same numbers as Iris.

Every file is written by the test from the bundled Iris, so the expected arrays are
known exactly; the command line must run on it (exit 0) and say how it read it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import retroprop as rp
from retroprop.cli import main
from retroprop.datasets import load_csv, load_iris

PT_HEADER = [
    "comprimento_sépala",
    "largura_sépala",
    "comprimento_pétala",
    "largura_pétala",
    "espécie",
]
PT_CLASSES = {"setosa": "Íris Setosa", "versicolor": "Íris Versicolor"}


def iris_rows(decimal: str = ".") -> list[list[str]]:
    ds = load_iris()
    rows = []
    for x, c in zip(ds.X, ds.y):
        name = ds.class_names[c]
        cells = [repr(float(v)).replace(".", decimal) for v in x]
        rows.append([*cells, PT_CLASSES.get(name, f"Íris {name.title()}")])
    return rows


def write(path, rows, header, sep, encoding, bom=b""):
    text = "\r\n".join(sep.join(r) for r in [header, *rows]) + "\r\n"
    path.write_bytes(bom + text.encode(encoding))
    return path


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def assert_iris(ds):
    iris = load_iris()
    np.testing.assert_array_equal(ds.X, iris.X)
    assert ds.class_names == ["Íris Setosa", "Íris Versicolor", "Íris Virginica"]
    np.testing.assert_array_equal(ds.y, iris.y)
    assert ds.feature_names == PT_HEADER[:4] and ds.target_name == "espécie"
    assert ds.task == "classification"
    np.testing.assert_array_equal(ds.lines, np.arange(2, 152))


EXCEL = {
    # name: (separator, decimal mark, encoding, byte-order mark, what is reported)
    "excel pt-BR UTF-8 with BOM": (";", ",", "utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
    "excel pt-BR Latin-1": (";", ",", "latin-1", b"", "cp1252"),
    "excel pt-BR cp1252": (";", ",", "cp1252", b"", "cp1252"),
    "semicolon with points": (";", ".", "utf-8", b"", "utf-8"),
    "TSV": ("\t", ".", "utf-8", b"", "utf-8"),
    "pipe": ("|", ".", "utf-8", b"", "utf-8"),
    "UTF-16 with BOM": (",", ".", "utf-16", b"", "utf-16"),
}


@pytest.mark.parametrize("case", list(EXCEL))
def test_dialects_read_to_the_same_arrays(tmp_path, case):
    sep, dec, enc, bom, reported = EXCEL[case]
    path = write(tmp_path / "iris.csv", iris_rows(dec), PT_HEADER, sep, enc, bom)
    ds = load_csv(path)
    assert_iris(ds)
    assert ds.source["sep"] == sep and ds.source["decimal"] == dec
    assert ds.source["encoding"] == reported
    # Latin-1/cp1252 is a fallback: the user is told.
    assert any("cp1252" in n for n in ds.notes) == (reported == "cp1252")


@pytest.mark.parametrize("case", ["excel pt-BR UTF-8 with BOM", "excel pt-BR Latin-1"])
def test_cli_trains_on_an_excel_export_and_says_how_it_read_it(tmp_path, capsys, case):
    sep, dec, enc, bom, reported = EXCEL[case]
    path = write(tmp_path / "iris.csv", iris_rows(dec), PT_HEADER, sep, enc, bom)
    code, out, err = run_cli(capsys, "train", "-q", "--epochs", 5, "--data", path)
    assert code == 0, err
    assert "semicolon-separated, decimal comma" in out and reported in out
    assert "classification of 'espécie' (3 classes)" in out
    code, out, err = run_cli(
        capsys, "train", "-q", "--epochs", 5, "--json", "--data", path
    )
    d = json.loads(out)
    assert d["source"]["sep"] == ";" and d["source"]["decimal"] == ","
    assert d["source"]["encoding"] == reported and d["task"] == "classification"
    # the same run as on the bundled Iris: same arrays, same split, same network
    code, out, _ = run_cli(capsys, "train", "-q", "--epochs", 5, "--json")
    ref = json.loads(out)
    assert d["test"]["accuracy"] == ref["test"]["accuracy"]
    assert d["train"]["loss"] == ref["train"]["loss"]


def test_overrides_beat_detection(tmp_path, capsys):
    # A semicolon file whose numbers have no decimals: nothing tells comma from
    # point, the user says which; a wrong --sep gives the field-count error with a hint.
    path = tmp_path / "d.csv"
    path.write_text("a;b;c\n1,5;2;x\n3;4,25;y\n", encoding="utf-8")
    ds = load_csv(path, sep=";", decimal=",")
    np.testing.assert_array_equal(ds.X, [[1.5, 2.0], [3.0, 4.25]])
    with pytest.raises(rp.DataError, match=r"no feature columns.*comma; give --sep"):
        load_csv(path, sep=",")
    code, _out, err = run_cli(
        capsys, "train", "-q", "--epochs", 1, "--sep", "tab", "--data", path
    )
    assert code == 2 and err.count("\n") == 1 and "no feature columns" in err


def test_decimal_point_in_a_decimal_comma_file_is_named(tmp_path):
    path = tmp_path / "d.csv"
    rows = [f"{i},5;{i % 3},25;{'xy'[i % 2]}" for i in range(12)]
    path.write_text("a;b;c\n" + "\n".join(rows) + "\n7.5;1,0;x\n", encoding="utf-8")
    with pytest.raises(rp.DataError) as e:
        load_csv(path)
    msg = str(e.value)
    assert "line 14, column 'a'" in msg and "'7.5'" in msg and "--decimal ." in msg


def test_pandas_index_column_is_dropped_saying_so(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    iris = load_iris()
    df = pd.DataFrame(iris.X, columns=iris.feature_names)
    df["species"] = [iris.class_names[c] for c in iris.y]
    path = tmp_path / "pandas.csv"
    df.to_csv(path)  # with its index: the header starts with an empty name
    assert path.read_text().startswith(",sepal_length")
    ds = load_csv(path)
    np.testing.assert_array_equal(ds.X, iris.X)
    np.testing.assert_array_equal(ds.y, iris.y)
    assert ds.ids["index"][:3] == ["0", "1", "2"]
    assert any("row index" in n for n in ds.notes)
    code, out, err = run_cli(capsys, "train", "-q", "--epochs", 2, "--data", path)
    assert code == 0, err
    assert "Note: column 1 has no name and counts the rows" in out
    # an unnamed first column that is not an index is still an error
    path.write_text(",a,b\n5,1,x\n9,2,y\n", encoding="utf-8")
    with pytest.raises(rp.DataError, match=r"column 1: the header has an empty name"):
        load_csv(path)


def test_the_careful_reader_and_the_fast_one_agree(tmp_path):
    """A trailing blank line sends the file to the csv-module reader: same result."""
    fast = write(tmp_path / "f.csv", iris_rows(), PT_HEADER, ",", "utf-8")
    slow = tmp_path / "s.csv"
    slow.write_bytes(fast.read_bytes() + b"\r\n\r\n")
    a, b = load_csv(fast), load_csv(slow)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.lines, b.lines)
    assert a.class_names == b.class_names and a.source == b.source


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("1_000", "'1_000' is not a number"),
        ("\uff11\uff12", "'\uff11\uff12' is not a number"),  # full-width 12
        ("\u0663", "'\u0663' is not a number"),  # Arabic-Indic 3
    ],
)
def test_numbers_are_read_strictly(tmp_path, cell, why):
    assert float(cell) > 0  # what Python's float would accept
    rows = [f"{i % 5}.5,{i % 3},{'ab'[i % 2]}" for i in range(12)]
    path = tmp_path / "d.csv"
    path.write_text("f1,f2,c\n" + "\n".join(rows) + f"\n{cell},1,a\n", encoding="utf-8")
    with pytest.raises(rp.DataError) as e:
        load_csv(path)
    assert "line 14, column 'f1'" in str(e.value) and why in str(e.value)


def test_a_wide_file_loads_every_column_in_order(tmp_path):
    """Loading is linear in the columns (no header.index per column)."""
    k = 3000
    X = np.arange(4 * k, dtype=np.float64).reshape(4, k) / 7
    header = ",".join(f"c{j}" for j in range(k)) + ",label"
    lines = [
        ",".join(repr(float(v)) for v in row) + f",{'ab'[i % 2]}"
        for i, row in enumerate(X)
    ]
    path = tmp_path / "wide.csv"
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    ds = load_csv(path)
    np.testing.assert_array_equal(ds.X, X)
    assert ds.feature_names[-1] == f"c{k - 1}"


def test_excel_separator_line_and_trailing_separators(tmp_path, capsys):
    """``sep=;`` on line 1 (Excel's hint) names the separator; a separator ending
    every line makes an empty unnamed last column, ignored saying so."""
    rows = iris_rows(",")
    text = "sep=;\n" + "\n".join(";".join([*r, ""]) for r in [PT_HEADER, *rows])
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (text + "\n").encode("utf-8"))
    ds = load_csv(path)
    np.testing.assert_array_equal(ds.X, load_iris().X)
    assert ds.target_name == "espécie" and ds.source["sep"] == ";"
    np.testing.assert_array_equal(ds.lines, np.arange(3, 153))  # the header is line 2
    assert any("ends with the separator" in n for n in ds.notes)
    # an unnamed last column with values is still an error
    path.write_text("a;b;\n1;x;5\n2;y;6\n3;x;7\n", encoding="utf-8")
    with pytest.raises(rp.DataError, match=r"column 3: the header has an empty name"):
        load_csv(path)
    code, _out, err = run_cli(capsys, "train", "-q", "--data", path)
    assert code == 2 and err.count("\n") == 1


def test_thousands_separators_are_named(tmp_path):
    rows = [f"{i},5;{i % 3},25;{'xy'[i % 2]}" for i in range(12)]
    path = tmp_path / "d.csv"
    path.write_text("a;b;c\n" + "\n".join(rows) + "\n1.234,5;1,0;x\n", encoding="utf-8")
    with pytest.raises(rp.DataError) as e:
        load_csv(path)
    assert "line 14, column 'a': '1.234,5' has a thousands separator" in str(e.value)
