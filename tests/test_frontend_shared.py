"""One front-end: the colours and scales (retroprop/frontend/colours.js), the network
drawing (network.js), the details panel (details.js) and their DOM helpers (dom.js)
live in retroprop/frontend/, and all three hosts use those files: the playground's
server serves them to app.js's imports, the notebook widget and the recorded report
inline them. A host that grew its own copy again (or lost the shared one) fails
here."""

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
    text = 'import { mix } from "../shared/colours.js";\nimport { el } from "./dom.js";\nexport function mount() {}\nexport const A = 1;\nconst s = "export const";\n'
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


# --- the network drawing and the details panel ---------------------------------------

HOST_FILES = {
    "report": ("retroprop.report", "page.js"),
    "playground": ("retroprop.playground", "static/app.js"),
}


def exported_names() -> dict[str, str]:
    """Every name a shared module exports, and the module that exports it."""
    names = {}
    for module in frontend.MODULES:
        for name in re.findall(
            r"^export (?:function|const) (\w+)", frontend.source(module), re.M
        ):
            assert name not in names, f"{name} exported twice"
            names[name] = module
    return names


def host_source(host: str) -> str:
    from importlib import resources

    package, path = HOST_FILES[host]
    return resources.files(package).joinpath(path).read_text("utf-8")


def test_the_shared_modules_hold_the_drawing_and_the_details():
    names = exported_names()
    for name in ("drawNetwork", "markSelected", "scaleBar", "neuronText"):
        assert names[name] == "network.js"
    for name in ("drawDetails", "numberCell", "factorRows", "rowsTable"):
        assert names[name] == "details.js"
    for name in ("el", "sv", "exact", "pressable"):
        assert names[name] == "dom.js"
    assert names["drawCurves"] == "curves.js"


@pytest.mark.parametrize("host", sorted(HOST_FILES))
def test_no_host_defines_its_own_drawing_or_details(host):
    text = host_source(host)
    for name in exported_names():
        own = re.compile(rf"(?:\bfunction {name}\(|\b(?:const|let|var) {name}\s*=)")
        assert not own.search(text), f"{host} defines its own {name}"
    # ... nor a drawing or a panel of its own under another name
    for old in ("edgePath", "nearestEdge", "inputHeatmap", "collapsedBar", "numSpan"):
        assert f"function {old}(" not in text, f"{host} still has {old}"
    # nor curves: uPlot is the shared curves' business
    assert "uPlot" not in text
    # and it draws with the shared ones
    for name in ("drawNetwork(", "drawDetails(", "drawCurves("):
        assert name in text, (host, name)


def assembled_pages() -> dict[str, str]:
    from retroprop.report.html import fill_template

    uplot = frontend.vendored("vendor/uPlot.iife.min.js")
    pages = {"report": fill_template({}, "t").replace(uplot, "")}  # its own names
    try:
        from retroprop.playground.widget import widget_esm
    except ImportError:  # anywidget not installed
        return pages
    pages["widget"] = widget_esm().replace(uplot, "")
    return pages


def test_the_report_and_the_widget_inline_the_one_module_each():
    pages = assembled_pages()
    for host, page in pages.items():
        for module in frontend.MODULES:
            assert frontend.inline(frontend.source(module)) in page, (host, module)
        for name in exported_names():
            defs = re.findall(rf"\bfunction {name}\(|\bconst {name}\s*=", page)
            assert len(defs) == 1, (host, name, len(defs))
    assert frontend.styles() in pages["report"]


def test_the_server_serves_the_shared_modules_to_app_js():
    pytest.importorskip("starlette")
    pytest.importorskip("httpx2")
    from importlib import resources

    from starlette.testclient import TestClient

    from retroprop.playground.server import create_app

    app_js = host_source("playground")
    for module in ("network.js", "details.js", "curves.js", "dom.js"):
        assert f'from "../shared/{module}";' in app_js
    index = (
        resources.files("retroprop.playground") / "static" / "index.html"
    ).read_text()
    for sheet in frontend.STYLES:
        assert f'href="/shared/{sheet}"' in index
    for script in frontend.VENDOR:
        assert f'src="/shared/{script}"' in index
    client = TestClient(create_app("tok", 8765), base_url="http://127.0.0.1:8765")
    assert client.get("/?token=tok").status_code == 200
    for name in (*frontend.VENDOR, *frontend.MODULES, *frontend.STYLES):
        served = client.get(f"/shared/{name}")
        assert served.status_code == 200 and served.text == frontend.source(name)
