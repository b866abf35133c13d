"""The step function, shown dying: ``explain --activation step`` shows the forward pass
and stops at the first backward factor with the lecture's reason, in every format;
``seeds`` answers the global-minimum question as the lecture does."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import retroprop as rp
from retroprop.cli import main
from retroprop.engine.activations import STEP_WHY
from retroprop.recipe import LECTURE, build_network, prepare_data


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return e.value.code, out, err


def squash(text: str) -> str:
    """Whitespace and the table's side borders folded away (rich wraps long cells)."""
    return " ".join(text.replace("│", " ").split())


def forward_by_hand(row: int):
    """The lecture's network with the step function, forward by NumPy alone."""
    split = prepare_data()
    net = build_network(split, activation="step")
    sd = net.state_dict()
    a = split.X_train[row]
    zs, outs = [], []
    for k, name in enumerate(("0", "2", "4")):
        z = sd[f"{name}.weight"] @ a + sd[f"{name}.bias"]
        zs.append(z)
        a = (z >= 0).astype(float) if k < 2 else z  # step(z) = 1 for z >= 0
        outs.append(a)
    return zs, outs


def test_json_has_the_forward_pass_and_where_it_stops(capsys):
    code, out, err = run(capsys, "explain", "--activation", "step", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    row = int(np.random.default_rng(LECTURE["seed"]).permutation(120)[0])
    assert d["meta"]["sample"] == row and d["meta"]["step"] == 1
    zs, outs = forward_by_hand(row)
    for layer, z, a in zip(d["layers"], zs, outs):
        np.testing.assert_allclose(layer["z"][0], z, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(layer["a"][0], a)
    p = np.exp(zs[-1]) / np.exp(zs[-1]).sum()
    np.testing.assert_allclose(d["probabilities"][0], p, rtol=1e-12)
    r = d["target"][0]
    assert d["loss"] == pytest.approx(-np.log(p[r]), rel=1e-12)
    # the backward pass stops at the topmost step's derivative: hidden layer 2
    assert d["stopped"] == {
        "at": "dout_i/dz_i of 2 (hidden layer 2), step'(z)",
        "reason": STEP_WHY,
    }
    assert d["parameters"] == []  # no gradient, no update
    assert all(v is None for v in d["layers"][0]["delta"][0])


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_text_views_stop_with_the_lectures_reason(capsys, fmt):
    code, out, err = run(capsys, "explain", "--activation", "step", "--format", fmt)
    assert code == 0, err
    text = squash(out)
    assert "Backpropagation stops at dout_i/dz_i of 2 (hidden layer 2)" in text
    assert squash(STEP_WHY) in text
    assert "0 (hidden layer 1) forward" in text and "then step" in text
    assert "backward" not in text  # no table after the stop


def test_csv_says_where_and_why(capsys):
    code, out, err = run(capsys, "explain", "--activation", "step", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows == [
        {
            "stopped_at": "dout_i/dz_i of 2 (hidden layer 2), step'(z)",
            "reason": STEP_WHY,
        }
    ]


def test_xlsx_and_html_show_the_stop(capsys, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "s.xlsx"
    code, _, err = run(
        capsys, "explain", "--activation", "step", "--format", "xlsx", "--output", path
    )
    assert code == 0, err
    wb = openpyxl.load_workbook(path)
    assert wb["stopped"]["B2"].value == STEP_WHY
    cells = [c for row in wb["forward"].iter_rows(values_only=True) for c in row]
    zs, _ = forward_by_hand(int(np.random.default_rng(1).permutation(120)[0]))
    numbers = [c for c in cells if isinstance(c, float)]
    for z in zs[0]:
        assert any(abs(v - z) <= 1e-12 * max(1, abs(z)) for v in numbers)
    page = tmp_path / "s.html"
    code, _, err = run(
        capsys, "explain", "--activation", "step", "--format", "html", "--output", page
    )
    assert code == 0, err
    html = page.read_text()
    assert 'id="stopped"' in html and "derivative is 0 everywhere" in html


def test_only_step_one_exists(capsys):
    code, _, err = run(capsys, "explain", "--activation", "step", "--step", "2")
    assert code == 2 and "only --step 1 exists" in err
    assert len(err.strip().splitlines()) == 1


def test_explain_offers_the_step_and_the_library_still_refuses_by_default(capsys):
    _, out, _ = run(capsys, "explain", "--help")
    assert "--activation [identity|leaky_relu|relu|sigmoid|step|tanh]" in out
    net = rp.mlp([2, 2, 2], "step", seed=0)
    with pytest.raises(rp.NotDifferentiableError, match="derivative is 0"):
        rp.explain_step(net, np.array([0.1, 0.2]), 1)
    t = rp.explain_step(net, np.array([0.1, 0.2]), 1, stop=True)
    assert t.stopped is not None and t.parameters == []


def test_seeds_answers_the_global_minimum_question_as_the_lecture(capsys, tmp_path):
    path = tmp_path / "s.json"
    code, out, err = run(capsys, "seeds", "--n", "3", "--epochs", "2", "--json", path)
    assert code == 0, err
    text = squash(out)
    assert "Is a global minimum guaranteed? not guaranteed:" in text
    assert "nothing guarantees that" in text and "the global one" in text
    answer = json.loads(path.read_text())["answers"]["global_minimum"]
    assert answer["answer"] == "not guaranteed"
    assert "nothing guarantees" in answer["because"]
