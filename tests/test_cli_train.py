"""``retroprop train`` and ``retroprop predict`` end to end, in subprocesses.

Each run is ``sys.executable -m retroprop ...``, as a user would type it; the checks
are on the exit code, stdout and stderr.
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
from retroprop.cli import COMMANDS
from retroprop.recipe import build_network, prepare_data


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    env.pop("RETROPROP_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "retroprop", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        check=False,
    )


def assert_ok(r: subprocess.CompletedProcess) -> None:
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr


def assert_bad_input(r: subprocess.CompletedProcess, *pieces: str) -> None:
    """Exit 2 and exactly one line on stderr that names the problem."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and r.stderr.endswith("\n"), repr(r.stderr)  # nothing else
    assert lines[0].startswith("retroprop: error: "), lines[0]
    for piece in pieces:
        assert piece in lines[0], (piece, lines[0])


@pytest.fixture(scope="module")
def default_json():
    r = run("train", "--json")
    assert_ok(r)
    return json.loads(r.stdout)


def test_default_train_json_reaches_the_accuracy(default_json):
    res = default_json
    assert res["test"]["accuracy"] >= 0.93
    assert res["train"]["accuracy"] >= 0.93


def test_train_json_schema(default_json):
    res = default_json
    assert {
        "train",
        "test",
        "architecture",
        "activation",
        "lr",
        "epochs",
        "iterations",
        "batch_size",
        "seed",
        "class_names",
        "data",
    } <= set(res)
    assert res["architecture"] == [4, 4, 3, 3] and res["activation"] == "sigmoid"
    assert res["lr"] == 0.05 and res["batch_size"] == 1 and res["epochs"] == 100
    assert res["iterations"] == 100 * 120
    assert res["class_names"] == ["setosa", "versicolor", "virginica"]
    for part, n in (("train", 120), ("test", 30)):
        r = res[part]
        assert set(r) >= {"accuracy", "loss", "samples", "confusion_matrix"}
        assert r["samples"] == n
        m = np.array(r["confusion_matrix"])
        assert m.shape == (3, 3) and m.sum() == n
        assert r["accuracy"] == pytest.approx(np.trace(m) / n)
        assert isinstance(r["loss"], float) and 0 < r["loss"] < 1


def test_train_json_equals_the_library(default_json):
    """The CLI's numbers are the library's: same split, same seed, same training."""
    split = prepare_data()
    net = build_network(split, seed=1)
    rp.train(
        net, split.X_train, split.y_train, epochs=100, lr=0.05, batch_size=1, seed=1
    )
    loss, acc = rp.evaluate(net, split.X_test, split.y_test)
    assert default_json["test"]["loss"] == pytest.approx(loss, rel=1e-12)
    assert default_json["test"]["accuracy"] == acc


def test_default_train_table_output():
    r = run("train", "--epochs", "20")
    assert_ok(r)
    out = r.stdout
    assert "Confusion matrix" in out
    for name in ("setosa", "versicolor", "virginica"):
        assert name in out
    assert "train" in out and "test" in out and "accuracy" in out and "loss" in out
    assert "4-4-3-3" in out


def test_save_then_predict(tmp_path):
    model_path = tmp_path / "iris.safetensors"
    r = run("train", "--epochs", "30", "--save", model_path, "--json")
    assert_ok(r)
    trained = json.loads(r.stdout)
    assert model_path.exists()
    # A CSV of raw Iris rows with their species; predict reads and scores it.
    ds = rp.datasets.load_iris()
    data = tmp_path / "flowers.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*ds.feature_names, "species"])
        for x, k in zip(ds.X, ds.y):
            w.writerow([*x, ds.class_names[k]])
    r = run("predict", "--model", model_path, "--data", data, "--json")
    assert_ok(r)
    pred = json.loads(r.stdout)
    assert len(pred["predictions"]) == 150
    assert pred["class_names"] == ["setosa", "versicolor", "virginica"]
    model = rp.load(model_path)
    expected = [ds.class_names[k] for k in model.predict(ds.X)]
    assert pred["predictions"] == expected
    np.testing.assert_allclose(
        pred["probabilities"], model.predict_proba(ds.X), rtol=0, atol=1e-15
    )
    assert pred["accuracy"] == pytest.approx(np.mean(model.predict(ds.X) == ds.y))
    assert pred["accuracy"] >= 0.9
    assert trained["test"]["accuracy"] >= 0.9
    # Table output, and a file without the class column.
    r = run("predict", "--model", model_path, "--data", data)
    assert_ok(r)
    assert "accuracy" in r.stdout and "p(setosa)" in r.stdout
    nolabel = tmp_path / "nolabel.csv"
    nolabel.write_text(
        ",".join(ds.feature_names) + "\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
    )
    r = run("predict", "--model", model_path, "--data", nolabel, "--json")
    assert_ok(r)
    assert json.loads(r.stdout)["predictions"] == ["setosa", "virginica"]
    assert json.loads(r.stdout)["accuracy"] is None


