"""The activation functions and their derivatives on a range: the lecture's exercise.

The lecture asks to plot the sigmoid between -10 and +10 and explains why the step
cannot be trained. ``activation_curves`` evaluates the engine's own activations (the
forward pass and the derivative backpropagation uses), so the picture shows exactly
what training multiplies by. The step's derivative is 0 wherever it exists; at 0 the
function jumps and has none, which ``jumps`` records for the plot to mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retroprop.engine.activations import ACTIVATIONS
from retroprop.errors import ConfigError
from retroprop.experiments.result import Result

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

    x: np.ndarray
    values: dict[str, np.ndarray]
    derivatives: dict[str, np.ndarray]
    jumps: dict[str, list[float]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.values)

    def csv_rows(self) -> list[list]:
        header = ["x"]
        for name in self.names:
            header += [name, f"d{name}/dx"]
        rows = [header]
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
                f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}"
            )
    lo, hi = (float(v) for v in x_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ConfigError(f"range must be two finite numbers low < high, got {x_range}")
    if n_points < 3:
        raise ConfigError(f"n_points must be at least 3, got {n_points}")
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
