"""Weight initialisers: ``INITIALISERS`` maps each ``init=`` name to its function.

Every initialiser takes an explicit ``numpy.random.Generator`` (never global state)
and returns ``(W, b)`` with ``W`` of shape ``(fan_out, fan_in)`` and ``b`` of shape
``(fan_out,)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from retroprop.errors import ConfigError
from retroprop.i18n import _


def torch_uniform(
    rng: np.random.Generator, fan_in: int, fan_out: int, activation: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's ``nn.Linear`` default: ``W`` and ``b`` uniform in ``+-1/sqrt(fan_in)``.

    (``kaiming_uniform_(a=sqrt(5))`` on the weight reduces to this bound.)
    """
    bound = 1.0 / np.sqrt(fan_in) if fan_in > 0 else 0.0
    W = rng.uniform(-bound, bound, size=(fan_out, fan_in))
    b = rng.uniform(-bound, bound, size=fan_out)
    return W, b


def glorot_uniform(
    rng: np.random.Generator, fan_in: int, fan_out: int, activation: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's MLP rule: ``W`` and ``b`` uniform in ``+-sqrt(k/(fan_in+fan_out))``.

    ``k = 2`` when the network's hidden activation is the sigmoid, else ``k = 6``.
    """
    factor = 2.0 if activation == "sigmoid" else 6.0
    bound = np.sqrt(factor / (fan_in + fan_out))
    W = rng.uniform(-bound, bound, size=(fan_out, fan_in))
    b = rng.uniform(-bound, bound, size=fan_out)
    return W, b


Initialiser = Callable[..., "tuple[np.ndarray, np.ndarray]"]

INITIALISERS: dict[str, Initialiser] = {
    "torch": torch_uniform,
    "glorot": glorot_uniform,
}
"""Initialiser name -> function. The keys are the allowed ``init=`` values."""


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """An int seed, an existing Generator, or None (fresh entropy) -> a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ConfigError(
            _(
                "seed must be a non-negative integer, a numpy.random.Generator or None, "
                "got {seed!r}"
            ).format(seed=seed)
        )
    return np.random.default_rng(seed)