def test_record_bias_csv_is_the_last_bias_before_each_iteration(tmp_path):
    path = tmp_path / "bias.csv"
    r = run("train", "--epochs", "2", "--record-bias", path, "--json")
    assert_ok(r)
    rows = list(csv.reader(path.open()))
    before_cols = ["4.bias[0] before", "4.bias[1] before", "4.bias[2] before"]
    assert rows[0] == [
        "iteration",
        "epoch",
        "sample",
        "line",
        "r",
        "class",
        "p_0",
        "p_1",
        "p_2",
        *before_cols,
        *[c.replace("before", "after") for c in before_cols],
    ]
    body = rows[1:]
    assert len(body) == json.loads(r.stdout)["iterations"] == 240
    assert [int(b[0]) for b in body] == list(range(1, 241))
    assert [int(b[1]) for b in body] == [1] * 120 + [2] * 120
    at = [rows[0].index(c) for c in before_cols]
    values = np.array([[float(b[i]) for i in at] for b in body])
    # The same run in the library gives the same numbers, to the last bit.
    split = prepare_data()
    net = build_network(split, seed=1)
    before = net[4].bias.data.copy()
    rec = rp.RecordParameter("4.bias")
    rp.train(
        net, split.X_train, split.y_train, epochs=2, lr=0.05, seed=1, callbacks=[rec]
    )
    np.testing.assert_array_equal(values, np.array(rec.values))
    np.testing.assert_array_equal(values[0], before)  # before the first update
    assert np.all(np.abs(np.diff(values, axis=0)).max(axis=1) > 0)  # every step moves


def test_other_training_options_are_used(tmp_path):
    r = run(
        "train",
        "--hidden",
        "8",
        "--activation",
        "tanh",
        "--batch-size",
        "full",
        "--epochs",
        "5",
        "--lr",
        "0.5",
        "--momentum",
        "0.9",
        "--nesterov",
        "--weight-decay",
        "0.001",
        "--seed",
        "3",
        "--json",
    )
    assert_ok(r)
    res = json.loads(r.stdout)
    assert res["architecture"] == [4, 8, 3] and res["activation"] == "tanh"
    assert res["iterations"] == 5 and res["batch_size"] == 120 and res["seed"] == 3


def test_train_on_a_users_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    labels = np.where(X[:, 0] > 0, "yes", "no")
    path = tmp_path / "mine.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "u", "v"])  # the target is not the last column
        for lab, x in zip(labels, X):
            w.writerow([lab, *x])
    r = run(
        "train",
        "--data",
        path,
        "--target",
        "label",
        "--hidden",
        "4",
        "--epochs",
        "30",
        "--json",
    )
    assert_ok(r)
    res = json.loads(r.stdout)
    assert res["class_names"] == ["no", "yes"] and res["architecture"] == [2, 4, 2]
    assert res["test"]["accuracy"] >= 0.8


@pytest.fixture
def bad_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,2,x\n3,four,y\n5,6,x\n")
    return path


