"""The live playground in a real headless Chromium (Debian's, driven by Playwright).

The real server runs in a subprocess (``retroprop playground --port 0 --no-browser``);
the tests open its tokenised URL, press the page's buttons and compare every
``data-exact`` number with ``retroprop explain --format json`` (equal, not close).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = Path(__file__).parent / "assets" / "axe.min.js"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "retroprop",
            "playground",
            "--port",
            "0",
            "--no-browser",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:(\d+)/\?token=(\S+))", line)
    assert m, f"no URL printed: {line!r} {proc.stderr.read() if proc.poll() else ''}"
    yield {"url": m.group(1), "port": int(m.group(2)), "token": m.group(3)}
    proc.send_signal(2)  # Ctrl-C: a clean stop
    try:
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, proc.stderr.read()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (CI's .ci/run installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, server, width=1400, height=1000, query=""):
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.problems = []
    pg.outside = []
    host = f"http://127.0.0.1:{server['port']}/"
    pg.on(
        "request",
        lambda r: (
            not r.url.startswith((host, "ws://127.0.0.1", "blob:", "data:"))
            and pg.outside.append(r.url)
        ),
    )
    pg.on(
        "console",
        lambda m: m.type == "error" and pg.problems.append(f"console: {m.text}"),
    )
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.goto(server["url"] + query)
    pg.wait_for_selector(".rp-playground[data-ready]", timeout=15_000)
    return context, pg


@pytest.fixture
def page(browser, server):
    context, pg = open_page(browser, server)
    yield pg
    assert pg.outside == [], f"the page loaded from outside: {pg.outside}"
    assert pg.problems == []
    context.close()


def explain_json(step: int, lr: float | None = None) -> dict:
    args = [sys.executable, "-m", "retroprop", "explain", "--step", str(step)]
    if lr is not None:
        args += ["--lr", repr(lr)]
    out = subprocess.run(
        [*args, "--format", "json"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def shown(pg, field: str) -> float:
    return float(
        pg.locator(f'#details [data-field="{field}"]').get_attribute("data-exact")
    )


def _numbers(line: str) -> list[float]:
    """The numbers after the last symbolic "=" of a shown arithmetic line."""
    # "a TIMES b = c" or "a MINUS b TIMES c = d", with the page's own signs
    numbers = line.split(" = ", 2)[-1]
    return [
        float(x)
        for x in numbers.replace("\u00d7", " ")
        .replace("\u2212", " ")
        .replace("=", " ")
        .split()
    ]


def wait_iteration(pg, k: int) -> None:
    pg.wait_for_function(
        f"document.querySelector('#iteration').textContent === '{k}'", timeout=10_000
    )


def entry(trace: dict, name: str, index: list[int]) -> dict:
    (p,) = [p for p in trace["parameters"] if p["name"] == name and p["index"] == index]
    return p


def test_steps_equal_retroprop_explain(page):
    k = 3
    for i in range(k):
        page.locator("#step-once").click()
        wait_iteration(page, i + 1)
    assert "Update 3 done" in page.locator("#announce").inner_text()
    cli = explain_json(k + 1)
    for name, index, sel in (
        ("2.weight", [1, 3], '[data-param="2.weight[1,3]"]'),
        ("4.bias", [1], '[data-param="4.bias[1]"]'),
    ):
        if "weight" in name:
            page.locator(sel).locator("path.hit").dispatch_event("click")
        else:
            page.locator(sel).click()
        text = page.locator("#details [data-selected]").inner_text()
        assert text == f"{name}[{','.join(map(str, index))}]"
        p = entry(cli, name, index)
        for field in ("value", "grad", "updated"):
            assert shown(page, field) == p[field], field
        assert shown(page, "lr") == cli["lr"]
        for key, v in p["factors"].items():
            assert shown(page, f"factor:{key}") == v, key
        # the shown arithmetic closes exactly on the shown numbers
        grad_line = page.locator('#details [data-arith="grad"]').inner_text()
        d, factor, g = _numbers(grad_line)
        assert d * factor == g == p["grad"]
        v, eta, g2, u = _numbers(
            page.locator('#details [data-arith="update"]').inner_text()
        )
        assert v - eta * g2 == u == p["updated"]
    # the output neuron's delta: p_i - delta_ri of the CLI's trace
    page.locator('[data-neuron="3:1"]').click()
    assert shown(page, "delta") == cli["layers"][2]["delta"][0][1]


def test_lr_applies_from_the_next_update(page):
    page.locator("#step-once").click()
    wait_iteration(page, 1)
    page.locator("#lr").fill("0.3")
    page.locator("#lr").press("Enter")
    page.wait_for_function("document.querySelector('#lr').value === '0.3'")
    page.locator('[data-param="4.bias[0]"]').click()
    page.wait_for_function(
        "document.querySelector('#details [data-field=lr]')?.dataset.exact === '0.3'"
    )
    before, grad = shown(page, "value"), shown(page, "grad")
    assert shown(page, "updated") == before - 0.3 * grad
    page.locator("#step-once").click()
    wait_iteration(page, 2)
    assert shown(page, "value") == before - 0.3 * grad  # the update used eta = 0.3


def test_export_json_is_explain_and_batch_size_applies(page):
    page.locator("#step-once").click()
    wait_iteration(page, 1)
    with page.expect_download() as d:
        page.locator('[data-export="json"]').click()
    exported = json.loads(Path(d.value.path()).read_text())
    assert exported["parameters"] == explain_json(2)["parameters"]
    page.locator("#batch-size").fill("5")
    page.locator("#batch-size").press("Enter")
    page.wait_for_function("document.querySelector('#batch-size').value === '5'")
    page.locator("#step-once").click()
    wait_iteration(page, 2)
    page.locator('[data-neuron="0:0"]').click()
    text = page.locator("#details").inner_text()
    rows = re.search(r"training sample \[([\d,]+)\]", text).group(1).split(",")
    assert len(rows) == 5  # the next update is a batch of 5, without a restart
    assert "batch=5" in page.url  # the URL holds the run as it is now


def test_edit_weight_changes_the_loss(page):
    loss0 = float(page.locator("#loss-value").get_attribute("data-exact"))
    page.locator('[data-param="4.bias[2]"]').click()
    page.locator("#edit-value").fill("3.5")
    page.locator("#edit-value").press("Enter")
    page.wait_for_function(
        "document.querySelector('#details [data-field=value]')?.dataset.exact === '3.5'"
    )
    loss1 = float(page.locator("#loss-value").get_attribute("data-exact"))
    assert loss1 != loss0


def test_play_advances_and_measures_speed(page, capsys):
    page.locator("#play").click()
    page.wait_for_function(
        "Number(document.querySelector('#iteration').textContent) > 0"
    )
    t0, n0 = time.perf_counter(), int(page.locator("#iteration").inner_text())
    page.wait_for_timeout(2000)
    n1, t1 = int(page.locator("#iteration").inner_text()), time.perf_counter()
    page.locator("#pause").click()
    page.wait_for_function(
        "document.querySelector('.rp-playground').dataset.playing === 'no'"
    )
    rate = (n1 - n0) / (t1 - t0)
    with capsys.disabled():
        print(f"\nplayground: {rate:.0f} updates/s while drawing")
    assert n1 > n0


def test_setup_in_the_url_and_2d_data(browser, server):
    context, pg = open_page(
        browser, server, query="&dataset=xor&hidden=5,4&activation=tanh&seed=3"
    )
    assert pg.locator("#dataset").input_value() == "xor"
    assert pg.locator("#hidden").input_value() == "5,4"
    assert pg.locator("[data-neuron]").count() == 2 + 5 + 4 + 2
    assert pg.locator("#heatmaps canvas").count() == 9
    pg.locator("#hidden").fill("3")
    pg.locator("#hidden").press("Enter")
    pg.wait_for_function("document.querySelectorAll('[data-neuron]').length === 7")
    assert "hidden=3" in pg.url and "dataset=xor" in pg.url
    assert pg.problems == []
    context.close()


def test_refuses_without_token_or_with_foreign_origin(server):
    base = f"http://127.0.0.1:{server['port']}/"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(base)
    assert e.value.code == 403
    req = urllib.request.Request(
        base + "?token=" + server["token"], headers={"Origin": "http://evil.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403
    assert urllib.request.urlopen(base + "?token=" + server["token"]).status == 200


def test_keyboard_and_axe(page):
    # Tab reaches the network; Enter on a weight opens its numbers
    page.locator('[data-param="0.weight[0,0]"]').focus()
    page.keyboard.press("Enter")
    assert page.locator("#details [data-selected]").inner_text() == "0.weight[0,0]"
    label = page.locator('[data-param="2.weight[1,3]"]').get_attribute("aria-label")
    assert label.startswith(
        "weight from 0 (hidden layer 1) neuron 4 to 2 (hidden layer 2) neuron 2: value"
    )
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    bad = [
        (v["id"], v["impact"], len(v["nodes"]))
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == []


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1920, 1080)])
def test_screenshots(browser, server, width, height):
    context, pg = open_page(browser, server, width, height)
    for k in range(1, 4):  # three epochs, so the regions and curves show learning
        pg.locator("#epoch-once").click()
        wait_iteration(pg, 120 * k)
    pg.locator('[data-param="4.bias[1]"]').click()
    overflow = pg.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(
        path=str(ARTIFACTS / f"playground-{width}x{height}.png"), full_page=True
    )
    assert overflow <= 0, f"the page is {overflow}px wider than {width}px"
    assert pg.problems == []
    context.close()
