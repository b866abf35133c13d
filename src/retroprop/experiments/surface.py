"""The loss around trained networks: along a line between two, on a plane around one.

``interpolate`` evaluates the loss at ``(1 - alpha) theta_a + alpha theta_b``: a bump
between ``alpha = 0`` and ``1`` is a barrier, so the two trainings ended in different
valleys. ``filter_normalised_directions`` draws random directions scaled neuron by
neuron to the trained weights (Li et al., "Visualizing the Loss Landscape of Neural
Nets", 2018), so that a step of 1 along them is comparable for every layer; ``plane``
evaluates the loss on ``theta + a d1 + b d2``. Every loss is the engine's own
(``retroprop.evaluate``) on a copy of the network.

``SurfaceResult.same_valley`` answers whether the two trainings ended in the same
valley: no when the line between them, hidden neurons aligned, rises more than
``BARRIER_RELATIVE`` (a tenth) of the larger final loss plus ``BARRIER_ABSOLUTE``
above the straight chord joining its ends.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from retroprop.engine.init import as_generator
from retroprop.engine.layers import Linear, Sequential
from retroprop.errors import ConfigError
from retroprop.experiments.align import align, linear_names
from retroprop.experiments.result import Answer, Result
from retroprop.i18n import N_, Message, _
from retroprop.jsondata import plain
from retroprop.train import evaluate, train

Params = dict[str, np.ndarray]

BARRIER_RELATIVE = 0.1
"""A barrier counts when it is above this fraction of the larger final loss..."""
BARRIER_ABSOLUTE = 1e-3
"""... plus this, so that two losses near 0 do not make any wiggle a barrier."""


def _loss_at(
    template: Sequential, params: Params, X, y, loss: str
) -> tuple[float, float]:
    template.load_state_dict(params)
    with np.errstate(over="ignore", invalid="ignore"):
        return evaluate(template, X, y, loss)


@dataclass
class LineSurface(Result):
    """The loss along the segment between two parameter sets.

    Attributes
    ----------
    alpha : ndarray of shape (n_points,)
        0 is the first network, 1 the second.
    loss, accuracy : ndarray of shape (n_points,)
    barrier : float
        ``max_alpha [L(alpha) - ((1 - alpha) L(0) + alpha L(1))]``: how far the loss
        rises above the straight line joining the ends (0 when there is no bump).
    """

    caption = N_("The loss along the line between two trained networks")

    alpha: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray

    @property
    def barrier(self) -> float:
        chord = (1 - self.alpha) * self.loss[0] + self.alpha * self.loss[-1]
        return float(max(0.0, np.max(self.loss - chord)))

    def to_dict(self) -> dict:
        return {**super().to_dict(), "barrier": self.barrier}

    def csv_rows(self) -> list[list[Any]]:
        return [["alpha", "loss", "accuracy"]] + [
            [float(a), float(v), float(c)]
            for a, v, c in zip(self.alpha, self.loss, self.accuracy)
        ]


def interpolate(
    template: Sequential,
    a: Params,
    b: Params,
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_points: int = 41,
    loss: str = "cross_entropy",
) -> LineSurface:
    """The loss at ``(1 - alpha) a + alpha b`` for ``alpha`` in ``[0, 1]``.

    Parameters
    ----------
    template : Sequential
        A network of the architecture of ``a`` and ``b`` (it is not changed).
    a, b : dict of str -> ndarray
        Two ``state_dict()``s.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    n_points : int
        Points on the segment, ends included (at least 2).
    loss : str

    Returns
    -------
    LineSurface
    """
    if n_points < 2:
        raise ConfigError(
            _("n_points must be at least 2, got {n_points}").format(n_points=n_points)
        )
    net = copy.deepcopy(template)
    alpha = np.linspace(0.0, 1.0, n_points)
    losses, accs = [], []
    for t in alpha:
        point = {k: (1.0 - t) * a[k] + t * b[k] for k in a}
        lv, av = _loss_at(net, point, X, y, loss)
        losses.append(lv)
        accs.append(av)
    return LineSurface(alpha=alpha, loss=np.array(losses), accuracy=np.array(accs))


def filter_normalised_directions(
    net: Sequential, seed: int | np.random.Generator | None = 0
) -> Params:
    """A random direction shaped like the parameters, filter-normalised (Li et al.).

    Each weight matrix gets Gaussian entries, then every row (one neuron's incoming
    weights, the "filter" of a fully connected layer) is rescaled to the norm of the
    same row of the trained ``W``: ``d_i <- d_i / ||d_i|| * ||W_i||``. Bias directions
    are zero, as in Li et al.'s default (they ignore biases).

    Returns
    -------
    dict of str -> ndarray
        Same names and shapes as ``net.state_dict()``.
    """
    rng = as_generator(seed)
    out = {}
    for i, m in enumerate(net):
        if not isinstance(m, Linear):
            continue
        W = m.weight.data.astype(np.float64)
        d = rng.standard_normal(W.shape)
        row_norm = np.linalg.norm(d, axis=1, keepdims=True)
        out[net.parameter_name(i, "weight")] = (
            d / row_norm * np.linalg.norm(W, axis=1, keepdims=True)
        )
        if m.bias is not None:
            out[net.parameter_name(i, "bias")] = np.zeros(m.bias.data.shape)
    return out


@dataclass
class PlaneSurface(Result):
    """The loss on ``theta + a d1 + b d2`` over a grid of ``(a, b)``.

    Attributes
    ----------
    a, b : ndarray of shape (resolution,)
    loss, accuracy : ndarray of shape (resolution, resolution)
        ``loss[i, j]`` at ``(a[j], b[i])``; the trained point is ``a = b = 0``.
    center_loss : float
    """

    caption = N_("The loss on a plane through the parameters")

    a: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    center_loss: float

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [["a", "b", "loss", "accuracy"]]
        for i, bv in enumerate(self.b):
            for j, av in enumerate(self.a):
                rows.append(
                    [
                        float(av),
                        float(bv),
                        float(self.loss[i, j]),
                        float(self.accuracy[i, j]),
                    ]
                )
        return rows


def plane(
    net: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    d1: Params,
    d2: Params,
    *,
    span: float = 1.0,
    resolution: int = 25,
    loss: str = "cross_entropy",
) -> PlaneSurface:
    """The loss on a ``resolution x resolution`` grid of ``theta + a d1 + b d2``.

    ``a`` and ``b`` run over ``[-span, span]``; ``theta`` is ``net``'s parameters
    (``net`` is not changed).
    """
    if resolution < 2:
        raise ConfigError(
            _("resolution must be at least 2, got {resolution}").format(
                resolution=resolution
            )
        )
    if not span > 0:
        raise ConfigError(_("span must be positive, got {span}").format(span=span))
    theta = net.state_dict()
    work = copy.deepcopy(net)
    grid = np.linspace(-span, span, resolution)
    L = np.empty((resolution, resolution))
    A = np.empty((resolution, resolution))
    for i, bv in enumerate(grid):
        for j, av in enumerate(grid):
            point = {k: theta[k] + av * d1[k] + bv * d2[k] for k in theta}
            L[i, j], A[i, j] = _loss_at(work, point, X, y, loss)
    center = _loss_at(work, theta, X, y, loss)[0]
    return PlaneSurface(a=grid, b=grid.copy(), loss=L, accuracy=A, center_loss=center)


@dataclass
class SurfaceResult(Result):
    """``retroprop surface``: two trained networks, the line between, a plane around.

    Attributes
    ----------
    seeds : (int, int)
        Seeds of the two trainings (initial weights and sample order).
    final_loss : (float, float)
        Their training losses.
    line : LineSurface
        Between the two as trained.
    aligned_line : LineSurface
        Between the first and the second with its hidden neurons aligned to the first.
    plane : PlaneSurface
        Around the first, along two filter-normalised random directions.

    The answer, ``same_valley``, and what it rests on (``barrier_threshold``,
    ``has_barrier``) are properties, also in ``to_dict()``.
    """

    caption = N_(
        "Loss surface: two trained networks, the line between them, a plane around"
    )

    seeds: tuple[int, int]
    final_loss: tuple[float, float]
    line: LineSurface
    aligned_line: LineSurface
    plane: PlaneSurface

    def display_tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        """The loss along the line between the two networks, as trained and aligned."""
        rows = [
            [name, ln.loss[0], ln.loss[-1], np.max(ln.loss), ln.barrier]
            for name, ln in (
                (N_("as trained"), self.line),
                (N_("hidden neurons aligned"), self.aligned_line),
            )
        ]
        return [
            (
                Message(
                    N_(
                        "Along the line (1 - alpha) w_a + alpha w_b (seeds {a} and {b})"
                    ),
                    a=self.seeds[0],
                    b=self.seeds[1],
                ),
                ["", "L(0)", "L(1)", N_("max L"), N_("barrier")],
                rows,
            )
        ]

    @property
    def barrier_threshold(self) -> float:
        """``BARRIER_RELATIVE * max(final_loss) + BARRIER_ABSOLUTE``."""
        return BARRIER_RELATIVE * max(self.final_loss) + BARRIER_ABSOLUTE

    @property
    def has_barrier(self) -> bool:
        """Whether the aligned line's barrier is above ``barrier_threshold``.

        After alignment, so that two copies of one network with hidden neurons
        swapped (the same function) do not count as two valleys.
        """
        return bool(self.aligned_line.barrier > self.barrier_threshold)

    @property
    def same_valley(self) -> Answer:
        """Do the two trainings end in the same valley of the loss?"""
        barrier, limit = self.aligned_line.barrier, self.barrier_threshold
        numbers = {
            "barrier": self.line.barrier,
            "aligned_barrier": barrier,
            "threshold": limit,
            "final_loss": list(self.final_loss),
        }
        rule = {
            "barrier": f"{barrier:.4f}",
            "relative": f"{BARRIER_RELATIVE:g}",
            "absolute": f"{BARRIER_ABSOLUTE:g}",
            "limit": f"{limit:.4f}",
        }
        if self.has_barrier:
            return Answer(
                N_("Do the two trainings end in the same valley?"),
                N_("no"),
                Message(
                    N_(
                        "a barrier separates them: different valleys (barrier after "
                        "alignment {barrier}; a barrier counts above {relative} x the "
                        "larger final loss + {absolute} = {limit})"
                    ),
                    **rule,
                ),
                numbers,
            )
        return Answer(
            N_("Do the two trainings end in the same valley?"),
            N_("yes"),
            Message(
                N_(
                    "no barrier: the straight line stays low (barrier after alignment "
                    "{barrier}; a barrier counts above {relative} x the larger final "
                    "loss + {absolute} = {limit})"
                ),
                **rule,
            ),
            numbers,
        )

    def to_dict(self) -> dict:
        """The fields, plus ``barrier_threshold``, ``has_barrier``, ``same_valley``."""
        return {
            **super().to_dict(),
            "barrier_threshold": self.barrier_threshold,
            "has_barrier": self.has_barrier,
            "same_valley": plain(self.same_valley),
        }

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [["kind", "alpha_or_a", "b", "loss", "accuracy"]]
        for kind, ln in (("line", self.line), ("aligned_line", self.aligned_line)):
            rows += [[kind, *r[:1], "", *r[1:]] for r in ln.csv_rows()[1:]]
        rows += [["plane", *r] for r in self.plane.csv_rows()[1:]]
        return rows


def loss_surface(
    make_net: Callable[[int], Sequential],
    X: np.ndarray,
    y: np.ndarray,
    *,
    seeds: tuple[int, int] = (1, 2),
    epochs: int = 100,
    lr: float = 0.05,
    batch_size: int | None = 1,
    n_points: int = 41,
    span: float = 1.0,
    resolution: int = 25,
    direction_seed: int = 0,
    loss: str = "cross_entropy",
    progress=None,
) -> SurfaceResult:
    """Train two networks and measure the loss between and around them.

    Parameters
    ----------
    make_net : callable
        ``make_net(seed)`` -> a fresh Sequential.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    seeds : (int, int)
        The two trainings' seeds (``make_net(seed)`` and ``train(..., seed=seed)``).
    epochs, lr, batch_size
        Training settings, as ``retroprop.train``.
    n_points : int
        Points on each line.
    span, resolution : float, int
        The plane covers ``[-span, span]^2`` with ``resolution^2`` points.
    direction_seed : int
        Randomness of the two directions.
    progress : callable or None
        ``progress(stage: str)`` called as each stage starts.

    Returns
    -------
    SurfaceResult
    """

    def stage(name: str) -> None:
        if progress is not None:
            progress(name)

    s1, s2 = (int(s) for s in seeds)
    nets = []
    for s in (s1, s2):
        stage(f"training seed {s}")
        net = make_net(s)
        train(net, X, y, epochs=epochs, lr=lr, batch_size=batch_size, loss=loss, seed=s)
        nets.append(net)
    a, b = nets[0].state_dict(), nets[1].state_dict()
    stage("line between the two")
    line = interpolate(nets[0], a, b, X, y, n_points=n_points, loss=loss)
    aligned = interpolate(
        nets[0],
        a,
        align(a, b, linear_names(nets[0])),
        X,
        y,
        n_points=n_points,
        loss=loss,
    )
    stage("plane around the first")
    rng = as_generator(direction_seed)
    d1 = filter_normalised_directions(nets[0], rng)
    d2 = filter_normalised_directions(nets[0], rng)
    surf = plane(nets[0], X, y, d1, d2, span=span, resolution=resolution, loss=loss)
    return SurfaceResult(
        seeds=(s1, s2),
        final_loss=(float(line.loss[0]), float(line.loss[-1])),
        line=line,
        aligned_line=aligned,
        plane=surf,
    )
