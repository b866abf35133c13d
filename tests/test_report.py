"""The HTML report without a browser: self-contained, its data, the recording.

The page's data must be the traces' own numbers (``Trace.to_dict()``, as
``explain --format json``), the recorded steps must be the real training's steps
(same order and updates as ``retroprop train``), and nothing in the page may load
anything from a network or let a name close its ``<script>`` block.
"""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

import retroprop as rp
from retroprop.cli import cli
from retroprop.explain import explain_step
from retroprop.recipe import build_network, prepare_data
from retroprop.report import record_training, render_html
from retroprop.report.html import embed_json, network_layout, trace_html

DATA_BLOCK = re.compile(
    r'(?s)<script type="application/json" id="retroprop-data">(.*?)</script>'
)
# Namespace names the page's script uses with createElementNS: identifiers, never
# fetched. Any other http(s) address in the page is a failure.
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1998/Math/MathML"}


def page_data(page: str) -> dict:
    blocks = DATA_BLOCK.findall(page)
    assert len(blocks) == 1
    return json.loads(blocks[0])


@pytest.fixture(scope="module")
def recording():
    return record_training(steps=5, epochs=3)


def test_page_is_self_contained(recording):
    page = recording.to_html()
    addresses = set(re.findall(r"""https?://[^\s"'<>)]+""", page))
    assert addresses <= NAMESPACES, addresses - NAMESPACES
    # nothing to fetch: no external script, stylesheet, image, font or frame
    assert not re.search(r"""(?i)\b(src|href|srcset|action|poster)\s*=""", page)
    assert not re.search(r"(?i)<(link|iframe|img|object|embed|base)\b", page)
    assert "@import" not in page and "url(" not in page
    assert re.search(r"\b(fetch|XMLHttpRequest|WebSocket|EventSource)\b", page) is None
    # two script elements: the data block and the page's code
    assert page.count("<script") == 2 and page.count("</script>") == 2


def test_embedded_traces_are_the_traces_json(recording):
    data = page_data(recording.to_html())
    traces = recording.recorder.traces
    assert len(data["steps"]) == len(traces) == 5
    for step, trace, it in zip(data["steps"], traces, range(1, 6)):
        # the same JSON as `explain --format json`, value for value (floats exact)
        assert step["trace"] == json.loads(trace.to_json())
        assert step["iteration"] == it and step["epoch"] == 1
    # the diagram's shape is the network's
    assert [la["size"] for la in data["layers"]] == [4, 4, 3, 3]
    assert [(li["weight"], li["bias"]) for li in data["linears"]] == [
        ("0.weight", "0.bias"),
        ("2.weight", "2.bias"),
        ("4.weight", "4.bias"),
    ]
    assert data["class_names"] == ["setosa", "versicolor", "virginica"]


def test_recorded_steps_are_the_real_training_steps():
    # The lecture's exercise 4, from the outside: the last bias before each
    # iteration of a plain `rp.train` run (as `retroprop train --record-bias`).
    split = prepare_data()
    net = build_network(split)
    bias = rp.RecordParameter("4.bias")
    plain = rp.train(
        net,
        split.X_train,
        split.y_train,
        epochs=2,
        lr=0.05,
        batch_size=1,
        seed=1,
        callbacks=[bias],
        # The report's recorder runs the NumPy engine (it explains every step in
        # Python); RecordParameter alone now records on the compiled path too.
        engine="numpy",
    )
    rec = record_training(steps=20, epochs=2)
    r = rec.recorder
    assert r.max_mismatch == 0.0
    assert r.iterations == list(range(1, 21))
    assert rec.history.loss == plain.loss  # recording does not change training
    assert rec.history.accuracy == plain.accuracy
    for k, trace in enumerate(r.traces):
        before = np.array([trace.parameter("4.bias", i).value for i in range(3)])
        after = np.array([trace.parameter("4.bias", i).updated for i in range(3)])
        assert np.array_equal(before, bias.values[k])
        assert np.array_equal(after, bias.values[k + 1])
    # the trace of step k is explain_step on the network as training left it
    replay = build_network(split)
    order = np.random.default_rng(1).permutation(len(split.y_train))
    for k in range(3):
        i = order[k]
        assert r.batches[k] == [int(i)]
        t = explain_step(replay, split.X_train[[i]], split.y_train[[i]], lr=0.05)
        assert json.loads(t.to_json()) == json.loads(r.traces[k].to_json())
        replay.load_state_dict(t.updated())
    # the raw features shown beside each sample are the data set's rows
    raw = prepare_data(standardize=False).X_train
    assert rec.steps()[0]["x_raw"] == raw[[order[0]]].tolist()


