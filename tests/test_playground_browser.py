"""The live playground in a real headless Chromium (Debian's, driven by Playwright).

The real server runs in a subprocess (``retroprop playground --port 0 --no-browser``);
the tests open its tokenised URL, press the page's buttons and compare every
``data-exact`` number with ``retroprop explain --format json`` (equal, not close).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers import serious_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).parent / "artifacts"


def _serve(*options: str, clean_exit: bool = True):
    """``retroprop playground --port 0 --no-browser`` with ``options``, as a
    fixture's body: yields the URL, port and token it prints, then stops it with
    Ctrl-C (and, with ``clean_exit``, asserts it exited 0)."""
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
            *options,
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
    if clean_exit:
        assert proc.returncode == 0, proc.stderr.read()


@pytest.fixture(scope="module")
def server():
    yield from _serve()


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
    page.locator('[data-param="4.bias[0]"]').click()
    page.locator("#lr").fill("0.3")
    t0 = time.perf_counter()
    page.locator("#lr").press("Enter")
    page.wait_for_function(
        "document.querySelector('#details [data-field=lr]')?.dataset.exact === '0.3'",
        polling="raf",
    )
    latency = time.perf_counter() - t0
    page.locator('[data-param="4.bias[0]"]').click()
    before, grad = shown(page, "value"), shown(page, "grad")
    assert shown(page, "updated") == before - 0.3 * grad
    page.locator("#step-once").click()
    wait_iteration(page, 2)
    assert shown(page, "value") == before - 0.3 * grad  # the update used eta = 0.3
    print(f"\nplayground: eta field to shown update in {latency * 1000:.0f} ms")


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
    f0 = page.evaluate("window.playground.frames")
    page.wait_for_timeout(2000)
    n1, t1 = int(page.locator("#iteration").inner_text()), time.perf_counter()
    f1 = page.evaluate("window.playground.frames")
    draws = sorted(page.evaluate("window.playground.renderMs"))
    page.locator("#pause").click()
    page.wait_for_function(
        "document.querySelector('.rp-playground').dataset.playing === 'no'"
    )
    rate = (n1 - n0) / (t1 - t0)
    with capsys.disabled():
        print(
            f"\nplayground: {rate:.0f} updates/s while drawing "
            f"{(f1 - f0) / (t1 - t0):.1f} frames/s (a frame drawn in "
            f"{draws[len(draws) // 2]:.1f} ms median, {draws[-1]:.1f} ms max)"
        )
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
    bad = serious_axe_violations(page)
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


def stage_value(pg, key: str) -> float:
    return float(
        pg.locator(f'#stage-body [data-stage-value="{key}"]').get_attribute(
            "data-exact"
        )
    )


def test_the_explained_step_walks_explain_s_numbers(page):
    """forward -> loss -> backward -> update, one stage at a time: every number of
    each stage is `retroprop explain --step k+1 --format json`'s, exactly."""
    k = 2
    for i in range(k):
        page.locator("#step-once").click()
        wait_iteration(page, i + 1)
    cli = explain_json(k + 1)
    layers = cli["layers"]
    nxt = page.locator("#stage-next")
    nxt.click()  # 1. forward
    assert page.locator("#explain").get_attribute("data-stage") == "forward"
    assert page.locator('#stages li[aria-current="step"]').inner_text() == "forward"
    for L, rec in enumerate(layers, start=1):
        for i in range(len(rec["z"][0])):
            assert stage_value(page, f"z:{L}:{i}") == rec["z"][0][i]
            assert stage_value(page, f"a:{L}:{i}") == rec["a"][0][i]
    # the network shows the outputs going forward
    assert page.locator('input[name="colour"][value="activation"]').is_checked()
    nxt.click()  # 2. loss
    for i, p in enumerate(cli["probabilities"][0]):
        assert stage_value(page, f"p:{i}") == p
    assert stage_value(page, "loss") == cli["loss"]
    r = cli["target"][0]
    assert f"r = {r}" in page.locator("#stage-body").inner_text()
    nxt.click()  # 3. backward: the deltas, from the outputs back
    assert page.locator('input[name="colour"][value="delta"]').is_checked()
    for L, rec in enumerate(layers, start=1):
        for i in range(len(rec["delta"][0])):
            assert stage_value(page, f"delta:{L}:{i}") == rec["delta"][0][i]
            assert stage_value(page, f"grad_a:{L}:{i}") == rec["grad_a"][0][i]
            if rec["f_prime"] is not None:
                assert stage_value(page, f"f_prime:{L}:{i}") == rec["f_prime"][0][i]
    nxt.click()  # 4. update: every parameter
    assert nxt.inner_text() == "Apply the update"
    assert len(cli["parameters"]) <= 64
    for p in cli["parameters"]:
        key = f"{p['name']}[{','.join(map(str, p['index']))}]"
        for field in ("value", "grad", "updated"):
            assert stage_value(page, f"{field}:{key}") == p[field], (key, field)
    nxt.click()  # applies the update, then the next update's forward
    wait_iteration(page, k + 1)
    assert page.locator("#explain").get_attribute("data-stage") == "forward"
    assert stage_value(page, "z:1:0") == explain_json(k + 2)["layers"][0]["z"][0][0]


