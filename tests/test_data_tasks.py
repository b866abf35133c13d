"""Tasks, splits, determinism and predictions written out.

Regression on scikit-learn's diabetes (bundled with scikit-learn: no download) and
classification of its 8x8 digits, written to CSV files by the test.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import retroprop as rp
from retroprop.cli import main
from retroprop.datasets import (
    capacity_hint,
    label_order,
    load_csv,
    load_iris,
    regression_scores,
    train_test_split,
)


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def write_csv(path, X, y, names, target):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*names, target])
        for x, t in zip(X, y):
            w.writerow([*(repr(float(v)) for v in x), t])
    return path


@pytest.fixture(scope="module")
def diabetes_csv(tmp_path_factory):
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_diabetes(scaled=False)
    path = tmp_path_factory.mktemp("diabetes") / "diabetes.csv"
    return write_csv(path, d.data, d.target.astype(int), d.feature_names, "progression")


@pytest.fixture(scope="module")
def digits_csv(tmp_path_factory):
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    path = tmp_path_factory.mktemp("digits") / "digits.csv"
    names = [f"pixel_{i}" for i in range(64)]
    return write_csv(path, d.data, d.target, names, "digit")


# --- Regression --------------------------------------------------------------------


def test_a_numeric_target_is_regression(diabetes_csv):
    ds = load_csv(diabetes_csv)
    assert ds.task == "regression" and ds.class_names == []
    assert ds.y.dtype == np.float64 and ds.X.shape == (442, 10)
    assert ds.y.min() >= 25 and ds.y.max() <= 346
    assert load_csv(diabetes_csv, task="classification").n_classes == 214


def test_regression_scores_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.normal(size=50) * 3 + 1
    p = y + rng.normal(size=50)
    got = regression_scores(y, p)
    assert got["r2"] == pytest.approx(metrics.r2_score(y, p), rel=1e-12)
    assert got["mae"] == pytest.approx(metrics.mean_absolute_error(y, p), rel=1e-12)
    assert got["rmse"] == pytest.approx(
        np.sqrt(metrics.mean_squared_error(y, p)), rel=1e-12
    )
    # by hand: y = (1, 2, 3), predictions (1, 2, 4): residuals 0, 0, -1;
    # R² = 1 - 1 / ((1-2)² + 0 + (3-2)²) = 0.5, MAE = 1/3, RMSE = sqrt(1/3)
    hand = regression_scores(np.array([1.0, 2, 3]), np.array([1.0, 2, 4]))
    assert hand == pytest.approx({"r2": 0.5, "mae": 1 / 3, "rmse": np.sqrt(1 / 3)})


def test_cli_regression_run_reports_r2_and_saves_and_predicts(
    diabetes_csv, tmp_path, capsys
):
    model = tmp_path / "m.safetensors"
    code, out, err = run_cli(
        capsys,
        "train",
        "-q",
        "--json",
        "--data",
        diabetes_csv,
        "--hidden",
        "8",
        "--epochs",
        30,
        "--lr",
        0.01,
        "--save",
        model,
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["task"] == "regression" and d["architecture"] == [10, 8, 1]
    # 20 % of 442 rows, split at random (not per "class")
    assert d["test"]["samples"] == 88 and d["train"]["samples"] == 354
    assert "accuracy" not in d["test"] and "confusion_matrix" not in d["test"]
    assert d["train"]["r2"] > 0.4 and d["test"]["r2"] > 0.3
    assert d["test"]["rmse"] >= d["test"]["mae"] > 0
    code, out, err = run_cli(
        capsys, "train", "-q", "--data", diabetes_csv, "--epochs", 2
    )
    assert code == 0 and "regression of 'progression'" in out and "R²" in out
    # predict un-standardises: its scores on the file agree with a recomputation
    code, out, err = run_cli(
        capsys,
        "predict",
        "--model",
        model,
        "--data",
        diabetes_csv,
        "--json",
        "--output",
        tmp_path / "p.csv",
    )
    assert code == 0, err
    p = json.loads(out)
    ds = load_csv(diabetes_csv)
    assert p["task"] == "regression" and len(p["predictions"]) == 442
    assert p["scores"] == pytest.approx(regression_scores(ds.y, p["predictions"]))
    assert 100 < np.mean(p["predictions"]) < 200  # the target's scale, not z-scores
    assert p["lines"][:2] == [2, 3]
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "predicted progression"] and len(rows) == 443
    assert float(rows[1][1]) == pytest.approx(p["predictions"][0], rel=1e-15)


def test_too_many_classes_suggests_regression(diabetes_csv, capsys):
    code, out, err = run_cli(
        capsys, "train", "-q", "--task", "classification", "--data", diabetes_csv
    )
    assert code == 2 and err.count("\n") == 1 and out == ""
    assert "214 classes for 442 rows" in err and "--task regression" in err


def test_commands_that_classify_only_refuse_a_regression_target(
    diabetes_csv, capsys, tmp_path
):
    # (report records regression since the regress branch: tests/test_report_regression.py)
    for args in (["sweep", "lr"],):
        code, _out, err = run_cli(capsys, *args, "--data", diabetes_csv)
        assert code == 2 and err.count("\n") == 1, (args, err)
        assert "holds numbers (regression)" in err and "--task classification" in err


def test_explain_a_regression_step(diabetes_csv, capsys):
    """The squared error on the standardised target, the row named by its line."""
    from retroprop.datasets import split_lines
    from retroprop.recipe import prepare_data

    ds = load_csv(diabetes_csv)
    split = prepare_data(ds, test_size=0.2, seed=1)
    lines = split_lines(ds, 0.2, 1)[0]
    code, out, err = run_cli(
        capsys,
        "explain",
        "--data",
        diabetes_csv,
        "--format",
        "json",
        "--sample",
        lines[7],
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["loss_function"] == "mse" and d["meta"]["line"] == lines[7]
    y = split.y_train
    assert d["target"] == pytest.approx([(y[7] - y.mean()) / y.std()], rel=1e-12)
    np.testing.assert_array_equal(d["input"], split.X_train[[7]])
    code, _out, err = run_cli(
        capsys, "explain", "--data", diabetes_csv, "--loss", "cross_entropy"
    )
    assert code == 2 and "--loss" in err and "mse" in err


def test_estimators_receive_the_same_arrays(diabetes_csv, tmp_path):
    pytest.importorskip("sklearn")
    from retroprop.sklearn import BackpropClassifier, BackpropRegressor

    ds = load_csv(diabetes_csv)
    reg = BackpropRegressor((8,), max_iter=5, random_state=0, learning_rate_init=0.01)
    reg.fit((ds.X - ds.X.mean(0)) / ds.X.std(0), (ds.y - ds.y.mean()) / ds.y.std())
    assert (
        reg.score(
            (ds.X - ds.X.mean(0)) / ds.X.std(0), (ds.y - ds.y.mean()) / ds.y.std()
        )
        > 0.3
    )
    iris = load_iris()
    path = tmp_path / "iris_semicolon.csv"
    with open(path, "w", encoding="cp1252", newline="") as f:
        f.write("a;b;c;d;espécie\n")
        for x, c in zip(iris.X, iris.y):
            cells = [repr(float(v)).replace(".", ",") for v in x]
            f.write(";".join([*cells, iris.class_names[c]]) + "\n")
    ds = load_csv(path)
    a = BackpropClassifier(max_iter=3, random_state=0).fit(ds.X, ds.y)
    b = BackpropClassifier(max_iter=3, random_state=0).fit(iris.X, iris.y)
    a, b = a.predict_proba(ds.X), b.predict_proba(iris.X)
    np.testing.assert_array_equal(a, b)


# --- Classes, the hint, splits, determinism ----------------------------------------


def test_digits_get_the_capacity_hint(digits_csv, capsys):
    code, out, err = run_cli(
        capsys, "train", "-q", "--json", "--data", digits_csv, "--epochs", 10
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["architecture"] == [64, 4, 3, 10] and d["task"] == "classification"
    assert d["train"]["accuracy"] < 0.9
    assert "--hidden 32" in d["hint"] and "3 units for 10 classes" in d["hint"]
    code, out, err = run_cli(
        capsys,
        "train",
        "-q",
        "--json",
        "--data",
        digits_csv,
        "--epochs",
        10,
        "--hidden",
        32,
    )
    d = json.loads(out)
    assert d["train"]["accuracy"] > 0.95 and d["hint"] is None


def test_capacity_hint_rule():
    assert capacity_hint((4, 3), 10, 0.8) is not None
    assert capacity_hint((4, 3), 10, 0.95) is None  # accurate anyway
    assert capacity_hint((32,), 10, 0.5) is None  # wide enough: another cause
    assert capacity_hint((4, 3), 3, 0.5) is None  # the lecture's network on Iris


def test_test_size_is_what_it_says():
    iris = load_iris()
    for size in (0.1, 0.2, 0.25, 0.5):
        _, _X_te, _, y_te = train_test_split(iris.X, iris.y, test_size=size, seed=0)
        assert abs(len(y_te) - size * 150) <= 3  # within one row per class
        assert set(np.bincount(y_te)) <= {round(size * 50)}
    y = np.array([0] * 10 + [1])
    with pytest.raises(rp.DataError, match="single sample"):
        train_test_split(np.zeros((11, 1)), y)


def test_a_class_with_one_row_is_named(tmp_path, capsys):
    path = tmp_path / "d.csv"
    rows = [f"{i},{i % 4},{'ab'[i % 2]}" for i in range(20)] + ["3,1,c"]
    path.write_text("x,z,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, _out, err = run_cli(capsys, "train", "-q", "--data", path)
    assert code == 2 and err.count("\n") == 1
    assert "class 'c' has a single row (line 22)" in err


def test_class_order_ties_are_broken_by_the_text():
    assert label_order(["1", "01", "2", "10", "1.0"]) == ["01", "1", "1.0", "2", "10"]
    assert label_order(["b", "a", "1"]) == ["1", "a", "b"]


def test_class_order_does_not_depend_on_the_hash_seed(tmp_path):
    path = tmp_path / "d.csv"
    rows = [f"{i % 7}.5,{(3 * i) % 5},{['1', '01', '2'][i % 3]}" for i in range(30)]
    path.write_text("a,b,c\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code = (
        "import sys; from retroprop.datasets import load_csv; "
        "ds = load_csv(sys.argv[1]); print(ds.class_names, ds.y.tolist())"
    )
    outs = set()
    for seed in ("0", "1", "2", "3", "4", "5"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        outs.add(r.stdout)
    assert len(outs) == 1
    assert outs.pop().startswith("['01', '1', '2'] [1, 0, 2,")


# --- Predictions out ------------------------------------------------------------------


def test_predict_writes_identifying_columns_and_probabilities(tmp_path, capsys):
    iris = load_iris()
    path = tmp_path / "d.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["flower", *iris.feature_names, "species"])
        for i, (x, c) in enumerate(zip(iris.X, iris.y)):
            w.writerow([f"f{i:03d}", *map(float, x), iris.class_names[c]])
    model = tmp_path / "m.safetensors"
    code, out, err = run_cli(
        capsys,
        "train",
        "-q",
        "--data",
        path,
        "--drop",
        "flower",
        "--save",
        model,
        "--epochs",
        20,
    )
    assert code == 0, err
    preds = tmp_path / "preds.csv"
    code, out, err = run_cli(
        capsys, "predict", "--model", model, "--data", path, "--output", preds
    )
    assert code == 0, err and f"to {preds}" in out
    with open(preds, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "line",
        "flower",
        "predicted",
        "p(setosa)",
        "p(versicolor)",
        "p(virginica)",
    ]
    assert [r[:2] for r in rows[1:3]] == [["2", "f000"], ["3", "f001"]]
    m = rp.load(model)
    proba = m.predict_proba(iris.X)
    got = np.array([[float(v) for v in r[3:]] for r in rows[1:]])
    np.testing.assert_array_equal(got, proba)  # written exactly (repr)
    assert [r[2] for r in rows[1:]] == [
        iris.class_names[k] for k in proba.argmax(axis=1)
    ]
    code, out, err = run_cli(
        capsys, "predict", "--model", model, "--data", path, "--json"
    )
    d = json.loads(out)
    assert d["ids"]["flower"][0] == "f000" and d["lines"][-1] == 151
    assert d["source"]["sep"] == "," and d["source"]["encoding"] == "utf-8"
