"""Optimisers. ``SGD`` is ``torch.optim.SGD``'s update, equation for equation."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from retroprop.engine.layers import Parameter
from retroprop.errors import ConfigError, DivergenceError
from retroprop.i18n import _


class SGD:
    """Stochastic gradient descent, the lecture's ``w <- w - eta * dL/dw``.

    With momentum, dampening, weight decay and Nesterov it follows
    ``torch.optim.SGD`` exactly: for each parameter ``w`` with gradient ``g``::

        g = g + weight_decay * w
        if momentum:
            buf = g                                   (first step)
            buf = momentum * buf + (1 - dampening) * g (later steps)
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g

    A step that would make any parameter non-finite is refused as a whole: no
    parameter changes and ``DivergenceError`` is raised.
    """

    name = "sgd"

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.05,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        for what, v in (
            ("lr", lr),
            ("momentum", momentum),
            ("dampening", dampening),
            ("weight_decay", weight_decay),
        ):
            # Any real number (NumPy's included) but not a bool: momentum=True is a slip.
            if (
                not isinstance(v, numbers.Real)
                or isinstance(v, (bool, np.bool_))
                or not np.isfinite(v)
                or v < 0
            ):
                raise ConfigError(
                    _("SGD {what} must be a finite number >= 0, got {v!r}").format(
                        what=what, v=v
                    )
                )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ConfigError(
                _(
                    "Nesterov momentum requires momentum > 0 and dampening = 0, got "
                    "momentum={momentum!r}, dampening={dampening!r}"
                ).format(momentum=momentum, dampening=dampening)
            )
        self.params = list(params)
        self.lr, self.momentum, self.dampening = (
            float(lr),
            float(momentum),
            float(dampening),
        )
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)
        self.momentum_buffers: list[np.ndarray | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to None, as torch's default."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        new_values: list[np.ndarray | None] = []
        new_buffers: list[np.ndarray | None] = []
        for p, buf in zip(self.params, self.momentum_buffers):
            if p.grad is None:
                new_values.append(None)
                new_buffers.append(buf)
                continue
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                buf = (
                    g.copy()
                    if buf is None
                    else (self.momentum * buf + (1.0 - self.dampening) * g)
                )
                g = g + self.momentum * buf if self.nesterov else buf
            new_values.append(p.data - self.lr * g)
            new_buffers.append(buf)
        # Commit only when every new value is finite, so a diverging step never
        # overwrites the last good parameters.
        for v in new_values:
            if v is not None and not np.isfinite(v).all():
                raise DivergenceError(
                    _(
                        "the update with lr={lr:g} made a parameter non-finite; the parameters "
                        "were left as they were"
                    ).format(lr=self.lr),
                    epoch=0,
                    iteration=0,
                    lr=self.lr,
                )
        for p, v in zip(self.params, new_values):
            if v is not None:
                p.data = v
        self.momentum_buffers = new_buffers

    def state_dict(self) -> dict:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "weight_decay": self.weight_decay,
            "nesterov": self.nesterov,
            "momentum_buffers": [
                None if b is None else b.copy() for b in self.momentum_buffers
            ],
        }


OPTIMIZERS: dict[str, type] = {"sgd": SGD}
"""Optimiser name -> class. The keys are the allowed ``optimizer=`` values."""
