"""Test helpers shared by several test files (imported as ``helpers``).

- ``train_outcome``: train a fresh network on one engine and keep what came of it,
  for comparing the fast paths with the NumPy engine.
- ``fail_writes_after`` / ``fail_os_call``: make the real ``retroprop.atomic``
  fail part way, as a full disk, a failing fsync or rename would.
- ``soffice_recompute``: open workbooks in LibreOffice, recalculate, save them again
  (the spreadsheet's own arithmetic, checked against the trace).
- ``CHROMIUM``, ``CHROMIUM_ARGS``, ``serious_axe_violations``: Debian's Chromium as
  every browser test launches it (conftest's ``browser`` fixture), and axe-core's
  serious or critical findings on a page.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

import retroprop as rp
import retroprop.atomic


def train_outcome(engine, make, X, y, **kw):
    """``(state_dict, History or DivergenceError)`` of ``rp.train`` on ``make()``."""
    net = make()
    try:
        with np.errstate(all="ignore"):
            h = rp.train(net, X, y, engine=engine, **kw)
    except rp.DivergenceError as e:
        return net.state_dict(), e
    return net.state_dict(), h


class _Os:
    """The ``os`` module with some functions replaced."""

    def __init__(self, **replaced):
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(os, name)


class _FailingFile:
    """A real file that accepts ``budget`` more bytes/characters, then fails."""

    def __init__(self, f, budget: int, exc: BaseException):
        self._f, self._budget, self._exc = f, budget, exc

    def write(self, data):
        if len(data) > self._budget:
            self._f.write(data[: self._budget])
            self._budget = 0
            raise self._exc
        self._budget -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def fail_writes_after(
    monkeypatch, budget: int, exc: BaseException | None = None
) -> None:
    """Files opened by ``atomic_write`` take ``budget`` bytes, then raise ``exc``
    (default ``OSError(ENOSPC)``, a full disk)."""
    exc = exc or OSError(errno.ENOSPC, "No space left on device")
    real = os.fdopen

    def fdopen(fd, *args, **kwargs):
        return _FailingFile(real(fd, *args, **kwargs), budget, exc)

    monkeypatch.setattr(retroprop.atomic, "os", _Os(fdopen=fdopen))


def fail_os_call(monkeypatch, name: str) -> None:
    """``os.<name>`` (e.g. ``fsync``, ``replace``) fails inside ``atomic_write``."""

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, f"{name} failed")

    monkeypatch.setattr(retroprop.atomic, "os", _Os(**{name: broken}))


def soffice_recompute(paths, outdir, profile):
    """Open each workbook in LibreOffice, recalculate, save as xlsx into outdir."""
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    # Always recalculate OOXML formulas on load, whatever LibreOffice's default is.
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        '<item oor:path="/org.openoffice.Office.Calc/Formula/Load">'
        '<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>\n'
        "</oor:items>\n"
    )
    subprocess.run(
        [
            shutil.which("soffice"),
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(outdir),
            *map(str, paths),
        ],
        check=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, "HOME": str(profile)},
    )
    return [outdir / os.path.basename(p) for p in paths]


CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium (CI's .ci/run installs it with apt-get; never `playwright install`)."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

AXE = Path(__file__).parent / "assets" / "axe.min.js"
"""axe-core, vendored from the npm registry."""


def serious_axe_violations(page) -> list[tuple[str, str, int]]:
    """axe-core's serious or critical violations on ``page``: (rule, impact, nodes)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        (v["id"], v["impact"], len(v["nodes"]))
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
