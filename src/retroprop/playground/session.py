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
from typing import Any

import numpy as np

from retroprop.datasets import Dataset, load_iris
from retroprop.datasets.checks import split_lines
from retroprop.datasets.toy import TOY, make_toy
from retroprop.engine.activations import ACTIVATIONS
from retroprop.engine.init import as_generator
from retroprop.engine.layers import Linear, Sequential
from retroprop.engine.losses import LOSSES
from retroprop.engine.network import mlp
from retroprop.engine.optim import SGD
from retroprop.errors import ConfigError, DivergenceError, RetropropError
from retroprop.explain.data import layer_label
from retroprop.explain.trace import Trace, explain_step
from retroprop.recipe import Split, prepare_data
from retroprop.training import TrainingStep
from retroprop.training.divergence import chance_loss, describe, judge, output_spread
from retroprop.training.runner import epoch_order
from retroprop.training.step import divergence_is_checked, evaluate, loss_targets

DATASETS = ("iris", *TOY, "upload")
"""The allowed ``Setup.dataset`` values (``upload``: a CSV given to the session)."""

MAX_HIDDEN = 64  # neurons per hidden layer the page can draw and train live
MAX_LAYERS = 6
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
                    raise ConfigError(
                        f"{key} must be a{'n integer' if kind is int else ' number'}, "
                        f"got {query[key]!r}"
                    ) from None
        return replace(s, **kw).checked()

    def checked(self) -> Setup:
        """This setup, after checking every field (``ConfigError`` names the bad one)."""
        if self.dataset not in DATASETS:
            raise ConfigError(
                f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}"
            )
        for name in self.activation.split(","):
            if name not in ACTIVATIONS or name == "step":
                allowed = sorted(a for a in ACTIVATIONS if a != "step")
                raise ConfigError(
                    f"activation must be one of {', '.join(allowed)} (or one per "
                    f"hidden layer, comma-separated), got {self.activation!r}"
                )
        n_acts = len(self.activation.split(","))
        if n_acts > 1 and n_acts != len(self.hidden):
            raise ConfigError(
                f"activation names {n_acts} layers ({self.activation}) but the "
                f"network has {len(self.hidden)} hidden layers; give one name for "
                f"all or one per hidden layer"
            )
        if self.loss not in LOSSES:
            raise ConfigError(
                f"loss must be one of {', '.join(sorted(LOSSES))}, got {self.loss!r}"
            )
        check_lr(self.lr)
        check_batch_size(self.batch_size)
        check_momentum(self.momentum)
        if len(self.hidden) > MAX_LAYERS or any(
            h < 1 or h > MAX_HIDDEN for h in self.hidden
        ):
            raise ConfigError(
                f"hidden must be at most {MAX_LAYERS} layers of 1..{MAX_HIDDEN} "
                f"neurons, got {','.join(map(str, self.hidden))}"
            )
        if self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed}")
        if not (math.isfinite(self.noise) and 0 <= self.noise <= 2):
            raise ConfigError(f"noise must be between 0 and 2, got {self.noise}")
        if not 10 <= self.samples <= 5000:
            raise ConfigError(f"samples must be 10..5000, got {self.samples}")
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
            f"hidden layer sizes must be comma-separated integers like 4,3; got {text!r}"
        ) from None


def check_lr(lr: float) -> float:
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ConfigError(f"the learning rate must be a number > 0, got {lr!r}")
    return float(lr)


def check_momentum(m: float) -> float:
    if not (isinstance(m, (int, float)) and math.isfinite(m) and 0 <= m < 1):
        raise ConfigError(f"the momentum must be a number in [0, 1), got {m!r}")
    return float(m)


