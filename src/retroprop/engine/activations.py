"""Activation functions: everything retroprop knows about one lives on its class.

A function ``f`` and its derivative ``f_prime`` are paired; derivatives are written in
terms of what the forward pass already computed (the input ``z`` and the output
``a = f(z)``), as the lecture does for the sigmoid: ``sigmoid'(z) = a (1 - a)``.

Beside them each class carries its formulas for people (``text``, ``latex``) and for
the spreadsheet (``spreadsheet``: a template in which ``{z}`` and ``{a}`` become cell
references), its PyTorch counterpart (``torch``) and, optionally, the code the
compiled kernels switch on (``kernel_code``). The explain renderers, the report page,
the fast paths, PyTorch interop, the estimator and the command line all read them
here, so adding an activation is one class plus ``register_activation``.

``ACTIVATIONS`` maps the names used by the command line, ``mlp`` and the estimator to
the classes; its keys are the allowed values everywhere.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from retroprop.engine.layers import Module
from retroprop.errors import ConfigError, NotDifferentiableError
from retroprop.i18n import N_, _


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
    r"""An element-wise ``a = f(z)``; backward multiplies by ``f'(z)``.

    Subclasses set ``name``, ``f`` and ``f_prime`` (as staticmethods) and, for the
    explain views, the report and the spreadsheet, their formulas. Register a new one
    with ``register_activation``::

        class Softplus(rp.Activation):
            name = "softplus"
            f = staticmethod(lambda z: np.logaddexp(0.0, z))
            f_prime = staticmethod(lambda z, a: 1.0 / (1.0 + np.exp(-z)))
            latex = r"\ln(1 + e^{z})"
            latex_prime = r"\frac{1}{1 + e^{-z}}"
            spreadsheet = "LN(1+EXP({z}))"
            spreadsheet_prime = "1/(1+EXP(-{z}))"

        rp.register_activation(Softplus)

    Class attributes
    ----------------
    name : str
        The key in ``ACTIVATIONS`` (``activation="sigmoid"``).
    f : callable ``(z) -> a``, arrays of shape (n, k)
    f_prime : callable ``(z, a) -> f'(z)``, arrays of shape (n, k)
    text, text_prime : str
        ``f(z)`` and ``f'(z)`` in plain text, in terms of ``z`` and ``a``.
    latex, latex_prime : str
        The same in LaTeX (without ``$``).
    spreadsheet, spreadsheet_prime : str or None
        Cell formulas (without ``=``): ``{z}`` and ``{a}`` become the cells holding
        ``z`` and ``a``, ``{name}`` of a parameter (``{negative_slope}``) its value.
        None: the workbook holds retroprop's number instead of a formula.
    torch : str or None
        The ``torch.nn`` module class (``"Sigmoid"``), built with ``params()`` as
        keyword arguments.
    torch_functions : tuple of str
        Dotted names of torch functions that are this activation in a traced
        forward (``"torch.sigmoid"``); their extra arguments are ``param_names``.
    torch_methods : tuple of str
        Tensor methods that are this activation (``x.sigmoid()``).
    param_names : tuple of str
        The constructor's settings, saved in ``config()`` (``("negative_slope",)``).
    kernel_code : int or None
        The number the compiled kernels switch on; None (the default): no kernel,
        the network trains on the NumPy engine. Not inherited: a subclass that
        changes ``f`` must not run its parent's kernel. (The kernels read the
        built-ins' codes as compile-time constants, and Numba's on-disk cache is
        keyed on the kernels' own files: after changing a code here, clear the
        ``__pycache__`` of ``retroprop/fast``.)
    differentiable : bool
        False for the step function, which cannot be trained.
    """

    name: ClassVar[str] = ""
    differentiable: ClassVar[bool] = True
    text: ClassVar[str] = ""
    text_prime: ClassVar[str] = ""
    latex: ClassVar[str] = ""
    latex_prime: ClassVar[str] = ""
    spreadsheet: ClassVar[str | None] = None
    spreadsheet_prime: ClassVar[str | None] = None
    torch: ClassVar[str | None] = None
    torch_functions: ClassVar[tuple[str, ...]] = ()
    torch_methods: ClassVar[tuple[str, ...]] = ()
    param_names: ClassVar[tuple[str, ...]] = ()
    kernel_code: ClassVar[int | None] = None

    f: Any
    f_prime: Any

    def forward(self, z: np.ndarray) -> np.ndarray:
        """``a = f(z)``; caches ``z`` and ``a`` for ``backward``. Shapes: ``(n, k)``."""
        a = type(self).f(z)
        self.z, self.a = z, a
        return a

    def backward(self, grad_a: np.ndarray) -> np.ndarray:
        """Chain rule through ``f``: ``dL/dz = dL/da * f'(z)``, shape ``(n, k)``."""
        return grad_a * self.derivative()

    def derivative(self) -> np.ndarray:
        """``f'(z)`` at the cached forward pass, shape ``(n, k)``."""
        return type(self).f_prime(self.z, self.a)

    def params(self) -> dict[str, Any]:
        """The settings named by ``param_names``, ``{"negative_slope": 0.01}``."""
        return {k: getattr(self, k) for k in self.param_names}

    def config(self) -> dict:
        return {"type": "activation", "name": self.name, **self.params()}

    # -- formulas, with this instance's settings filled in --------------------------

    def formula(self, which: str) -> str:
        """One of the formula attributes (``"latex_prime"``...) with every
        ``{parameter}`` replaced by its value; the default when the class has none."""
        template = getattr(type(self), which) or _default_formula(type(self), which)
        return _fill(template, self.params())

    def formulas(self) -> dict[str, str]:
        """``text``, ``text_prime``, ``latex``, ``latex_prime``, settings filled in
        (what the explain trace hands to its views and the report page)."""
        return {k: self.formula(k) for k in FORMULA_KINDS}

    def spreadsheet_cells(self, z: str, a: str) -> tuple[str | None, str | None]:
        """``(f, f')`` as cell formulas over the cells ``z`` and ``a`` (without
        ``=``), or None where the class has no template."""
        cls, p = type(self), self.params()
        return tuple(  # type: ignore[return-value]
            None if t is None else _fill(t, {**p, "z": z, "a": a})
            for t in (cls.spreadsheet, cls.spreadsheet_prime)
        )

    def kernel_argument(self) -> float:
        """The one number a compiled kernel reads besides the code (LeakyReLU's
        slope; 0 for the others)."""
        return 0.0

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