def test_activation_per_layer_momentum_and_speed(browser, server):
    context, pg = open_page(browser, server)
    # one select per hidden layer beside #activation; the URL holds both
    assert pg.locator("[data-activation-layer]").count() == 2
    pg.locator("#activation-2").select_option("tanh")
    pg.wait_for_function("location.search.includes('activation=sigmoid%2Ctanh')")
    pg.wait_for_function(
        "document.querySelector('[data-neuron=\"2:0\"]') !== null && "
        "document.querySelector('#activation').value === ''"
    )
    kinds = pg.evaluate("window.playground.snapshot.layers.map((l) => l.activation)")
    assert kinds == ["Sigmoid", "Tanh", ""]
    # momentum from the next update on, no restart; the page shows torch's buffer
    pg.locator("#step-once").click()
    wait_iteration(pg, 1)
    pg.locator("#momentum").fill("0.9")
    pg.locator("#momentum").press("Enter")
    pg.wait_for_function("location.search.includes('momentum=0.9')")
    assert pg.locator("#iteration").inner_text() == "1"
    pg.locator('[data-param="4.bias[0]"]').click()
    pg.locator("#step-once").click()
    wait_iteration(pg, 2)
    pg.wait_for_function(
        "document.querySelector('#details [data-field=buffer]')?.dataset.exact !== ''"
    )
    v, buf, g = shown(pg, "velocity"), shown(pg, "buffer"), shown(pg, "grad")
    assert v == 0.9 * buf + g
    value, updated = shown(pg, "value"), shown(pg, "updated")
    assert updated == value - 0.05 * v
    x, eta, v2, u = _numbers(pg.locator('#details [data-arith="update"]').inner_text())
    assert x - eta * v2 == u == updated
    pg.locator("#step-once").click()
    wait_iteration(pg, 3)
    assert shown(pg, "value") == updated  # the update the page announced
    # speed: 20 updates per second while playing
    pg.locator("#speed").select_option("20")
    pg.wait_for_function("window.playground.snapshot.speed === 20")
    pg.locator("#play").click()
    pg.wait_for_timeout(1500)
    pg.locator("#pause").click()
    pg.wait_for_function(
        "document.querySelector('.rp-playground').dataset.playing === 'no'"
    )
    done = int(pg.locator("#iteration").inner_text()) - 3
    assert 5 <= done <= 60  # about 30, far from as-fast-as-possible's thousands
    assert pg.problems == []
    context.close()


def _mnist_like_csv(path: Path, rows: int = 200) -> None:
    """784 pixel columns (28 x 28) and a digit class: each class lights a band."""
    import numpy as np

    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, rows)
    X = rng.integers(0, 40, (rows, 784))
    for k in range(rows):
        X[k, y[k] * 78 : y[k] * 78 + 28] = 255
    header = ",".join([*(f"px{i}" for i in range(784)), "digit"])
    lines = [header] + [",".join(map(str, X[k])) + f",d{y[k]}" for k in range(rows)]
    path.write_text("\n".join(lines) + "\n")