def check_batch_size(b: int) -> int:
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
        raise ConfigError(f"the batch size must be an integer >= 1, got {b!r}")
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
    """

    def __init__(self, setup: Setup | None = None, uploaded: Dataset | None = None):
        self.uploaded = uploaded
        self.speed = 0.0  # updates per second while playing; 0: as fast as possible
        self.owed = 0.0
        self.selected: tuple[str, tuple[int, ...]] | None = None
        self.error: str | None = None
        self.divergence: str | None = None
        self.restart((setup or Setup()).checked())

    # --- the run -------------------------------------------------------------------

    def restart(self, setup: Setup) -> None:
        """Start the run of ``setup`` from its first update (new data, new weights)."""
        if setup.dataset == "upload" and self.uploaded is None:
            raise ConfigError("dataset 'upload' needs a CSV file: upload one first")
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
                f"the speed must be 0 (as fast as possible) to {MAX_SPEED} updates "
                f"per second, got {speed!r}"
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

    def set_momentum(self, m: float) -> None:
        """The momentum of every update from the next one on (no restart; the
        velocities built so far are kept, as torch keeps them)."""
        self.momentum = check_momentum(m)
        self.optimizer.momentum = self.momentum

    def set_batch_size(self, b: int) -> None:
        """The batch size from the next update on: the rest of the epoch's order is
        cut into batches of ``b``."""
        self.batch_size = check_batch_size(b)

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
                f"{name} has shape {data.shape}; index {list(index)} is outside it"
            )
        if not math.isfinite(value):
            raise ConfigError(f"a weight must be a finite number, got {value!r}")
        data[index] = float(value)
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

    def layers(self) -> list[dict[str, Any]]:
        """The network for drawing: per linear layer its name (as the network names
        it: ``"fc1"``, else its index), its label (``"fc1 (hidden layer 1)"``, as
        every explain view names it), weight and bias."""
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
                out.append(
                    {
                        "name": name,
                        "label": layer_label(name, number, number == n_linear),
                        "weight": mod.weight.data.tolist(),
                        "bias": (
                            mod.bias.data.tolist()
                            if mod.bias is not None
                            else [0.0] * mod.out_features
                        ),
                        "activation": act,
                    }
                )
        return out

    def plane(self, features: tuple[int, int] = (0, 1)) -> dict[str, Any]:
        """The decision regions and every hidden neuron's output over a grid.

        The grid spans features ``features`` (standardised units) of the data; the
        other inputs are held at their mean (0 after standardising). Returns
        ``extent`` ([x0, x1, y0, y1]), ``classes`` (GRID x GRID winning classes),
        ``confidence`` (their probabilities), ``neurons`` (per hidden layer, per
        neuron, a GRID x GRID list of activations) and the train/test points.
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
        neurons = []
        modules = list(self.net.modules)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for k, mod in enumerate(modules):
                a = mod(a)
                is_last_linear = not any(
                    isinstance(m, Linear) for m in modules[k + 1 :]
                )
                if not isinstance(mod, Linear) and not is_last_linear:
                    neurons.append(np.round(a.T.reshape(-1, GRID, GRID), 4).tolist())
            out = a - a.max(axis=1, keepdims=True)
            p = np.exp(out)
            p /= p.sum(axis=1, keepdims=True)
        return {
            "extent": [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])],
            "features": [s.dataset.feature_names[fx], s.dataset.feature_names[fy]],
            "classes": p.argmax(axis=1).reshape(GRID, GRID).tolist(),
            "confidence": np.round(p.max(axis=1), 3).reshape(GRID, GRID).tolist(),
            "neurons": neurons,
            "train": np.round(s.X_train[:, [fx, fy]], 4).tolist(),
            "train_y": s.y_train.tolist(),
            "test": np.round(s.X_test[:, [fx, fy]], 4).tolist(),
            "test_y": s.y_test.tolist(),
        }

    def snapshot(self, *, plane: bool = True) -> dict[str, Any]:
        """Everything a page draws, as JSON-ready data (floats kept exact)."""
        if not self.history or self.history[-1]["iteration"] != self.iteration:
            self.measure()
        try:
            trace: dict[str, Any] | None = self.with_momentum(_trace_json(self.trace()))
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
            feats = (2, 3) if self.split.dataset.name == "iris" else (0, 1)
            snap["plane"] = self.plane(feats if self.n_features > 3 else (0, 1))
        return snap


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
    import json

    return json.loads(trace.to_json())


__all__ = ["DATASETS", "Session", "Setup", "split_data"]
