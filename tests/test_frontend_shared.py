"""One front-end: the colours and scales live in retroprop/frontend/colours.js, and
all three hosts use that file: the playground's server serves it to app.js's
import, the notebook widget and the recorded report inline it. A host that grew its
own copy again (or lost the shared one) fails here."""

from __future__ import annotations

import re

import pytest

from retroprop import frontend

DEFINITIONS = re.compile(r"\b(?:function (?:mix|niceScale)\(|const NEG\b)")


def shared_definitions() -> list[str]:
    return DEFINITIONS.findall(frontend.source("colours.js"))


def test_the_shared_file_defines_the_colours_once():
    assert sorted(shared_definitions()) == sorted(
        ["const NEG", "function mix(", "function niceScale("]
    )


def test_inline_drops_exports_and_shared_imports_only():
    text = 'import { mix } from "../shared/colours.js";\nexport function mount() {}\nexport const A = 1;\nconst s = "export const";\n'
    assert (
        frontend.inline(text)
        == 'function mount() {}\nconst A = 1;\nconst s = "export const";\n'
    )


def test_the_report_page_inlines_the_shared_colours():
    from retroprop.report.html import fill_template

    page = fill_template({}, "t")
    assert frontend.inline(frontend.source("colours.js")) in page
    assert len(DEFINITIONS.findall(page)) == 3  # no second copy in page.js
    assert "export " not in re.sub(r'"[^"\n]*"', "", page.split("<script")[1])


def test_the_playground_imports_and_serves_the_shared_colours():
    pytest.importorskip("starlette")
    pytest.importorskip("httpx2")
    from importlib import resources

    from starlette.testclient import TestClient

    from retroprop.playground.server import create_app

    app_js = (resources.files("retroprop.playground") / "static" / "app.js").read_text()
    assert 'from "../shared/colours.js";' in app_js
    assert DEFINITIONS.findall(app_js) == []
    client = TestClient(create_app("tok", 8765), base_url="http://127.0.0.1:8765")
    assert client.get("/shared/colours.js").status_code == 403  # the token guards it
    assert client.get("/?token=tok").status_code == 200
    served = client.get("/shared/colours.js")
    assert served.status_code == 200 and served.text == frontend.source("colours.js")


def test_the_widget_inlines_the_shared_colours():
    pytest.importorskip("anywidget")
    from retroprop.playground.widget import widget_esm

    esm = widget_esm()
    assert frontend.inline(frontend.source("colours.js")) in esm
    assert len(DEFINITIONS.findall(esm)) == 3
    assert "../shared/" not in esm
