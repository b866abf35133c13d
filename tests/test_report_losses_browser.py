"""`retroprop explain --format html` for each loss, in a real headless Chromium.

The page knows no loss by name: it shows the formulas the trace carries. With
``--loss mse`` it must show MSE's loss and chain (not ``L = -ln p_r`` and the
cross-entropy factors), mark the prediction read from the outputs, and survive a
click on every neuron (outputs included) and every parameter without a JavaScript
error or a console error.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.browser

CLASSES = ["setosa", "versicolor", "virginica"]


def explain(tmp_path, fmt: str, *args: str):
    out = tmp_path / f"step.{fmt}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "retroprop",
            "explain",
            "--format",
            fmt,
            "--output",
            str(out),
            *args,
        ],
        check=True,
        capture_output=True,
    )
    return out


def alttexts(pg) -> list[str]:
    return pg.locator("#details math").evaluate_all(
        "ms => ms.map(m => m.getAttribute('alttext')).filter(Boolean)"
    )


def open_page(browser, path):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.problems = []
    pg.on(
        "console",
        lambda m: (
            m.type in ("error", "warning")
            and pg.problems.append(f"console {m.type}: {m.text}")
        ),
    )
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.goto(path.as_uri())
    pg.wait_for_selector("body[data-ready]", timeout=10_000)
    return pg


def click_everything(pg) -> int:
    """A click on every neuron, bias and weight (each shows its details)."""
    n = 0
    for sel in ("[data-neuron]", "[data-param]"):
        for el in pg.locator(sel).all():
            el.dispatch_event("click")
            assert pg.locator("#details [data-selected]").count() == 1
            n += 1
    return n


@pytest.mark.parametrize(
    "args",
    [
        ("--loss", "mse"),
        ("--loss", "mse", "--batch-size", "3", "--hidden", "5"),
        ("--loss", "cross_entropy", "--batch-size", "2"),
    ],
    ids=["mse", "mse-batch", "cross-entropy-batch"],
)
def test_no_click_throws(browser, tmp_path, args):
    page = explain(tmp_path, "html", *args)
    pg = open_page(browser, page)
    n = click_everything(pg)
    # the default network 4-4-3-3 or 4-5-3: every neuron, weight and bias clicked
    assert n > 40
    for q in range(pg.locator("[data-sample]").count()):  # each sample of a batch
        pg.locator(f'[data-sample="{q}"]').click()
        click_everything(pg)
    assert pg.problems == []
    pg.close()


def test_mse_page_shows_mse_formulas_and_predicts_from_the_outputs(browser, tmp_path):
    # --step 7: a sample whose largest output is not class 0 (checked below)
    args = ("--loss", "mse", "--step", "7")
    trace = json.loads(explain(tmp_path, "json", *args).read_text())
    out = np.array(trace["output"][0])
    predicted = int(np.argmax(out))
    assert predicted != 0  # else "class 0 always" would pass unnoticed
    assert trace["prediction"] == [predicted]
    pg = open_page(browser, explain(tmp_path, "html", *args))

    heads = pg.locator("#network .head").evaluate_all(
        "es => es.map(e => e.textContent)"
    )
    assert heads[-1] == "4 (output layer)"  # no softmax with MSE
    sample = pg.locator("#sample").inner_text()
    assert f"predicted {CLASSES[predicted]}" in sample
    assert "(1/k) Σ_i (out_i - t_i)²" in sample and "ln" not in sample
    # the outputs and the targets in the sample panel, exactly the trace's
    shown = pg.eval_on_selector_all(
        "#sample tr .num", "els => els.map(e => e.getAttribute('data-exact'))"
    )
    target = trace["target_values"][0]
    tail = [float(v) for v in shown[-6:]]
    assert tail == [v for pair in zip(out.tolist(), target) for v in pair]

    # an output neuron: MSE's loss, its target, no probability
    pg.locator(f'[data-neuron="3:{predicted}"]').click()
    forms = alttexts(pg)
    assert r"L = \frac{1}{k}\sum_i (out_i - t_i)^2" in forms
    assert not any("p_" in f or r"\ln" in f for f in forms)
    assert pg.locator('#details [data-field="p"]').count() == 0
    t = pg.locator('#details [data-field="t"]').get_attribute("data-exact")
    assert float(t) == target[predicted]
    loss = pg.locator('#details [data-field="loss"]').get_attribute("data-exact")
    assert float(loss) == trace["loss_per_sample"][0]

    # an output bias: MSE's own chain, dL/dout_i = 2 (out_i - t_i) / k, then 1
    pg.locator('[data-param="4.bias[2]"]').click()
    forms = alttexts(pg)
    assert (
        r"\frac{\partial L}{\partial out_{2}} = \frac{2}{k}(out_{2} - t_{2})" in forms
    )
    assert not any("p_r" in f for f in forms)
    factor = pg.locator('#details [data-field="factor:dL/dout_i"]')
    (entry,) = [
        p for p in trace["parameters"] if p["name"] == "4.bias" and p["index"] == [2]
    ]
    assert float(factor.get_attribute("data-exact")) == entry["factors"]["dL/dout_i"]
    assert pg.locator('#details [data-field="factor:dL/dp_r"]').count() == 0
    assert pg.problems == []
    pg.close()


def test_cross_entropy_page_keeps_the_lectures_chain(browser, tmp_path):
    pg = open_page(browser, explain(tmp_path, "html"))
    heads = pg.locator("#network .head").evaluate_all(
        "es => es.map(e => e.textContent)"
    )
    assert heads[-1].endswith("(output layer) + softmax")
    pg.locator('[data-param="4.bias[1]"]').click()
    forms = alttexts(pg)
    assert r"\frac{\partial L}{\partial p_r} = -\frac{1}{p_r}" in forms
    assert r"\frac{\partial p_r}{\partial out_{1}} = p_r(\delta_{r,1} - p_{1})" in forms
    assert r"\frac{\partial L}{\partial out_{1}} = p_{1} - \delta_{r,1}" in forms
    pg.locator('[data-neuron="3:1"]').click()
    assert r"L = -\ln(p_r)" in alttexts(pg)
    assert pg.problems == []
    pg.close()