FORMULA_KINDS = ("text", "text_prime", "latex", "latex_prime")


def _fill(template: str, values: dict[str, Any]) -> str:
    """``template`` with each ``{key}`` replaced (plain replacement, so LaTeX's own
    braces stay as they are)."""
    for k, v in values.items():
        template = template.replace("{" + k + "}", v if isinstance(v, str) else repr(v))
    return template


_LONE_Z_OR_A = re.compile(r"(?<![A-Za-z\\])([za])(?![A-Za-z])")


def indexed_latex(latex: str, index: str) -> str:
    """A formula in ``z`` and ``a`` written for neuron ``index``: each lone ``z``
    or ``a`` (not part of a word, a LaTeX command or ``\\text{...}``) becomes
    ``z_{index}``...

    ``indexed_latex(r"\\frac{1}{1 + e^{-z}}", "i")`` is ``\\frac{1}{1 + e^{-z_i}}``.
    """
    parts = re.split(r"(\\text\{[^}]*\})", latex)
    return "".join(
        part if k % 2 else _LONE_Z_OR_A.sub(lambda m: f"{m.group(1)}_{index}", part)
        for k, part in enumerate(parts)
    )


def _default_formula(cls: type[Activation], which: str) -> str:
    name = cls.name
    return {
        "text": f"{name}(z)",
        "text_prime": f"{name}'(z)",
        "latex": rf"\operatorname{{{name}}}(z)",
        "latex_prime": rf"\operatorname{{{name}}}'(z)",
    }[which]


class Sigmoid(Activation):
    """Logistic sigmoid, the lecture's smooth step."""

    name = "sigmoid"
    f = staticmethod(sigmoid)
    f_prime = staticmethod(sigmoid_prime)
    text = "1 / (1 + e^-z)"
    text_prime = "a (1 - a)"
    latex = r"\frac{1}{1 + e^{-z}}"
    latex_prime = "a(1 - a)"
    spreadsheet = "1/(1+EXP(-{z}))"
    spreadsheet_prime = "{a}*(1-{a})"
    torch = "Sigmoid"
    torch_functions = (
        "torch.sigmoid",
        "torch.nn.functional.sigmoid",
        "torch.special.expit",
    )
    torch_methods = ("sigmoid",)
    kernel_code = 2


class Tanh(Activation):
    """Hyperbolic tangent."""

    name = "tanh"
    f = staticmethod(tanh)
    f_prime = staticmethod(tanh_prime)
    text = "tanh(z)"
    text_prime = "1 - a²"
    latex = r"\tanh(z)"
    latex_prime = "1 - a^2"
    spreadsheet = "TANH({z})"
    spreadsheet_prime = "1-{a}^2"
    torch = "Tanh"
    torch_functions = ("torch.tanh", "torch.nn.functional.tanh")
    torch_methods = ("tanh",)
    kernel_code = 3


class ReLU(Activation):
    """Rectified linear unit."""

    name = "relu"
    f = staticmethod(relu)
    f_prime = staticmethod(relu_prime)
    text = "max(z, 0)"
    text_prime = "1 if z > 0 else 0"
    latex = r"\max(z, 0)"
    latex_prime = "[z > 0]"
    spreadsheet = "MAX({z},0)"
    spreadsheet_prime = "IF({z}>0,1,0)"
    torch = "ReLU"
    torch_functions = ("torch.relu", "torch.nn.functional.relu")
    torch_methods = ("relu",)
    kernel_code = 4


