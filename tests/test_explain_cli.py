"""``retroprop explain`` end to end: defaults, --step against --record-bias, every
format, --sample, --model, --batch-size, and one-line errors for bad options."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import retroprop as rp
from retroprop.cli import main
from retroprop.recipe import LECTURE, build_network, prepare_data


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return e.value.code, out, err


def run_json(capsys, *args) -> dict:
    code, out, err = run(capsys, "explain", "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)


def test_default_is_the_first_iteration_of_train(capsys):
    d = run_json(capsys)
    split = prepare_data()
    net = build_network(split)
    # rp.train's sample order: one permutation per epoch from default_rng(seed)
    row = int(np.random.default_rng(LECTURE["seed"]).permutation(len(split.y_train))[0])
    expected = rp.explain_step(
        net, split.X_train[row], split.y_train[row], lr=LECTURE["lr"]
    ).to_dict()
    assert d["meta"]["step"] == 1 and d["meta"]["sample"] == row
    assert d["meta"]["class_names"] == ["setosa", "versicolor", "virginica"]
    assert d["input"] == expected["input"] and d["target"] == expected["target"]
    assert d["parameters"] == expected["parameters"]
    assert d["layers"] == expected["layers"]


def test_step_and_record_bias_tell_the_same_story(capsys, tmp_path):
    bias_csv = tmp_path / "bias.csv"
    code, _, err = run(
        capsys, "train", "--epochs", "2", "--quiet", "--json", "--record-bias", bias_csv
    )
    assert code == 0, err
    header, *rows = list(csv.reader(io.StringIO(bias_csv.read_text())))
    at = [header.index(f"4.bias[{i}] before") for i in range(3)]
    recorded = {int(r[0]): np.array([float(r[i]) for i in at]) for r in rows}
    lr = LECTURE["lr"]
    for k in (1, 2, 37, 120, 121):  # 120 training rows: 121 is epoch 2's first
        d = run_json(capsys, "--step", k)
        assert d["meta"]["step"] == k and d["meta"]["epoch"] == (1 if k <= 120 else 2)
        bias = [p for p in d["parameters"] if p["name"] == "4.bias"]
        value = np.array([p["value"] for p in bias])
        grad = np.array([p["grad"] for p in bias])
        # --record-bias records the run as `train` makes it (the compiled path, since
        # issue 15 finding 5: recording no longer forces the NumPy engine), while
        # --step replays it on the NumPy engine: the same numbers up to rounding
        # (the engines' exp and summation order differ in the last bit).
        same = {"rtol": 0, "atol": 1e-14}
        if k == 1:  # before any update: exactly the initial bias
            np.testing.assert_array_equal(value, recorded[k])
        # the bias before iteration k is the one explained ...
        np.testing.assert_allclose(value, recorded[k], **same)
        # ... and minus eta times its gradient is the bias before iteration k + 1
        np.testing.assert_allclose(recorded[k] - lr * grad, recorded[k + 1], **same)
        np.testing.assert_allclose(
            [p["updated"] for p in bias], recorded[k + 1], **same
        )


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json", "xlsx"])
def test_every_format_writes_its_file(capsys, tmp_path, fmt):
    path = tmp_path / f"step.{fmt}"
    code, out, err = run(capsys, "explain", "--format", fmt, "--output", path)
    assert code == 0, err
    assert out == "" and f"Wrote the {fmt} explanation of step 1 to {path}" in err
    assert not [p for p in tmp_path.iterdir() if "retroprop-tmp" in p.name]
    ref = run_json(capsys)
    grads = [p["grad"] for p in ref["parameters"]]
    if fmt == "xlsx":
        openpyxl = pytest.importorskip("openpyxl")
        ws = openpyxl.load_workbook(path)["parameters"]
        assert [c.value for c in ws[1]][:6] == [
            "name",
            "index",
            "value",
            "grad",
            "lr",
            "updated",
        ]
        assert all(
            str(ws.cell(r, 4).value).startswith("=") for r in range(2, ws.max_row + 1)
        )
        assert ws.max_row - 1 == len(grads)
        return
    text = path.read_text()
    code, printed, _ = run(capsys, "explain", "--format", fmt)
    assert code == 0
    if fmt == "json":
        assert json.loads(text) == ref
    elif fmt == "csv":
        assert printed == text
        got = [float(r["grad"]) for r in csv.DictReader(io.StringIO(text))]
        assert got == grads
    elif fmt == "markdown":
        assert printed.rstrip("\n") == text.rstrip("\n")
        assert "## 4 (output layer) backward: biases 4.bias" in text
        assert r"\frac{\partial L}{\partial p_r}" in text
    else:
        for title in (
            "0 (hidden layer 1) forward",
            "Softmax and cross-entropy loss",
            "4 (output layer) backward: biases 4.bias",
            "0 (hidden layer 1) backward: weights",
        ):
            assert title in text and title in printed


def test_sample_option(capsys):
    split = prepare_data()
    # --sample names a row by its line in the data file, as predict does
    line = int(rp.datasets.split_lines(split.dataset, 0.2, LECTURE["seed"])[0][5])
    d = run_json(capsys, "--sample", line)
    assert d["meta"]["sample"] == 5 and d["meta"]["line"] == line
    assert d["input"] == [split.X_train[5].tolist()]
    assert d["target"] == [int(split.y_train[5])]


def test_batch_size_option_explains_the_batch_training_uses(capsys):
    split = prepare_data()
    d = run_json(capsys, "--batch-size", 4, "--step", 2)
    order = np.random.default_rng(LECTURE["seed"]).permutation(len(split.y_train))
    assert d["n_samples"] == 4 and d["meta"]["sample"] == order[4:8].tolist()
    np.testing.assert_array_equal(d["input"], split.X_train[order[4:8]])


def test_model_option(capsys, tmp_path):
    path = tmp_path / "m.safetensors"
    code, _, err = run(
        capsys, "train", "--epochs", "3", "--quiet", "--json", "--save", path
    )
    assert code == 0, err
    split = prepare_data()
    line = int(rp.datasets.split_lines(split.dataset, 0.2, LECTURE["seed"])[0][0])
    d = run_json(capsys, "--model", path, "--sample", line)
    model = rp.load(path)
    state = model.net.state_dict()
    for p in d["parameters"]:
        assert p["value"] == state[p["name"]][tuple(p["index"])]
    split = prepare_data()
    np.testing.assert_allclose(d["input"], split.X_train[:1], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("args", "piece"),
    [
        (["--format", "pdf"], "--format"),
        (["--format", "xlsx"], "--output"),
        (["--sample", "999"], "--sample"),
        (["--step", "0"], "--step"),
        (["--lr", "-1"], "--lr"),
        (["--loss", "hinge"], "--loss"),
        (["--model", "no-such-file.safetensors"], "no-such-file.safetensors"),
        (["--format", "json", "--output", "/no/such/folder/x.json"], "does not exist"),
        (["--activation", "step", "--step", "2"], "only --step 1 exists"),
    ],
)
def test_bad_options_exit_2_with_one_line(capsys, args, piece):
    code, out, err = run(capsys, "explain", *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert piece in lines[0] and "Traceback" not in err


def test_as_a_user_types_it(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RETROPROP_DEBUG"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "retroprop",
            "explain",
            "--format",
            "csv",
            "--step",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split(",")
    assert header[:6] == ["name", "index", "value", "grad", "lr", "updated"]
    assert len(r.stdout.splitlines()) == 1 + 47
    # the renderers' heavy imports stay out of `import retroprop`
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import sys, retroprop; print(sorted("
                "m for m in ('rich', 'openpyxl', 'torch') if m in sys.modules))"
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.stdout.strip() == "[]", r.stdout + r.stderr