def test_curves_are_the_history(recording):
    curves = page_data(recording.to_html())["history"]
    h = recording.history
    assert curves["loss"][1:] == h.loss and curves["accuracy"][1:] == h.accuracy
    assert curves["val_loss"][1:] == h.val_loss
    split = prepare_data()
    loss0, acc0 = rp.evaluate(build_network(split), split.X_train, split.y_train)
    assert (curves["loss"][0], curves["accuracy"][0]) == (loss0, acc0)
    assert curves["iterations_per_epoch"] == 120


HOSTILE = ["</script><script>alert(1)</script>", "<!--", "a&b \"q\" 'r' <i>"]


def test_hostile_names_cannot_escape_the_data_block(tmp_path):
    path = tmp_path / "hostile.csv"
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["</script>x", "f2", "label"])
        for k in range(30):
            w.writerow([*rng.normal(size=2).round(3), HOSTILE[k % 3]])
    rec = record_training(path, steps=2, epochs=1, hidden=(3,))
    page = rec.to_html(title="</title><script>alert(2)</script>")
    assert page.count("</script>") == 2 and page.count("<script") == 2
    assert "<!--" not in page
    assert "<title>&lt;/title&gt;&lt;script&gt;" in page
    data = page_data(page)
    assert sorted(data["class_names"]) == sorted(HOSTILE)
    assert data["feature_names"] == ["</script>x", "f2"]
    assert data["title"] == "</title><script>alert(2)</script>"


def test_embed_json_round_trips_floats_and_escapes():
    values = [0.1, 1 / 3, -2.5e-300, 1e300, 5e-324, 123456789.123456789]
    text = embed_json({"v": values, "s": "</script><!--\u2028"})
    assert "<" not in text and "\u2028" not in text
    back = json.loads(text)
    assert back["v"] == values and back["s"] == "</script><!--\u2028"
    # numbers are written in Python's shortest round-trip form
    assert all(repr(v) in text for v in values)


def test_render_checks_its_inputs():
    split = prepare_data()
    net = build_network(split)
    t = explain_step(net, split.X_train[0], split.y_train[0])
    with pytest.raises(rp.ConfigError, match="at least one recorded step"):
        render_html([], net)
    with pytest.raises(rp.ConfigError, match="2 class names for a network with 3"):
        render_html([t], net, class_names=["a", "b"])
    page = render_html([t], net)  # names optional: the page numbers the neurons
    assert page_data(page)["steps"][0]["trace"] == json.loads(t.to_json())


def test_cli_report_writes_the_page(tmp_path):
    out = tmp_path / "r.html"
    res = CliRunner().invoke(
        cli,
        ["report", "--steps", "3", "--epochs", "2", "--output", str(out), "--quiet"],
    )
    assert res.exit_code == 0, res.output
    assert "3 recorded steps of 240 iterations" in " ".join(res.output.split())
    data = page_data(out.read_text("utf-8"))
    assert [s["iteration"] for s in data["steps"]] == [1, 2, 3]
    assert len(data["history"]["loss"]) == 3  # epoch 0, 1, 2
    assert not list(tmp_path.glob(".*retroprop-tmp*"))  # written atomically, no debris


def test_cli_report_rejects_bad_input(tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        cli, ["report", "--epochs", "0", "-o", str(tmp_path / "a.html")]
    )
    assert res.exit_code == 2 and "no update" in res.output
    res = runner.invoke(cli, ["report", "-o", str(tmp_path / "no" / "a.html")])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(cli, ["report", "--steps", "0"])
    assert res.exit_code == 2 and "--steps" in res.output