class Identity(Activation):
    """No activation: ``a = z``."""

    name = "identity"
    f = staticmethod(identity)
    f_prime = staticmethod(identity_prime)
    text = "z"
    text_prime = "1"
    latex = "z"
    latex_prime = "1"
    spreadsheet = "{z}"
    spreadsheet_prime = "1"
    torch = "Identity"
    kernel_code = 1


class LeakyReLU(Activation):
    """``z`` where ``z > 0``, else ``negative_slope * z`` (PyTorch's default 0.01)."""

    name = "leaky_relu"
    text = "z if z > 0 else {negative_slope} z"
    text_prime = "1 if z > 0 else {negative_slope}"
    latex = r"z \text{ if } z > 0 \text{ else } {negative_slope}\,z"
    latex_prime = r"1 \text{ if } z > 0 \text{ else } {negative_slope}"
    spreadsheet = "IF({z}>0,{z},{negative_slope}*{z})"
    spreadsheet_prime = "IF({z}>0,1,{negative_slope})"
    torch = "LeakyReLU"
    torch_functions = ("torch.nn.functional.leaky_relu",)
    param_names = ("negative_slope",)
    kernel_code = 5

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

    def kernel_argument(self) -> float:
        return self.negative_slope


STEP_WHY = N_(
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
    text = "1 if z >= 0 else 0"
    text_prime = "undefined at 0, else 0"
    latex = r"[z \ge 0]"
    latex_prime = r"\text{undefined at } 0 \text{, else } 0"
    spreadsheet = "IF({z}>=0,1,0)"

    @staticmethod
    def f_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
        raise NotDifferentiableError(_(STEP_WHY))


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Step)
}
"""Activation name -> class. The keys are the allowed ``activation=`` values; read
them when needed (``register_activation`` adds to this dict)."""

DIFFERENTIABLE_ACTIVATIONS = tuple(
    k for k, v in ACTIVATIONS.items() if v.differentiable
)
"""The built-in activations that can be trained (the registry at import time; see
``differentiable_activations()`` for the live one)."""


def differentiable_activations() -> tuple[str, ...]:
    """The names in ``ACTIVATIONS`` now (registered ones included) that can be trained."""
    return tuple(k for k, v in ACTIVATIONS.items() if v.differentiable)


def register_activation(cls: type[Activation]) -> type[Activation]:
    """Add an ``Activation`` subclass to ``ACTIVATIONS`` under its ``name``.

    After it, ``mlp(..., activation=cls.name)``, ``train``, ``explain_step`` (every
    format), the report and ``to_torch`` (when ``cls.torch`` is set) use it. Returns
    ``cls``, so it also works as a class decorator.

    Raises
    ------
    ConfigError
        When ``cls`` is not an Activation subclass, its ``name`` is not a new
        identifier, ``f``/``f_prime`` are not callable or a formula is not a string.
    """
    if not (isinstance(cls, type) and issubclass(cls, Activation)):
        raise ConfigError(
            _(
                "register_activation takes a subclass of retroprop.Activation, got "
                "{cls!r}"
            ).format(cls=cls)
        )
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(
            _(
                "{name}.name must be a Python identifier such as 'softplus', got "
                "{name2!r}; set it as a class attribute"
            ).format(name=cls.__name__, name2=name)
        )
    if name in ACTIVATIONS:
        raise ConfigError(
            _(
                "activation {name!r} is already registered ({name2}); choose another name"
            ).format(name=name, name2=ACTIVATIONS[name].__name__)
        )
    for what in ("f", "f_prime"):
        if not callable(getattr(cls, what, None)):
            raise ConfigError(
                _(
                    "{name}.{what} must be callable; write it as {what} = "
                    "staticmethod(lambda {value}: ...)"
                ).format(
                    name=cls.__name__, what=what, value="z" if what == "f" else "z, a"
                )
            )
    for what in (*FORMULA_KINDS, "spreadsheet", "spreadsheet_prime", "torch"):
        v = getattr(cls, what)
        if v is not None and not isinstance(v, str):
            raise ConfigError(
                _("{name}.{what} must be a string, got {name2}").format(
                    name=cls.__name__, what=what, name2=type(v).__name__
                )
            )
    code = cls.__dict__.get("kernel_code")
    if code is not None:
        known = {ACTIVATIONS[b].kernel_code for b in BUILTIN_ACTIVATIONS}
        if code not in known:
            raise ConfigError(
                _(
                    "{name}.kernel_code {code!r} is not a compiled kernel; the kernels know "
                    "only the built-ins' codes: leave kernel_code as None"
                ).format(name=cls.__name__, code=code)
            )
    ACTIVATIONS[name] = cls
    return cls


def unregister_activation(name: str) -> None:
    """Remove a registered activation (built-ins stay): for tests and notebooks."""
    if name in BUILTIN_ACTIVATIONS:
        raise ConfigError(
            _("{name!r} is built in and cannot be unregistered").format(name=name)
        )
    ACTIVATIONS.pop(name, None)


BUILTIN_ACTIVATIONS = tuple(ACTIVATIONS)
"""The names retroprop ships with."""
