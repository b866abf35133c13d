"""Same network, same data, many random initialisations: the same minimum?

``seed_study`` trains ``make_net(seed)`` for every seed with ``retroprop.train_many``
(member i equals ``retroprop.train`` with that seed), then compares the trained
parameter vectors pairwise, as they are and after aligning each pair's hidden
neurons (``retroprop.experiments.align``: a network is the same function when two
hidden neurons swap places, or, for sigmoid and tanh, when a neuron changes sign).
Runs whose aligned parameters lie within a tolerance of each other are counted as
one minimum (groups linked by such pairs); runs whose final loss is clearly above
the best one are counted as worse. These are the direct answers to the lecture's
questions, which ``SeedsResult.same_minimum`` and ``SeedsResult.global_minimum`` give
as ``Answer``s with their numbers: do two trainings reach the same minimum (yes when
every run that did not diverge is in one minimum), and is a global minimum
guaranteed (never: a finite set of runs cannot show that its best is the global
minimum; the number of clearly worse runs shows how often a start leads elsewhere).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retroprop.engine.activations import Activation
from retroprop.engine.layers import Sequential
from retroprop.errors import ConfigError
from retroprop.experiments.align import (
    distance,
    distances_via_reference,
    linear_names,
    pairwise_distances,
)
from retroprop.experiments.result import Answer, Result
from retroprop.i18n import N_, Message, _
from retroprop.jsondata import plain

MAX_SEEDS = 2_000
"""The most runs one study compares: its result holds N x N distance matrices (two
of them, 8 N^2 bytes each: 64 MB at 2,000, 400 MB at 5,000) and its JSON lists
every entry; training grows linearly, the comparison quadratically."""

PAIRWISE_MAX = 200
"""Up to this many runs every pair is aligned on its own (``align``, about 0.3 ms a
pair); above it, every run is aligned once to the run with the lowest loss and the
aligned vectors are compared all at once (linear in alignments, one vectorised
distance matrix), which is how n = 2,000 takes seconds instead of ten minutes."""


@dataclass
class SeedsResult(Result):
    """What ``seed_study`` measured.

    Attributes
    ----------
    seeds : ndarray of shape (N,)
    loss, accuracy : ndarray of shape (N, epochs)
        Training loss and accuracy after each epoch (NaN after a divergence).
    final_loss, final_accuracy : ndarray of shape (N,)
    test_accuracy : ndarray of shape (N,) or None
        On held-out data, when given.
    diverged : bool ndarray of shape (N,)
    norms : ndarray of shape (N,)
        ``||w||`` of each run's parameter vector.
    raw_distance, aligned_distance : ndarray of shape (N, N)
        ``||w_i - w_j||`` as trained and after aligning j's hidden neurons to i's
        (NaN for diverged runs).
    tolerance : float
        Two runs are at the same minimum when their aligned distance is below
        ``tolerance`` times the mean of their norms.
    minimum : int ndarray of shape (N,)
        Which minimum each run is in (0..n_minima-1, numbered by loss), -1 if it
        diverged.
    minima : list of dict
        Per minimum: ``runs``, ``best_loss``, ``mean_loss``, ``mean_accuracy``.
    worse_by : float
        A run is clearly worse when its final loss exceeds ``best_loss + worse_by``.
    best_loss : float
    n_minima, n_worse : int
    closest_aligned : float
        The smallest relative aligned distance of any two runs.
    train_seconds : float
        Wall time of the training (``retroprop.train_many``).
    settings : dict
        Epochs, eta, batch size, activation.

    The answers to the lecture's questions are the properties ``same_minimum`` and
    ``global_minimum`` (``Answer``s, also in ``to_dict()["answers"]``).
    """

    caption = N_("Seed study: one network from many random starts")

    seeds: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    final_loss: np.ndarray
    final_accuracy: np.ndarray
    test_accuracy: np.ndarray | None
    diverged: np.ndarray
    norms: np.ndarray
    raw_distance: np.ndarray
    aligned_distance: np.ndarray
    tolerance: float
    minimum: np.ndarray
    minima: list[dict]
    worse_by: float
    best_loss: float
    n_minima: int
    n_worse: int
    closest_aligned: float
    train_seconds: float
    settings: dict = field(default_factory=dict)

    @property
    def n_compared(self) -> int:
        """Runs that did not diverge: the ones compared."""
        return int(np.sum(~self.diverged))

    @property
    def spread(self) -> dict[str, list[float]]:
        """``[min, median, max]`` over the runs that did not diverge, per quantity:
        ``final_loss``, ``final_accuracy``, ``test_accuracy`` (when measured),
        ``raw_distance`` and ``aligned_distance`` (over pairs of runs), ``norm``.
        Empty when fewer than two runs are left."""
        ok = ~self.diverged
        if ok.sum() < 2:
            return {}
        iu = np.triu_indices(int(ok.sum()), 1)
        values = {
            "final_loss": self.final_loss[ok],
            "final_accuracy": self.final_accuracy[ok],
            "test_accuracy": None
            if self.test_accuracy is None
            else self.test_accuracy[ok],
            "raw_distance": self.raw_distance[np.ix_(ok, ok)][iu],
            "aligned_distance": self.aligned_distance[np.ix_(ok, ok)][iu],
            "norm": self.norms[ok],
        }
        return {
            k: [float(q) for q in np.percentile(v, [0, 50, 100])]
            for k, v in values.items()
            if v is not None
        }

    @property
    def same_minimum(self) -> Answer:
        """Do two trainings from different random starts reach the same minimum?

        "yes" when every run that did not diverge lies in one minimum (aligned
        distances chained below ``tolerance``), "no" when there are several, "cannot
        tell" with fewer than two runs left to compare.
        """
        n, ok = len(self.seeds), self.n_compared
        numbers = {
            "runs": n,
            "compared": ok,
            "diverged": n - ok,
            "distinct_minima": self.n_minima,
            "tolerance": self.tolerance,
            "closest_aligned": self.closest_aligned,
        }
        question = N_("Do two trainings reach the same minimum?")
        if ok < 2:
            return Answer(
                question,
                N_("cannot tell"),
                Message(
                    N_(
                        "{diverged} of {n} runs diverged: too few left to compare; "
                        "try a smaller learning rate"
                    ),
                    diverged=n - ok,
                    n=n,
                ),
                numbers,
            )
        because = (
            N_(
                "{k} distinct minimum among {ok} runs (two runs share one when their "
                "aligned distance is below {tolerance} x their parameter norm; the "
                "closest pair is at {closest})"
            )
            if self.n_minima == 1
            else N_(
                "{k} distinct minima among {ok} runs (two runs share one when their "
                "aligned distance is below {tolerance} x their parameter norm; the "
                "closest pair is at {closest})"
            )
        )
        return Answer(
            question,
            N_("yes") if self.n_minima == 1 else N_("no"),
            Message(
                because,
                k=self.n_minima,
                ok=ok,
                tolerance=f"{self.tolerance:g}",
                closest=f"{self.closest_aligned:.3f}",
            ),
            numbers,
        )

    @property
    def global_minimum(self) -> Answer:
        """Is a global minimum guaranteed? Never "yes": gradient descent follows the
        slope down from its start, and no number of runs shows that the best one
        found is the lowest there is. The numbers say how many runs ended clearly
        worse than the best (final loss above ``best_loss + worse_by``)."""
        ok = self.n_compared
        numbers = {
            "compared": ok,
            "clearly_worse": self.n_worse,
            "best_loss": self.best_loss,
            "worse_by": self.worse_by,
        }
        question = N_("Is a global minimum guaranteed?")
        if ok == 0:
            return Answer(
                question,
                N_("cannot tell"),
                Message(
                    N_("all {n} runs diverged; try a smaller learning rate"),
                    n=len(self.seeds),
                ),
                numbers,
            )
        # the lecture's answer is no: descent stops at the minimum below its start
        because = (
            N_(
                "{worse} of {ok} runs ended clearly worse (final loss above the "
                "best, {best}, + {by}): each start leads gradient descent down into "
                "its own local minimum, and nothing guarantees that any of them is "
                "the global one"
            )
            if self.n_worse
            else N_(
                "{worse} of {ok} runs ended clearly worse (final loss above the "
                "best, {best}, + {by}): they agree, yet gradient descent only goes "
                "down the slope from where it starts, so nothing guarantees that the "
                "minimum it reaches is the global one"
            )
        )
        return Answer(
            question,
            N_("not guaranteed"),
            Message(
                because,
                worse=self.n_worse,
                ok=ok,
                best=f"{self.best_loss:.4f}",
                by=f"{self.worse_by:g}",
            ),
            numbers,
        )

    def display_tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        """The spread over the runs and the lowest minima found."""
        names = {
            "final_loss": N_("final training loss"),
            "final_accuracy": N_("final training accuracy"),
            "test_accuracy": N_("test accuracy"),
            "raw_distance": N_("distance between runs, as trained"),
            "aligned_distance": N_("distance between runs, aligned"),
            "norm": N_("parameter norm ||w||"),
        }
        spread = self.spread
        out: list[tuple[str, list[str], list[list[Any]]]] = [
            (
                Message(N_("Spread over {n} runs"), n=len(self.seeds)),
                ["", N_("min"), N_("median"), N_("max")],
                [[names.get(k, k), *v] for k, v in spread.items()],
            )
        ]
        if self.minima:
            out.append(
                (
                    N_("The lowest minima found"),
                    [
                        N_("minimum"),
                        N_("runs"),
                        N_("best loss"),
                        N_("mean loss"),
                        N_("mean accuracy"),
                    ],
                    [
                        [
                            i,
                            m["runs"],
                            m["best_loss"],
                            m["mean_loss"],
                            m["mean_accuracy"],
                        ]
                        for i, m in enumerate(self.minima[:5])
                    ],
                )
            )
        return out

    def to_dict(self) -> dict:
        """The fields, plus ``spread`` and ``answers`` (``same_minimum`` and
        ``global_minimum``)."""
        return {
            **super().to_dict(),
            "spread": self.spread,
            "answers": {
                "same_minimum": plain(self.same_minimum),
                "global_minimum": plain(self.global_minimum),
            },
        }

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [
            [
                "seed",
                "final_loss",
                "final_accuracy",
                "test_accuracy",
                "diverged",
                "norm",
                "minimum",
                "clearly_worse",
            ]
        ]
        for i, s in enumerate(self.seeds):
            test = None if self.test_accuracy is None else float(self.test_accuracy[i])
            worse = bool(self.final_loss[i] > self.best_loss + self.worse_by)
            rows.append(
                [
                    int(s),
                    float(self.final_loss[i]),
                    float(self.final_accuracy[i]),
                    test,
                    bool(self.diverged[i]),
                    float(self.norms[i]),
                    int(self.minimum[i]),
                    worse,
                ]
            )
        return rows


def group_minima(
    aligned: np.ndarray, norms: np.ndarray, tolerance: float, ok: np.ndarray
) -> np.ndarray:
    """Label runs linked by a relative aligned distance below ``tolerance``.

    Single linkage: i and j share a label when a chain of runs, each within the
    tolerance of the next, joins them. Returns labels of shape (N,), -1 where not ok.
    """
    n = len(norms)
    labels = np.full(n, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        close = (aligned / (0.5 * (norms[:, None] + norms[None, :]))) < tolerance
    current = 0
    for start in np.flatnonzero(ok):
        if labels[start] >= 0:
            continue
        stack = [start]
        labels[start] = current
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(close[i] & ok & (labels < 0)):
                labels[j] = current
                stack.append(j)
        current += 1
    return labels


def _hidden_activation(net: Sequential) -> str | None:
    names = {m.name for m in net if isinstance(m, Activation)}
    return names.pop() if len(names) == 1 else None


def seed_study(
    make_net: Callable[[int], Sequential],
    X: np.ndarray,
    y: np.ndarray,
    *,
    seeds=range(100),
    epochs: int = 100,
    lr: float = 0.05,
    batch_size: int | None = 1,
    loss: str = "cross_entropy",
    tolerance: float = 0.1,
    worse_by: float = 0.05,
    test: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    client: Any = None,
) -> SeedsResult:
    """Train one network from many initialisations and compare where they end.

    Parameters
    ----------
    make_net : callable
        ``make_net(seed)`` -> a fresh Sequential; the same architecture every time.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    seeds : iterable of int
        At least two.
    epochs, lr, batch_size, loss
        As ``retroprop.train``.
    tolerance : float
        Relative aligned distance under which two runs count as one minimum.
    worse_by : float
        Loss margin above the best run that counts as clearly worse.
    test : (X_test, y_test) or None
        Also measure each run's accuracy there.
    progress : callable or None
        ``progress(stage, done, total)``; on a cluster the "training" stage counts
        networks, after each block of seeds.
    client : dask.distributed.Client or None
        Train on the cluster's workers (``retroprop.fast.distributed``); the result is
        bit-identical to a local run.

    Returns
    -------
    SeedsResult
    """
    import retroprop as rp

    seeds = np.array([int(s) for s in seeds], dtype=np.int64)
    if len(seeds) < 2:
        raise ConfigError(
            _("a seed study needs at least two seeds, got {n_seeds}").format(
                n_seeds=len(seeds)
            )
        )
    if len(seeds) > MAX_SEEDS:
        raise ConfigError(
            _(
                "a seed study compares at most {MAX_SEEDS:,} runs, got {n_seeds:,}: its "
                "N x N distance matrices grow with the square of N (8 N^2 bytes each); "
                "study fewer seeds"
            ).format(MAX_SEEDS=MAX_SEEDS, n_seeds=len(seeds))
        )
    if len(np.unique(seeds)) != len(seeds):
        raise ConfigError(_("the seeds must be different from each other"))
    if not tolerance > 0 or not worse_by > 0:
        raise ConfigError(
            _(
                "tolerance and worse_by must be positive, got {tolerance} and {worse_by}"
            ).format(tolerance=tolerance, worse_by=worse_by)
        )

    def report(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    report("training", 0, 1)
    t0 = time.perf_counter()
    many = rp.train_many(
        make_net,
        X,
        y,
        seeds=seeds,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        loss=loss,
        client=client,
        progress=None
        if client is None
        else lambda done, total: report("training", done, total),
    )
    train_seconds = time.perf_counter() - t0
    report("training", 1, 1)
    n = len(seeds)
    ok = ~many.diverged
    params = [{k: v[i] for k, v in many.params.items()} for i in range(n)]
    template = many.net(0)
    layers = linear_names(template)
    activation = _hidden_activation(template)
    # a diverged run keeps its last finite, possibly huge, parameters: leave it out
    idx = np.flatnonzero(ok)
    kept = [params[i] for i in idx]
    norms = np.full(n, np.nan)
    norms[idx] = [
        distance(p, {k: np.zeros_like(v) for k, v in p.items()}) for p in kept
    ]
    raw, aligned = np.full((n, n), np.nan), np.full((n, n), np.nan)
    if len(kept):
        raw[np.ix_(idx, idx)] = pairwise_distances(kept)
        aligning = lambda d, t: report("aligning", d, t)  # noqa: E731
        if len(kept) <= PAIRWISE_MAX:
            aligned[np.ix_(idx, idx)] = pairwise_distances(
                kept, layers, activation, progress=aligning
            )
        else:
            reference = int(np.argmin(many.loss[idx, -1])) if epochs else 0
            aligned[np.ix_(idx, idx)] = distances_via_reference(
                kept, reference, layers, activation, progress=aligning
            )
    final_loss = (
        np.array(
            [
                row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan
                for row in many.loss
            ]
        )
        if epochs
        else np.full(n, np.nan)
    )
    final_loss = np.where(ok, final_loss, np.nan)
    final_acc = np.where(ok, many.accuracy[:, -1] if epochs else np.nan, np.nan)
    test_acc = None
    if test is not None:
        test_acc = np.array(
            [
                rp.evaluate(many.net(i), *test, loss)[1] if ok[i] else np.nan
                for i in range(n)
            ]
        )
    labels = group_minima(aligned, norms, tolerance, ok)
    # number the minima by their best loss, lowest first
    best_of = {
        lab: np.min(final_loss[labels == lab]) for lab in np.unique(labels) if lab >= 0
    }
    order = sorted(best_of, key=lambda lab: best_of[lab])
    relabel = {old: new for new, old in enumerate(order)}
    labels = np.array([relabel.get(lab, -1) for lab in labels])
    minima = []
    for lab in range(len(order)):
        m = labels == lab
        minima.append(
            {
                "runs": int(m.sum()),
                "best_loss": float(final_loss[m].min()),
                "mean_loss": float(final_loss[m].mean()),
                "mean_accuracy": float(final_acc[m].mean()),
            }
        )
    best = float(np.nanmin(final_loss)) if ok.any() else float("nan")
    n_worse = int(np.sum(final_loss[ok] > best + worse_by))
    iu = np.triu_indices(n, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = (aligned / (0.5 * (norms[:, None] + norms[None, :])))[iu]
    closest = float(np.nanmin(rel)) if np.isfinite(rel).any() else float("nan")
    act = activation or "mixed"
    return SeedsResult(
        seeds=seeds,
        loss=many.loss,
        accuracy=many.accuracy,
        final_loss=final_loss,
        final_accuracy=final_acc,
        test_accuracy=test_acc,
        diverged=many.diverged.copy(),
        norms=norms,
        raw_distance=raw,
        aligned_distance=aligned,
        tolerance=tolerance,
        minimum=labels,
        minima=minima,
        worse_by=worse_by,
        best_loss=best,
        n_minima=len(minima),
        n_worse=n_worse,
        closest_aligned=closest,
        train_seconds=train_seconds,
        settings={
            "epochs": int(epochs),
            "lr": float(lr),
            "batch_size": batch_size,
            "loss": loss,
            "activation": act,
            "engine": many.engine,
            "alignment": "pairwise"
            if len(idx) <= PAIRWISE_MAX
            else "to the lowest-loss run",
        },
    )
