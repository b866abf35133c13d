"""The report page's audit (issue 12), in a real headless Chromium.

Each test is one point of the audit of the recorded report: the backward pass shown
with the trace's numbers, TensorFlow Playground's colours on scales fixed over the
steps, update lines whose shown digits close, lines selectable at their middle,
keyboard and screen-reader names, axe-core, phone and projector sizes, and the
cross-entropy, MSE and mini-batch pages alike. Every number read from the page is
compared with the trace's own number (``data-exact``), exactly.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import pytest

from helpers import serious_axe_violations

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "retroprop", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def write_report(path: Path, **kw) -> list[dict]:
    from retroprop.report import record_training, write_html

    rec = record_training(**kw)
    write_html(path, rec.to_html())
    return [json.loads(t.to_json()) for t in rec.recorder.traces]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The default Iris page (20 steps), a mini-batch page and an MSE (regression)
    page, each with its traces as ``explain --format json`` writes them."""
    d = tmp_path_factory.mktemp("audit")
    out = {"ce": (d / "ce.html", write_report(d / "ce.html", steps=20))}
    out["batch"] = (
        d / "batch.html",
        write_report(d / "batch.html", steps=6, batch_size=8, epochs=3),
    )
    rng = np.random.default_rng(5)
    X = rng.normal(size=(120, 3))
    y = 10 + 4 * (X @ [1.0, -0.5, 0.3]) + rng.normal(size=120)
    csv = d / "reg.csv"
    rows = ["a,b,c,target"] + [
        ",".join(f"{v:.4f}" for v in [*r, t]) for r, t in zip(X, y)
    ]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    from retroprop.cli.options import load_data

    data = load_data(str(csv), None, regression=True)
    out["mse"] = (d / "mse.html", write_report(d / "mse.html", data=data, steps=5))
    return out


def open_page(browser, path: Path, width: int = 1400, height: int = 1000):
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.problems = []
    pg.on(
        "console",
        lambda m: m.type in ("error", "warning") and pg.problems.append(m.text),
    )
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.goto(path.as_uri())
    pg.wait_for_selector("body[data-ready]", timeout=20_000)
    return context, pg


@pytest.fixture
def ce(browser, pages):
    path, traces = pages["ce"]
    context, pg = open_page(browser, path)
    yield pg, traces
    assert pg.problems == []
    context.close()


def shown(pg, field: str) -> float:
    return float(
        pg.locator(f'#details [data-field="{field}"]').first.get_attribute("data-exact")
    )


def layer(trace: dict, name: str) -> dict:
    (rec,) = [r for r in trace["layers"] if r["name"] == name]
    return rec


# 1. the backward pass ------------------------------------------------------------


def test_hidden_neuron_shows_its_backward_pass(ce):
    pg, traces = ce
    tr = traces[0]
    hidden, nxt = layer(tr, "0"), layer(tr, "2")
    pg.locator('[data-neuron="1:2"]').click()
    assert shown(pg, "delta") == hidden["delta"][0][2]
    assert shown(pg, "grad_a") == hidden["grad_a"][0][2]
    assert shown(pg, "f_prime") == hidden["f_prime"][0][2]
    # sum_k w_k2 delta_k with the trace's numbers: w before the update, next deltas
    numbers = pg.eval_on_selector(
        '#details [data-arith="backward"]',
        "m => [...m.querySelectorAll('mn[data-exact]')].map(e => e.dataset.exact)",
    )
    expected = []
    for k in range(3):
        expected += [nxt["weight"][k][2], nxt["delta"][0][k]]
    assert [float(v) for v in numbers] == [*expected, hidden["grad_a"][0][2]]
    # an input neuron: dL/dx = sum_k w_k delta_k of the first layer
    pg.locator('[data-neuron="0:1"]').click()
    assert shown(pg, "grad_a") == hidden["grad_a_prev"][0][1]
    # an output neuron: its delta
    pg.locator('[data-neuron="3:0"]').click()
    assert shown(pg, "delta") == layer(tr, "4")["delta"][0][0]


