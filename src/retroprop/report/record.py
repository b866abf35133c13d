"""Recording a real training run for the report: traces of its first steps, its curves.

``RecordSteps`` is a training callback: before each of the first ``steps`` iterations
it calls ``explain_step`` on the network and the batch ``train`` is about to use, and
after the real update it checks that the trace's ``updated`` values are the
parameters the training loop produced (they are the same engine computation, so they
must be equal to the last bit).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.errors import DivergenceError
from retroprop.recipe import LECTURE, Split
from retroprop.report.html import COMPACT_ABOVE
from retroprop.train import Callback, History, TrainState, evaluate
from retroprop.training.step import divergence_is_checked

if TYPE_CHECKING:
    from retroprop.datasets import Dataset


class RecordSteps(Callback):
    """Keeps an ``explain_step`` trace of ``steps`` iterations: ``start``,
    ``start + every``, ``start + 2 every``, ... up to ``stop`` (all 1-based).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        The arrays given to ``train`` (``state.batch`` indexes them).
    lr : float
        The learning rate given to ``train`` (plain SGD).
    steps : int
        How many iterations to record at most.
    loss : str
    every : int
        Record every ``every``-th iteration (1: each one).
    start : int
        The first iteration recorded.
    stop : int or None
        The last iteration that may be recorded (None: no limit but ``steps``).

    Attributes
    ----------
    traces : list of Trace
    iterations, epochs : list of int
        1-based, one per trace.
    batches : list of list of int
        The training rows of each recorded iteration.
    max_mismatch : float
        Largest ``|trace.updated - parameter after the real update|`` seen (0.0 when
        the trace and the training loop agree exactly; NaN once any difference was
        NaN).
    """

    per_iteration = True

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        lr: float,
        steps: int,
        loss: str = "cross_entropy",
        *,
        every: int = 1,
        start: int = 1,
        stop: int | None = None,
    ):
        self.X, self.y, self.lr, self.steps, self.loss = X, y, lr, steps, loss
        self.every, self.start, self.stop = every, start, stop
        self.traces: list = []
        self.iterations: list[int] = []
        self.epochs: list[int] = []
        self.batches: list[list[int]] = []
        self.max_mismatch = 0.0

    def wanted(self, iteration: int) -> bool:
        """Whether ``iteration`` (1-based) is one to record."""
        return (
            len(self.traces) < self.steps
            and iteration >= self.start
            and (self.stop is None or iteration <= self.stop)
            and (iteration - self.start) % self.every == 0
        )

    def on_iteration_begin(self, state: TrainState) -> None:
        if not self.wanted(state.iteration):
            return
        from retroprop.explain import explain_step

        idx = state.batch
        assert idx is not None  # train sets the batch before this hook
        X = self.X[idx].astype(state.net.dtype, copy=False)
        try:
            with divergence_is_checked():
                trace = explain_step(
                    state.net, X, self.y[idx], lr=self.lr, loss=self.loss
                )
        except DivergenceError:
            # The update about to be made diverges: the training step (the same
            # computation) reports it next, naming the epoch and the iteration.
            return
        self.traces.append(trace)
        self.iterations.append(state.iteration)
        self.epochs.append(state.epoch)
        self.batches.append([int(i) for i in idx])

    def on_iteration_end(self, state: TrainState) -> None:
        if not self.iterations or self.iterations[-1] != state.iteration:
            return  # not recorded
        real = state.net.state_dict()
        for name, after in self.traces[-1].updated().items():
            diff = float(np.max(np.abs(after - real[name])))
            # max() would drop a NaN (nan > x is False): a NaN stays a mismatch.
            if np.isnan(diff) or np.isnan(self.max_mismatch):
                self.max_mismatch = float("nan")
            else:
                self.max_mismatch = max(self.max_mismatch, diff)


class RegressionCurves(Callback):
    """R², MAE and RMSE on the training and test parts after each epoch, in the
    target's own units (the network predicts the standardised target; ``mean`` and
    ``scale`` undo it). Measures only: training is unchanged."""

    def __init__(
        self,
        parts: dict[str, tuple[np.ndarray, np.ndarray]],
        mean: float,
        scale: float,
    ):
        self.parts, self.mean, self.scale = parts, mean, scale
        self.curves: dict[str, list[float]] = {}

    def measure(self, net: Sequential) -> None:
        from retroprop.datasets import regression_scores

        for part, (X, y) in self.parts.items():
            pred = self.mean + self.scale * net(X).ravel()
            raw = self.mean + self.scale * y
            prefix = "" if part == "train" else "val_"
            for k, v in regression_scores(raw, pred).items():
                self.curves.setdefault(prefix + k, []).append(v)

    def on_epoch_end(self, state: TrainState) -> None:
        self.measure(state.net)


@dataclass
class Recording:
    """A training run with its first iterations traced.

    Attributes
    ----------
    recorder : RecordSteps
        The traces and where they were taken.
    history : History
        The run's per-epoch curves (after each epoch's updates).
    initial : dict
        ``loss``, ``accuracy`` (and ``val_loss``, ``val_accuracy``) before training,
        the curves' epoch 0.
    net : Sequential
        The trained network.
    split : Split
    settings : dict
        ``lr``, ``epochs``, ``batch_size``, ``seed``, ``activation``, ``hidden``.
    """

    recorder: RecordSteps
    history: History
    initial: dict
    net: Sequential
    split: Split
    settings: dict = field(default_factory=dict)
    x_raw: np.ndarray | None = None
    regression: RegressionCurves | None = None

    def curves(self) -> dict:
        """The learning curves for the page: epoch 0 (before training) onwards."""
        h = self.history
        out: dict = {
            "first_epoch": 0,
            "loss": [self.initial["loss"], *h.loss],
            "iterations_per_epoch": _iterations_per_epoch(
                len(self.split.y_train), self.settings["batch_size"]
            ),
        }
        if h.val_loss:
            out["val_loss"] = [self.initial["val_loss"], *h.val_loss]
        if self.regression is not None:  # R², MAE, RMSE instead of accuracy
            out.update(self.regression.curves)
            return out
        out["accuracy"] = [self.initial["accuracy"], *h.accuracy]
        if h.val_loss:
            out["val_accuracy"] = [self.initial["val_accuracy"], *h.val_accuracy]
        return out

    def steps(self) -> list[dict]:
        """Where each trace was taken: iteration, epoch, training rows, raw features."""
        r = self.recorder
        out = []
        for it, ep, rows in zip(r.iterations, r.epochs, r.batches):
            s = {"iteration": it, "epoch": ep, "batch": rows}
            if self.x_raw is not None:
                s["x_raw"] = self.x_raw[rows].tolist()
            out.append(s)
        return out

    def to_html(self, title: str | None = None) -> str:
        """The report page; see ``render_html``."""
        from retroprop.report.html import render_html

        ds = self.split.dataset
        s = self.settings
        meta = {
            "data": ds.name,
            "activation": s["activation"],
            "lr": s["lr"],
            "batch_size": s["batch_size"] or len(self.split.y_train),
            "epochs": self.history.epochs,
            "seed": s["seed"],
            "max_mismatch": self.recorder.max_mismatch,
        }
        class_names = ds.class_names
        if self.regression is not None:
            # the one output's name; its values un-standardised for the page
            class_names = [ds.target_name]
            meta.update(
                task="regression",
                target=ds.target_name,
                target_mean=self.regression.mean,
                target_scale=self.regression.scale,
            )
        return render_html(
            self.recorder.traces,
            self.net,
            class_names=class_names,
            feature_names=ds.feature_names,
            steps=self.steps(),
            history=self.curves(),
            meta=meta,
            title=title or f"retroprop: {ds.name}, step by step",
        )


MAX_REPORT_BYTES = 100_000_000
"""The largest report page ``record_training`` agrees to make (100 MB of HTML). A
page keeps every number of every recorded step, so it grows with the parameters
times the batch times the steps: a 784-256-128-10 network takes about 8 MB and
0.5 GB of memory per step; beyond this a browser cannot open the page anyway."""

BYTES_PER_PARAMETER = (420, 170)
"""``(a, b)``: one recorded step of a network with P parameters and batch size B
takes about ``P (a + b B)`` bytes of HTML (measured on 47 to 9,091 parameters,
batch sizes 1 to 16, by ``benchmarks/bench_reliability.py``; rounded up; ``a`` raised
from 350 when the trace began to carry each layer's formulas)."""

COMPACT_BYTES_PER_PARAMETER = (20, 34)
"""The same for networks of more than ``COMPACT_ABOVE`` parameters, whose steps are
stored by columns (measured: 35 to 44 bytes per parameter at batch size 1, 70 at 2,
131 at 4, on 4-64-32-3, 4-256-128-3 and 784-256-128-10 networks; rounded up)."""


def report_bytes(n_parameters: int, batch_size: int, steps: int) -> int:
    """The estimated size in bytes of a report page (``BYTES_PER_PARAMETER``, or
    ``COMPACT_BYTES_PER_PARAMETER`` above ``COMPACT_ABOVE`` parameters)."""
    compact = n_parameters > COMPACT_ABOVE
    a, b = COMPACT_BYTES_PER_PARAMETER if compact else BYTES_PER_PARAMETER
    return int(n_parameters * (a + b * batch_size) * steps)


def _check_report_size(
    net: Sequential, batch_size: int, steps: int, iterations: int
) -> None:
    from retroprop.errors import ConfigError

    recorded = min(steps, iterations)
    P = sum(p.data.size for p in net.parameters())
    size = report_bytes(P, batch_size, recorded)
    if size <= MAX_REPORT_BYTES:
        return
    per_step = report_bytes(P, batch_size, 1)
    fit = MAX_REPORT_BYTES // per_step
    arch = "-".join(str(v) for v in [net.in_features, *_widths(net)])
    what = (
        f"use --steps {fit} or fewer"
        if fit >= 1
        else "even one step is too large: use a smaller network or batch size"
    )
    raise ConfigError(
        f"a report of {recorded} steps of the {arch} network with batch size "
        f"{batch_size} would be about {size / 1e6:,.0f} MB of HTML "
        f"({per_step / 1e6:,.1f} MB a step: every number of every step is kept), "
        f"above the cap of {MAX_REPORT_BYTES / 1e6:.0f} MB; {what}"
    )


def _widths(net: Sequential) -> list[int]:
    from retroprop.engine.layers import Linear

    return [m.out_features for m in net if isinstance(m, Linear)]


def _iterations_per_epoch(n: int, batch_size: int | None) -> int:
    b = n if batch_size is None else batch_size
    return -(-n // b)


def record_training(
    data: str | os.PathLike | Dataset | None = None,
    target: str | None = None,
    *,
    test_size: float = LECTURE["test_size"],
    hidden: Sequence[int] = LECTURE["hidden"],
    activation: str = LECTURE["activation"],
    seed: int = LECTURE["seed"],
    lr: float = LECTURE["lr"],
    epochs: int = LECTURE["epochs"],
    batch_size: int | None = LECTURE["batch_size"],
    steps: int = 20,
    every: int = 1,
    start: int = 1,
    stop: int | None = None,
    callbacks: Iterable[Callback] = (),
) -> Recording:
    """Train as ``retroprop train`` does, tracing the first ``steps`` iterations.

    Same data preparation, network, seed and sample order as ``retroprop train`` with
    the same options (``prepare_data``, ``build_network``, ``rp.train`` with plain
    SGD); the test split is evaluated after every epoch for the curves, which does
    not change the training. A regression target (``Dataset.task``) trains as
    ``retroprop train`` does: the squared error on one linear output, the target
    standardised on the training part (``target_scaling``); the curves are then R²,
    MAE and RMSE in the target's units instead of accuracy.

    Parameters
    ----------
    data, target, test_size
        As ``prepare_data``: None is the bundled Iris, a ``Dataset`` is used as it is.
    hidden : tuple of int
    activation : str
    seed : int
    lr : float
    epochs : int
    batch_size : int or None
    steps : int
        Iterations to trace at most. A page estimated above ``MAX_REPORT_BYTES`` is
        refused before training (``ConfigError`` naming how many steps fit).
    every, start, stop : int
        Which iterations: ``start``, ``start + every``, ... up to ``stop`` (1-based,
        ``stop`` None: until ``steps`` are recorded or the run ends).
    callbacks : iterable of Callback
        More callbacks for ``train`` (e.g. a progress bar).

    Returns
    -------
    Recording
    """
    from retroprop.errors import ConfigError
    from retroprop.recipe import (
        build_network,
        prepare_data,
        target_scaling,
        training_loss,
    )
    from retroprop.train import train

    for name, value in (("steps", steps), ("every", every), ("start", start)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if stop is not None and (not isinstance(stop, (int, np.integer)) or stop < start):
        raise ConfigError(
            f"stop (--to) must be an iteration at or after start (--from, {start}), "
            f"got {stop!r}"
        )
    split = prepare_data(data, target, test_size=test_size, seed=seed)
    raw = prepare_data(data, target, test_size=test_size, seed=seed, standardize=False)
    net = build_network(split, tuple(hidden), activation, seed=seed)
    n = len(split.y_train)
    iterations = epochs * _iterations_per_epoch(n, batch_size)
    if start > iterations:
        raise ConfigError(
            f"start (--from) is iteration {start} but the run makes {iterations} iterations "
            f"({epochs} epochs of {_iterations_per_epoch(n, batch_size)}); give a "
            f"start of at most {iterations} or more epochs"
        )
    last = iterations if stop is None else min(stop, iterations)
    _check_report_size(
        net,
        min(n, batch_size or n),
        min(steps, (last - start) // every + 1),
        iterations,
    )
    loss = training_loss(split)
    y_train, y_test = split.y_train, split.y_test
    regression = None
    more: list[Callback] = []
    if loss == "mse":  # regression: the target standardised on train, as train does
        mean, scale = target_scaling(y_train)
        y_train, y_test = (y_train - mean) / scale, (y_test - mean) / scale
        parts = {"train": (split.X_train, y_train), "test": (split.X_test, y_test)}
        regression = RegressionCurves(parts, mean, scale)
        regression.measure(net)  # epoch 0, before training
        more.append(regression)
    initial = dict(
        zip(("loss", "accuracy"), evaluate(net, split.X_train, y_train, loss))
    )
    initial.update(
        zip(("val_loss", "val_accuracy"), evaluate(net, split.X_test, y_test, loss))
    )
    recorder = RecordSteps(
        split.X_train,
        y_train,
        lr,
        steps,
        loss=loss,
        every=every,
        start=start,
        stop=stop,
    )
    history = train(
        net,
        split.X_train,
        y_train,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        loss=loss,
        seed=seed,
        validation=(split.X_test, y_test),
        callbacks=[recorder, *more, *callbacks],
    )
    settings = {
        "lr": lr,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "activation": activation,
        "hidden": list(hidden),
        "every": every,
        "start": start,
    }
    return Recording(
        recorder, history, initial, net, split, settings, raw.X_train, regression
    )
