"""The Trace's renderers: CSV, JSON, Markdown, terminal tables and the xlsx workbook
(its formulas recomputed by LibreOffice where installed)."""

from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
import pytest

import retroprop as rp
from helpers import soffice_recompute
from retroprop.explain.tabular import BASE_COLUMNS
from retroprop.explain.views import fmt
from retroprop.explain.xlsx import PARAMETER_COLUMNS


@pytest.fixture
def lecture_trace(iris_split):
    net = rp.mlp([4, 4, 3, 3], "sigmoid", seed=1)
    return rp.explain_step(
        net,
        iris_split.X_train[3],
        iris_split.y_train[3],
        lr=0.05,
        meta={"class_names": iris_split.dataset.class_names},
    )


def _other_traces():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4))
    return [
        rp.explain_step(
            rp.mlp([4, 3, 3], "leaky_relu", seed=2, output_activation="tanh"),
            x,
            np.array([0, 2, 1]),
            lr=0.1,
            loss="mse",
        ),
        rp.explain_step(
            rp.mlp([4, 5, 2, 3], "relu", seed=3), x[:2], np.array([2, 0]), lr=0.2
        ),
        rp.explain_step(
            rp.Sequential(
                rp.Linear(4, 3, seed=4),
                rp.Linear(3, 2, seed=5),
                rp.Tanh(),
                rp.Linear(2, 3, seed=6),
            ),
            x[0],
            1,
            lr=0.3,
        ),
    ]


