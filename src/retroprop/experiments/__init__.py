"""Experiments that answer the lecture's questions; each returns a plain result.

- ``activation_curves``: the activations and their derivatives (why not the step).
- ``descent_demo``: gradient descent on a one-variable curve for several eta.
- ``lr_sweep``: how eta influences the minimisation of a network.
- ``grid_study``: every eta x hidden shape x seed, the class-wide study.
- ``seed_study``: many initialisations; distinct minima after aligning neurons.
- ``loss_surface``: the loss between two trained networks and around one.
- ``decision_boundary``: a trained network's decision regions on two features.

Every result has ``to_dict``, ``to_json``, ``write_json`` and ``write_csv``; the
pictures are drawn by ``retroprop.plots``.
"""

from retroprop.experiments.activations import ActivationCurves, activation_curves
from retroprop.experiments.align import (
    align,
    distance,
    linear_names,
    pairwise_distances,
)
from retroprop.experiments.boundary import DecisionBoundary, decision_boundary
from retroprop.experiments.descent import (
    DEFAULT_FUNCTION,
    FUNCTIONS,
    DescentDemo,
    DescentRun,
    descent_demo,
    gradient_descent,
    parse_function,
)
from retroprop.experiments.grid import GridResult, grid_study
from retroprop.experiments.seeds import SeedsResult, seed_study
from retroprop.experiments.surface import (
    LineSurface,
    PlaneSurface,
    SurfaceResult,
    filter_normalised_directions,
    interpolate,
    loss_surface,
    plane,
)
from retroprop.experiments.sweep import SweepResult, lr_sweep

__all__ = [
    "DEFAULT_FUNCTION",
    "FUNCTIONS",
    "ActivationCurves",
    "DecisionBoundary",
    "DescentDemo",
    "DescentRun",
    "GridResult",
    "LineSurface",
    "PlaneSurface",
    "SeedsResult",
    "SurfaceResult",
    "SweepResult",
    "activation_curves",
    "align",
    "decision_boundary",
    "descent_demo",
    "distance",
    "filter_normalised_directions",
    "gradient_descent",
    "grid_study",
    "interpolate",
    "linear_names",
    "loss_surface",
    "lr_sweep",
    "pairwise_distances",
    "parse_function",
    "plane",
    "seed_study",
]
