"""The HTML report in a real headless Chromium (Debian's, driven by Playwright).

One browser for the module. The page is the default report (the lecture's Iris
network, 20 recorded steps, 100 epochs); every number the tests read from the page
(``data-exact``) must be the trace's number exactly, as Python reads it back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from retroprop.report import record_training, write_html

    rec = record_training(steps=20)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_html(path, rec.to_html())
    traces = [json.loads(t.to_json()) for t in rec.recorder.traces]
    return path, traces


@pytest.fixture
def page(browser, report):
    """A fresh page on the report, with every request and console message kept."""
    path, _ = report
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.requests, pg.problems = [], []
    pg.on("request", lambda r: pg.requests.append(r.url))
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
    yield pg
    url = path.as_uri()
    outside = [u for u in pg.requests if u != url and not u.startswith("data:")]
    assert outside == [], f"the page made requests: {outside}"
    assert pg.problems == []
    context.close()


def shown(pg, field: str) -> float:
    """The full value of ``data-field=field`` in the details panel, read by Python."""
    text = pg.locator(f'#details [data-field="{field}"]').get_attribute("data-exact")
    return float(text)


def entry(trace: dict, name: str, index: list[int]) -> dict:
    (p,) = [p for p in trace["parameters"] if p["name"] == name and p["index"] == index]
    return p


def assert_shows(pg, trace: dict, name: str, index: list[int]) -> None:
    p = entry(trace, name, index)
    for field in ("value", "grad", "updated"):
        assert shown(pg, field) == p[field], field  # exact, not approximate
    assert shown(pg, "lr") == trace["lr"]


def click_edge(pg, param: str) -> None:
    """A real mouse click on a point of the weight's line that no other line covers."""
    point = pg.evaluate(
        """(param) => {
        const g = document.querySelector(`[data-param="${param}"]`);
        const path = g.querySelector("path.hit"), len = path.getTotalLength();
        const m = path.getScreenCTM();
        for (const t of [0.12, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.88, 0.5]) {
            const p = path.getPointAtLength(t * len).matrixTransform(m);
            const hit = document.elementFromPoint(p.x, p.y);
            if (hit && hit.closest("[data-param]") === g) return [p.x, p.y];
        }
        return null;
    }""",
        param,
    )
    assert point is not None, f"no clickable point on {param}"
    pg.mouse.click(*point)


def test_diagram_has_every_neuron_weight_and_bias(page):
    # the lecture's 4-4-3-3 network: 14 neurons, 16 + 12 + 9 weights, 4 + 3 + 3 biases
    assert page.locator("[data-neuron]").count() == 4 + 4 + 3 + 3
    weights = page.locator('[data-param*="weight["]')
    biases = page.locator('[data-param*="bias["]')
    assert weights.count() == 4 * 4 + 4 * 3 + 3 * 3
    assert biases.count() == 4 + 3 + 3
    names = set(
        page.eval_on_selector_all(
            "[data-param]", "els => els.map(e => e.getAttribute('data-param'))"
        )
    )
    assert {
        "0.weight[3,3]",
        "2.weight[2,3]",
        "4.weight[2,2]",
        "4.bias[1]",
        "0.bias[3]",
    } <= names
    layers = sorted(
        page.eval_on_selector_all(
            "[data-neuron]", "els => els.map(e => e.getAttribute('data-neuron'))"
        )
    )
    assert layers == sorted(
        f"{L}:{k}" for L, n in enumerate([4, 4, 3, 3]) for k in range(n)
    )
    assert page.locator("#step").get_attribute("type") == "range"
    assert page.locator("#step").get_attribute("max") == "20"
    assert page.locator("#step-label").inner_text() == "step 1 / 20"


def test_click_bias_and_weight_show_the_trace(page, report):
    _, traces = report
    page.locator('[data-param="4.bias[1]"]').click()
    assert_shows(page, traces[0], "4.bias", [1])
    # the lecture's output-layer chain: dL/dp_r * dp_r/dout_i * 1 = p_i - delta_ri
    f = entry(traces[0], "4.bias", [1])["factors"]
    assert shown(page, "factor:dL/dp_r") == f["dL/dp_r"]
    assert shown(page, "factor:product") == f["product"]
    assert page.locator("#details math").count() >= 2  # formulas as MathML

    click_edge(page, "2.weight[1,2]")
    assert page.locator("#details [data-selected]").inner_text() == "2.weight[1,2]"
    assert_shows(page, traces[0], "2.weight", [1, 2])
    assert (
        shown(page, "factor:dout_i/dz_i")
        == entry(traces[0], "2.weight", [1, 2])["factors"]["dout_i/dz_i"]
    )


