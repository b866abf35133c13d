"""``rp.Playground``: the playground as a notebook widget (anywidget).

The page is the same ``static/app.js`` the local server serves, wrapped in an
anywidget ``render({model, el})``; the ``Session`` runs in the kernel and the page's
commands arrive as custom messages (``model.send`` / ``msg:custom``). ``pg.net``,
``pg.history`` and ``pg.trace`` are the live Python objects.
"""

from __future__ import annotations

import threading
import time
from functools import cache
from importlib import resources
from typing import Any

import anywidget
import traitlets

from retroprop import frontend
from retroprop.errors import ConfigError
from retroprop.explain.trace import Trace
from retroprop.i18n import LANGUAGES, language, normalize
from retroprop.playground.commands import apply, dumps
from retroprop.playground.labels import page_labels
from retroprop.playground.session import (
    FRAMES_PER_SECOND,
    Session,
    Setup,
    training_time,
)

FRAME = 1 / FRAMES_PER_SECOND  # seconds from one snapshot to the next while playing


def _static(name: str) -> str:
    return (resources.files("retroprop.playground") / "static" / name).read_text(
        "utf-8"
    )


WRAPPER = """
export default {
  render({ model, el }) {
    const transport = {
      send: (msg) => model.send(msg),
      onMessage: (cb) => model.on("msg:custom", (msg) => cb(typeof msg === "string" ? JSON.parse(msg) : msg)),
    };
    mount(el, transport, { labels: model.get?.("_labels"), lang: model.get?.("_lang") });
    model.send({ cmd: "state" });
    return () => model.send({ cmd: "pause" });
  },
};
"""


@cache
def widget_esm() -> str:
    """The shared front-end (uPlot and the modules), the page's module and the
    anywidget wrapper, as one ES module."""
    app = frontend.inline(_static("app.js"))
    return "\n".join([frontend.bundle(), app, WRAPPER])


@cache
def widget_css() -> str:
    return "\n".join([frontend.styles(), _static("style.css")])


class Playground(anywidget.AnyWidget):
    """The live playground in a notebook cell.

    Parameters
    ----------
    dataset : str
        ``"iris"`` (the lecture's) or a 2-D set: ``"xor"``, ``"circle"``,
        ``"gauss"``, ``"spiral"``, ``"moons"``.
    hidden : sequence of int
    activation, loss : str
        ``activation`` names every hidden layer's, or one per layer
        (``"sigmoid,tanh"``).
    lr, momentum : float
    batch_size, seed : int
    lang : str or None
        The page's language (``"pt"``, ``"en"``); None: ``RETROPROP_LANG``, then
        the locale, as the command line.

    Attributes
    ----------
    session : Session
        The run; ``net``, ``history`` and ``trace`` read it.
    """

    _esm = widget_esm()
    _css = widget_css()
    # the page's words in the widget's language (``lang``, else the language in use)
    _labels = traitlets.Dict().tag(sync=True)
    _lang = traitlets.Unicode("en").tag(sync=True)

    def __init__(
        self,
        dataset: str = "iris",
        hidden: tuple[int, ...] = (4, 3),
        activation: str = "sigmoid",
        lr: float = 0.05,
        batch_size: int = 1,
        seed: int = 1,
        loss: str = "cross_entropy",
        momentum: float = 0.0,
        lang: str | None = None,
        **kwargs: Any,
    ):
        setup = Setup(
            dataset=dataset,
            hidden=tuple(int(h) for h in hidden),
            activation=activation,
            lr=float(lr),
            batch_size=int(batch_size),
            seed=int(seed),
            loss=loss,
            momentum=float(momentum),
        )
        code = language() if lang is None else normalize(lang)
        if code is None:
            raise ConfigError(
                f"lang must be one of {', '.join(LANGUAGES)}, got {lang!r}"
            )
        super().__init__(_labels=page_labels(code), _lang=code, **kwargs)
        self.session = Session(setup)
        self._lock = threading.Lock()
        self._playing = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_msg(self._on_msg)

    @property
    def net(self):
        """The network being trained (``Sequential``)."""
        return self.session.net

    @property
    def history(self) -> list[dict[str, float]]:
        """Loss and accuracy (train and test) measured so far, one dict per row."""
        return self.session.history

    @property
    def trace(self) -> Trace:
        """The next update explained (``explain --step iteration+1``)."""
        with self._lock:
            return self.session.trace()

    def _reply(self, msg: dict[str, Any]) -> None:
        self.send(dumps(msg))

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        cmd = content.get("cmd")
        if cmd == "play":
            self.play()
            return
        if cmd in ("pause", "setup", "reset"):
            self.pause()
        with self._lock:
            replies = apply(self.session, content)
        for r in replies:
            if r.get("type") == "state":
                r["playing"] = self._playing.is_set()
            self._reply(r)

    def play(self) -> None:
        """Train in a background thread, one snapshot per ``FRAME`` seconds."""
        if self._playing.is_set():
            return
        self.session.error = None
        self._playing.set()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._playing.clear()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        overhead = 0.0  # the last frame's snapshot and sending, in seconds
        while self._playing.is_set():
            start = time.perf_counter()
            seconds = FRAME if self.session.speed else training_time(overhead)
            with self._lock:
                self.session.play_frame(seconds)
                trained = time.perf_counter()
                snap = self.session.snapshot()
            if self.session.error:
                self._playing.clear()
            snap["playing"] = self._playing.is_set()
            self._reply(snap)
            overhead = time.perf_counter() - trained
            time.sleep(max(0.0, FRAME - (time.perf_counter() - start)))
