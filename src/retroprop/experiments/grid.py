"""A class-wide study: every learning rate eta x every hidden-layer shape x N seeds.

``grid_study`` trains ``make_net(hidden, seed)`` for every cell (eta, hidden) of the
grid and every seed, with ``retroprop.train_many``: all cells at once on a Dask
cluster when a client is given (``retroprop.fast.distributed``), one after the other here
otherwise, with the same numbers either way. Each hidden shape's row of cells is a
learning-rate sweep, so every cell gets the sweep's verdict (converged, too slow,
bouncing, diverged: ``retroprop.experiments.sweep``) judged the same way; the grid
adds the spread over the seeds (mean, min and max of the final loss and of the test
accuracy) and two verdicts of its own: the best cell (highest mean test accuracy, or
lowest mean final loss without test data, among the cells where no run diverged) and
the cells where a run diverged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.errors import ConfigError
from retroprop.experiments.result import Result
from retroprop.experiments.sweep import SweepResult, run_status
from retroprop.fast.distributed import train_cells
from retroprop.i18n import N_, _
from retroprop.jsondata import plain
from retroprop.train import evaluate


@dataclass
class GridResult(Result):
    """What ``grid_study`` measured, per (eta, hidden shape, seed).

    Attributes
    ----------
    lrs : list of float, n_lr of them
    hidden : list of list of int, n_hidden of them
        The hidden layer sizes of each architecture.
    seeds : list of int, n_seeds of them
        The same seeds in every cell.
    initial_loss : ndarray of shape (n_hidden, n_seeds)
        Training loss of each untrained network.
    loss, accuracy : ndarray of shape (n_lr, n_hidden, n_seeds, epochs)
        Training loss and accuracy after each epoch; NaN from a non-finite
        divergence on.
    final_loss, final_accuracy : ndarray of shape (n_lr, n_hidden, n_seeds)
    test_accuracy : ndarray of shape (n_lr, n_hidden, n_seeds) or None
        On held-out data, when given (NaN for a non-finite run).
    status : ndarray of str, shape (n_lr, n_hidden, n_seeds)
        One of ``retroprop.experiments.sweep.STATUSES``.
    diverged : bool ndarray of shape (n_lr, n_hidden, n_seeds)
        ``status != "ok"``.
    settings : dict

    The per-cell numbers (``mean_final_loss``, ``min_test_accuracy``, ...), the
    verdict per cell, ``best_cell`` and ``diverged_cells`` are properties, also in
    ``to_dict()``.
    """

    caption = N_("Grid study: every eta, hidden layers and seed")

    lrs: list[float]
    hidden: list[list[int]]
    seeds: list[int]
    initial_loss: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    final_loss: np.ndarray
    final_accuracy: np.ndarray
    test_accuracy: np.ndarray | None
    status: np.ndarray
    diverged: np.ndarray
    settings: dict = field(default_factory=dict)

    def sweep(self, h: int) -> SweepResult:
        """The row of hidden shape ``h`` as a learning-rate sweep (its verdicts)."""
        return SweepResult(
            lrs=self.lrs,
            seeds=self.seeds,
            initial_loss=self.initial_loss[h],
            loss=self.loss[:, h],
            accuracy=self.accuracy[:, h],
            final_loss=self.final_loss[:, h],
            final_accuracy=self.final_accuracy[:, h],
            status=self.status[:, h],
            diverged=self.diverged[:, h],
            settings=self.settings,
        )

    @property
    def verdict(self) -> list[list[str]]:
        """``[lr][hidden]``: the learning-rate sweep's verdict of each cell."""
        rows = [self.sweep(h).verdict for h in range(len(self.hidden))]
        return [
            [rows[h][i] for h in range(len(self.hidden))] for i in range(len(self.lrs))
        ]

    def _stat(self, values: np.ndarray | None, how: str) -> np.ndarray | None:
        """``how`` ("mean", "min", "max") over the seeds that stayed finite, shape
        (n_lr, n_hidden); NaN for a cell with none."""
        if values is None:
            return None
        finite = np.isfinite(values)
        fill = {"mean": 0.0, "min": np.inf, "max": -np.inf}[how]
        kept = np.where(finite, values, fill)
        count = finite.sum(axis=2)
        if how == "mean":
            out = kept.sum(axis=2) / np.maximum(count, 1)
        else:
            out = getattr(kept, how)(axis=2)
        return np.where(count > 0, out, np.nan)

    @property
    def mean_final_loss(self) -> np.ndarray:
        """Final training loss per cell, mean over the finite runs; (n_lr, n_hidden)."""
        return self._stat(self.final_loss, "mean")  # type: ignore[return-value]

    @property
    def min_final_loss(self) -> np.ndarray:
        return self._stat(self.final_loss, "min")  # type: ignore[return-value]

    @property
    def max_final_loss(self) -> np.ndarray:
        return self._stat(self.final_loss, "max")  # type: ignore[return-value]

    @property
    def mean_final_accuracy(self) -> np.ndarray:
        """Final training accuracy per cell, mean over the finite runs."""
        return self._stat(self.final_accuracy, "mean")  # type: ignore[return-value]

    @property
    def mean_test_accuracy(self) -> np.ndarray | None:
        """Test accuracy per cell, mean over the finite runs; None without test data."""
        return self._stat(self.test_accuracy, "mean")

    @property
    def min_test_accuracy(self) -> np.ndarray | None:
        return self._stat(self.test_accuracy, "min")

    @property
    def max_test_accuracy(self) -> np.ndarray | None:
        return self._stat(self.test_accuracy, "max")

    @property
    def n_diverged(self) -> np.ndarray:
        """Diverged runs per cell, int array of shape (n_lr, n_hidden)."""
        return self.diverged.sum(axis=2)

    @property
    def best_cell(self) -> dict[str, Any] | None:
        """The cell with the highest mean test accuracy (lowest mean final loss
        without test data; ties go to the lower loss, then the first cell) among the
        cells where no run diverged; None when every cell has a diverged run."""
        acc = self.mean_test_accuracy
        best, key = None, None
        for i in range(len(self.lrs)):
            for h in range(len(self.hidden)):
                if self.n_diverged[i, h]:
                    continue
                loss = float(self.mean_final_loss[i, h])
                k = (-float(acc[i, h]), loss) if acc is not None else (loss,)
                if key is None or k < key:
                    best, key = (i, h), k
        if best is None:
            return None
        i, h = best
        return {
            "lr": self.lrs[i],
            "hidden": self.hidden[h],
            "mean_final_loss": float(self.mean_final_loss[i, h]),
            "mean_test_accuracy": None if acc is None else float(acc[i, h]),
            "verdict": self.verdict[i][h],
        }

    @property
    def diverged_cells(self) -> list[dict[str, Any]]:
        """The cells where at least one run diverged: eta, hidden, how many, how."""
        out = []
        for i in range(len(self.lrs)):
            for h in range(len(self.hidden)):
                bad = self.diverged[i, h]
                if bad.any():
                    out.append(
                        {
                            "lr": self.lrs[i],
                            "hidden": self.hidden[h],
                            "n_diverged": int(bad.sum()),
                            "kinds": sorted({str(s) for s in self.status[i, h][bad]}),
                        }
                    )
        return out

    def to_dict(self) -> dict:
        """The fields, plus the per-cell spread, the verdicts and the best cell."""
        return {
            **super().to_dict(),
            "mean_final_loss": plain(self.mean_final_loss),
            "min_final_loss": plain(self.min_final_loss),
            "max_final_loss": plain(self.max_final_loss),
            "mean_final_accuracy": plain(self.mean_final_accuracy),
            "mean_test_accuracy": plain(self.mean_test_accuracy),
            "min_test_accuracy": plain(self.min_test_accuracy),
            "max_test_accuracy": plain(self.max_test_accuracy),
            "n_diverged": plain(self.n_diverged),
            "verdict": self.verdict,
            "best_cell": self.best_cell,
            "diverged_cells": self.diverged_cells,
        }

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [
            [
                "lr",
                "hidden",
                "seed",
                "final_loss",
                "final_accuracy",
                "test_accuracy",
                "status",
            ]
        ]
        for i, lr in enumerate(self.lrs):
            for h, sizes in enumerate(self.hidden):
                for j, s in enumerate(self.seeds):
                    test = (
                        None
                        if self.test_accuracy is None
                        else float(self.test_accuracy[i, h, j])
                    )
                    rows.append(
                        [
                            lr,
                            hidden_label(sizes),
                            s,
                            float(self.final_loss[i, h, j]),
                            float(self.final_accuracy[i, h, j]),
                            test,
                            str(self.status[i, h, j]),
                        ]
                    )
        return rows


