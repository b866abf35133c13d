"""A loss defined in this file alone, registered with ``rp.register_loss``.

The Brier score on softmax probabilities, ``L = sum_i (p_i - delta_ri)^2``, for one
sample of true class ``r``. Its chain-rule factor at the output layer, worked out by
hand (``dp_j/dout_i = p_j (delta_ij - p_i)``, the lecture's softmax derivative):

    dL/dout_i = sum_j 2 (p_j - delta_rj) p_j (delta_ij - p_i)
              = 2 p_i ((p_i - delta_ri) - sum_j (p_j - delta_rj) p_j)

It trains on the NumPy engine and goes through explain (its factor and formulas in
every view, its spreadsheet templates recomputed by LibreOffice where installed).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import retroprop as rp
from retroprop.engine.losses import (
    LOSSES,
    CrossEntropyLoss,
    Factor,
    softmax,
    unregister_loss,
)


class Brier(rp.Loss):
    name = "brier"
    title = "Brier score"
    text = "L = Σ_i (p_i - δ_ri)²"
    latex = r"L = \sum_i (p_i - \delta_{ri})^2"
    spreadsheet = "SUMXMY2({p},{delta_r})"
    probabilities_name = "softmax"
    probabilities_text = CrossEntropyLoss.probabilities_text
    probabilities_latex = CrossEntropyLoss.probabilities_latex
    factors = (
        Factor(
            "dL/dout_i",
            "2 p_i ((p_i - δ_ri) - Σ_j (p_j - δ_rj) p_j)",
            r"\frac{\partial L}{\partial out_i} = 2 p_i \left((p_i - \delta_{ri})"
            r" - \sum_j (p_j - \delta_{rj}) p_j\right)",
            "2*{p_i}*(({p_i}-{delta_r_i})-SUMPRODUCT({p}-{delta_r},{p}))",
        ),
    )
    sheet_rows = CrossEntropyLoss.sheet_rows  # p_i and delta_ri
    outputs = "probabilities"
    prediction_text = "argmax_i p_i"
    target = "class"

    def _d(self, out, y):
        p = softmax(out)
        d = p.copy()
        d[np.arange(len(y)), y] -= 1.0  # p_i - delta_ri
        return p, d

    def forward(self, out, y):
        self.p, self.d = self._d(out, np.asarray(y))
        losses = (self.d * self.d).sum(axis=1)
        return float(losses.mean() if self.reduction == "mean" else losses.sum())

    def backward(self):
        g = self._chain(self.p, self.d)
        return g / len(g) if self.reduction == "mean" else g

    @staticmethod
    def _chain(p, d):
        return 2.0 * p * (d - (d * p).sum(axis=1, keepdims=True))

    def per_sample(self, out, y):
        _, d = self._d(out, np.asarray(y))
        return (d * d).sum(axis=1)

    def chain(self, out, y):
        p, d = self._d(out, np.asarray(y))
        return {"dL/dout_i": self._chain(p, d)}

    def probabilities(self, out):
        return softmax(out)


@pytest.fixture
def brier():
    rp.register_loss(Brier)
    yield Brier
    unregister_loss("brier")


X = np.array([[0.5, -1.0, 0.25, 2.0], [-0.3, 0.8, 1.5, -0.7], [1.0, 0.1, -0.4, 0.0]])
Y = np.array([2, 0, 1])


def test_not_registered_outside_the_fixture():
    assert "brier" not in LOSSES


def test_register_loss_refuses_what_it_cannot_use(brier):
    with pytest.raises(rp.ConfigError, match="'brier' is already registered"):
        rp.register_loss(Brier)
    half = {k: getattr(Brier, k) for k in ("forward", "backward", "per_sample")}
    with pytest.raises(rp.ConfigError, match="must define chain"):
        rp.register_loss(type("Half", (rp.Loss,), {"name": "half", **half}))
    with pytest.raises(rp.ConfigError, match="kernel_code must stay None"):
        rp.register_loss(type("K", (Brier,), {"name": "k", "kernel_code": 0}))


def test_hand_worked_example(brier):
    # out = (0, 0, ln 2): p = (1/4, 1/4, 1/2); r = 2: p - delta_r = (1/4, 1/4, -1/2)
    out = np.array([[0.0, 0.0, np.log(2.0)]])
    loss = Brier()
    # L = 1/16 + 1/16 + 1/4 = 0.375
    assert loss(out, np.array([2])) == pytest.approx(0.375, abs=1e-15)
    # sum_j (p_j - delta_rj) p_j = 1/16 + 1/16 - 1/4 = -1/8
    # dL/dout_0 = 2 (1/4) (1/4 + 1/8) = 3/16; the same for out_1;
    # dL/dout_2 = 2 (1/2) (-1/2 + 1/8) = -3/8
    np.testing.assert_allclose(loss.backward(), [[3 / 16, 3 / 16, -3 / 8]], atol=1e-15)


def test_gradients_match_central_differences(brier):
    H = 1e-6
    net = rp.mlp([4, 5, 3], "tanh", seed=7)
    loss_fn = Brier()
    loss_fn(net(X), Y)
    net.zero_grad()
    net.backward(loss_fn.backward())
    for name, p in net.named_parameters():
        numeric = np.empty_like(p.data)
        for i in np.ndindex(p.data.shape):
            old = p.data[i]
            p.data[i] = old + H
            up = loss_fn(net(X), Y)
            p.data[i] = old - H
            down = loss_fn(net(X), Y)
            p.data[i] = old
            numeric[i] = (up - down) / (2 * H)
        np.testing.assert_allclose(p.grad, numeric, rtol=1e-6, atol=1e-7, err_msg=name)


def test_trains_on_the_numpy_engine(brier, iris_split):
    from retroprop.fast import fast_reason

    s = iris_split
    net = rp.mlp([4, 8, 3], "tanh", seed=0)
    assert fast_reason(net, loss="brier", optimizer="sgd") == (
        "loss 'brier' has no compiled kernel; it trains on the NumPy engine"
    )
    h = rp.train(net, s.X_train, s.y_train, epochs=30, lr=0.1, loss="brier")
    assert h.loss[-1] < 0.5 * h.loss[0]
    assert rp.evaluate(net, s.X_test, s.y_test, loss="brier")[1] > 0.8


def test_explain_renders_its_factor_and_formulas(brier, tmp_path):
    net = rp.mlp([4, 5, 3], "tanh", seed=7)
    t = rp.explain_step(net, X, Y, lr=0.1, loss="brier")
    out = t.layers[-1]
    np.testing.assert_allclose(
        out.factors["dL/dout_i"], Brier._chain(*Brier()._d(t.output, Y)), atol=0
    )
    np.testing.assert_allclose(t.probabilities, softmax(t.output), atol=0)
    assert t.prediction.tolist() == np.argmax(t.output, axis=1).tolist()
    text = t.to_text(width=250)
    assert "Brier score" in text and "dL/dout_i = 2 p_i ((p_i - δ_ri)" in text
    md = t.to_markdown()
    assert r"L = \sum_i (p_i - \delta_{ri})^2" in md
    assert "dL/dout_i" in t.to_csv().splitlines()[0]
    assert t.to_dict()["loss_formulas"]["title"] == "Brier score"

    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "brier.xlsx"
    t.to_xlsx(path)
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    from helpers import soffice_recompute

    (done,) = soffice_recompute([path], tmp_path / "out", tmp_path / "profile")
    wb = openpyxl.load_workbook(done, data_only=True)
    rows = list(wb["parameters"].iter_rows(min_row=2, values_only=True))
    for row, p in zip(rows, t.parameters, strict=True):
        assert row[3] == pytest.approx(p.grad, abs=1e-9), p.name
        assert row[5] == pytest.approx(p.updated, abs=1e-9), p.name
    losses = {r[0]: r[1:] for r in wb["step"].iter_rows(values_only=True) if r[0]}
    got = [v for v in losses["L"] if v is not None]
    np.testing.assert_allclose(got, t.loss_per_sample, rtol=0, atol=1e-9)
