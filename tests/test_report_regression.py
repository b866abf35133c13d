"""``retroprop report`` on a regression target: MSE on one linear output, the target
standardised, R²/MAE/RMSE curves instead of accuracy, as ``retroprop train`` does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from retroprop.engine.losses import LOSSES

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]
EPOCHS, STEPS, K = 4, 5, 3


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "retroprop", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A diabetes-like CSV (200 rows, 5 features, a numeric target) and its report."""
    d = tmp_path_factory.mktemp("regression")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 5))
    y = 150 + 40 * (X @ [1.0, -0.5, 0.3, 0.0, 0.8]) + 5 * rng.normal(size=200)
    csv = d / "diabetes-like.csv"
    lines = ["age,bmi,bp,s1,s2,progression"]
    lines += [",".join(f"{v:.4f}" for v in [*row, t]) for row, t in zip(X, y)]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = d / "report.html"
    r = run(
        "report",
        "--data",
        str(csv),
        "--epochs",
        str(EPOCHS),
        "--steps",
        str(STEPS),
        "-o",
        str(out),
        "-q",
    )
    return csv, out, r


def page_data(path) -> dict:
    text = path.read_text("utf-8")
    m = re.search(
        r'<script type="application/json" id="retroprop-data">(.*?)</script>',
        text,
        re.S,
    )
    assert m
    return json.loads(m.group(1))


def test_report_trains_as_train_does(made):
    csv, out, r = made
    assert r.returncode == 0, r.stderr
    assert "R²" in r.stdout and "accuracy" not in r.stdout
    t = run("train", "--data", str(csv), "--epochs", str(EPOCHS), "--json", "-q")
    assert t.returncode == 0, t.stderr
    trained = json.loads(t.stdout)
    assert trained["task"] == "regression"
    data = page_data(out)
    hist = data["history"]
    # the same run: the page's last epoch is train's final scores, in the target's units
    for k in ("r2", "mae", "rmse"):
        assert hist[k][-1] == pytest.approx(trained["train"][k], rel=1e-12, abs=1e-12)
        assert hist["val_" + k][-1] == pytest.approx(
            trained["test"][k], rel=1e-12, abs=1e-12
        )
        assert len(hist[k]) == EPOCHS + 1  # epoch 0 too
    assert "accuracy" not in hist and "val_accuracy" not in hist
    assert data["meta"]["max_mismatch"] == 0.0
    assert data["meta"]["task"] == "regression"
    assert data["class_names"] == ["progression"]
    # the target standardised on the training part, as train saves it in a model
    assert data["meta"]["target_scale"] > 1.0


def test_report_page_has_mse_and_no_class_probabilities(made):
    _, out, r = made
    assert r.returncode == 0, r.stderr
    data = page_data(out)
    mse = LOSSES["mse"]().describe()
    for s in data["steps"]:
        tr = s["trace"]
        assert tr["loss_function"] == "mse"
        assert tr["loss_formulas"]["latex"] == mse["latex"]
        assert tr["probabilities"] is None
        assert len(tr["layers"][-1]["z"][0]) == 1  # one output
        assert tr["layers"][-1].get("activation") in (None, "identity", "linear")
    assert "softmax" not in json.dumps(data)


def test_every_click_works_and_matches_explain(made):
    csv, out, r = made
    assert r.returncode == 0, r.stderr
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    e = run("explain", "--data", str(csv), "--step", str(K), "--format", "json")
    assert e.returncode == 0, e.stderr
    explained = json.loads(e.stdout)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems: list[str] = []
            pg.on("pageerror", lambda err: problems.append(str(err)))
            pg.goto(out.as_uri())
            pg.wait_for_selector("body[data-ready]", timeout=10_000)
            assert "R²" in pg.locator("#curves-card").inner_text()
            assert "MAE" in pg.locator("#regression-scores").inner_text()
            assert "probability" not in pg.locator("#sample").inner_text()
            assert "predicted" in pg.locator("#unscaled").inner_text()
            neurons = pg.locator("[data-neuron]")
            for i in range(neurons.count()):
                neurons.nth(i).dispatch_event("click")
            params = pg.locator("[data-param]")
            names = params.evaluate_all(
                "els => els.map(e => e.getAttribute('data-param'))"
            )
            for i in range(params.count()):
                params.nth(i).dispatch_event("click")
            assert problems == []
            pg.locator("header").click()
            for _ in range(K - 1):
                pg.locator("#next").click()
            assert pg.locator("#step-label").inner_text() == f"step {K} / {STEPS}"
            checked = 0
            for p_ in explained["parameters"]:
                key = f"{p_['name']}[{','.join(map(str, p_['index']))}]"
                if key not in names:
                    continue
                pg.locator(f'[data-param="{key}"]').dispatch_event("click")
                for field in ("value", "grad", "updated"):
                    got = pg.locator(f'#details [data-field="{field}"]').get_attribute(
                        "data-exact"
                    )
                    assert float(got) == p_[field], (key, field)  # exact
                checked += 1
            assert checked == len(names)
            assert problems == []
        finally:
            browser.close()
