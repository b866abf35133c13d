"""The activation functions and their derivatives on a range: the lecture's exercise.

The lecture asks to plot the sigmoid between -10 and +10 and explains why the step
cannot be trained. ``activation_curves`` evaluates the engine's own activations (the
forward pass and the derivative backpropagation uses), so the picture shows exactly
what training multiplies by. The step's derivative is 0 wherever it exists; at 0 the
function jumps and has none, which ``jumps`` records for the plot to mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retroprop.engine.activations import ACTIVATIONS
from retroprop.errors import ConfigError
from retroprop.experiments.result import Result
from retroprop.i18n import N_, Message, _
from retroprop.jsondata import plain

DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "relu", "step")


@dataclass
class ActivationCurves(Result):
    """``f`` and ``f'`` of several activations on one grid.

    Attributes
    ----------
    x : ndarray of shape (n_points,)
    values, derivatives : dict of str -> ndarray of shape (n_points,)
        ``f(x)`` and ``f'(x)`` per activation name. For the step, ``f'`` is 0
        everywhere on the grid: the value it has wherever it is defined.
    jumps : dict of str -> list of float
        Where a function is discontinuous (no derivative): ``{"step": [0.0]}``.
    """

    caption = N_("Activation functions f and their derivatives f\u2032 on one grid")

    x: np.ndarray
    values: dict[str, np.ndarray]
    derivatives: dict[str, np.ndarray]
    jumps: dict[str, list[float]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.values)

    @property
    def summary(self) -> list[dict[str, Any]]:
        """Per activation: ``f`` at both ends and at 0 (NaN when 0 is off the grid,
        linearly interpolated otherwise), the largest ``f'``, where it jumps, and
        whether backpropagation can train it (``trainable``: no jump)."""
        lo, hi = float(self.x[0]), float(self.x[-1])
        rows = []
        for name in self.names:
            f, d = self.values[name], self.derivatives[name]
            jumps = self.jumps.get(name, [])
            rows.append(
                {
                    "name": name,
                    "f_low": float(f[0]),
                    "f_zero": float(np.interp(0.0, self.x, f))
                    if lo <= 0.0 <= hi
                    else float("nan"),
                    "f_high": float(f[-1]),
                    "max_derivative": float(np.max(d)),
                    "jumps": list(jumps),
                    "trainable": name not in self.jumps,
                }
            )
        return rows

    def display_tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        """Each activation's values at the ends and at 0, and its largest slope."""
        rows = [
            [
                r["name"],
                r["f_low"],
                r["f_zero"],
                r["f_high"],
                r["max_derivative"],
                "" if r["trainable"] else N_("jumps at 0; f' = 0 elsewhere"),
            ]
            for r in self.summary
        ]
        lo, hi = float(self.x[0]), float(self.x[-1])
        return [
            (
                Message(
                    N_(
                        "Activations on [{low}, {high}] (retroprop.plots.plot_activations "
                        "draws them)"
                    ),
                    low=f"{lo:g}",
                    high=f"{hi:g}",
                ),
                ["f", "f(low)", "f(0)", "f(high)", "max f'", N_("note")],
                rows,
            )
        ]

    def to_dict(self) -> dict:
        """The fields, plus ``summary``."""
        return {**super().to_dict(), "summary": plain(self.summary)}

    def csv_rows(self) -> list[list[Any]]:
        header: list[Any] = ["x"]
        for name in self.names:
            header += [name, f"d{name}/dx"]
        rows: list[list[Any]] = [header]
        for i, xi in enumerate(self.x):
            row = [float(xi)]
            for name in self.names:
                row += [float(self.values[name][i]), float(self.derivatives[name][i])]
            rows.append(row)
        return rows


def activation_curves(
    names=DEFAULT_ACTIVATIONS,
    x_range: tuple[float, float] = (-10, 10),
    n_points: int = 1001,
) -> ActivationCurves:
    """Evaluate activations and their derivatives on ``n_points`` between ``x_range``.

    Parameters
    ----------
    names : sequence of str
        Keys of ``retroprop.ACTIVATIONS``.
    x_range : (low, high)
        The interval, ``low < high``.
    n_points : int
        Grid size (at least 3).

    Returns
    -------
    ActivationCurves
    """
    names = list(names)
    for name in names:
        if name not in ACTIVATIONS:
            raise ConfigError(
                _("activation must be one of {ACTIVATIONS}, got {name!r}").format(
                    ACTIVATIONS=sorted(ACTIVATIONS), name=name
                )
            )
    lo, hi = (float(v) for v in x_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ConfigError(
            _("range must be two finite numbers low < high, got {x_range}").format(
                x_range=x_range
            )
        )
    if not np.isfinite(hi - lo):  # the points are spaced by (hi - lo) / (n - 1)
        raise ConfigError(
            _(
                "range {lo:g},{hi:g} is too wide: high - low overflows float64 (above "
                "1.8e308); narrow it"
            ).format(lo=lo, hi=hi)
        )
    if n_points < 3:
        raise ConfigError(
            _("n_points must be at least 3, got {n_points}").format(n_points=n_points)
        )
    x = np.linspace(lo, hi, n_points)
    z = x.reshape(-1, 1)  # the engine's batch-first shape: n samples, one neuron
    values, derivatives, jumps = {}, {}, {}
    for name in names:
        module = ACTIVATIONS[name]()
        values[name] = module.forward(z).ravel()
        if module.differentiable:
            derivatives[name] = module.derivative().ravel()
        else:
            # The step: flat on both sides, so f' = 0 wherever it exists; at 0 it
            # jumps from 0 to 1 and has no derivative. Backpropagation would multiply
            # every delta by this 0: no gradient reaches the weights below.
            derivatives[name] = np.zeros_like(x)
            jumps[name] = [0.0] if lo <= 0.0 <= hi else []
    return ActivationCurves(x=x, values=values, derivatives=derivatives, jumps=jumps)