def hidden_label(sizes: Sequence[int]) -> str:
    """``[4, 3]`` -> ``"4,3"``; no hidden layer -> ``"none"`` (as ``--hidden`` reads)."""
    return ",".join(map(str, sizes)) if len(sizes) else "none"


def grid_study(
    make_net: Callable[[tuple[int, ...], int], Sequential],
    X: np.ndarray,
    y: np.ndarray,
    *,
    lrs: Sequence[float] = (0.01, 0.05, 0.1),
    hidden: Sequence[Sequence[int]] = ((4, 3),),
    seeds: Sequence[int] = range(10),
    epochs: int = 100,
    batch_size: int | None = 1,
    loss: str = "cross_entropy",
    test: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Callable[[int, int], None] | None = None,
    client: Any = None,
) -> GridResult:
    """Train every (eta, hidden shape) cell from every seed.

    Parameters
    ----------
    make_net : callable
        ``make_net(hidden, seed)`` -> a fresh Sequential with those hidden layer
        sizes, e.g. ``lambda h, s: rp.mlp([4, *h, 3], seed=s)``.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    lrs : sequence of float
        Positive learning rates.
    hidden : sequence of sequence of int
        The hidden layer sizes of each architecture (``()``: no hidden layer).
    seeds : sequence of int
        The same seeds (initial weights and sample order) in every cell.
    epochs, batch_size, loss
        As ``retroprop.train``.
    test : (X_test, y_test) or None
        Also measure each run's accuracy there.
    progress : callable or None
        ``progress(done, total)`` in networks trained, after each cell (or, on a
        cluster, after each block of seeds).
    client : dask.distributed.Client or None
        Train on the cluster's workers, every cell at once; the result is
        bit-identical to a local run.

    Returns
    -------
    GridResult
    """
    import functools

    import retroprop as rp

    lrs = [float(v) for v in lrs]
    shapes = [tuple(int(n) for n in h) for h in hidden]
    seeds = [int(s) for s in seeds]
    if not lrs or any(not np.isfinite(v) or v <= 0 for v in lrs):
        raise ConfigError(
            _("learning rates must be positive numbers, got {lrs}").format(lrs=lrs)
        )
    if not shapes or any(n < 1 for h in shapes for n in h):
        raise ConfigError(
            _(
                "hidden must hold at least one shape of positive sizes, got {shapes}"
            ).format(shapes=shapes)
        )
    if len(set(shapes)) != len(shapes) or len(set(lrs)) != len(lrs):
        raise ConfigError(
            _("each learning rate and each hidden shape must appear once")
        )
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(_("give at least one seed, each once"))
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(
            _("epochs must be a positive integer, got {epochs!r}").format(epochs=epochs)
        )
    # One make_net(seed) per shape; a partial pickles for the cluster's workers.
    factories = [functools.partial(make_net, h) for h in shapes]
    initial = np.array(
        [[evaluate(f(s), X, y, loss)[0] for s in seeds] for f in factories]
    )
    cells = [
        {
            "make_net": factories[h],
            "X": X,
            "y": y,
            "seeds": seeds,
            "epochs": epochs,
            "lr": lr,
            "batch_size": batch_size,
            "loss": loss,
        }
        for lr in lrs
        for h in range(len(shapes))
    ]
    runs = train_cells(rp.train_many, cells, client=client, progress=progress)
    n_lr, n_h, n_s = len(lrs), len(shapes), len(seeds)
    L = np.full((n_lr, n_h, n_s, epochs), np.nan)
    A = np.full_like(L, np.nan)
    status = np.full((n_lr, n_h, n_s), "ok", dtype=object)
    test_acc = None if test is None else np.full((n_lr, n_h, n_s), np.nan)
    for c, many in enumerate(runs):
        i, h = divmod(c, n_h)
        L[i, h], A[i, h] = many.loss, many.accuracy
        status[i, h] = run_status(many)
        if test is not None and test_acc is not None:
            for j in np.flatnonzero(~many.diverged):
                test_acc[i, h, j] = rp.evaluate(many.net(j), *test, loss)[1]
    status = status.astype(str)
    return GridResult(
        lrs=lrs,
        hidden=[list(h) for h in shapes],
        seeds=seeds,
        initial_loss=initial,
        loss=L,
        accuracy=A,
        final_loss=L[..., -1].copy(),
        final_accuracy=A[..., -1].copy(),
        test_accuracy=test_acc,
        status=status,
        diverged=status != "ok",
        settings={
            "epochs": int(epochs),
            "batch_size": batch_size,
            "loss": loss,
            "engine": runs[0].engine,
        },
    )