def test_csv_and_json_carry_the_same_numbers(lecture_trace, tmp_path):
    text = lecture_trace.to_csv(tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(next(csv.reader(io.StringIO(text)))[:6]) == BASE_COLUMNS
    params = json.loads(lecture_trace.to_json())["parameters"]
    assert len(rows) == len(params) == 47
    for row, p in zip(rows, params):
        assert row["name"] == p["name"]
        assert json.loads(row["index"]) == p["index"]
        for key in ("value", "grad", "updated"):
            assert float(row[key]) == p[key]
        assert float(row["lr"]) == 0.05
        for key, v in p["factors"].items():
            assert float(row[key]) == v
        # factor columns a parameter does not have are empty
        assert {k for k in row if row[k] == ""} == (
            set(row) - set(BASE_COLUMNS) - set(p["factors"])
        )


def _table_rows(text: str, title: str) -> list[list[str]]:
    """Rows of the rich table titled ``title`` in plain text output."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("└"):
            break
        if line.startswith("│"):
            rows.append([c.strip() for c in line.strip("│").split("│")])
    return rows


def _md_rows(text: str, title: str) -> list[list[str]]:
    lines = text.splitlines()
    start = lines.index(f"## {title}")
    rows = []
    for line in lines[start + 4 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_text_and_markdown_show_the_trace_numbers(lecture_trace):
    t = lecture_trace
    text, md = t.to_text(width=250), t.to_markdown()
    for layer in t.layers:
        for name in (layer.bias_name, layer.weight_name):
            what = "biases" if name.endswith("bias") else "weights"
            title = f"{layer.label} backward: {what} {name}"
            params = [p for p in t.parameters if p.name == name]
            for rows in (_table_rows(text, title), _md_rows(md, title)):
                assert len(rows) == len(params)
                for row, p in zip(rows, params):
                    # ..., grad, value, updated are the last three columns
                    assert row[-3:] == [fmt(p.grad), fmt(p.value), fmt(p.updated)]
                    assert row[: len(p.index)] == [str(i) for i in p.index]
    r = int(t.target[0])
    p_r, L = t.probabilities[0, r], t.loss
    assert f"L = -ln(p_r) = -ln({fmt(p_r, 4)}) = {fmt(L, 5)}" in text
    assert rf"L = -\ln(p_r) = -\ln({fmt(p_r, 4)}) = {fmt(L, 5)}" in md
    # formulas in the headers, LaTeX in the Markdown
    assert "dL/dp_r = -1/p_r" in text and "p_r (δ_ri - p_i)" in text
    assert "dout_i/dz_i = a (1 - a)" in text and "Σ_k w_ki ∂L/∂z_k" in text
    assert r"$\frac{\partial L}{\partial p_r} = -\frac{1}{p_r}$" in md
    assert r"a_i(1 - a_i)" in md
    # forward before backward, output layer's backward first
    order = [
        text.index(s)
        for s in (
            "0 (hidden layer 1) forward",
            "4 (output layer) forward",
            "Softmax",
            "4 (output layer) backward",
            "2 (hidden layer 2) backward",
            "0 (hidden layer 1) backward",
        )
    ]
    assert order == sorted(order)


def test_batch_tables_show_samples_and_the_mean():
    t = _other_traces()[1]
    text = t.to_text(width=250)
    assert "batch of 2 samples" in text
    rows = _table_rows(text, "0 (hidden layer 1) forward")
    assert [r[0] for r in rows] == ["0"] * 5 + ["1"] * 5  # the sample column
    assert [r[2] for r in rows] == [fmt(v) for v in t.layers[0].z.ravel()]


def test_markdown_written_atomically(lecture_trace, tmp_path):
    path = tmp_path / "step.md"
    assert lecture_trace.to_markdown(path) == path.read_text()


def test_xlsx_holds_formulas(lecture_trace, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "step.xlsx"
    lecture_trace.to_xlsx(path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "parameters"
    ws = wb["parameters"]
    header = [c.value for c in ws[1]]
    assert tuple(header[:6]) == PARAMETER_COLUMNS
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(lecture_trace.parameters)
    for row, p in zip(rows, lecture_trace.parameters):
        name, index, value, grad, lr, updated = row[:6]
        assert (name, json.loads(index)) == (p.name, list(p.index))
        # openpyxl stores numbers to 16 significant digits ("%.16g")
        assert value == pytest.approx(p.value, rel=1e-15, abs=1e-300)
        for cell in (grad, lr, updated):
            assert isinstance(cell, str) and cell.startswith("="), cell
    step = wb["step"]
    formulas = [
        c.value
        for row in step.iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value.startswith("=")
    ]
    assert any("SUMPRODUCT" in f for f in formulas)  # z = w . a_prev + b
    assert any(f.startswith("=1/(1+EXP(-") for f in formulas)  # sigmoid
    assert any(f.startswith("=-LN(INDEX(") for f in formulas)  # L = -ln(p_r)


@pytest.mark.slow
def test_xlsx_recomputed_by_libreoffice_equals_the_trace(lecture_trace, tmp_path):
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    openpyxl = pytest.importorskip("openpyxl")
    traces = [lecture_trace, *_other_traces()]
    paths = []
    for i, t in enumerate(traces):
        paths.append(tmp_path / f"t{i}.xlsx")
        t.to_xlsx(paths[-1])
    # a copy of the first with eta changed: every update must follow the new eta
    wb = openpyxl.load_workbook(paths[0])
    wb["step"]["B2"] = 0.125
    paths.append(tmp_path / "eta.xlsx")
    wb.save(paths[-1])
    out = soffice_recompute(paths, tmp_path / "out", tmp_path / "profile")
    for t, path, eta in [
        *zip(traces, out, [t.lr for t in traces]),
        (traces[0], out[-1], 0.125),
    ]:
        wb = openpyxl.load_workbook(path, data_only=True)
        rows = list(wb["parameters"].iter_rows(min_row=2, values_only=True))
        assert len(rows) == len(t.parameters)
        for row, p in zip(rows, t.parameters):
            name, _, _value, grad, lr, updated = row[:6]
            assert name == p.name
            assert grad == pytest.approx(p.grad, abs=1e-9), (path.name, name)
            assert lr == eta
            assert updated == pytest.approx(p.value - eta * p.grad, abs=1e-9)
            if eta == t.lr:
                assert updated == pytest.approx(p.updated, abs=1e-9)
        losses = {r[0]: r[1:] for r in wb["step"].iter_rows(values_only=True) if r[0]}
        assert losses["batch loss (mean)"][0] == pytest.approx(t.loss, abs=1e-9)
        got = [v for v in losses["L"] if v is not None]
        np.testing.assert_allclose(got, t.loss_per_sample, rtol=0, atol=1e-9)


def test_every_differentiable_activation_has_a_spreadsheet_formula():
    from retroprop.engine.activations import ACTIVATIONS, DIFFERENTIABLE_ACTIVATIONS
    from retroprop.explain.xlsx import _col

    assert {
        name
        for name in DIFFERENTIABLE_ACTIVATIONS
        if ACTIVATIONS[name].spreadsheet and ACTIVATIONS[name].spreadsheet_prime
    } == set(DIFFERENTIABLE_ACTIVATIONS)
    assert [_col(k) for k in (1, 26, 27, 52, 53, 702, 703)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
    ]