def test_trace_html_is_one_explained_step():
    split = prepare_data()
    net = build_network(split)
    meta = {
        "step": 1,
        "epoch": 1,
        "sample": 7,
        "class_names": ["a", "b", "</script>"],
        "feature_names": list(split.dataset.feature_names),
        "data": "iris",
    }
    t = explain_step(net, split.X_train[7], split.y_train[7], lr=0.1, meta=meta)
    page = trace_html(t)
    data = page_data(page)
    assert page.count("</script>") == 2
    assert data["steps"] == [
        {"iteration": 1, "epoch": 1, "batch": [7], "trace": json.loads(t.to_json())}
    ]
    assert data["class_names"] == ["a", "b", "</script>"]
    assert data["history"] is None and data["meta"]["lr"] == 0.1
    # the layout read from the trace is the one read from the network
    assert (data["layers"], data["linears"]) == tuple(
        json.loads(json.dumps(x)) for x in network_layout(net)
    )


def test_cli_explain_html_embeds_the_json_format(tmp_path):
    runner = CliRunner()
    out = tmp_path / "step.html"
    res = runner.invoke(
        cli, ["explain", "--step", "2", "--format", "html", "--output", str(out)]
    )
    assert res.exit_code == 0, res.output
    as_json = runner.invoke(cli, ["explain", "--step", "2", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = page_data(out.read_text("utf-8"))
    (step,) = data["steps"]
    assert step["trace"] == json.loads(as_json.stdout)
    assert step["iteration"] == 2 and data["class_names"] == [
        "setosa",
        "versicolor",
        "virginica",
    ]


@pytest.mark.parametrize("error", [1e-12, float("nan")])
def test_cli_report_refuses_a_trace_that_is_not_the_training_step(
    tmp_path, capsys, monkeypatch, error
):
    # The explained step's "updated" values off by 1e-12 (or NaN) in one parameter:
    # the page would show numbers training did not produce. Exit 1, one line.
    from retroprop.cli import main
    from retroprop.explain.trace import Trace

    real = Trace.updated

    def off(self):
        out = real(self)
        name = next(iter(out))
        out[name] = out[name] + error
        return out

    monkeypatch.setattr(Trace, "updated", off)
    out = tmp_path / "r.html"
    with pytest.raises(SystemExit) as e:
        main(["report", "--steps", "3", "--epochs", "1", "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert e.value.code == 1, err
    assert len(err.strip().splitlines()) == 1 and "differ" in err
    assert not out.exists()
    rec = record_training(steps=2, epochs=1)
    assert rec.recorder.max_mismatch != 0.0
    if np.isnan(error):
        assert np.isnan(rec.recorder.max_mismatch)


def test_compact_parameters_keep_every_number():
    import base64

    from retroprop.report.html import compact_parameters

    split = prepare_data()
    net = build_network(split, (5,), "tanh")
    t = json.loads(
        explain_step(net, split.X_train[:3], split.y_train[:3], lr=0.1).to_json()
    )
    c = compact_parameters(t)
    assert "parameters" not in c
    cols = {col["name"]: col for col in c["parameter_columns"]}

    def f64(text):
        return np.frombuffer(base64.b64decode(text), dtype="<f8")

    def pick(col, index):
        if col.get("same"):
            return f64(cols[p["name"]][col["same"]])[
                np.ravel_multi_index(index, cols[p["name"]]["shape"])
            ]
        v = f64(col["v"])
        if col["by"] == "i":
            return v[index[0]]
        if col["by"] == "j":
            return v[index[1]]
        return v[np.ravel_multi_index(index, cols[p["name"]]["shape"])]

    bys = set()
    for p in t["parameters"]:
        col = cols[p["name"]]
        flat = np.ravel_multi_index(p["index"], col["shape"])
        for key in ("value", "grad", "updated"):
            assert f64(col[key])[flat] == p[key]  # the same double, bit for bit
        for k, v in p["factors"].items():
            assert pick(col["factors"][k], p["index"]) == v
            bys.add(col["factors"][k].get("by", "same"))
        for s, sample in enumerate(p["per_sample"]):
            for k, v in sample.items():
                assert pick(col["per_sample"][s][k], p["index"]) == v
    assert {"i", "j"} <= bys  # factors of one neuron (i) or one input (j) stored once
    assert all("weight" not in rec for rec in c["layers"])  # they are the values