def test_hidden_weight_shows_delta_and_the_sum(ce):
    pg, traces = ce
    pg.locator("#next").click()
    tr = traces[1]
    pg.locator('[data-param="0.weight[3,1]"]').dispatch_event("click")
    assert pg.locator("#details [data-selected]").inner_text() == "0.weight[3,1]"
    assert shown(pg, "delta") == layer(tr, "0")["delta"][0][3]
    text = pg.inner_text("#details")
    assert "∑" in text or "Σ" in text
    assert pg.locator('#details [data-arith="backward"]').count() == 1


def nice_scale(m: float) -> float:
    p = 10 ** math.floor(math.log10(m))
    return next(f * p for f in (1, 2, 5, 10) if f * p >= m)


def mix(t: float) -> str:
    """TensorFlow Playground's colour of t in [-1, 1]: orange (245, 147, 34) at -1,
    grey (232, 234, 237) at 0, blue (8, 119, 189) at +1 (the page's own rule)."""
    end = (245, 147, 34) if t < 0 else (8, 119, 189)
    s = min(1.0, abs(t))
    mid = (232, 234, 237)
    return "rgb({})".format(
        ",".join(str(math.floor(m + (c - m) * s + 0.5)) for m, c in zip(mid, end))
    )


def test_neurons_coloured_by_delta(ce):
    pg, traces = ce
    pg.locator('input[name="neuron-mode"][value="delta"]').check()
    deltas = [
        abs(v)
        for t in traces
        for rec in t["layers"]
        for row in rec["delta"] + (rec["grad_a_prev"] if rec["name"] == "0" else [])
        for v in row
    ]
    scale = nice_scale(max(deltas))
    assert f"+{scale:g}" in pg.inner_text("#legend")
    for step in (0, 19):
        if step:
            pg.locator("header").click()
            pg.keyboard.press("End")
        tr = traces[step]
        for L, name in ((1, "0"), (2, "2"), (3, "4")):
            for k, d in enumerate(layer(tr, name)["delta"][0]):
                fill = pg.get_attribute(f'[data-neuron="{L}:{k}"] circle', "fill")
                assert fill == mix(d / scale), (step, L, k, d)


# 2. colours and fixed scales ---------------------------------------------------


def test_playground_colours_on_a_fixed_scale(ce):
    pg, traces = ce
    values = [p["value"] for t in traces for p in t["parameters"]]
    grads = [p["grad"] for t in traces for p in t["parameters"]]
    wscale, gscale = nice_scale(max(map(abs, values))), nice_scale(max(map(abs, grads)))
    legend = pg.inner_text("#legend")
    assert f"+{wscale:g}" in legend
    for step in (0, 19):
        if step:
            pg.locator("header").click()
            pg.keyboard.press("End")
        for p in traces[step]["parameters"]:
            if "weight" not in p["name"]:
                continue
            key = f"{p['name']}[{p['index'][0]},{p['index'][1]}]"
            vis = pg.locator(f'[data-param="{key}"] path.vis')
            assert vis.get_attribute("stroke") == mix(p["value"] / wscale), key
    pg.locator('input[name="edge-mode"][value="grad"]').check()
    assert pg.locator("#grad-note").is_visible()
    assert "lowers the weight" in pg.inner_text("#grad-note")
    assert f"+{gscale:g}" in pg.inner_text("#legend")
    # the same scale on the first and the last step: widths follow |grad| / gscale
    for step in (19, 0):
        if not step:
            pg.locator("header").click()
            pg.keyboard.press("Home")
        assert f"+{gscale:g}" in pg.inner_text("#legend")
        p = next(q for q in traces[step]["parameters"] if q["name"] == "4.weight")
        width = pg.get_attribute(
            f'[data-param="4.weight[{p["index"][0]},{p["index"][1]}]"] path.vis',
            "stroke-width",
        )
        assert float(width) == pytest.approx(
            0.6 + 5 * min(1, abs(p["grad"]) / gscale), abs=0.006
        )


