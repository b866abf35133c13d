"""The front-end files every host shares (the recorded report, the playground's
server and its notebook widget): package data, no Python logic beyond reading them.

The ``.js`` files are ES modules, served as they are by the playground's server
(``/shared/network.js``, imported by ``app.js``; they import each other as
``./dom.js``); the report's page and the widget inline them with :func:`bundle`,
whose :func:`inline` drops their ``export`` keywords and the ``import ... from``
lines of the shared files. ``network.css`` and ``details.css`` are their look,
linked or inlined the same way; ``vendor/`` holds uPlot (the curves), vendored from
the npm registry with its licence.
"""

from __future__ import annotations

import re
from importlib import resources

VENDOR = ("vendor/uPlot.iife.min.js",)
"""Libraries from the npm registry, vendored: uPlot draws the curves (a global
``uPlot``, before the modules)."""

MODULES = ("colours.js", "dom.js", "network.js", "details.js", "curves.js")
"""The shared modules, each after the ones it imports."""

STYLES = ("vendor/uPlot.min.css", "network.css", "details.css")
"""The shared style sheets."""

_IMPORT = re.compile(r'^import \{[^}]*\} from "(?:\.\./shared|\.)/[a-z]+\.js";\n', re.M)
_EXPORT = re.compile(r"^export (?=const |function )", re.M)


def folder() -> str:
    """The folder of the shared files (for a static-files route)."""
    return str(resources.files(__name__))


def source(name: str) -> str:
    """The text of the shared file ``name``."""
    return resources.files(__name__).joinpath(name).read_text("utf-8")


def inline(script: str) -> str:
    """``script`` made fit to sit in one classic script or module with the shared
    files before it: no ``export`` keywords, no imports of the shared files."""
    return _EXPORT.sub("", _IMPORT.sub("", script))


_ADDRESS = re.compile(r"^/\*! https?://\S+ \((v[0-9.]+)\) \*/", re.M)


def vendored(name: str) -> str:
    """A vendored library's text, its opening comment without the web address (a
    page that must fetch nothing names no address): ``/*! uPlot v1.6.32, MIT ...*/``."""
    library = name.rsplit("/", 1)[-1].split(".", 1)[0]
    return _ADDRESS.sub(
        rf"/*! {library} \1, MIT licence: retroprop/frontend/vendor/{library}.LICENSE */",
        source(name),
    )


def bundle() -> str:
    """The vendored libraries, then every shared module inlined, in an order where
    each follows what it uses."""
    return "\n".join(
        [vendored(name) for name in VENDOR] + [inline(source(name)) for name in MODULES]
    )


def styles() -> str:
    """Every shared style sheet, one after the other."""
    return "\n".join(source(name) for name in STYLES)
