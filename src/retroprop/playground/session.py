"""One playground run: the data, the network, the optimiser and where training is.

``Session`` is pure Python over retroprop's own engine (no web imports), so the local
server (one session per WebSocket) and the notebook widget (one per widget) share it.
Its default run is ``retroprop train``'s default run: Iris split and standardised with
seed 1, the 4-4-3-3 sigmoid network, eta 0.05, batch size 1, the same sample order,
each update the shared ``TrainingStep``. After ``k`` updates, ``trace()`` is the step
``retroprop explain --step k+1`` explains, number for number. After each chunk of
updates (``steps``, ``run_epoch``, ``train_for``) the run is judged with
``rp.train``'s definition of divergence (``retroprop.training.divergence``): a
non-finite, growing or dead run raises (or, for ``train_for``, keeps in ``error``)
the ``DivergenceError`` train would, and ``divergence`` names its kind.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, cast

import numpy as np

from retroprop.datasets import Dataset, load_iris
from retroprop.datasets.checks import split_lines
from retroprop.datasets.toy import TOY, make_toy
from retroprop.engine.activations import ACTIVATIONS, Activation
from retroprop.engine.init import as_generator
from retroprop.engine.layers import Linear, Sequential
from retroprop.engine.losses import LOSSES
from retroprop.engine.network import mlp
from retroprop.engine.optim import SGD
from retroprop.errors import ConfigError, DivergenceError, RetropropError
from retroprop.explain.data import layer_label
from retroprop.explain.trace import Trace, explain_step
from retroprop.i18n import _
from retroprop.recipe import Split, prepare_data
from retroprop.training import TrainingStep
from retroprop.training.divergence import chance_loss, describe, judge, output_spread
from retroprop.training.runner import epoch_order
from retroprop.training.step import divergence_is_checked, evaluate, loss_targets

DATASETS = ("iris", *TOY, "upload")
"""The allowed ``Setup.dataset`` values (``upload``: a CSV given to the session)."""

MAX_HIDDEN = 512  # neurons per hidden layer the page can train live
WIDE_INPUT = 32  # more inputs than this draw as a heatmap of the input layer
SLOW_VIEWS = 0.5  # seconds between two measurements of a large network while playing
WIDE_LAYER = 16  # a wider layer is drawn collapsed, or this many neurons at a time
MAX_LAYERS = 6
FRAMES_PER_SECOND = 24  # snapshots a playing page gets (the target: 20 or more)
MAX_SPEED = 100_000  # updates per second a page may ask for
GRID = 40  # cells per side of the decision-region and heatmap pictures


@dataclass(frozen=True)
class Setup:
    """Everything that defines a run; it round-trips through a URL's query string.

    Defaults are the lecture's (``retroprop train`` with no options).
    """

    dataset: str = "iris"
    hidden: tuple[int, ...] = (4, 3)
    activation: str = "sigmoid"
    lr: float = 0.05
    batch_size: int = 1
    momentum: float = 0.0
    seed: int = 1
    loss: str = "cross_entropy"
    noise: float = 0.1
    samples: int = 200  # points of a toy dataset
    test_size: float = 0.2

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Setup:
        """A setup from URL parameters (``dataset``, ``hidden=4,3``, ``activation``
        (one name for every hidden layer, or one per layer: ``sigmoid,tanh``),
        ``lr``, ``batch``, ``momentum``, ``seed``, ``loss``, ``noise``,
        ``samples``); a missing one keeps its default, a bad one raises
        ``ConfigError`` naming it."""
        s = cls()
        kw: dict[str, Any] = {}
        if "dataset" in query:
            kw["dataset"] = query["dataset"]
        if "hidden" in query:
            kw["hidden"] = parse_hidden(query["hidden"])
        if "activation" in query:
            kw["activation"] = query["activation"]
        if "loss" in query:
            kw["loss"] = query["loss"]
        for key, field, kind in (
            ("lr", "lr", float),
            ("batch", "batch_size", int),
            ("momentum", "momentum", float),
            ("seed", "seed", int),
            ("noise", "noise", float),
            ("samples", "samples", int),
        ):
            if key in query:
                try:
                    kw[field] = kind(query[key])
                except ValueError:
                    what = (
                        _("{key} must be an integer, got {value}")
                        if kind is int
                        else _("{key} must be a number, got {value}")
                    )
                    raise ConfigError(
                        what.format(key=key, value=repr(query[key]))
                    ) from None
        return replace(s, **kw).checked()

    def checked(self) -> Setup:
        """This setup, after checking every field (``ConfigError`` names the bad one)."""
        if self.dataset not in DATASETS:
            raise ConfigError(
                _("dataset must be one of {allowed}, got {value}").format(
                    allowed=", ".join(DATASETS), value=repr(self.dataset)
                )
            )
        for name in self.activation.split(","):
            if name not in ACTIVATIONS or name == "step":
                allowed = sorted(a for a in ACTIVATIONS if a != "step")
                raise ConfigError(
                    _(
                        "activation must be one of {allowed} (or one per hidden "
                        "layer, comma-separated), got {value}"
                    ).format(allowed=", ".join(allowed), value=repr(self.activation))
                )
        n_acts = len(self.activation.split(","))
        if n_acts > 1 and n_acts != len(self.hidden):
            raise ConfigError(
                _(
                    "activation names {n} layers ({value}) but the network has "
                    "{hidden} hidden layers; give one name for all or one per "
                    "hidden layer"
                ).format(n=n_acts, value=self.activation, hidden=len(self.hidden))
            )
        if self.loss not in LOSSES:
            raise ConfigError(
                _("loss must be one of {allowed}, got {value}").format(
                    allowed=", ".join(sorted(LOSSES)), value=repr(self.loss)
                )
            )
        check_lr(self.lr)
        check_batch_size(self.batch_size)
        check_momentum(self.momentum)
        if len(self.hidden) > MAX_LAYERS or any(
            h < 1 or h > MAX_HIDDEN for h in self.hidden
        ):
            raise ConfigError(
                _(
                    "hidden must be at most {layers} layers of 1..{most} neurons, "
                    "got {value}"
                ).format(
                    layers=MAX_LAYERS,
                    most=MAX_HIDDEN,
                    value=",".join(map(str, self.hidden)),
                )
            )
        if self.seed < 0:
            raise ConfigError(
                _("seed must be an integer >= 0, got {value}").format(value=self.seed)
            )
        if not (math.isfinite(self.noise) and 0 <= self.noise <= 2):
            raise ConfigError(
                _("noise must be between 0 and 2, got {value}").format(value=self.noise)
            )
        if not 10 <= self.samples <= 5000:
            raise ConfigError(
                _("samples must be 10..5000, got {value}").format(value=self.samples)
            )
        return self

    def activations(self) -> tuple[str, ...]:
        """The activation of each hidden layer (``"tanh"`` -> every layer's)."""
        names = tuple(self.activation.split(","))
        return names if len(names) > 1 else names * len(self.hidden)

    def to_query(self) -> dict[str, str]:
        """URL parameters that ``from_query`` reads back into this setup."""
        d = asdict(self)
        return {
            "dataset": self.dataset,
            "hidden": ",".join(map(str, self.hidden)),
            "activation": self.activation,
            "lr": repr(self.lr),
            "batch": str(self.batch_size),
            "momentum": repr(self.momentum),
            "seed": str(self.seed),
            "loss": self.loss,
            "noise": repr(d["noise"]),
            "samples": str(self.samples),
        }


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"4,3"`` -> ``(4, 3)``; ``""`` -> no hidden layer."""
    text = text.strip()
    if not text:
        return ()
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ConfigError(
            _(
                "hidden layer sizes must be comma-separated integers like 4,3; "
                "got {value}"
            ).format(value=repr(text))
        ) from None


def check_lr(lr: float) -> float:
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ConfigError(
            _("the learning rate must be a number > 0, got {value}").format(
                value=repr(lr)
            )
        )
    return float(lr)


def check_momentum(m: float) -> float:
    if not (isinstance(m, (int, float)) and math.isfinite(m) and 0 <= m < 1):
        raise ConfigError(
            _("the momentum must be a number in [0, 1), got {value}").format(
                value=repr(m)
            )
        )
    return float(m)


def check_batch_size(b: int) -> int:
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
        raise ConfigError(
            _("the batch size must be an integer >= 1, got {value}").format(
                value=repr(b)
            )
        )
    return int(b)


def split_data(dataset: Dataset, test_size: float, seed: int) -> Split:
    """The split ``retroprop train`` makes (``retroprop.recipe.prepare_data``):
    stratified for classes, seeded, then standardised on the training part."""
    return prepare_data(dataset, test_size=test_size, seed=seed)


class Session:
    """A live training run of one playground page or widget.

    Parameters
    ----------
    setup : Setup
    uploaded : Dataset or None
        The user's CSV data, used when ``setup.dataset == "upload"``.

    Attributes
    ----------
    net : Sequential
        The network being trained (float64).
    iteration : int
        Updates made so far.
    epoch : int
        The epoch of the next update (1-based).
    history : list of dict
        One row per measurement: ``iteration``, ``epoch``, ``train_loss``,
        ``train_accuracy``, ``test_loss``, ``test_accuracy``.
    divergence : str or None
        The kind of divergence (``training.divergence.KINDS``) the last judgement
        found, None if the run has not diverged; ``error`` holds the message.
    changes : list of tuple
        What changed during the run, in order, each as ``(iteration, what, *args)``
        made before update ``iteration + 1``: ``("lr", eta)``, ``("momentum", m)``,
        ``("batch_size", b)``, ``("edit", name, index, value)``. With ``setup`` (the
        run's start) they are the whole run: the PyTorch export replays them.
    """

    def __init__(self, setup: Setup | None = None, uploaded: Dataset | None = None):
        self.uploaded = uploaded
        self.speed = 0.0  # updates per second while playing; 0: as fast as possible
        self.owed = 0.0
        # layer position L (1 = first hidden) -> {"open": bool, "start": int} of a
        # layer wider than WIDE_LAYER: which of its neurons the page draws
        self.views: dict[int, dict[str, Any]] = {}
        self.selected: tuple[str, tuple[int, ...]] | None = None
        self.selected_neuron: tuple[int, int] | None = None  # (layer, index)
        self.error: str | None = None
        self.divergence: str | None = None
        self.restart((setup or Setup()).checked())

    # --- the run -------------------------------------------------------------------

    def restart(self, setup: Setup) -> None:
        """Start the run of ``setup`` from its first update (new data, new weights)."""
        if setup.dataset == "upload" and self.uploaded is None:
            raise ConfigError(_("dataset 'upload' needs a CSV file: upload one first"))
        self.setup = setup
        if setup.dataset == "iris":
            ds = load_iris()
        elif setup.dataset == "upload":
            assert self.uploaded is not None
            ds = self.uploaded
        else:
            ds = make_toy(
                setup.dataset, setup.samples, noise=setup.noise, seed=setup.seed
            )
        self.split = split_data(ds, setup.test_size, setup.seed)
        self.net = build_network(
            [self.n_features, *setup.hidden, self.n_classes],
            setup.activations(),
            seed=setup.seed,
        )
        self.optimizer = SGD(
            self.net.parameters(), lr=setup.lr, momentum=setup.momentum
        )
        self.train_step = TrainingStep(self.net, setup.loss, self.optimizer)
        self.lr, self.batch_size = setup.lr, setup.batch_size
        self.momentum = setup.momentum
        # train's sample order: one permutation per epoch from rng(seed)
        self.rng = as_generator(setup.seed)
        self.order = np.arange(0)
        self.position = 0
        self.epoch = 0
        self.iteration = 0
        self.history: list[dict[str, float]] = []
        self.error = None
        self.divergence = None
        self.changes: list[tuple[Any, ...]] = []
        self.views = {}
        self.views_at = -math.inf  # when the slow views were last computed
        self.last_plane: tuple[dict, dict[str, Any]] | None = None
        self.last_epoch = 0  # the epoch of the last update, as train counts it
        self._advance_epoch()
        self.initial_loss = self.measure()["train_loss"]  # where the run starts

    def reset(self) -> None:
        """The same setup from its start (eta, batch size and momentum as set now)."""
        self.restart(self.current_setup())

    def current_setup(self) -> Setup:
        """The setup with eta, the batch size and the momentum as they are now."""
        return replace(
            self.setup,
            lr=self.lr,
            batch_size=self.batch_size,
            momentum=self.momentum,
        )

    @property
    def n_features(self) -> int:
        return self.split.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.split.dataset.class_names)

    def _advance_epoch(self) -> None:
        self.epoch += 1
        self.order = epoch_order(self.rng, len(self.split.y_train), True)
        self.position = 0

    def next_batch(self) -> np.ndarray:
        """The training rows of the next update, shape ``(batch,)``."""
        return self.order[self.position : self.position + self.batch_size]

    def step(self) -> float:
        """One update (``TrainingStep``) on the next batch; returns its loss.

        Raises ``DivergenceError`` (nothing is updated) when eta is too large.
        """
        idx = self.next_batch()
        loss = self.train_step(
            self.split.X_train[idx],
            self.split.y_train[idx],
            epoch=self.epoch,
            iteration=self.iteration + 1,
        )
        self.iteration += 1
        self.last_epoch = self.epoch
        self.position += len(idx)
        if self.position >= len(self.order):
            self._advance_epoch()
            self.measure()
        return loss

    def steps(self, n: int) -> None:
        """``n`` updates, then the run is judged (``check_divergence``)."""
        self._judged(lambda: [self.step() for _ in range(n)])

    def run_epoch(self) -> None:
        """Updates until the end of the current epoch, then the run is judged."""
        epoch = self.epoch

        def updates() -> None:
            while self.epoch == epoch:
                self.step()

        self._judged(updates)

    def _judged(self, updates: Callable[[], object]) -> None:
        try:
            updates()
        except DivergenceError:
            self.divergence = "non-finite"
            raise
        self.check_divergence()

    def check_divergence(self) -> str | None:
        """Judge the run since its start as ``rp.train`` judges a finished run
        (``training.divergence.judge`` on the training part): raise the
        ``DivergenceError`` train would when it grew or died; else return None.
        ``divergence`` keeps the kind."""
        s, loss = self.split, self.setup.loss
        with divergence_is_checked():
            out = self.net(s.X_train)
            final = float(
                LOSSES[loss]()(
                    out, loss_targets(s.y_train, out.shape[1], loss, out.dtype)
                )
            )
        chance = chance_loss(s.y_train, out.shape[1], loss)
        kind = None
        if self.iteration and not final < chance * (1 - 1e-9):
            spread = output_spread(out, s.X_train, s.y_train, loss)
            kind = judge(self.initial_loss, final, chance, spread)
        self.divergence = kind
        if kind is None:
            return None
        what = describe(kind, self.initial_loss, final, chance)
        raise DivergenceError.at(
            self.last_epoch, self.iteration, self.lr, what, kept=False
        )

    def train_for(self, seconds: float, max_updates: int = 100_000) -> int:
        """Update for about ``seconds`` of wall time; returns the updates made.

        A divergence stops the run and is kept in ``error``.
        """
        end = time.perf_counter() + seconds
        done = 0
        try:
            try:
                while done < max_updates:
                    self.step()
                    done += 1
                    if done % 8 == 0 and time.perf_counter() >= end:
                        break
            except DivergenceError:
                self.divergence = "non-finite"
                raise
            self.check_divergence()
        except DivergenceError as e:
            self.error = str(e)
        return done

    def set_speed(self, speed: float) -> None:
        """Updates per second while playing: 0 is as fast as the machine goes."""
        if not (isinstance(speed, (int, float)) and math.isfinite(speed)) or not (
            0 <= speed <= MAX_SPEED
        ):
            raise ConfigError(
                _(
                    "the speed must be 0 (as fast as possible) to {most} updates "
                    "per second, got {value}"
                ).format(most=MAX_SPEED, value=repr(speed))
            )
        self.speed = float(speed)

    def play_frame(self, seconds: float) -> int:
        """One frame of play: ``speed * seconds`` updates (fractions carried to the
        next frame), or as many as fit in ``seconds`` at speed 0. Returns the number
        made; a divergence stops the run and is kept in ``error``."""
        if not self.speed:
            return self.train_for(seconds)
        self.owed += self.speed * seconds
        n = int(self.owed)
        self.owed -= n
        if n == 0:
            return 0
        try:
            self.steps(n)
        except DivergenceError as e:
            self.error = str(e)
        return n

    def set_lr(self, lr: float) -> None:
        """eta of every update from the next one on (no restart)."""
        self.lr = check_lr(lr)
        self.optimizer.lr = self.lr
        self.changes.append((self.iteration, "lr", self.lr))

    def set_momentum(self, m: float) -> None:
        """The momentum of every update from the next one on (no restart; the
        velocities built so far are kept, as torch keeps them)."""
        self.momentum = check_momentum(m)
        self.optimizer.momentum = self.momentum
        self.changes.append((self.iteration, "momentum", self.momentum))

    def set_batch_size(self, b: int) -> None:
        """The batch size from the next update on: the rest of the epoch's order is
        cut into batches of ``b``."""
        self.batch_size = check_batch_size(b)
        self.changes.append((self.iteration, "batch_size", self.batch_size))

    def parameter(self, name: str) -> np.ndarray:
        """The array of parameter ``name`` (``"2.weight"``, ``"fc2.weight"`` on a named
        network), shape (out, in) or (out,)."""
        params = dict(self.net.named_parameters())
        if name not in params:
            raise ConfigError(
                f"no parameter {name!r}; the network has {', '.join(params)}"
            )
        return params[name].data

    def edit(self, name: str, index: tuple[int, ...], value: float) -> None:
        """Set one weight or bias by hand, e.g. ``edit("2.weight", (1, 3), 0.5)``."""
        data = self.parameter(name)
        index = tuple(int(i) for i in index)
        if len(index) != data.ndim or any(
            not 0 <= i < s for i, s in zip(index, data.shape)
        ):
            raise ConfigError(
                _("{name} has shape {shape}; index {index} is outside it").format(
                    name=name, shape=data.shape, index=list(index)
                )
            )
        if not math.isfinite(value):
            raise ConfigError(
                _("a weight must be a finite number, got {value}").format(
                    value=repr(value)
                )
            )
        data[index] = float(value)
        self.changes.append((self.iteration, "edit", name, list(index), float(value)))
        row = self.measure()
        if self.iteration == 0:  # edited before any update: the run starts here
            self.initial_loss = row["train_loss"]

    # --- what the views show -------------------------------------------------------

    def measure(self) -> dict[str, float]:
        """Loss and accuracy on the training and the test part now (cross-entropy or
        MSE: the run's loss); appended to ``history`` once per iteration."""
        s = self.split
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            tl, ta = evaluate(self.net, s.X_train, s.y_train, self.setup.loss)
            if len(s.y_test):
                vl, va = evaluate(self.net, s.X_test, s.y_test, self.setup.loss)
            else:
                vl, va = float("nan"), float("nan")
        row = {
            "iteration": self.iteration,
            "epoch": self.epoch,
            "train_loss": tl,
            "train_accuracy": ta,
            "test_loss": vl,
            "test_accuracy": va,
        }
        if self.history and self.history[-1]["iteration"] == self.iteration:
            self.history[-1] = row  # an edit by hand replaces the measurement
        else:
            self.history.append(row)
        return row

    def trace(self) -> Trace:
        """The next update explained: ``explain --step iteration+1`` of this run."""
        idx = self.next_batch()
        rows = [int(i) for i in idx]
        lines = split_lines(self.split.dataset, self.setup.test_size, self.setup.seed)[
            0
        ]
        meta = {
            "step": self.iteration + 1,
            "epoch": self.epoch,
            "sample": rows[0] if len(rows) == 1 else rows,
            "line": int(lines[rows[0]])
            if len(rows) == 1
            else [int(lines[r]) for r in rows],
            "seed": self.setup.seed,
            "data": self.split.dataset.name,
            "class_names": list(self.split.dataset.class_names),
            "feature_names": list(self.split.dataset.feature_names),
        }
        return explain_step(
            self.net,
            self.split.X_train[rows],
            self.split.y_train[rows],
            lr=self.lr,
            loss=self.setup.loss,
            meta=meta,
        )

    def with_momentum(self, trace: dict[str, Any]) -> dict[str, Any]:
        """The explained step as this run makes it: with momentum ``mu`` > 0 each
        parameter's entry gains ``buffer`` (its velocity so far, None before the
        first update) and ``velocity`` (``mu * buffer + grad``, torch's ``buf``;
        ``grad`` on the first update), and ``updated`` becomes ``value - eta *
        velocity``. Without momentum the trace is ``explain --step``'s unchanged."""
        if not self.momentum:
            return trace
        buffers = {
            name: buf
            for (name, _), buf in zip(
                self.net.named_parameters(), self.optimizer.momentum_buffers
            )
        }
        for p in trace["parameters"]:
            buf = buffers.get(p["name"])
            before = None if buf is None else float(buf[tuple(p["index"])])
            # SGD.step's own arithmetic (dampening 0): buf = mu * buf + g; w - eta * buf
            velocity = (
                p["grad"] if before is None else self.momentum * before + p["grad"]
            )
            p["buffer"] = before
            p["velocity"] = velocity
            p["updated"] = p["value"] - self.lr * velocity
        trace["momentum"] = self.momentum
        return trace

    # --- large networks: only what is drawn ---------------------------------------

    @property
    def sizes(self) -> list[int]:
        """The widths of the layers, inputs first: ``[4, 4, 3, 3]``."""
        return [self.n_features, *self.setup.hidden, self.n_classes]

    @property
    def large(self) -> bool:
        """True when the page cannot draw every neuron (a heatmap of the inputs or
        a collapsed layer): the snapshot then carries only what is drawn."""
        n = self.sizes
        return n[0] > WIDE_INPUT or any(w > WIDE_LAYER for w in n[1:])

    def window(self, L: int) -> tuple[int, int] | None:
        """The neurons ``[start, stop)`` of layer ``L`` drawn one by one; None when
        the layer is drawn as a whole (the input heatmap, a collapsed layer)."""
        width = self.sizes[L]
        if L == 0:
            return (0, width) if width <= WIDE_INPUT else None
        if width <= WIDE_LAYER:
            return (0, width)
        view = self.views.get(L, {"open": False, "start": 0})
        if not view["open"]:
            return None
        start = view["start"]
        return (start, min(width, start + WIDE_LAYER))

    def set_view(self, layer: int, open_: bool, start: int = 0) -> None:
        """Open (``open_``) or collapse layer ``layer``; an open layer shows the
        ``WIDE_LAYER`` neurons from ``start`` (rounded down to a page)."""
        n = self.sizes
        if not (1 <= layer < len(n)) or n[layer] <= WIDE_LAYER:
            wide = [L for L in range(1, len(n)) if n[L] > WIDE_LAYER]
            raise ConfigError(
                _(
                    "layer {layer} cannot be opened or collapsed; the wide layers "
                    "are {wide}"
                ).format(layer=layer, wide=", ".join(map(str, wide)) or "-")
            )
        start = max(0, min(int(start), n[layer] - 1))
        self.views[layer] = {"open": bool(open_), "start": start - start % WIDE_LAYER}

    def incoming(self) -> dict[str, Any] | None:
        """The selected first-layer neuron's weights from the inputs, when the
        inputs are drawn as a heatmap (its weights then draw as the same picture):
        ``{"layer": 1, "index": i, "weight": [...]}`` of ``n_features`` values;
        None otherwise."""
        if self.selected_neuron is None or self.window(0) is not None:
            return None
        layer, i = self.selected_neuron
        linear = [m for m in self.net.modules if isinstance(m, Linear)]
        if layer != 1 or not 0 <= i < linear[0].out_features:
            return None
        return {"layer": 1, "index": i, "weight": linear[0].weight.data[i].tolist()}

    def light_trace(self) -> dict[str, Any]:
        """The next update of a large network, as the page draws it: what
        ``trace()`` holds per neuron (z, out, dL/dout, f'(z), delta: the engine's own
        forward and backward on the next batch, nothing updated) and, per drawn
        weight or bias and the selected one, value, gradient, update and the two
        chain-rule factors ``dL/dz_i`` and ``dz_i/dw_ij``. ``light`` is True."""
        rows = self.next_batch()
        X, y = self.split.X_train[rows], self.split.y_train[rows]
        loss_name, net = self.setup.loss, self.net
        loss_fn = LOSSES[loss_name]()
        n = len(rows)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = net(X)
            targets = loss_targets(y, out.shape[1], loss_name, out.dtype)
            loss = float(loss_fn(out, targets))
            grad = loss_fn.backward()
            net.zero_grad()  # backward accumulates: start from none
            received = {}
            for i in reversed(range(len(net))):  # the chain rule, module by module
                received[i] = grad * n  # per sample: the mean divided each by n
                grad = net[i].backward(grad)
        modules = list(net.modules)
        linear = [k for k, m in enumerate(modules) if isinstance(m, Linear)]
        layers, params = [], []
        named = dict(net.named_parameters())
        buffers = dict(zip(named, self.optimizer.momentum_buffers))

        def entry(name: str, idx: tuple[int, ...], delta, a_prev) -> dict[str, Any]:
            value = float(named[name].data[idx])
            g = float(cast(np.ndarray, named[name].grad)[idx])
            i = idx[0]
            factors = {"dL/dz_i": float(delta[:, i].mean())}
            if len(idx) == 2:
                factors["dz_i/dw_ij"] = float(a_prev[:, idx[1]].mean())
            else:
                factors["dz_i/db_i"] = 1.0
            e = {
                "name": name,
                "index": list(idx),
                "value": value,
                "grad": g,
                "updated": value - self.lr * g,
                "factors": factors,
            }
            if self.momentum:
                buf = buffers.get(name)
                before = None if buf is None else float(buf[idx])
                velocity = g if before is None else self.momentum * before + g
                e.update(
                    buffer=before, velocity=velocity, updated=value - self.lr * velocity
                )
            return e

        for number, k in enumerate(linear, start=1):
            lin = cast(Linear, modules[k])
            is_output = k == linear[-1]
            act = (
                cast(Activation, modules[k + 1])
                if k + 1 < len(modules) and not isinstance(modules[k + 1], Linear)
                else None
            )
            top = k + 1 if act is not None else k
            # a Linear does not cache z; without an activation, z is the next input
            z = act.z if act is not None else out if is_output else None
            if z is None:
                z = cast(Linear, modules[k + 1]).a_prev
            a = act.a if act is not None else z
            delta = received[k]
            name = net.names[k]
            layers.append(
                {
                    "name": name,
                    "number": number,
                    "label": layer_label(name, number, is_output),
                    "weight_name": net.parameter_name(k, "weight"),
                    "bias_name": net.parameter_name(k, "bias"),
                    "activation": getattr(act, "name", None),
                    "is_output": is_output,
                    "z": z.tolist(),
                    "a": a.tolist(),
                    "grad_a": received[top].tolist(),
                    "f_prime": act.derivative().tolist() if act is not None else None,
                    "delta": delta.tolist(),
                    "grad_a_prev": None,
                    "factor_formulas": {},
                }
            )
            rws, cls = self.window(number), self.window(number - 1)
            wname, bname = (
                net.parameter_name(k, "weight"),
                net.parameter_name(k, "bias"),
            )
            if rws is not None:
                for i in range(*rws):
                    params.append(entry(bname, (i,), delta, lin.a_prev))
                    if cls is not None:
                        for j in range(*cls):
                            params.append(entry(wname, (i, j), delta, lin.a_prev))
            if self.selected and self.selected[0] in (wname, bname):
                sel_name, sel_idx = self.selected
                data = self.parameter(sel_name)
                if (
                    len(sel_idx) == data.ndim
                    and all(0 <= v < w for v, w in zip(sel_idx, data.shape))
                    and not any(
                        p["name"] == sel_name and tuple(p["index"]) == tuple(sel_idx)
                        for p in params
                    )
                ):
                    params.append(entry(sel_name, tuple(sel_idx), delta, lin.a_prev))
        net.zero_grad()
        probabilities = loss_fn.probabilities(out)
        meta = {
            "step": self.iteration + 1,
            "epoch": self.epoch,
            "sample": int(rows[0]) if n == 1 else [int(r) for r in rows],
        }
        return {
            "light": True,
            "target": [int(v) for v in y] if y.ndim == 1 else y.tolist(),
            "lr": self.lr,
            "loss_function": loss_name,
            "loss": loss,
            "n_samples": n,
            "input": X.tolist(),
            "output": out.tolist(),
            "probabilities": None if probabilities is None else probabilities.tolist(),
            "layers": layers,
            "parameters": params,
            "meta": meta,
            "momentum": self.momentum or None,
        }

    def layers(self) -> list[dict[str, Any]]:
        """The network for drawing: per linear layer its name (as the network names
        it: ``"fc1"``, else its index), its label (``"fc1 (hidden layer 1)"``, as
        every explain view names it), ``in_features``, ``out_features``, and the
        drawn part of its weight and bias: rows ``rows`` = [start, stop) of its
        neurons and columns ``cols`` of the previous layer's (None: not drawn one by
        one; a small network draws all)."""
        out = []
        modules = list(zip(self.net.names, self.net.modules))
        number = 0
        n_linear = sum(isinstance(m, Linear) for m in self.net.modules)
        for k, (name, mod) in enumerate(modules):
            if isinstance(mod, Linear):
                number += 1
                act = ""
                if k + 1 < len(modules) and not isinstance(modules[k + 1][1], Linear):
                    act = type(modules[k + 1][1]).__name__
                rows, cols = self.window(number), self.window(number - 1)
                r0, r1 = rows or (0, 0)
                c0, c1 = cols or (0, 0)
                bias = (
                    mod.bias.data
                    if mod.bias is not None
                    else np.zeros(mod.out_features)
                )
                out.append(
                    {
                        "name": name,
                        "label": layer_label(name, number, number == n_linear),
                        "weight": mod.weight.data[r0:r1, c0:c1].tolist(),
                        "bias": bias[r0:r1].tolist(),
                        "activation": act,
                        "in_features": mod.in_features,
                        "out_features": mod.out_features,
                        "rows": list(rows) if rows else None,
                        "cols": list(cols) if cols else None,
                    }
                )
        return out

    def plane(self, features: tuple[int, int] = (0, 1)) -> dict[str, Any]:
        """The decision regions and every hidden neuron's output over a grid.

        The grid spans features ``features`` (standardised units) of the data; the
        other inputs are held at their mean (0 after standardising). Returns
        ``extent`` ([x0, x1, y0, y1]), ``classes`` (GRID x GRID winning classes),
        ``confidence`` (their probabilities), ``neurons`` (per hidden layer, per
        neuron, a GRID x GRID list of activations; none for a ``large`` network),
        ``neuron_rows`` (the neurons of each list) and the train/test points.
        """
        s = self.split
        fx, fy = features
        both = np.concatenate([s.X_train, s.X_test])
        lo = np.floor(both[:, [fx, fy]].min(axis=0) - 0.5)
        hi = np.ceil(both[:, [fx, fy]].max(axis=0) + 0.5)
        xs = np.linspace(lo[0], hi[0], GRID)
        ys = np.linspace(hi[1], lo[1], GRID)  # top row first, as an image
        gx, gy = np.meshgrid(xs, ys)
        grid = np.zeros((GRID * GRID, self.n_features))
        grid[:, fx], grid[:, fy] = gx.ravel(), gy.ravel()
        a = grid
        neurons, which = [], []
        modules = list(self.net.modules)
        L = 0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for k, mod in enumerate(modules):
                a = mod(a)
                is_last_linear = not any(
                    isinstance(m, Linear) for m in modules[k + 1 :]
                )
                if isinstance(mod, Linear):
                    L += 1
                elif not is_last_linear:
                    # a small network's every neuron; a large one's none (its
                    # heatmaps over two of many inputs would fill the snapshot)
                    start, stop = (0, 0) if self.large else (self.window(L) or (0, 0))
                    maps = a.T[start:stop].reshape(-1, GRID, GRID)
                    neurons.append(np.round(maps, 4).tolist())
                    which.append([start, stop])
            out = a - a.max(axis=1, keepdims=True)
            p = np.exp(out)
            p /= p.sum(axis=1, keepdims=True)
        return {
            "extent": [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])],
            "features": [s.dataset.feature_names[fx], s.dataset.feature_names[fy]],
            "classes": p.argmax(axis=1).reshape(GRID, GRID).tolist(),
            "confidence": np.round(p.max(axis=1), 3).reshape(GRID, GRID).tolist(),
            "neurons": neurons,
            "neuron_rows": which,
            "train": np.round(s.X_train[:, [fx, fy]], 4).tolist(),
            "train_y": s.y_train.tolist(),
            "test": np.round(s.X_test[:, [fx, fy]], 4).tolist(),
            "test_y": s.y_test.tolist(),
        }

    def snapshot(self, *, plane: bool = True) -> dict[str, Any]:
        """Everything a page draws, as JSON-ready data (floats kept exact).

        A ``large`` network's measurement (the whole data through the network) and
        decision regions are redone at most every ``SLOW_VIEWS`` seconds while it
        trains, so that its frames stay quick; a small network's, every snapshot.
        """
        now = time.perf_counter()
        fresh = not self.large or now - self.views_at >= SLOW_VIEWS
        if (not self.history or self.history[-1]["iteration"] != self.iteration) and (
            fresh or not self.history
        ):
            self.measure()
        try:
            trace: dict[str, Any] | None = (
                self.light_trace()
                if self.large
                else self.with_momentum(_trace_json(self.trace()))
            )
        except (RetropropError, FloatingPointError) as e:
            # weights so large the explained step overflows: show the run, no trace
            trace = None
            self.error = self.error or f"the next step cannot be explained: {e}"
        snap: dict[str, Any] = {
            "type": "state",
            # the run as it is now (eta and batch size may have changed since)
            "setup": self.current_setup().to_query(),
            "lr": self.lr,
            "batch_size": self.batch_size,
            "momentum": self.momentum,
            "speed": self.speed,
            "sizes": self.sizes,
            "views": {str(k): v for k, v in self.views.items()},
            "incoming": self.incoming(),
            "iteration": self.iteration,
            "epoch": self.epoch,
            "measure": self.history[-1],
            "history": _columns(self.history[-400:]),
            "layers": self.layers(),
            "class_names": list(self.split.dataset.class_names),
            "feature_names": list(self.split.dataset.feature_names),
            "error": self.error,
            "divergence": self.divergence,
            "trace": trace,
        }
        if plane:
            if fresh or self.last_plane is None or self.last_plane[0] != self.views:
                feats = (2, 3) if self.split.dataset.name == "iris" else (0, 1)
                picture = self.plane(feats if self.n_features > 3 else (0, 1))
                self.last_plane = (dict(self.views), picture)
                self.views_at = now
            snap["plane"] = self.last_plane[1]
        return snap


def training_time(overhead: float) -> float:
    """Seconds of training in the next frame of play, so that frames come
    ``1 / FRAMES_PER_SECOND`` apart: what the last frame's snapshot and sending
    (``overhead`` seconds) left of a frame, but at least a tenth of one."""
    period = 1 / FRAMES_PER_SECOND
    return max(period / 10, period - overhead)


def build_network(
    sizes: list[int], activations: tuple[str, ...], seed: int
) -> Sequential:
    """``mlp(sizes, ...)`` (torch's initial weights from ``seed``) with hidden layer
    ``k`` followed by ``activations[k]``; one activation for all is ``mlp``'s own
    network, so the weights are ``retroprop train``'s."""
    net = mlp(sizes, activations[0], init="torch", seed=seed)
    if len(set(activations)) == 1:
        return net
    modules = list(net.modules)
    for k, name in enumerate(activations):
        modules[2 * k + 1] = ACTIVATIONS[name]()  # Linear, f, Linear, f, ..., Linear
    return Sequential(*modules, names=net.names)


def _columns(rows: list[dict[str, float]]) -> dict[str, list[float | None]]:
    keys = ("iteration", "train_loss", "train_accuracy", "test_loss", "test_accuracy")
    return {k: [None if not math.isfinite(r[k]) else r[k] for r in rows] for k in keys}


def _trace_json(trace: Trace) -> dict[str, Any]:
    # to_dict is already plain JSON data (what to_json writes)
    return trace.to_dict()


__all__ = ["DATASETS", "FRAMES_PER_SECOND", "Session", "Setup", "split_data"]