@pytest.mark.parametrize(
    ("args", "pieces"),
    [
        (["train", "--data", "{missing}"], ["no such file"]),
        (["train", "--data", "{bad}", "--target", "nope"], ["no column named 'nope'"]),
        (["train", "--target", "nope"], ["'nope'", "species"]),
        (["train", "--hidden", "0"], ["hidden", "'0'"]),
        (["train", "--hidden", "4,x"], ["hidden", "'4,x'"]),
        (["train", "--batch-size", "0"], ["--batch-size", "'0'"]),
        (["train", "--batch-size", "many"], ["--batch-size", "'many'"]),
        (
            ["train", "--data", "{bad}"],
            ["bad.csv", "line 3", "'b'", "'four' is not a number"],
        ),
        (["train", "--data", "{empty}"], ["empty.csv", "empty"]),
        (["train", "--data", "{oneclass}"], ["oneclass.csv", "only one class"]),
        (["train", "--data", "{hole}"], ["hole.csv", "line 3", "'b'", "missing value"]),
        (
            ["train", "--activation", "softsign"],
            ["--activation", "softsign", "sigmoid"],
        ),
        (["train", "--activation", "step", "--epochs", "1"], ["step", "derivative"]),
        (["train", "--lr", "-1"], ["--lr"]),
        (["train", "--epochs", "x"], ["--epochs"]),
        (["train", "--nesterov"], ["Nesterov"]),
        (["train", "--no-such-option"], ["--no-such-option"]),
        (["predict", "--model", "{missing}", "--data", "{bad}"], ["no such file"]),
        (["predict", "--data", "{bad}"], ["--model"]),
        (["no-such-command"], ["no-such-command"]),
        (["train", "--seed", "-1"], ["--seed", "-1"]),
        # Output folders are checked before training, not after it.
        (["train", "--save", "nodir/m.safetensors"], ["--save", "does not exist"]),
        (
            ["train", "--record-bias", "nodir/b.csv"],
            ["--record-bias", "does not exist"],
        ),
        (
            ["explain", "--format", "csv", "--output", "nodir/s.csv"],
            ["--output", "nodir"],
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, bad_csv, args, pieces):
    files = {"missing": tmp_path / "missing.csv", "bad": bad_csv}
    for name, text in (
        ("empty", ""),
        ("oneclass", "a,label\n1,x\n2,x\n"),
        ("hole", "a,b,label\n1,2,x\n3,,y\n"),
    ):
        files[name] = tmp_path / f"{name}.csv"
        files[name].write_text(text)
    args = [a.format(**files) for a in args]
    assert_bad_input(run(*args, cwd=tmp_path), *pieces)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    assert_ok(run("train", "--epochs", "1", "--save", path, "--json"))
    return path


def test_predict_with_a_csv_lacking_the_model_features(tmp_path, small_model):
    other = tmp_path / "other.csv"
    other.write_text("x,y\n1,2\n")
    assert_bad_input(
        run("predict", "--model", small_model, "--data", other), "sepal_length"
    )


def test_predict_with_a_target_column_that_is_not_there(tmp_path, small_model):
    data = tmp_path / "rows.csv"
    data.write_text(
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n"
    )
    assert_bad_input(
        run("predict", "--model", small_model, "--data", data, "--target", "nope"),
        "rows.csv",
        "no column named 'nope'",
    )
    # Without --target, a file without the class column is fine (predictions only).
    assert_ok(run("predict", "--model", small_model, "--data", data, "--json"))


def test_predict_with_a_label_the_model_does_not_know(tmp_path, small_model):
    data = tmp_path / "rows.csv"
    data.write_text(
        "sepal_length,sepal_width,petal_length,petal_width,species\n"
        "5.1,3.5,1.4,0.2,setosa\n5.0,3.4,1.5,0.2,rose\n"
    )
    assert_bad_input(
        run("predict", "--model", small_model, "--data", data),
        "line 3",
        "'species'",
        "'rose'",
    )


def test_predict_with_a_blank_class_column_predicts_without_accuracy(
    tmp_path, small_model
):
    data = tmp_path / "rows.csv"  # the class column kept, its labels still unknown
    data.write_text(
        "sepal_length,sepal_width,petal_length,petal_width,species\n"
        "5.1,3.5,1.4,0.2,\n6.7,3.0,5.2,2.3,\n"
    )
    r = run("predict", "--model", small_model, "--data", data, "--json")
    assert_ok(r)
    out = json.loads(r.stdout)
    assert out["accuracy"] is None and len(out["predictions"]) == 2


def test_predict_with_something_that_is_not_a_model(tmp_path):
    fake = tmp_path / "model.pt"
    fake.write_bytes(b"\x80\x04\x95\x00\x00\x00\x00not a model")
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n")
    assert_bad_input(run("predict", "--model", fake, "--data", data), "model.pt")


@pytest.mark.parametrize("command", [None, *sorted(COMMANDS)])
def test_help_of_every_command(command):
    args = ["--help"] if command is None else [command, "--help"]
    r = run(*args)
    assert_ok(r)
    assert "Usage:" in r.stdout
    if command is None:
        for name in COMMANDS:
            assert name in r.stdout
    else:
        assert f"retroprop {command}" in r.stdout
        assert "--help" in r.stdout


def test_train_help_lists_every_option():
    r = run("train", "--help")
    for opt in (
        "--data",
        "--target",
        "--hidden",
        "--activation",
        "--lr",
        "--epochs",
        "--batch-size",
        "--optimizer",
        "--momentum",
        "--seed",
        "--save",
        "--record-bias",
        "--json",
    ):
        assert opt in r.stdout, opt
