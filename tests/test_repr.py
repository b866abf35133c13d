"""Notebook displays: every object shows itself richly and reads its own numbers.

Each ``_repr_html_`` must contain the object's numbers as the one number format
(``retroprop.display.fmt``) writes them, so a display that recomputed or dropped a
number fails here; nothing prints by itself (``to_text`` in Jupyter).
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest

import retroprop as rp
from retroprop.display import fmt, html_table, markdown_table


class _Cells(HTMLParser):
    """The text of every <td>, <th> and <caption> of an HTML string."""

    def __init__(self):
        super().__init__()
        self.cells: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th", "caption"):
            self._in = True
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th", "caption"):
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.cells[-1] += data


def cells(html: str) -> list[str]:
    p = _Cells()
    p.feed(html)
    return p.cells


@pytest.fixture
def lecture_net():
    return rp.mlp([4, 4, 3, 3], seed=1)


# -- the one number format ---------------------------------------------------------------


def test_fmt_never_writes_hundreds_of_digits():
    assert fmt(1e302) == "1e+302"
    assert fmt(1e302, decimals=4) == "1.000e+302"
    assert fmt(-3.5e-9, decimals=4) == "-3.500e-09"
    assert fmt(0.96666, decimals=4) == "0.9667"
    assert fmt(1.7533, 5) == "1.7533"
    assert fmt(-0.531632) == "-0.531632"
    assert fmt(-0.0) == "0" and fmt(-0.0, decimals=4) == "0.0000"
    assert fmt(float("nan")) == "nan" and fmt(-np.inf) == "-inf"
    assert fmt(np.float32(0.5)) == "0.5" and fmt(7) == "7" and fmt("a") == "a"
    for v in (1e302, -1e-300, 123456789.0, 2.0**70):
        assert len(fmt(v, decimals=4)) <= 11 and len(fmt(v)) <= 13, v


def test_tables_escape_and_format():
    h = html_table(["a<b", "v"], [["x&y", 1e302]])
    assert "a&lt;b" in h and "x&amp;y" in h and "1e+302" in h
    assert markdown_table(["k", "v"], [["a|b", 0.25]]).splitlines() == [
        "| k | v |",
        "|:---|---:|",
        "| a\\|b | 0.25 |",
    ]


# -- Trace ----------------------------------------------------------------------------------


def test_trace_html_shows_every_table_with_formulas_and_the_traces_numbers(lecture_net):
    from retroprop.explain.views import views

    x = np.array([0.2, -1.0, 0.5, 0.3])
    trace = rp.explain_step(lecture_net, x, 1, lr=0.05)
    html = trace._repr_html_()
    shown = cells(html)
    # every table of the terminal, titled, with the formulas in the headers
    for view in views(trace):
        assert view.title in shown
        for col in view.columns:
            assert col.text in shown, col.text
    for text in ("p_i = e^out_i / Σ_j e^out_j", "dL/dp_r = -1/p_r", "η = 0.05"):
        assert text in html
    # the last layer's bias row: its gradient p_i - delta_ri and its update, as held
    for i in range(3):
        p = trace.parameter("4.bias", i)
        assert fmt(p.grad) in shown and fmt(p.updated) in shown
        want = trace.probabilities[0, i] - (i == 1)  # the lecture: p_i - delta_ri
        assert p.grad == pytest.approx(want, abs=1e-15)
    assert trace._repr_markdown_() == trace.to_markdown()
    r = repr(trace)
    assert "array(" not in r and "4-4-3-3" in r and len(r) < 400


def test_a_parameter_of_the_trace_shows_its_chain(lecture_net):
    trace = rp.explain_step(lecture_net, np.array([0.2, -1.0, 0.5, 0.3]), 1)
    p = trace.parameter("4.bias", 1)
    shown = cells(p._repr_html_())
    assert "4.bias[1]" in p._repr_html_()
    for key, v in p.factors.items():
        assert key in shown and fmt(v) in shown
    assert [fmt(p.grad), fmt(p.value), fmt(p.updated)] == shown[-5::2]
    # the update the lecture writes: b <- b - eta dL/db, with eta = 0.05 here
    assert p.updated == pytest.approx(p.value - 0.05 * p.grad, abs=1e-15)


def test_to_text_in_jupyter_displays_nothing_by_itself(lecture_net, monkeypatch):
    # rich's console in Jupyter sends every print to the notebook (13 outputs for one
    # call of to_text); the text must only be returned.
    import rich.console
    import rich.jupyter

    shown = []
    monkeypatch.setattr(rich.console, "_is_jupyter", lambda: True)
    monkeypatch.setattr(rich.jupyter, "display", lambda *a, **k: shown.append(a))
    trace = rp.explain_step(lecture_net, np.zeros(4), 0)
    text = trace.to_text()
    assert shown == []
    assert "4 (output layer) backward: biases 4.bias" in text
    assert text.count("Softmax and cross-entropy loss") == 1


# -- History, networks, Model, ManyResult -------------------------------------------------------


def test_history_html_and_plot_read_the_history(iris_split, tmp_path):
    from matplotlib.figure import Figure

    net = rp.mlp([4, 4, 3, 3], seed=0)
    h = rp.train(
        net,
        iris_split.X_train,
        iris_split.y_train,
        epochs=8,
        lr=0.05,
        seed=0,
        validation=(iris_split.X_test, iris_split.y_test),
    )
    shown = cells(h._repr_html_())
    assert "val. accuracy" in shown
    # the first epoch and the last five, each number as the History holds it
    for e in (0, 3, 4, 5, 6, 7):
        for v in (h.loss[e], h.accuracy[e], h.val_loss[e], h.val_accuracy[e]):
            assert fmt(v) in shown, (e, v)
    assert fmt(h.loss[1]) not in shown  # a compact table, not every epoch
    assert "**History: 8 epochs" in h._repr_markdown_()
    fig = h.plot()
    assert isinstance(fig, Figure)
    loss_ax, acc_ax = fig.axes
    np.testing.assert_array_equal(loss_ax.lines[0].get_ydata(), h.loss)
    np.testing.assert_array_equal(loss_ax.lines[1].get_ydata(), h.val_loss)
    np.testing.assert_array_equal(acc_ax.lines[0].get_ydata(), h.accuracy)
    out = tmp_path / "h.svg"
    assert h.plot(out, dpi=72) == str(out)
    assert out.read_bytes().lstrip().startswith(b"<?xml")


def test_empty_history_displays():
    assert "0 epochs" in rp.History()._repr_html_()


def test_network_html_lists_layers_shapes_and_counts(lecture_net):
    html = lecture_net._repr_html_()
    shown = cells(html)
    assert "Sequential: 47 parameters" in html  # (4*4 + 4) + (4*3 + 3) + (3*3 + 3)
    assert "0.weight (4, 4), 0.bias (4,)" in shown
    assert "4.weight (3, 3), 4.bias (3,)" in shown
    assert shown[5:7] == ["0", "Linear(in_features=4, out_features=4, bias=True)"]
    assert [c for c in shown if c in ("20", "15", "12")] == ["20", "15", "12"]
    assert shown.count("(n, 3)") == 3  # after fc2, its sigmoid and fc3


def test_model_html_shows_classes_features_and_standardizer(iris_split):
    net = rp.mlp([4, 4, 3, 3], seed=0)
    model = rp.Model(
        net,
        class_names=iris_split.dataset.class_names,
        feature_names=iris_split.dataset.feature_names,
        standardizer=iris_split.standardizer,
        metadata={"lr": 0.05},
    )
    html = model._repr_html_()
    assert "object at 0x" not in html and "object at 0x" not in repr(model)
    shown = cells(html)
    for name in iris_split.dataset.class_names + iris_split.dataset.feature_names:
        assert name in shown
    for m, s in zip(iris_split.standardizer.mean_, iris_split.standardizer.scale_):
        assert fmt(m) in shown and fmt(s) in shown
    assert "Sequential: 47 parameters" in html
    assert repr(model).startswith("Model(4-4-3-3 network, classes=")


def test_standardizer_repr_shows_its_numbers():
    from retroprop.datasets.preprocessing import Standardizer

    assert repr(Standardizer()) == "Standardizer(not fitted)"
    s = Standardizer().fit(np.array([[1.0, 10.0], [3.0, 30.0]]))
    # mean (2, 20), population std (1, 10)
    assert repr(s) == "Standardizer(mean=[2, 20], scale=[1, 10])"


def test_many_result_html(iris_split):
    many = rp.train_many(
        lambda s: rp.mlp([4, 3, 3], seed=s),
        iris_split.X_train,
        iris_split.y_train,
        seeds=[0, 1, 2],
        epochs=3,
        lr=0.05,
        engine="numpy",
    )
    html = many._repr_html_()
    assert "3 networks (numpy engine), 3 epochs" in html
    assert "diverged: 0" in html
    shown = cells(html)
    last = many.loss[:, -1]
    assert [fmt(last.min()), fmt(last.mean()), fmt(last.max())] == shown[
        shown.index("final training loss") + 1 : shown.index("final training loss") + 4
    ]


# -- experiment results ---------------------------------------------------------------------


def test_experiment_results_show_their_verdicts_and_answers(iris_split):
    from retroprop.experiments import (
        activation_curves,
        decision_boundary,
        descent_demo,
        lr_sweep,
        seed_study,
    )

    def make(s):
        return rp.mlp([4, 3, 3], seed=s)

    X, y = iris_split.X_train, iris_split.y_train
    sweep = lr_sweep(make, X, y, lrs=[0.05, 50.0], seeds=[0], epochs=3)
    shown = cells(sweep._repr_html_())
    for v in sweep.verdict:
        assert any(c.startswith(v) for c in shown), v
    assert fmt(sweep.mean_final_loss[0]) in shown

    seeds = seed_study(make, X, y, seeds=range(3), epochs=3)
    html = seeds._repr_html_()
    for answer in (seeds.same_minimum, seeds.global_minimum):
        assert answer.question in html and answer.answer in html
    assert "Spread over 3 runs" in cells(html)

    demo = descent_demo("w**4 - 3*w**2 + w", lrs=(0.05,), starts=(-2.0, 2.0))
    shown = cells(demo._repr_html_())
    assert [r.outcome for r in demo.runs] == [c for c in shown if "minimum" in c][:2]
    assert "local" in shown and "global" in shown

    act = activation_curves(("sigmoid", "step"))
    shown = cells(act._repr_html_())
    assert "jumps at 0; f' = 0 elsewhere" in shown
    assert fmt(act.summary[0]["max_derivative"]) == "0.25" and "0.25" in shown

    b = decision_boundary(make(0), X, y, resolution=10)
    shown = cells(b._repr_html_())
    assert fmt(b.accuracy) in shown
    assert re.search(r"\d+\.\d%", " ".join(shown))


# -- the terminal: numbers survive 80 columns -----------------------------------------------


def run(capsys, *args) -> tuple[int, str, str]:
    from retroprop.cli import main

    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]\d+)?")


def test_explain_tables_at_80_columns_keep_every_number_whole(lecture_net):
    from rich.console import Console

    from retroprop.explain.text import tables
    from retroprop.explain.views import views

    trace = rp.explain_step(lecture_net, np.array([1.66, -0.36, 1.41, 0.79]), 2)
    with open(os.devnull, "w") as devnull:
        con = Console(width=80, record=True, color_system=None, file=devnull)
        for item in tables(trace, width=80):
            con.print(item)
    text = con.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text
    tokens = set(NUMBER.findall(text))
    for view in views(trace):
        for row in view.rows:
            for cell in row:
                if NUMBER.fullmatch(cell):
                    assert cell in tokens, (view.title, cell)


def test_retroprop_explain_at_80_columns_prints_every_number_in_full(
    capsys, monkeypatch
):
    import json

    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(capsys, "explain", "--step", "3")
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    tokens = set(NUMBER.findall(out))
    code, js, err = run(capsys, "explain", "--step", "3", "--format", "json")
    assert code == 0, err
    params = json.loads(js)["parameters"]
    assert len(params) == 47
    for p in params:  # the values a student copies into a spreadsheet
        for key in ("value", "grad", "updated"):
            assert fmt(p[key]) in tokens, (p["name"], p["index"], key, p[key])


def test_cli_tables_use_the_one_number_format():
    # f"{loss:.4f}" writes 1e302 as a 300-digit number; the CLI uses display.fmt
    from pathlib import Path

    import retroprop.cli

    folder = Path(retroprop.cli.__file__).parent
    for path in sorted(folder.glob("*.py")):
        source = path.read_text()
        assert not re.search(r":[+ ]?\.\d+f\}", source), path.name
