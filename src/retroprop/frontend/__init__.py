"""The front-end files every host shares (the recorded report, the playground's
server and its notebook widget): package data, no Python logic beyond reading them.

``colours.js`` is an ES module, served as it is by the playground's server
(``/shared/colours.js``, imported by ``app.js``); the report's page and the widget
inline it with :func:`inline`, which drops its ``export`` keywords and the
importing modules' ``import ... from "../shared/..."`` lines.
"""

from __future__ import annotations

import re
from importlib import resources

_IMPORT = re.compile(r'^import \{[^}]*\} from "\.\./shared/[a-z]+\.js";\n', re.M)
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
