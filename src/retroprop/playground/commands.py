"""The messages a playground page sends, applied to a ``Session``; and the exports.

A page (served or in a notebook) sends JSON objects ``{"cmd": ..., ...}``; ``apply``
runs one and returns the messages to send back (a state snapshot, an export, an
error). Both hosts call it; only the play loop differs (an asyncio task in the
server, a thread in the widget). Nothing here imports a web framework.
"""

from __future__ import annotations

import base64
import json
import math
import os
import tempfile
from typing import Any

from retroprop.errors import RetropropError
from retroprop.i18n import N_, _
from retroprop.playground.session import Session, Setup

EXPORTS = {
    "safetensors": "the model (rp.save), loadable with rp.load",
    "json": "the next step explained, as `retroprop explain --format json`",
    "markdown": "the next step explained, as `retroprop explain --format markdown`",
    "xlsx": "the next step as live spreadsheet formulas (`explain --format xlsx`)",
    "torch": "a PyTorch script, in the lecture's class style, that reproduces the run",
}


def apply(session: Session, msg: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the command ``msg`` on ``session``; the replies to send.

    Commands: ``step`` (``n`` updates, default 1), ``epoch``, ``reset``,
    ``setup`` (any URL field: restarts), ``lr``, ``batch_size``, ``momentum``
    (from the next update on), ``speed`` (updates per second while playing, 0: as
    fast as possible), ``view`` (``layer``, ``open``, ``start``: which neurons of a
    wide layer the page draws), ``edit`` (``name``, ``index``, ``value``), ``select`` (``name``,
    ``index``), ``export`` (``format``: a key of ``EXPORTS``), ``state``.
    ``play``/``pause`` belong to the host. A bad command or value gives one
    ``{"type": "error"}`` reply naming it; the session is left as it was.
    """
    cmd = msg.get("cmd")
    try:
        if cmd == "step":
            n = int(msg.get("n", 1))
            if not 1 <= n <= 100_000:
                raise RetropropError(
                    _("step n must be 1..100000, got {value}").format(value=n)
                )
            session.error = None
            try:
                session.steps(n)
            except RetropropError as e:
                session.error = str(e)
        elif cmd == "epoch":
            session.error = None
            try:
                session.run_epoch()
            except RetropropError as e:
                session.error = str(e)
        elif cmd == "reset":
            session.reset()
        elif cmd == "setup":
            query = {
                **session.current_setup().to_query(),
                **_strings(msg.get("setup", {})),
            }
            session.restart(Setup.from_query(query))
        elif cmd == "lr":
            session.set_lr(_number(msg.get("value"), N_("the learning rate")))
        elif cmd == "view":
            session.set_view(
                int(_number(msg.get("layer"), N_("the layer"))),
                bool(msg.get("open", True)),
                int(_number(msg.get("start", 0), N_("the first neuron"))),
            )
        elif cmd == "speed":
            session.set_speed(_number(msg.get("value"), N_("the speed")))
        elif cmd == "momentum":
            session.set_momentum(_number(msg.get("value"), N_("the momentum")))
        elif cmd == "batch_size":
            value = _number(msg.get("value"), N_("the batch size"))
            if value != int(value):
                raise RetropropError(
                    _("the batch size must be an integer, got {value}").format(
                        value=value
                    )
                )
            session.set_batch_size(int(value))
        elif cmd == "edit":
            session.edit(
                str(msg.get("name")),
                tuple(msg.get("index", ())),
                _number(msg.get("value"), N_("the weight")),
            )
        elif cmd == "select" and msg.get("kind") == "neuron":
            # a neuron of the first hidden layer of a large network: its weights
            # from the inputs come as a picture (``incoming`` in the snapshot)
            layer = int(_number(msg.get("layer"), N_("the layer")))
            index = int(_number(msg.get("index"), N_("the first neuron")))
            session.selected_neuron = (layer, index)
            return [session.snapshot()] if session.incoming() is not None else []
        elif cmd == "select":
            session.selected = (str(msg.get("name")), tuple(msg.get("index", ())))
            return []
        elif cmd == "export":
            return [export(session, str(msg.get("format")))]
        elif cmd in ("state", "play", "pause"):
            pass  # play and pause are the host's (its loop); the page gets the state
        else:
            raise RetropropError(
                f"unknown command {cmd!r}; the page sends step, epoch, reset, setup, "
                f"lr, batch_size, momentum, speed, view, edit, select, export, play, pause"
            )
    except (RetropropError, TypeError, ValueError) as e:
        return [{"type": "error", "message": str(e)}, session.snapshot()]
    return [session.snapshot()]


def _number(value: Any, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise RetropropError(
            _("{what} must be a number, got {value}").format(
                what=_(what), value=repr(value)
            )
        ) from None
    if not math.isfinite(x):
        raise RetropropError(
            _("{what} must be a finite number, got {value}").format(
                what=_(what), value=repr(value)
            )
        )
    return x


def _strings(d: Any) -> dict[str, str]:
    if not isinstance(d, dict):
        raise RetropropError(_("setup must be an object of URL fields"))
    return {str(k): str(v) for k, v in d.items()}


def export(session: Session, fmt: str) -> dict[str, Any]:
    """``{"type": "export", "filename", "mime", "base64"}`` for a download."""
    if fmt not in EXPORTS:
        raise RetropropError(
            _("export format must be one of {allowed}, got {value}").format(
                allowed=", ".join(EXPORTS), value=repr(fmt)
            )
        )
    stem = f"playground-{session.setup.dataset}-iter{session.iteration}"
    if fmt == "safetensors":
        from retroprop.io import save

        data = _via_file(
            ".safetensors",
            lambda p: save(
                session.net,
                p,
                class_names=list(session.split.dataset.class_names),
                feature_names=list(session.split.dataset.feature_names),
                standardizer=session.split.standardizer,
            ),
        )
        name, mime = stem + ".safetensors", "application/octet-stream"
    elif fmt == "xlsx":
        trace = session.trace()
        data = _via_file(".xlsx", trace.to_xlsx)
        name = stem + "-step.xlsx"
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "json":
        data = session.trace().to_json().encode()
        name, mime = stem + "-step.json", "application/json"
    elif fmt == "markdown":
        data = session.trace().to_markdown().encode()
        name, mime = stem + "-step.md", "text/markdown"
    else:
        data = torch_script(session).encode()
        name, mime = stem + ".py", "text/x-python"
    return {
        "type": "export",
        "format": fmt,
        "filename": name,
        "mime": mime,
        "base64": base64.b64encode(data).decode("ascii"),
    }


def _via_file(suffix: str, write) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out" + suffix)
        write(path)
        with open(path, "rb") as f:
            return f.read()


def torch_script(session: Session) -> str:
    """A PyTorch script reproducing the run, in the lecture's style.

    It loads the same split (through retroprop, so the standardisation and the
    sample order are the same) and the same initial weights, then trains with
    ``torch.optim.SGD`` for as many updates as the playground made, making each
    change of the run (``Session.changes``: eta, momentum, batch size, a weight set
    by hand) before the same update as the playground did.
    """
    s = session.setup  # the run's start; what changed since is replayed
    sizes = [session.n_features, *s.hidden, session.n_classes]
    acts = {
        "sigmoid": "torch.sigmoid",
        "tanh": "torch.tanh",
        "relu": "torch.relu",
        "identity": "",
    }
    names = [f"fc{i + 1}" for i in range(len(sizes) - 1)]
    layers = "\n".join(
        f"        self.{n} = nn.Linear({a}, {b})"
        for n, a, b in zip(names, sizes, sizes[1:])
    )
    lines = []
    for n, name in zip(names[:-1], s.activations()):
        act = acts.get(name, f"nn.functional.{name}")
        lines.append(
            f"        x = {act}(self.{n}(x))" if act else f"        x = self.{n}(x)"
        )
    lines.append(f"        x = self.{names[-1]}(x)")
    forward = "\n".join(lines)
    loss = "nn.CrossEntropyLoss()" if s.loss == "cross_entropy" else "nn.MSELoss()"
    query = json.dumps(s.to_query())
    changes: dict[int, list[list[Any]]] = {}
    for iteration, *change in session.changes:
        changes.setdefault(iteration, []).append(change)
    return f'''"""Reproduces a retroprop playground run in PyTorch.

Setup at the start: {query}
Changes made during the run (before update number key + 1): {json.dumps(changes)}
The data, its split, the initial weights and the sample order come from retroprop
(the playground's own session), so PyTorch trains on exactly the same batches.
"""

import numpy as np
import torch
import torch.nn as nn

from retroprop.playground.session import Session, Setup

torch.set_default_dtype(torch.float64)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
{layers}

    def forward(self, x):
{forward}
        return x


session = Session(Setup.from_query({query}))
model = NeuralNetwork()
with torch.no_grad():
    for (name, p), (_, q) in zip(model.named_parameters(), session.net.named_parameters()):
        p.copy_(torch.from_numpy(q.data))

optimizer = torch.optim.SGD(model.parameters(), lr={s.lr!r}, momentum={s.momentum!r})
criterion = {loss}
X = torch.from_numpy(session.split.X_train)
y = torch.from_numpy(session.split.y_train)
by_name = dict(zip([n for n, _ in session.net.named_parameters()], model.parameters()))
CHANGES = {{int(k): v for k, v in {json.dumps(changes)}.items()}}
for iteration in range({session.iteration}):
    for what, *args in CHANGES.get(iteration, []):  # as the playground did
        if what in ("lr", "momentum"):
            for group in optimizer.param_groups:
                group[what] = args[0]
            getattr(session, "set_" + what)(args[0])
        elif what == "batch_size":
            session.set_batch_size(args[0])
        else:  # a weight set by hand
            name, index, value = args
            session.edit(name, tuple(index), value)
            with torch.no_grad():
                by_name[name][tuple(index)] = value
    idx = session.next_batch()
    session.step()  # retroprop's own update, to compare with
    optimizer.zero_grad()
    out = model(X[idx])
    target = y[idx] if {s.loss == "cross_entropy"} else nn.functional.one_hot(y[idx], {session.n_classes}).double()
    loss = criterion(out, target)
    loss.backward()
    optimizer.step()

for (name, p), (_, q) in zip(model.named_parameters(), session.net.named_parameters()):
    print(name, "max |torch - retroprop| =", np.abs(p.detach().numpy() - q.data).max())
'''


def dumps(msg: dict[str, Any]) -> str:
    """JSON for the page: non-finite floats (which JSON lacks) become null."""
    try:
        return json.dumps(msg, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(msg), allow_nan=False)


def _finite(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x
