"""An activation defined in this file alone, registered, and taken everywhere.

The class below is the public interface of issue 11, word for word: a user writes
it in their own code, calls ``rp.register_activation`` and then trains, explains (in
every format, the workbook recomputed by LibreOffice where installed), reports and
exports a network that uses it, without touching retroprop. The ``softplus``
fixture registers it and removes it afterwards, so nothing leaks into other tests.

softplus(z) = ln(1 + e^z), softplus'(z) = 1 / (1 + e^-z) (the sigmoid).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil

import numpy as np
import pytest

import retroprop as rp
from retroprop.engine.activations import ACTIVATIONS, unregister_activation


class Softplus(rp.Activation):
    name = "softplus"
    f = staticmethod(lambda z: np.logaddexp(0.0, z))
    f_prime = staticmethod(lambda z, a: 1.0 / (1.0 + np.exp(-z)))
    latex = r"\ln(1 + e^{z})"
    latex_prime = r"\frac{1}{1 + e^{-z}}"
    spreadsheet = "LN(1+EXP({z}))"  # {z} and {a} become cell references
    spreadsheet_prime = "1/(1+EXP(-{z}))"


@pytest.fixture
def softplus():
    rp.register_activation(Softplus)
    yield Softplus
    unregister_activation("softplus")


@pytest.fixture
def torch_softplus(softplus):
    """The same function, naming its PyTorch module (``to_torch``/``from_torch``)."""

    class TorchSoftplus(Softplus):
        name = "torch_softplus"
        torch = "Softplus"

    rp.register_activation(TorchSoftplus)
    yield TorchSoftplus
    unregister_activation("torch_softplus")


X4 = np.array([[0.5, -1.0, 0.25, 2.0], [-0.3, 0.8, 1.5, -0.7]])
Y4 = np.array([2, 0])


def softplus_net(seed: int = 0) -> rp.Sequential:
    return rp.mlp([4, 5, 3], activation="softplus", seed=seed)


# -- registration -------------------------------------------------------------------


def test_registering_adds_it_and_the_fixture_removes_it(softplus):
    assert ACTIVATIONS["softplus"] is Softplus
    assert "softplus" in rp.ACTIVATIONS  # the same dict, re-exported


def test_not_registered_outside_the_fixture():
    assert "softplus" not in ACTIVATIONS
    with pytest.raises(rp.ConfigError, match="activation must be one of"):
        rp.mlp([4, 5, 3], activation="softplus")


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"name": "sigmoid"}, "'sigmoid' is already registered"),
        ({"name": "soft plus"}, "must be a Python identifier"),
        ({"name": 3}, "must be a Python identifier"),
        ({"name": "nof", "f": None}, r"Bad\.f must be callable"),
        ({"name": "nofp", "f_prime": 1.0}, r"f_prime must be callable"),
        ({"name": "badtex", "latex": 1}, r"latex must be a string"),
        ({"name": "badcode", "kernel_code": 99}, r"kernel_code 99 is not a compiled"),
    ],
)
def test_register_activation_refuses_what_it_cannot_use(attrs, message):
    cls = type("Bad", (Softplus,), attrs)
    with pytest.raises(rp.ConfigError, match=message):
        rp.register_activation(cls)
    assert "soft plus" not in ACTIVATIONS and "nof" not in ACTIVATIONS


def test_register_activation_refuses_a_non_activation():
    with pytest.raises(rp.ConfigError, match=r"subclass of retroprop\.Activation"):
        rp.register_activation(int)


def test_a_registered_activation_has_sensible_default_formulas(softplus):
    act = Softplus()
    # text was not given: the name stands for the function
    assert act.formula("text") == "softplus(z)"
    assert act.formula("latex") == r"\ln(1 + e^{z})"
    assert act.spreadsheet_cells("B7", "B8") == ("LN(1+EXP(B7))", "1/(1+EXP(-B7))")


# -- training -------------------------------------------------------------------------


def test_trains_on_the_numpy_engine_and_auto_says_why_not_fast(softplus, iris_split):
    from retroprop.fast import fast_reason

    s = iris_split
    net = softplus_net()
    reason = fast_reason(net, loss="cross_entropy", optimizer="sgd")
    assert reason == (
        "activation 'softplus' has no compiled kernel; it trains on the NumPy engine"
    )
    with pytest.raises(rp.ConfigError, match="activation 'softplus' has no compiled"):
        rp.train(softplus_net(), s.X_train, s.y_train, epochs=1, lr=0.05, engine="fast")

    auto, numpy_ = softplus_net(), softplus_net()
    h_auto = rp.train(auto, s.X_train, s.y_train, epochs=30, lr=0.05, engine="auto")
    h_np = rp.train(numpy_, s.X_train, s.y_train, epochs=30, lr=0.05, engine="numpy")
    # "auto" fell back to the NumPy engine: the very same numbers
    assert h_auto.loss == h_np.loss
    for (name, a), (_, b) in zip(
        auto.state_dict().items(), numpy_.state_dict().items()
    ):
        np.testing.assert_array_equal(a, b, err_msg=name)
    # and it learned: the loss fell, Iris is mostly right after 30 epochs
    assert h_np.loss[-1] < 0.5 * h_np.loss[0]
    assert rp.evaluate(numpy_, s.X_test, s.y_test)[1] > 0.8


# -- gradients: finite differences and PyTorch --------------------------------------


def test_gradients_match_central_differences(softplus):
    H = 1e-6
    net = softplus_net(seed=3)
    loss_fn = rp.CrossEntropyLoss()
    loss_fn(net(X4), Y4)
    net.zero_grad()
    net.backward(loss_fn.backward())
    for name, p in net.named_parameters():
        numeric = np.empty_like(p.data)
        for i in np.ndindex(p.data.shape):
            old = p.data[i]
            p.data[i] = old + H
            up = loss_fn(net(X4), Y4)
            p.data[i] = old - H
            down = loss_fn(net(X4), Y4)
            p.data[i] = old
            numeric[i] = (up - down) / (2 * H)
        # truncation O(h^2) ~ 1e-12, rounding ~ eps L / h ~ 1e-10
        np.testing.assert_allclose(p.grad, numeric, rtol=1e-6, atol=1e-7, err_msg=name)
    assert max(np.abs(p.grad).max() for p in net.parameters()) > 1e-3


def test_forward_and_backward_match_pytorch_softplus(softplus):
    torch = pytest.importorskip("torch")
    net = softplus_net(seed=4)
    tnet = torch.nn.Sequential(
        torch.nn.Linear(4, 5, dtype=torch.float64),
        torch.nn.Softplus(),
        torch.nn.Linear(5, 3, dtype=torch.float64),
    )
    with torch.no_grad():
        for (name, v), (tname, tv) in zip(
            net.state_dict().items(), tnet.state_dict().items()
        ):
            assert name == tname
            tv.copy_(torch.from_numpy(v))
    out = net(X4)
    tx = torch.from_numpy(X4)
    tout = tnet(tx)
    # forward: |z| < 20, where torch's Softplus is ln(1 + e^z) itself
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=0, atol=1e-14)
    loss_fn = rp.CrossEntropyLoss()
    loss_fn(out, Y4)
    net.zero_grad()
    net.backward(loss_fn.backward())
    torch.nn.functional.cross_entropy(tout, torch.from_numpy(Y4)).backward()
    tgrads = {n: p.grad.numpy() for n, p in tnet.named_parameters()}
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.grad, tgrads[name], rtol=0, atol=1e-14)


def test_to_torch_needs_the_torch_counterpart_and_uses_it(torch_softplus):
    pytest.importorskip("torch")
    from retroprop.torch import from_torch, to_torch

    with pytest.raises(
        rp.ConfigError, match=r"\(Softplus\(\)\) has no PyTorch counterpart"
    ):
        to_torch(softplus_net())
    net = rp.mlp([4, 5, 3], activation="torch_softplus", seed=1)
    tnet = to_torch(net)
    assert type(tnet[1]).__name__ == "Softplus"
    back = from_torch(tnet)
    assert isinstance(back[1], torch_softplus)
    np.testing.assert_array_equal(back(X4), net(X4))


# -- explain, in every format ---------------------------------------------------------


@pytest.fixture
def trace(softplus):
    return rp.explain_step(
        softplus_net(seed=2), X4, Y4, lr=0.1, meta={"class_names": ["a", "b", "c"]}
    )


def test_trace_holds_the_derivative_softplus_gives(trace):
    hidden = trace.layers[0]
    z = hidden.z
    # softplus'(z) = 1 / (1 + e^-z), worked out here independently of the class
    np.testing.assert_allclose(
        hidden.factors["dout_i/dz_i"], 1 / (1 + np.exp(-z)), atol=0
    )
    np.testing.assert_allclose(hidden.a, np.log1p(np.exp(z)), rtol=1e-15)
    assert hidden.formulas["latex"] == r"\ln(1 + e^{z})"
    assert hidden.formulas["latex_i"] == r"\ln(1 + e^{z_i})"
    for p in trace.parameters:  # the chain's product is each sample's gradient
        assert np.mean([s["product"] for s in p.per_sample]) == pytest.approx(
            p.grad, abs=1e-15
        )


def test_text_and_markdown_show_its_formulas(trace):
    text = trace.to_text(width=250)
    assert "out_i = softplus(z_i)" in text
    assert "dout_i/dz_i = softplus'(z)" in text
    md = trace.to_markdown()
    assert r"$out_i = \ln(1 + e^{z_i})$" in md
    assert r"\frac{\partial out_i}{\partial z_i} = \frac{1}{1 + e^{-z_i}}" in md


def test_csv_and_json_carry_its_numbers_and_formulas(trace):
    rows = list(csv.DictReader(io.StringIO(trace.to_csv())))
    assert len(rows) == len(trace.parameters)
    for row, p in zip(rows, trace.parameters):
        assert float(row["grad"]) == p.grad
        if p.name.startswith("0."):
            assert float(row["dout_i/dz_i"]) == p.factors["dout_i/dz_i"]
    d = json.loads(trace.to_json())
    assert d["layers"][0]["activation"] == "softplus"
    assert d["layers"][0]["formulas"]["latex_prime"] == r"\frac{1}{1 + e^{-z}}"
    assert d["layers"][0]["factor_formulas"]["dout_i/dz_i"]["latex"].endswith(
        r"\frac{1}{1 + e^{-z_i}}"
    )


def test_xlsx_uses_its_templates_and_recomputes_in_libreoffice(trace, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "softplus.xlsx"
    trace.to_xlsx(path)
    formulas = [
        c.value
        for row in openpyxl.load_workbook(path)["step"].iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value.startswith("=")
    ]
    assert any(f.startswith("=LN(1+EXP(") for f in formulas)
    assert any(f.startswith("=1/(1+EXP(-") for f in formulas)
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    from helpers import soffice_recompute

    (out,) = soffice_recompute([path], tmp_path / "out", tmp_path / "profile")
    wb = openpyxl.load_workbook(out, data_only=True)
    rows = list(wb["parameters"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(trace.parameters)
    for row, p in zip(rows, trace.parameters):
        assert row[0] == p.name
        assert row[3] == pytest.approx(p.grad, abs=1e-9), p.name
        assert row[5] == pytest.approx(p.updated, abs=1e-9), p.name


CHROMIUM = "/usr/bin/chromium"


def browse(page_html: str, tmp_path, clicks: bool = True) -> dict:
    """Open the page in Chromium, click every neuron and parameter; what it shows."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    path = tmp_path / "page.html"
    path.write_text(page_html, encoding="utf-8")
    problems: list[str] = []
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
            ],
        )
        pg = b.new_page(viewport={"width": 1400, "height": 1000})
        pg.on(
            "console",
            lambda m: m.type in ("error", "warning") and problems.append(m.text),
        )
        pg.on("pageerror", lambda e: problems.append(str(e)))
        pg.goto(path.as_uri())
        pg.wait_for_selector("body[data-ready]", timeout=10_000)
        seen = {
            "heads": pg.locator("#network .head").evaluate_all(
                "es => es.map(e => e.textContent)"
            )
        }
        pg.locator('[data-neuron="1:0"]').click()
        seen["neuron"] = pg.locator("#details math").evaluate_all(
            "ms => ms.map(m => m.getAttribute('alttext'))"
        )
        pg.locator('[data-param="0.bias[0]"]').click()
        seen["bias"] = pg.locator("#details math").evaluate_all(
            "ms => ms.map(m => m.getAttribute('alttext'))"
        )
        for sel in ("[data-neuron]", "[data-param]"):
            for el in pg.locator(sel).all():
                el.dispatch_event("click")
        b.close()
    seen["problems"] = problems
    return seen


def test_html_page_shows_its_latex(trace, tmp_path):
    from retroprop.report import trace_html

    seen = browse(trace_html(trace), tmp_path)
    assert seen["problems"] == []
    assert "0 (hidden layer 1), softplus" in seen["heads"]
    assert r"out_{0} = \ln(1 + e^{z_{0}})" in seen["neuron"]
    assert (
        r"\frac{\partial out_{0}}{\partial z_{0}} = \frac{1}{1 + e^{-z_{0}}}"
        in seen["bias"]
    )


def test_report_draws_it(softplus, tmp_path):
    from retroprop.report import record_training

    rec = record_training(activation="softplus", epochs=2, steps=3)
    assert [m.name for m in rec.net if isinstance(m, rp.Activation)] == [
        "softplus",
        "softplus",
    ]
    seen = browse(rec.to_html(), tmp_path)
    assert seen["problems"] == []
    assert (
        "0 (hidden layer 1), softplus" in seen["heads"]
        and "2 (hidden layer 2), softplus" in seen["heads"]
    )
    assert r"out_{0} = \ln(1 + e^{z_{0}})" in seen["neuron"]