def test_a_784_256_128_10_network_stays_small_and_responsive(
    browser, server, tmp_path, capsys
):
    csv = tmp_path / "digits.csv"
    _mnist_like_csv(csv)
    context, pg = open_page(browser, server)
    frames: list[tuple[float, int]] = []
    pg.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda f: frames.append(
                (time.perf_counter(), len(f if isinstance(f, (str, bytes)) else ""))
            ),
        ),
    )
    # the socket was opened before the listener: reload to listen from the start
    pg.reload()
    pg.wait_for_selector(".rp-playground[data-ready]", timeout=15_000)
    pg.locator("#upload").set_input_files(str(csv))
    pg.wait_for_function("location.search.includes('dataset=upload')")
    pg.locator("#hidden").fill("256,128")
    pg.locator("#hidden").press("Enter")
    pg.wait_for_selector("[data-input-heatmap]", timeout=30_000)
    pg.wait_for_function("location.search.includes('hidden=256%2C128')")
    # the inputs are a 28 x 28 picture, the wide layers one bar each
    assert pg.locator("[data-input-heatmap] rect").count() == 784 + 1
    assert pg.locator("[data-neuron]").count() == 10  # only the outputs one by one
    bar = pg.locator('[data-layer-open="1"]')
    assert "256" in bar.get_attribute("aria-label")
    bar.focus()
    pg.keyboard.press("Enter")  # the keyboard opens a layer
    pg.wait_for_selector('[data-neuron="1:15"]')
    assert pg.locator('[data-neuron^="1:"]').count() == 16
    # a first-layer neuron's 784 weights, drawn as the 28 x 28 input picture
    pg.locator('[data-neuron="1:7"]').click()
    pic = pg.wait_for_selector("#details canvas[data-incoming]")
    assert (pic.get_attribute("width"), pic.get_attribute("height")) == ("28", "28")
    assert pg.evaluate("window.playground.snapshot.incoming.index") == 7
    pg.locator('[data-layer-next="1"]').click()
    pg.wait_for_selector('[data-neuron="1:31"]')
    assert pg.locator('[data-neuron="1:0"]').count() == 0
    pg.locator('[data-layer-open="2"]').click()
    pg.wait_for_selector('[data-neuron="2:15"]')
    # weights between two open windows are drawn and explained
    pg.locator('[data-param="2.weight[3,20]"]').locator("path.hit").dispatch_event(
        "click"
    )
    pg.wait_for_selector("#details [data-arith=update]")
    v, eta, g, u = _numbers(pg.locator('#details [data-arith="update"]').inner_text())
    assert v - eta * g == u
    # play: count the snapshots, their size and the updates
    frames.clear()
    n0 = int(pg.locator("#iteration").inner_text())
    t0 = time.perf_counter()
    pg.locator("#play").click()
    pg.wait_for_timeout(3000)
    # the page answers while playing: a click opens a neuron's details
    t1 = time.perf_counter()
    pg.locator('[data-neuron="2:3"]').click()
    pg.wait_for_selector("#details [data-field=delta]")
    click = time.perf_counter() - t1
    pg.locator("#pause").click()
    pg.wait_for_function(
        "document.querySelector('.rp-playground').dataset.playing === 'no'"
    )
    elapsed = time.perf_counter() - t0
    n1 = int(pg.locator("#iteration").inner_text())
    assert pg.locator("#error").is_hidden()  # pausing is not an error
    sizes = [size for _, size in frames]
    draws = sorted(pg.evaluate("window.playground.renderMs"))
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "playground-784.png"), full_page=False)
    with capsys.disabled():
        print(
            f"\n784-256-128-10: {len(frames)} snapshots in {elapsed:.1f} s "
            f"({len(frames) / elapsed:.1f}/s), median {sorted(sizes)[len(sizes) // 2]} "
            f"bytes, max {max(sizes)} bytes; {(n1 - n0) / elapsed:.0f} updates/s; "
            f"a click answered in {click * 1000:.0f} ms; drawing a frame: median "
            f"{draws[len(draws) // 2]:.0f} ms, max {draws[-1]:.0f} ms"
        )
    assert n1 > n0 and frames
    assert max(sizes) < 1_000_000  # only what is drawn: not the 200k weights
    page_axe(pg)
    assert pg.problems == []
    context.close()


