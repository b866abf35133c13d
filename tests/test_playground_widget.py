"""rp.Playground (anywidget): commands reach the kernel's Session, replies go back as
snapshots, and the widget's ES module renders the same page in Chromium."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

pytest.importorskip("anywidget")

import retroprop as rp
from retroprop.playground.widget import Playground, widget_esm


def test_messages_drive_the_session_and_python_sees_it():
    pg = rp.Playground(hidden=(4, 3))
    assert isinstance(pg, Playground)
    sent = []
    pg.send = lambda msg: sent.append(json.loads(msg))
    w0 = pg.net.state_dict()["0.weight"].copy()
    pg._on_msg(pg, {"cmd": "step", "n": 4}, [])
    assert sent[-1]["type"] == "state" and sent[-1]["iteration"] == 4
    assert not np.array_equal(pg.net.state_dict()["0.weight"], w0)
    assert pg.trace.meta["step"] == 5
    pg._on_msg(pg, {"cmd": "edit", "name": "4.bias", "index": [0], "value": 2.5}, [])
    assert pg.net.state_dict()["4.bias"][0] == 2.5
    assert pg.history[-1]["iteration"] == 4
    pg._on_msg(pg, {"cmd": "play"}, [])
    for _ in range(500):  # until the background thread has made an update
        if pg.session.iteration > 4:
            break
        threading.Event().wait(0.01)
    pg.pause()
    assert pg.session.iteration > 4


def test_the_esm_renders_the_page_in_chromium():
    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.skip(f"{chromium} is missing")
    from playwright.sync_api import sync_playwright

    from retroprop.playground.commands import dumps
    from retroprop.playground.session import Session

    snapshot = dumps(Session().snapshot())
    fake_model = """
    window.sent = [];
    const handlers = [];
    window.model = {
      send: (m) => { window.sent.push(m); if (m.cmd === "state") handlers.forEach((h) => h(window.SNAP)); },
      on: (name, h) => { if (name === "msg:custom") handlers.push(h); },
    };
    """
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
            ],
        )
        page = b.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_content("<div id=root></div>")
        page.evaluate(f"window.SNAP = {json.dumps(snapshot)};" + fake_model)
        page.evaluate(
            """async (src) => {
            const url = URL.createObjectURL(new Blob([src], {type: "text/javascript"}));
            const mod = await import(url);
            mod.default.render({model: window.model, el: document.getElementById("root")});
        }""",
            widget_esm(),
        )
        page.wait_for_selector(".rp-playground[data-ready]")
        assert page.locator("[data-neuron]").count() == 14
        page.locator("#step-once").click()
        assert page.evaluate("window.sent.at(-1)") == {"cmd": "step", "n": 1}
        b.close()
    assert errors == []


def test_the_widget_speaks_its_language_and_momentum_reaches_the_session():
    pg = rp.Playground(lang="pt", momentum=0.5, activation="tanh,relu")
    assert pg._lang == "pt" and pg._labels["play"] == "Treinar"
    assert pg.session.optimizer.momentum == 0.5
    assert [type(m).__name__ for m in pg.net.modules][1:4:2] == ["Tanh", "ReLU"]
    assert rp.Playground()._labels["play"] == "Play"  # the suite's English
    with pytest.raises(rp.errors.ConfigError, match="lang"):
        rp.Playground(lang="xx")


def test_the_page_s_english_table_is_the_python_table():
    """app.js keeps LABELS's English as its fallback: the two cannot drift."""
    from importlib import resources

    from retroprop.playground.labels import LABELS

    app = (resources.files("retroprop.playground") / "static" / "app.js").read_text()
    start = app.index("/* labels */\nconst EN = ") + len("/* labels */\nconst EN = ")
    end = app.index(";\n/* end labels */")
    assert json.loads(app[start:end]) == LABELS
    main = (resources.files("retroprop.playground") / "static" / "main.js").read_text()
    code = app[:start] + app[end:] + main
    for key in LABELS:  # every label is used by the page (or main.js)
        assert f'"{key}"' in code, key