# 3. digits that close ------------------------------------------------------------

UPDATES = """() => {
  const out = [];
  const range = document.getElementById("step");
  for (let s = 1; s <= Number(range.max); s++) {
    range.value = String(s);
    range.dispatchEvent(new Event("input"));
    for (const el of document.querySelectorAll("#network [data-param]")) {
      el.dispatchEvent(new MouseEvent("click", {bubbles: true}));
      const m = document.querySelector('#details [data-arith="update"]');
      const t = {step: s, param: el.dataset.param};
      for (const e of m.querySelectorAll("[data-term]")) {
        t[e.dataset.term] = e.textContent;
        t[e.dataset.term + "_exact"] = e.dataset.exact;
      }
      out.push(t);
    }
  }
  return out;
}"""


def check_updates_close(lines: list[dict], traces: list[dict]) -> None:
    assert lines
    for t in lines:
        tr = traces[t["step"] - 1]
        name, idx = t["param"].split("[")
        index = [int(v) for v in idx.rstrip("]").split(",")]
        (p,) = [
            q for q in tr["parameters"] if q["name"] == name and q["index"] == index
        ]
        for term in ("value", "grad", "updated"):
            assert float(t[term + "_exact"]) == p[term]
        assert float(t["lr_exact"]) == tr["lr"]
        v, lr, g, u = (Decimal(t[k]) for k in ("value", "lr", "grad", "updated"))
        q = Decimal(1).scaleb(u.as_tuple().exponent)
        # every shown number is the engine's, rounded to the shown decimals
        for term, shown_ in (("value", v), ("grad", g), ("updated", u)):
            assert shown_ == Decimal(p[term]).quantize(q, ROUND_HALF_EVEN), t
        # and the arithmetic done on the shown numbers gives the shown result
        assert (v - lr * g).quantize(q, ROUND_HALF_EVEN) == u, t


def test_update_lines_close_on_the_shown_digits(ce):
    pg, traces = ce
    lines = pg.evaluate(UPDATES)
    assert len(lines) == 20 * (37 + 10)  # every weight and bias, steps 1-20
    check_updates_close(lines, traces)
    # nothing is told by hover only
    assert pg.locator("#network title, #details title, [title]").count() == 0


# 4. lines are selected where they are clicked ------------------------------------


def test_clicking_the_middle_of_a_line_selects_it(ce):
    pg, _ = ce
    keys = pg.eval_on_selector_all(
        '#network [data-param*="weight["]', "els => els.map(e => e.dataset.param)"
    )
    assert "2.weight[1,3]" in keys
    for key in keys:
        point = pg.evaluate(
            """(key) => {
            const path = document.querySelector(`[data-param="${key}"] path.hit`);
            const p = path.getPointAtLength(path.getTotalLength() / 2)
                          .matrixTransform(path.getScreenCTM());
            return [p.x, p.y];
        }""",
            key,
        )
        pg.mouse.click(*point)
        assert pg.locator("#details [data-selected]").inner_text() == key


# 6. keyboard and screen readers ------------------------------------------------


def test_keyboard_reaches_every_neuron_weight_and_bias(ce):
    pg, _ = ce
    pg.locator("#speed").focus()
    reached = set()
    for _ in range(14 + 37 + 10 + 12):
        pg.keyboard.press("Tab")
        key = pg.evaluate(
            "(() => { const e = document.activeElement;"
            " return e.dataset ? (e.dataset.param || e.dataset.neuron || null) : null })()"
        )
        if key:
            reached.add(key)
    assert len(reached) == 14 + 37 + 10
    # a visible focus: the focused neuron's ring is drawn in the focus colour
    pg.locator('[data-neuron="2:1"]').focus()
    width = pg.eval_on_selector(
        '[data-neuron="2:1"] circle', "c => getComputedStyle(c).strokeWidth"
    )
    assert width == "4px"
    pg.keyboard.press("Enter")
    assert pg.locator("#details [data-selected]").inner_text().startswith("neuron")
    label = pg.get_attribute('[data-param="2.weight[1,3]"]', "aria-label")
    assert label.startswith(
        "weight from 0 (hidden layer 1) neuron 4 to 2 (hidden layer 2) neuron 2: value"
    )
    assert "bias of 4 (output layer) neuron 2" in pg.get_attribute(
        '[data-param="4.bias[1]"]', "aria-label"
    )
    # the step change is spoken
    pg.locator("header").click()
    pg.keyboard.press("ArrowRight")
    assert pg.inner_text("#announce").startswith("Step 2 of 20: epoch 1, iteration 2")
    assert pg.get_attribute("#announce", "aria-live") == "polite"