def page_axe(pg) -> None:
    bad = serious_axe_violations(pg)
    assert bad == []


@pytest.fixture(scope="module")
def server_pt():
    yield from _serve("--lang", "pt", clean_exit=False)


def test_the_page_speaks_portuguese(browser, server_pt):
    context, pg = open_page(browser, server_pt)
    assert pg.evaluate("document.documentElement.lang") == "pt"
    assert pg.locator("#play").inner_text() == "Treinar"
    assert pg.locator("#step-once").inner_text() == "Uma atualização"
    assert pg.locator("#lr").get_attribute("aria-label") == "η, o fator de aprendizagem"
    label = pg.locator('[data-param="2.weight[1,3]"]').get_attribute("aria-label")
    # the layers keep the label every explain view gives them (main's own words)
    assert label.startswith(
        "peso do neurônio 4 de 0 (camada oculta 1) ao neurônio 2 de 2 (camada oculta 2)"
    )
    pg.locator("#step-once").click()
    wait_iteration(pg, 1)
    assert "Atualização 1 feita" in pg.locator("#announce").inner_text()
    # an error message from the session, in Portuguese
    pg.locator("#hidden").fill("4,x")
    pg.locator("#hidden").press("Enter")
    pg.wait_for_selector("#error:not([hidden])")
    assert "camadas ocultas devem ser inteiros" in pg.locator("#error").inner_text()
    pg.locator("#stage-next").click()
    assert "Forward propagation" in pg.locator("#stage-body").inner_text()
    page_axe(pg)
    assert pg.problems == []
    context.close()


DRAWN = """() => [...document.querySelectorAll('#network [data-param], #network [data-neuron]')]
  .map((e) => {
    const vis = e.querySelector('path.vis, rect.box');
    const cls = [...e.classList].filter((c) => c !== 'selected').join(' ');  // the hosts select differently
    return [e.dataset.param || e.dataset.neuron, cls, e.getAttribute('role'),
            [...e.children].map((c) => c.tagName + '.' + c.getAttribute('class')).join(' '),
            vis ? [vis.getAttribute('d'), vis.getAttribute('stroke'), vis.getAttribute('stroke-width'),
                   vis.getAttribute('fill')].join(' ') : ''];
  })"""


def test_the_report_and_the_playground_draw_with_the_same_code(page, browser, tmp_path):
    # the playground before its first update and the report of `explain --step 1`
    # show the same step: one drawing function, one panel, so the same lines (their
    # paths, colours and widths on the same scale) and the same numbers
    report = tmp_path / "step1.html"
    subprocess.run(
        [
            *(sys.executable, "-m", "retroprop", "explain", "--step", "1"),
            *("--format", "html", "--output", str(report)),
        ],
        check=True,
        capture_output=True,
    )
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    rp = context.new_page()
    rp.goto(report.as_uri())
    rp.wait_for_selector("body[data-ready]", timeout=10_000)
    drawn = {
        host: pg.evaluate(DRAWN) for host, pg in (("playground", page), ("report", rp))
    }
    assert len(drawn["report"]) == 14 + 37 + 10
    assert drawn["playground"] == drawn["report"]
    for pg in (page, rp):
        pg.locator('[data-param="2.weight[1,3]"]').locator("path.hit").dispatch_event(
            "click"
        )
    for field in ("value", "grad", "lr", "updated", "delta"):
        assert shown(page, field) == shown(rp, field), field
    assert page.locator("#details h3.what code[data-selected]").inner_text() == (
        rp.locator("#details h3.what code[data-selected]").inner_text()
    )
    context.close()
