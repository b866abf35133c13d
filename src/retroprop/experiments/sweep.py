"""How the learning rate eta influences the minimisation: a sweep over eta.

For each eta, ``lr_sweep`` trains the same networks (one per seed) with
``retroprop.train_many`` and keeps the loss per epoch. A run is flagged as diverged,
never a crash, when its loss became non-finite (``train_many`` freezes it) or when its
mean loss over the last tenth of the epochs is above the loss it started from (eta so
large that the steps overshoot instead of descending).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.errors import ConfigError
from retroprop.experiments.result import Result
from retroprop.train import evaluate

STATUSES = ("ok", "growing", "non-finite")
"""Per run: trained; loss ended (last tenth of the epochs) above where it started;
loss or weights overflowed."""


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
    """

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

    def csv_rows(self) -> list[list]:
        rows = [["lr", "seed", "epoch", "loss", "accuracy", "status"]]
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

    def to_dict(self) -> dict:
        from retroprop.experiments.result import plain

        return {**super().to_dict(), "jitter": plain(self.jitter)}

    def best_lr(self) -> float | None:
        """The eta with the lowest mean final loss among those with no diverged run."""
        good = [i for i in range(len(self.lrs)) if not self.diverged[i].any()]
        if not good:
            return None
        return self.lrs[min(good, key=lambda i: float(np.mean(self.final_loss[i])))]


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
        ``progress(done, total)`` after each eta.

    Returns
    -------
    SweepResult
    """
    import retroprop as rp

    lrs = [float(v) for v in lrs]
    seeds = [int(s) for s in seeds]
    if not lrs or any(not np.isfinite(v) or v <= 0 for v in lrs):
        raise ConfigError(f"learning rates must be positive numbers, got {lrs}")
    if not seeds:
        raise ConfigError("at least one seed is needed")
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    initial = np.array([evaluate(make_net(s), X, y, loss)[0] for s in seeds])
    shape = (len(lrs), len(seeds), epochs)
    L, A = np.full(shape, np.nan), np.full(shape, np.nan)
    status = np.full((len(lrs), len(seeds)), "ok", dtype=object)
    tail = max(1, epochs // 10)  # judge growth on the last tenth, not one noisy epoch
    for i, lr in enumerate(lrs):
        many = rp.train_many(
            make_net,
            X,
            y,
            seeds=seeds,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            loss=loss,
        )
        L[i], A[i] = many.loss, many.accuracy
        for j in range(len(seeds)):
            if many.diverged[j]:
                status[i, j] = "non-finite"
            elif np.mean(many.loss[j, -tail:]) > initial[j]:
                status[i, j] = "growing"
        if progress is not None:
            progress(i + 1, len(lrs))
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
