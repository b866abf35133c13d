"""Activation functions, each with its derivative right beside it.

A function ``f`` and its derivative ``f_prime`` are paired; derivatives are written in
terms of what the forward pass already computed (the input ``z`` and the output
``a = f(z)``), as the lecture does for the sigmoid: ``sigmoid'(z) = a (1 - a)``.

``ACTIVATIONS`` maps the names used by the command line, ``mlp`` and the estimator to
the module classes; its keys are the allowed values everywhere.
"""

from __future__ import annotations

import numpy as np

from retroprop.engine.layers import Module
from retroprop.errors import NotDifferentiableError


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^-z)``, computed without overflow for any finite ``z``.

    ``e^-|z|`` never overflows; for ``z >= 0`` the usual form is used, for ``z < 0``
    the equivalent ``e^z / (1 + e^z)``. ``sigmoid(1e4)`` is exactly 1 and
    ``sigmoid(-1e4)`` exactly 0.
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def sigmoid_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``sigmoid'(z) = a (1 - a)``."""
    return a * (1.0 - a)


def tanh(z: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(z)


def tanh_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``tanh'(z) = 1 - a^2``."""
    return 1.0 - a * a


def relu(z: np.ndarray) -> np.ndarray:
    """``max(z, 0)``."""
    return np.maximum(z, 0.0).astype(z.dtype, copy=False)


def relu_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """1 where ``z > 0``, else 0 (0 at ``z = 0``, as PyTorch)."""
    return (z > 0).astype(z.dtype)


def identity(z: np.ndarray) -> np.ndarray:
    """``z`` itself."""
    return z


def identity_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """1 everywhere."""
    return np.ones_like(z)


def step(z: np.ndarray) -> np.ndarray:
    """The Heaviside step: 1 where ``z >= 0``, else 0."""
    return (z >= 0).astype(z.dtype)


class Activation(Module):
    """An element-wise ``a = f(z)``; backward multiplies by ``f'(z)``.

    Subclasses set ``name``, ``f`` and ``f_prime`` (as staticmethods).
    """

    name: str = ""
    differentiable = True

    def forward(self, z: np.ndarray) -> np.ndarray:
        """``a = f(z)``; caches ``z`` and ``a`` for ``backward``. Shapes: ``(n, k)``."""
        a = type(self).f(z)
        self.z, self.a = z, a
        return a

    def backward(self, grad_a: np.ndarray) -> np.ndarray:
        """Chain rule through ``f``: ``dL/dz = dL/da * f'(z)``, shape ``(n, k)``."""
        return grad_a * type(self).f_prime(self.z, self.a)

    def derivative(self) -> np.ndarray:
        """``f'(z)`` at the cached forward pass, shape ``(n, k)``."""
        return type(self).f_prime(self.z, self.a)

    def config(self) -> dict:
        return {"type": "activation", "name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """Logistic sigmoid, the lecture's smooth step."""

    name = "sigmoid"
    f = staticmethod(sigmoid)
    f_prime = staticmethod(sigmoid_prime)


class Tanh(Activation):
    """Hyperbolic tangent."""

    name = "tanh"
    f = staticmethod(tanh)
    f_prime = staticmethod(tanh_prime)


class ReLU(Activation):
    """Rectified linear unit."""

    name = "relu"
    f = staticmethod(relu)
    f_prime = staticmethod(relu_prime)


class Identity(Activation):
    """No activation: ``a = z``."""

    name = "identity"
    f = staticmethod(identity)
    f_prime = staticmethod(identity_prime)


class LeakyReLU(Activation):
    """``z`` where ``z > 0``, else ``negative_slope * z`` (PyTorch's default 0.01)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = float(negative_slope)

    def forward(self, z: np.ndarray) -> np.ndarray:
        a = np.where(z > 0, z, self.negative_slope * z).astype(z.dtype, copy=False)
        self.z, self.a = z, a
        return a

    def derivative(self) -> np.ndarray:
        # PyTorch's leaky_relu_backward: 1 where z > 0, negative_slope elsewhere.
        z = self.z
        return np.where(z > 0, 1.0, self.negative_slope).astype(z.dtype, copy=False)

    def backward(self, grad_a: np.ndarray) -> np.ndarray:
        return grad_a * self.derivative()

    def config(self) -> dict:
        return {
            "type": "activation",
            "name": self.name,
            "negative_slope": self.negative_slope,
        }

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope})"


STEP_WHY = (
    "the step function cannot be trained by backpropagation: its derivative is 0 "
    "everywhere except at 0, where it is undefined (the function jumps), so no "
    "gradient reaches the weights below it; use 'sigmoid', the smooth step, instead"
)


class Step(Activation):
    """The Heaviside step. Its forward works; backpropagating through it raises.

    It is here to show the lecture's point: gradient descent needs a derivative, and
    the step's is zero almost everywhere and undefined at 0.
    """

    name = "step"
    differentiable = False
    f = staticmethod(step)

    @staticmethod
    def f_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
        raise NotDifferentiableError(STEP_WHY)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Step)
}
"""Activation name -> module class. The keys are the allowed ``activation=`` values."""

DIFFERENTIABLE_ACTIVATIONS = tuple(
    k for k, v in ACTIVATIONS.items() if v.differentiable
)