def test_spoken_names_in_portuguese(browser, tmp_path):
    out = tmp_path / "pt.html"
    r = run(
        "--lang", "pt", "report", "--steps", "2", "--epochs", "1", "-o", str(out), "-q"
    )
    assert r.returncode == 0, r.stderr
    context, pg = open_page(browser, out)
    label = pg.get_attribute('[data-param="2.weight[1,3]"]', "aria-label")
    assert label.startswith("peso de ") and "neurônio 4" in label
    assert pg.get_attribute("#play", "aria-label") == "reproduzir (espaço)"
    pg.locator("header").click()
    pg.keyboard.press("ArrowRight")
    assert pg.inner_text("#announce").startswith("Passo 2 de 2")
    context.close()


@pytest.mark.parametrize("which", ["ce", "mse", "batch"])
def test_axe_finds_no_serious_violation(browser, pages, which):
    path, _ = pages[which]
    context, pg = open_page(browser, path)
    pg.locator('[data-neuron="1:0"]').click()
    bad = serious_axe_violations(pg)
    assert bad == []
    assert pg.problems == []
    context.close()


# 8. the MSE and mini-batch pages like the cross-entropy one --------------------


@pytest.mark.parametrize("which", ["mse", "batch"])
def test_other_pages_close_and_show_the_backward_pass(browser, pages, which):
    path, traces = pages[which]
    context, pg = open_page(browser, path)
    check_updates_close(pg.evaluate(UPDATES), traces)
    pg.locator("header").click()
    pg.keyboard.press("Home")
    pg.locator('[data-neuron="1:0"]').dispatch_event("click")
    tr = traces[0]
    assert shown(pg, "delta") == tr["layers"][0]["delta"][0][0]
    assert shown(pg, "grad_a") == tr["layers"][0]["grad_a"][0][0]
    if which == "batch":  # the second sample of the batch: its own delta
        pg.locator('[data-sample="1"]').click()
        pg.locator('[data-neuron="1:0"]').dispatch_event("click")
        assert shown(pg, "delta") == tr["layers"][0]["delta"][1][0]
    assert pg.problems == []
    context.close()


# 5. phone and projector ----------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1920, 1080)])
def test_screenshots_phone_and_projector(browser, pages, width, height):
    path, _ = pages["ce"]
    context, pg = open_page(browser, path, width, height)
    pg.locator('[data-param="4.bias[1]"]').click()
    pg.locator("header").click()
    pg.keyboard.press("ArrowRight")
    overflow = pg.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than {width}px"
    bar = pg.locator("nav.controls").bounding_box()
    assert bar["height"] < height / 8
    for el in pg.locator('[data-param*="bias["]').all():
        box = el.bounding_box()
        assert box["width"] >= 20 and box["height"] >= 20  # a finger's target
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{width}x{height}.png"
    pg.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    assert pg.problems == []
    context.close()


# 7. recording a range, playback speed, size --------------------------------------


def test_playback_speed_control(ce):
    pg, _ = ce
    pg.select_option("#speed", "35")  # 20x
    pg.locator("#play").click()
    assert pg.get_attribute("#play", "aria-pressed") == "true"
    pg.locator("#step-label", has_text="step 20 / 20").wait_for()
    assert pg.get_attribute("#play", "aria-pressed") == "false"  # stopped at the end