def test_step_slider_and_keys_follow_the_trace(page, report):
    _, traces = report
    page.locator('[data-param="0.bias[2]"]').click()
    assert_shows(page, traces[0], "0.bias", [2])
    # the slider moved by the keyboard, as a user does: values become step 2's
    page.locator("#step").focus()
    page.keyboard.press("ArrowRight")
    assert page.locator("#step-label").inner_text() == "step 2 / 20"
    assert_shows(page, traces[1], "0.bias", [2])
    assert (
        entry(traces[1], "0.bias", [2])["value"]
        == entry(traces[0], "0.bias", [2])["updated"]
    )
    assert shown(page, "value") != entry(traces[0], "0.bias", [2])["value"]
    # arrow keys anywhere on the page
    page.locator("header").click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.locator("#step-label").inner_text() == "step 4 / 20"
    assert page.locator("#step").input_value() == "4"
    assert_shows(page, traces[3], "0.bias", [2])
    page.keyboard.press("ArrowLeft")
    assert page.locator("#step-label").inner_text() == "step 3 / 20"
    assert_shows(page, traces[2], "0.bias", [2])
    page.keyboard.press("End")
    assert_shows(page, traces[19], "0.bias", [2])
    page.keyboard.press("ArrowRight")  # stays on the last step
    assert page.locator("#step-label").inner_text() == "step 20 / 20"
    # a mouse click on the slider's left end: back to step 1
    box = page.locator("#step").bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
    assert page.locator("#step-label").inner_text() == "step 1 / 20"
    assert_shows(page, traces[0], "0.bias", [2])
    page.keyboard.press("End")
    # the buttons
    page.locator("#prev").click()
    assert_shows(page, traces[18], "0.bias", [2])
    page.locator("#next").click()
    assert_shows(page, traces[19], "0.bias", [2])


def test_neuron_shows_forward_values(page, report):
    _, traces = report
    page.locator("#next").click()  # step 2
    out = traces[1]["layers"][-1]
    page.locator('[data-neuron="3:1"]').click()
    assert shown(page, "z") == out["z"][0][1]
    assert shown(page, "p") == traces[1]["probabilities"][0][1]
    assert shown(page, "loss") == traces[1]["loss_per_sample"][0]
    hidden = traces[1]["layers"][0]
    page.locator('[data-neuron="1:3"]').click()
    assert shown(page, "z") == hidden["z"][0][3]
    assert shown(page, "a") == hidden["a"][0][3]
    page.locator('[data-neuron="0:2"]').click()
    assert shown(page, "a") == traces[1]["input"][0][2]
    # the sample panel: true class and probabilities of this step
    names = ["setosa", "versicolor", "virginica"]
    r = traces[1]["target"][0]
    assert f"{names[r]} (true)" in page.locator("#sample").inner_text()
    shown_p = page.eval_on_selector_all(
        "#sample tr .num", "els => els.map(e => e.getAttribute('data-exact'))"
    )
    assert [float(v) for v in shown_p[-3:]] == traces[1]["probabilities"][0]


def test_screenshot_of_the_default_report(page):
    page.locator('[data-param="4.bias[1]"]').click()
    page.keyboard.press("ArrowRight")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000


def test_explained_step_page(browser, tmp_path):
    # `explain --format html`: one trace, no curves; same contract
    import retroprop as rp
    from retroprop.recipe import build_network, prepare_data
    from retroprop.report import trace_html, write_html

    split = prepare_data()
    net = build_network(split, (5,), "tanh")
    t = rp.explain_step(
        net,
        split.X_train[:2],
        split.y_train[:2],
        lr=0.5,
        meta={"class_names": list(split.dataset.class_names)},
    )
    trace = json.loads(t.to_json())
    path = tmp_path / "step.html"
    write_html(path, trace_html(t))
    pg = browser.new_page()
    problems, requests = [], []
    pg.on("console", lambda m: m.type == "error" and problems.append(m.text))
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on("request", lambda r: requests.append(r.url))
    pg.goto(path.as_uri())
    pg.wait_for_selector("body[data-ready]")
    assert pg.locator("[data-neuron]").count() == 4 + 5 + 3
    assert pg.locator('[data-param*="weight["]').count() == 4 * 5 + 5 * 3
    assert pg.locator('[data-param*="bias["]').count() == 5 + 3
    assert pg.locator("#step-label").inner_text() == "step 1 / 1"
    assert not pg.locator("#curves-card").is_visible()
    pg.locator('[data-param="0.bias[4]"]').click()
    assert_shows(pg, trace, "0.bias", [4])  # a batch of two: the mean gradient
    # the diagram shows one sample of the batch at a time
    pg.locator('[data-sample="1"]').click()
    pg.locator('[data-neuron="0:3"]').click()
    assert shown(pg, "a") == trace["input"][1][3]
    pg.locator('[data-neuron="2:0"]').click()
    assert shown(pg, "p") == trace["probabilities"][1][0]
    assert shown(pg, "loss") == trace["loss_per_sample"][1]
    assert shown(pg, "batch-loss") == trace["loss"]
    # a parameter's factors are the shown sample's; the gradient is their mean
    pg.locator('[data-param="0.bias[4]"]').click()
    per_sample = entry(trace, "0.bias", [4])["per_sample"]
    assert shown(pg, "factor:product") == per_sample[1]["product"]
    assert shown(pg, "factor:dout_i/dz_i") == per_sample[1]["dout_i/dz_i"]
    assert_shows(pg, trace, "0.bias", [4])
    assert problems == [] and requests == [path.as_uri()]
    pg.close()
