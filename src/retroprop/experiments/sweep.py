"""How the learning rate eta influences the minimisation: a sweep over eta.

For each eta, ``lr_sweep`` trains the same networks (one per seed) with
``retroprop.train_many`` and keeps the loss per epoch. A run is flagged as diverged,
never a crash, by the definition ``retroprop.train`` raises on
(``retroprop.training.divergence``): its loss became non-finite (``train_many``
freezes it), or it ended far above where it started and above chance (eta so large
that the steps overshoot instead of descending), or the network died (its outputs no
longer depend on the input).

Each eta then gets one verdict (``SweepResult.verdict``), judged in this order on the
mean over its seeds:

- "diverged": at least one run diverged (its status is not "ok");
- "too slow": the final loss is above ``TOO_SLOW`` (half) of the initial loss: the
  descent has not got far in the epochs given (eta too small, or so large that the
  steps stall without growing);
- "bouncing": the jitter, std / mean of the loss over the last tenth of the epochs,
  is above ``BOUNCING`` (0.5): the steps overshoot back and forth;
- "converged": otherwise: the loss fell below half and settled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.errors import ConfigError
from retroprop.experiments.result import Result
from retroprop.fast.distributed import train_cells
from retroprop.i18n import N_, Message, _
from retroprop.jsondata import plain
from retroprop.train import evaluate

STATUSES = ("ok", "growing", "dead", "non-finite")
"""Per run: trained; loss ended far above where it started; outputs no longer depend
on the input; loss or weights overflowed (``retroprop.training.divergence.KINDS``)."""

VERDICTS = (N_("converged"), N_("too slow"), N_("bouncing"), N_("diverged"))
"""Per eta, see the module docstring for how each is decided."""

TOO_SLOW = 0.5
"""An eta is "too slow" when its mean final loss is above this fraction of the mean
initial loss."""

BOUNCING = 0.5
"""An eta is "bouncing" when its mean jitter (std / mean of the loss over the last
tenth of the epochs) is above this."""


@dataclass
class SweepResult(Result):
    """Loss curves and final accuracy for every (eta, seed).

    Attributes
    ----------
    lrs : list of float, n_lr of them
    seeds : list of int, n_seeds of them
    initial_loss : ndarray of shape (n_seeds,)
        Loss of each seed's untrained network.
    loss, accuracy : ndarray of shape (n_lr, n_seeds, epochs)
        After each epoch; NaN from a non-finite divergence on.
    final_loss, final_accuracy : ndarray of shape (n_lr, n_seeds)
        After the last epoch (NaN for a non-finite run).
    status : ndarray of str, shape (n_lr, n_seeds)
        One of ``STATUSES``.
    diverged : bool ndarray of shape (n_lr, n_seeds)
        ``status != "ok"``.
    settings : dict

    The verdict per eta and the numbers it is judged on are properties (``verdict``,
    ``loss_ratio``, ``mean_jitter``, ``n_diverged``, ...), also in ``to_dict()``.
    """

    caption = N_(
        "Learning-rate sweep: loss curves and final accuracy for every eta and seed"
    )

    lrs: list[float]
    seeds: list[int]
    initial_loss: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    final_loss: np.ndarray
    final_accuracy: np.ndarray
    status: np.ndarray
    diverged: np.ndarray
    settings: dict = field(default_factory=dict)

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [["lr", "seed", "epoch", "loss", "accuracy", "status"]]
        for i, lr in enumerate(self.lrs):
            for j, s in enumerate(self.seeds):
                for e in range(self.loss.shape[2]):
                    rows.append(
                        [
                            lr,
                            s,
                            e + 1,
                            float(self.loss[i, j, e]),
                            float(self.accuracy[i, j, e]),
                            str(self.status[i, j]),
                        ]
                    )
        return rows

    @property
    def jitter(self) -> np.ndarray:
        """Std / mean of each run's loss over the last tenth of the epochs.

        Shape (n_lr, n_seeds); near 0 for a run that settled, large for one whose
        steps overshoot back and forth. NaN for a non-finite run.
        """
        tail = self.loss[:, :, -max(1, self.loss.shape[2] // 10) :]
        with np.errstate(invalid="ignore", divide="ignore"):
            return tail.std(axis=2) / tail.mean(axis=2)

    @property
    def n_diverged(self) -> np.ndarray:
        """Diverged runs per eta, int array of shape (n_lr,)."""
        return self.diverged.sum(axis=1)

    @property
    def divergence_kinds(self) -> list[list[str]]:
        """Per eta, the sorted distinct statuses of its diverged runs
        (``"growing"``, ``"dead"``, ``"non-finite"``); empty when none diverged."""
        return [
            sorted({str(s) for s in self.status[i][self.diverged[i]]})
            for i in range(len(self.lrs))
        ]

    @property
    def mean_final_loss(self) -> np.ndarray:
        """Final loss per eta, mean over the seeds that stayed finite; shape (n_lr,)."""
        return _nanmean_rows(self.final_loss)

    @property
    def mean_final_accuracy(self) -> np.ndarray:
        """Final accuracy per eta, mean over the seeds that stayed finite."""
        return _nanmean_rows(self.final_accuracy)

    @property
    def mean_jitter(self) -> np.ndarray:
        """``jitter`` per eta, mean over the seeds that stayed finite."""
        return _nanmean_rows(self.jitter)

    @property
    def loss_ratio(self) -> np.ndarray:
        """``mean_final_loss / mean(initial_loss)`` per eta: below 1 the loss fell."""
        return self.mean_final_loss / float(np.mean(self.initial_loss))

    @property
    def verdict(self) -> list[str]:
        """One of ``VERDICTS`` per eta (see the module docstring)."""
        out = []
        for i in range(len(self.lrs)):
            if self.n_diverged[i]:
                out.append("diverged")
            elif not self.loss_ratio[i] <= TOO_SLOW:
                out.append("too slow")
            elif self.mean_jitter[i] > BOUNCING:
                out.append("bouncing")
            else:
                out.append("converged")
        return out

    def to_dict(self) -> dict:
        """The fields, plus the verdict per eta and the numbers it rests on."""
        return {
            **super().to_dict(),
            "jitter": plain(self.jitter),
            "mean_final_loss": plain(self.mean_final_loss),
            "mean_final_accuracy": plain(self.mean_final_accuracy),
            "mean_jitter": plain(self.mean_jitter),
            "loss_ratio": plain(self.loss_ratio),
            "n_diverged": plain(self.n_diverged),
            "divergence_kinds": self.divergence_kinds,
            "verdict": self.verdict,
            "thresholds": {"too_slow": TOO_SLOW, "bouncing": BOUNCING},
            "best_lr": self.best_lr(),
        }

    def display_tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        """The verdict per eta, with the means over the seeds it rests on."""
        rows = []
        for i, lr in enumerate(self.lrs):
            verdict = self.verdict[i]
            if verdict == "diverged":
                verdict = Message(
                    N_("diverged ({kinds})"), kinds=", ".join(self.divergence_kinds[i])
                )
            rows.append(
                [
                    lr,
                    self.mean_final_loss[i],
                    self.loss_ratio[i],
                    self.mean_jitter[i],
                    self.mean_final_accuracy[i],
                    f"{self.n_diverged[i]}/{len(self.seeds)}",
                    verdict,
                ]
            )
        headers = [
            "η",
            N_("loss"),
            N_("L / L(start)"),
            N_("jitter"),
            N_("accuracy"),
            N_("diverged"),
            N_("verdict"),
        ]
        caption = Message(
            N_("Final training loss and accuracy per η (mean over {n} seeds)"),
            n=len(self.seeds),
        )
        return [(caption, headers, rows)]

    def best_lr(self) -> float | None:
        """The eta with the lowest mean final loss among those with no diverged run."""
        good = [i for i in range(len(self.lrs)) if not self.diverged[i].any()]
        if not good:
            return None
        return self.lrs[min(good, key=lambda i: float(np.mean(self.final_loss[i])))]


def run_status(many) -> np.ndarray:
    """One of ``STATUSES`` per run of a ``ManyResult``: "ok", or the kind of
    divergence ``retroprop.training.divergence`` found (the one definition ``train``
    raises on)."""
    status = np.full(len(many.diverged), "ok", dtype=object)
    status[many.diverged] = many.divergence[many.diverged]
    return status


def _nanmean_rows(a: np.ndarray) -> np.ndarray:
    """Mean of each row over its finite entries; NaN for a row with none."""
    finite = np.isfinite(a)
    total = np.where(finite, a, 0.0).sum(axis=1)
    count = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def lr_sweep(
    make_net: Callable[[int], Sequential],
    X: np.ndarray,
    y: np.ndarray,
    *,
    lrs=(0.001, 0.01, 0.05, 0.5, 2.0, 10.0),
    seeds=(1, 2, 3),
    epochs: int = 100,
    batch_size: int | None = 1,
    loss: str = "cross_entropy",
    progress: Callable[[int, int], None] | None = None,
    client: Any = None,
) -> SweepResult:
    """Train ``make_net(seed)`` for every eta in ``lrs`` and every seed.

    Parameters
    ----------
    make_net : callable
        ``make_net(seed)`` -> a fresh Sequential.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    lrs : sequence of float
        Positive learning rates.
    seeds : sequence of int
        The same seeds (initial weights and sample order) at every eta.
    epochs, batch_size, loss
        As ``retroprop.train``.
    progress : callable or None
        ``progress(done, total)`` in networks trained, after each eta (or, on a
        cluster, after each block of seeds).
    client : dask.distributed.Client or None
        Train on the cluster's workers (``retroprop.fast.distributed``), every eta at
        once; the result is bit-identical to a local run.

    Returns
    -------
    SweepResult
    """
    import retroprop as rp

    lrs = [float(v) for v in lrs]
    seeds = [int(s) for s in seeds]
    if not lrs or any(not np.isfinite(v) or v <= 0 for v in lrs):
        raise ConfigError(
            _("learning rates must be positive numbers, got {lrs}").format(lrs=lrs)
        )
    if not seeds:
        raise ConfigError(_("at least one seed is needed"))
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(
            _("epochs must be a positive integer, got {epochs!r}").format(epochs=epochs)
        )
    initial = np.array([evaluate(make_net(s), X, y, loss)[0] for s in seeds])
    shape = (len(lrs), len(seeds), epochs)
    L, A = np.full(shape, np.nan), np.full(shape, np.nan)
    status = np.full((len(lrs), len(seeds)), "ok", dtype=object)
    cells = [
        {
            "make_net": make_net,
            "X": X,
            "y": y,
            "seeds": seeds,
            "epochs": epochs,
            "lr": lr,
            "batch_size": batch_size,
            "loss": loss,
        }
        for lr in lrs
    ]
    runs = train_cells(rp.train_many, cells, client=client, progress=progress)
    for i, many in enumerate(runs):
        L[i], A[i] = many.loss, many.accuracy
        status[i] = run_status(many)
    status = status.astype(str)
    return SweepResult(
        lrs=lrs,
        seeds=seeds,
        initial_loss=initial,
        loss=L,
        accuracy=A,
        final_loss=L[:, :, -1].copy(),
        final_accuracy=A[:, :, -1].copy(),
        status=status,
        diverged=status != "ok",
        settings={"epochs": int(epochs), "batch_size": batch_size, "loss": loss},
    )