def test_default_report_is_under_5_mb(tmp_path):
    out = tmp_path / "report.html"
    r = run("report", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size < 5_000_000


# 4. large networks ------------------------------------------------------------------


def big_page(path: Path, arch: list[int], n_steps: int, batch: int) -> list[dict]:
    """A page of ``n_steps`` real updates of an ``arch`` network on random data."""
    from retroprop.engine.network import mlp
    from retroprop.explain import explain_step
    from retroprop.report import render_html, write_html

    rng = np.random.default_rng(0)
    net = mlp(arch, "sigmoid", seed=0)
    traces = []
    for _ in range(n_steps):
        X = rng.normal(size=(batch, arch[0]))
        y = rng.integers(0, arch[-1], batch)
        t = explain_step(net, X, y, lr=0.05)
        traces.append(t)
        net.load_state_dict(t.updated())
    write_html(path, render_html(traces, net))
    return [json.loads(t.to_json()) for t in traces]


def test_784_inputs_draw_as_a_heatmap_and_wide_layers_collapse(browser, tmp_path):
    path = tmp_path / "big.html"
    traces = big_page(path, [784, 40, 16, 10], n_steps=2, batch=2)
    print(f"784-40-16-10, batch 2: {path.stat().st_size / 2e6:.2f} MB a step")
    context, pg = open_page(browser, path)
    assert pg.locator("#network .heatmap [data-neuron]").count() == 784
    assert pg.locator("#network circle").count() == 12 + 16 + 10  # 40 collapsed
    pg.locator('[data-expand="1"]').click()
    assert pg.locator('[data-neuron^="1:"]').count() == 40
    pg.locator('[data-expand="1"]').click()
    assert pg.locator('[data-neuron^="1:"]').count() == 12
    # a first-layer neuron's weights: a grid like the inputs, every one clickable
    pg.locator('[data-neuron="1:3"]').click()
    assert pg.locator('#details .wgrid [data-param^="0.weight[3,"]').count() == 784
    pg.locator('#details [data-param="0.weight[3,500]"]').click()
    p = next(q for q in traces[0]["parameters"] if q["index"] == [3, 500])
    for key in ("value", "grad", "updated"):
        assert shown(pg, key) == p[key]
    per_sample = p["per_sample"]
    assert shown(pg, "factor:product") == per_sample[0]["product"]
    # the drawn lines and biases: the stored columns give back every number exactly
    check_updates_close(pg.evaluate(UPDATES), traces)
    # the backward sum reads the next layer's weights from the columns
    pg.locator('[data-neuron="2:4"]').click()
    numbers = pg.eval_on_selector(
        '#details [data-arith="backward"]',
        "m => [...m.querySelectorAll('mn[data-exact]')].map(e => +e.dataset.exact)",
    )
    out = traces[1]["layers"][2]
    assert numbers[:2] == [out["weight"][0][4], out["delta"][0][0]]
    assert pg.problems == []
    context.close()


def test_mnist_sized_pages_stay_small(browser, tmp_path):
    # the lecture's batch of 1: 784-16-16-10 a step in under 0.6 MB (it was 7.5 MB)
    path = tmp_path / "mnist.html"
    traces = big_page(path, [784, 16, 16, 10], n_steps=3, batch=1)
    per_step = path.stat().st_size / 3
    print(f"784-16-16-10: {per_step / 1e6:.2f} MB a step")
    assert per_step < 0.6e6
    context, pg = open_page(browser, path)
    pg.locator("header").click()
    pg.keyboard.press("End")
    pg.locator('[data-param="2.weight[3,7]"]').dispatch_event("click")
    p = next(
        q
        for q in traces[2]["parameters"]
        if q["name"] == "2.weight" and q["index"] == [3, 7]
    )
    for key in ("value", "grad", "updated", "delta"):
        if key == "delta":
            assert shown(pg, key) == traces[2]["layers"][1]["delta"][0][3]
        else:
            assert shown(pg, key) == p[key]
    assert pg.problems == []
    context.close()
