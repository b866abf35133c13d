"""Iris, a user's CSV (good and bad), the stratified split and the standardiser."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop.datasets import Standardizer, load_csv, load_iris, train_test_split
from retroprop.recipe import prepare_data


def write(tmp_path, text: str | bytes, name: str = "data.csv"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# Iris --------------------------------------------------------------------------------


def test_load_iris():
    ds = load_iris()
    assert ds.X.shape == (150, 4) and ds.X.dtype == np.float64
    assert ds.y.shape == (150,) and np.issubdtype(ds.y.dtype, np.integer)
    assert ds.class_names == ["setosa", "versicolor", "virginica"]
    assert len(ds.feature_names) == 4
    assert all("length" in f or "width" in f for f in ds.feature_names)
    assert np.bincount(ds.y).tolist() == [50, 50, 50]
    # Fisher's first flower: 5.1, 3.5, 1.4, 0.2, setosa; the last: 5.9, 3.0, 5.1, 1.8.
    np.testing.assert_array_equal(ds.X[0], [5.1, 3.5, 1.4, 0.2])
    assert ds.y[0] == 0
    np.testing.assert_array_equal(ds.X[-1], [5.9, 3.0, 5.1, 1.8])
    assert ds.y[-1] == 2
    # Well-known column means of Iris (cm).
    np.testing.assert_allclose(
        ds.X.mean(axis=0), [5.8433, 3.0573, 3.758, 1.1993], atol=1e-3
    )
    assert ds.n_classes == 3 and rp.datasets.load_iris().name == "iris"


# Good CSV files ----------------------------------------------------------------------


def test_csv_with_string_labels(tmp_path):
    p = write(tmp_path, "a,b,label\n1,2,cat\n3,4.5,dog\n-1e-3,0,cat\n")
    ds = load_csv(p, target="label")
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4.5], [-1e-3, 0]])
    assert ds.class_names == ["cat", "dog"] and ds.y.tolist() == [0, 1, 0]
    assert ds.feature_names == ["a", "b"]


def test_csv_with_integer_labels_in_numeric_order(tmp_path):
    p = write(tmp_path, "x,y\n0.5,10\n1.5,2\n2.5,1\n3.5,10\n")
    ds = load_csv(p)  # the last column by default
    assert ds.class_names == ["1", "2", "10"]  # numeric, not alphabetical, order
    assert ds.y.tolist() == [2, 1, 0, 2]
    assert ds.feature_names == ["x"]


def test_csv_target_not_last_and_spaces(tmp_path):
    p = write(tmp_path, "species , f1, f2\n a , 1, 2\n b, 3 , 4\n")
    ds = load_csv(p, target="species")
    assert ds.feature_names == ["f1", "f2"]
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4]])
    assert ds.class_names == ["a", "b"]


def test_csv_with_bom_and_crlf(tmp_path):
    p = write(tmp_path, "\ufeffa,b,c\r\n1,2,x\r\n3,4,y\r\n".encode())
    ds = load_csv(p, target="c")
    assert ds.feature_names == ["a", "b"]  # the BOM is not part of the first name
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4]])


def test_csv_blank_lines_are_skipped(tmp_path):
    p = write(tmp_path, "a,c\n1,x\n\n2,y\n\n")
    assert load_csv(p).y.tolist() == [0, 1]


# Bad CSV files: each error names the file, the line and the column ------------------


@pytest.mark.parametrize(
    ("text", "target", "pieces"),
    [
        ("a,b,c\n1,2,x\n3,,y\n", "c", ["line 3", "'b'", "missing value"]),
        ("a,b,c\n1,2,x\n3,4,\n", "c", ["line 3", "'c'", "missing class label"]),
        (
            "a,b,c\n1,2,x\n3,4,y\n5,abc,x\n",
            "c",
            ["line 4", "'b'", "'abc' is not a number"],
        ),
        ("a,b,c\n1,nan,x\n3,4,y\n", "c", ["line 2", "'b'", "not a finite number"]),
        ("a,b,c\n1,1e999,x\n3,4,y\n", "c", ["line 2", "'b'", "too large"]),
        ("a,b,c\n1,2,x\n3,4,y\n", "label", ["no column named 'label'", "a, b, c"]),
        ("a,b,c\n1,2,x\n3,4,x\n", "c", ["only one class", "'x'", "'c'"]),
        ("a,b,c\n1,2\n", "c", ["line 2", "2 fields", "3"]),
        ("", "c", ["empty"]),
        ("\n\n", "c", ["empty"]),
        ("a,b,c\n", "c", ["no data rows"]),
        ("a,a,c\n1,2,x\n3,4,y\n", "c", ["line 1", "'a'", "twice"]),
    ],
)
def test_bad_csv_errors_name_file_line_and_column(tmp_path, text, target, pieces):
    p = write(tmp_path, text)
    with pytest.raises(rp.DataError) as e:
        load_csv(p, target=target)
    msg = str(e.value)
    assert str(p) in msg
    for piece in pieces:
        assert piece in msg, (piece, msg)
    assert "\n" not in msg


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(rp.DataError, match="no such file"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(rp.DataError, match="directory"):
        load_csv(tmp_path)
    p = write(tmp_path, b"a,b\n1,x\n2,\xff\n")
    # Asked for UTF-8, the byte is refused; detected, the file is read as cp1252
    # (a single-byte fallback, reported in source and notes).
    with pytest.raises(rp.DataError, match=r"line 3: byte 0xff is not UTF-8"):
        load_csv(p, encoding="utf-8")
    ds = load_csv(p)
    assert ds.class_names == ["x", "\xff".encode("latin-1").decode("cp1252")]
    assert ds.source["encoding"] == "cp1252" and "cp1252" in ds.notes[0]


def test_data_error_is_a_value_error():
    assert issubclass(rp.DataError, ValueError)


# Split and standardisation -----------------------------------------------------------


def test_stratified_split_keeps_proportions_and_is_seeded():
    ds = load_iris()
    Xtr, Xte, ytr, yte = train_test_split(ds.X, ds.y, test_size=0.2, seed=0)
    assert Xtr.shape == (120, 4) and Xte.shape == (30, 4)
    assert np.bincount(ytr).tolist() == [40, 40, 40]
    assert np.bincount(yte).tolist() == [10, 10, 10]
    # Together the two parts are exactly the data set (no row lost or repeated).
    both = np.vstack([Xtr, Xte])
    assert sorted(map(tuple, both)) == sorted(map(tuple, ds.X))
    again = train_test_split(ds.X, ds.y, test_size=0.2, seed=0)
    np.testing.assert_array_equal(again[1], Xte)
    other = train_test_split(ds.X, ds.y, test_size=0.2, seed=1)
    assert not np.array_equal(other[1], Xte)
    gen = train_test_split(ds.X, ds.y, test_size=0.2, seed=np.random.default_rng(0))
    np.testing.assert_array_equal(gen[1], Xte)


def test_stratified_split_of_unbalanced_classes():
    y = np.array([0] * 80 + [1] * 15 + [2] * 5)
    X = np.arange(100, dtype=float).reshape(-1, 1)
    _, _, ytr, yte = train_test_split(X, y, test_size=0.2, seed=3)
    assert np.bincount(yte).tolist() == [16, 3, 1]
    assert np.bincount(ytr).tolist() == [64, 12, 4]


def test_split_rejects_bad_test_size():
    ds = load_iris()
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(rp.ConfigError, match="test_size"):
            train_test_split(ds.X, ds.y, test_size=bad)


def test_standardizer_fits_on_train_only():
    s = prepare_data()
    ds = load_iris()
    raw_tr, raw_te, _, _ = train_test_split(ds.X, ds.y, test_size=0.2, seed=1)
    np.testing.assert_allclose(s.standardizer.mean_, raw_tr.mean(axis=0), atol=1e-15)
    np.testing.assert_allclose(s.standardizer.scale_, raw_tr.std(axis=0), atol=1e-15)
    # Not fitted on everything, nor on the test part.
    assert not np.allclose(s.standardizer.mean_, ds.X.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(s.X_train.mean(axis=0), 0, atol=1e-14)
    np.testing.assert_allclose(s.X_train.std(axis=0), 1, atol=1e-14)
    np.testing.assert_allclose(
        s.X_test, (raw_te - raw_tr.mean(0)) / raw_tr.std(0), atol=1e-14
    )
    assert abs(s.X_test.mean(axis=0)).max() > 1e-3  # the test part is not re-centred


def test_standardizer_constant_feature_and_errors():
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    st = Standardizer().fit(X)
    np.testing.assert_array_equal(st.scale_, [1.0, 1.0])  # std 1 and 0 -> 1
    np.testing.assert_array_equal(st.transform(X), [[-1.0, 0.0], [1.0, 0.0]])
    with pytest.raises(rp.ConfigError, match="not fitted"):
        Standardizer().transform(X)
    with pytest.raises(rp.DataError, match="expected 2 features"):
        st.transform(np.ones((2, 3)))
    back = Standardizer.from_dict(st.to_dict())
    np.testing.assert_array_equal(back.transform(X), st.transform(X))


def test_a_constant_column_that_is_not_exact_in_binary_gets_scale_one():
    """0.1 ten times has a std of ~1e-17 from rounding, not 0: it must not be divided by."""
    X = np.column_stack([np.full(10, 0.1), np.arange(10.0)])
    sc = Standardizer().fit(X)
    assert sc.scale_[0] == 1.0
    assert sc.scale_[1] == pytest.approx(np.arange(10.0).std())
    np.testing.assert_allclose(sc.transform(X)[:, 0], 0.0, atol=1e-15)
    # a change of 1e-7 in that feature stays a change of about 1e-7
    assert abs(sc.transform([[0.1000001, 0.0]])[0, 0]) < 1e-6
