"""Gradient descent on a curve of one variable: how eta decides where it ends.

The lecture's update ``w <- w - eta * dL/dw`` on a one-variable error curve shows the
answers to its questions at a glance: a too-small eta crawls, a good one converges to
the nearest minimum, a too-large one oscillates or diverges, and a start on the wrong
side of a hill ends in a local, not the global, minimum.

A user's curve is a text like ``"x**4 - 3*x**2 + x"``. ``parse_function`` reads it with
Python's ``ast`` module and accepts only numbers, the variable (``w``, the lecture's
weight, or ``x``: the same variable, one of the two per curve), ``pi`` and ``e``,
``+ - * / **``, unary minus and the functions of
``FUNCTIONS``; nothing is ever passed to ``eval``. The derivative is exact: every node
returns its value and its derivative together (forward-mode differentiation, the
chain rule node by node), checked against central differences in the tests.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from retroprop.errors import ConfigError
from retroprop.experiments.result import Result
from retroprop.i18n import N_, Message, _
from retroprop.jsondata import plain

DEFAULT_FUNCTION = "x**4 - 3*x**2 + x"
"""A curve with a global minimum near x = -1.30 and a local one near x = 1.13."""

MAX_LENGTH = 300
MAX_NODES = 200


def _sigmoid(u):
    return 0.5 * (1.0 + np.tanh(0.5 * u))


# name -> (f, f'): the chain rule multiplies f'(u) by du/dx.
FUNCTIONS: dict[str, tuple[Callable, Callable]] = {
    "sin": (np.sin, np.cos),
    "cos": (np.cos, lambda u: -np.sin(u)),
    "tan": (np.tan, lambda u: 1.0 / np.cos(u) ** 2),
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda u: 1.0 / u),
    "sqrt": (np.sqrt, lambda u: 0.5 / np.sqrt(u)),
    "tanh": (np.tanh, lambda u: 1.0 - np.tanh(u) ** 2),
    "sigmoid": (_sigmoid, lambda u: _sigmoid(u) * (1.0 - _sigmoid(u))),
    "abs": (np.abs, np.sign),
}
"""The functions a curve may call, each with its derivative."""

CONSTANTS = {"pi": np.pi, "e": np.e}


class Expression:
    """A parsed curve ``f(x)``: call it for values, ``derivative`` for ``f'(x)``.

    Built by ``parse_function``; holds a tree of small closures, never code.
    """

    def __init__(self, text: str, node: Callable):
        self.text = text
        self._node = node  # x -> (f(x), f'(x))

    def __call__(self, x):
        return self.value_and_derivative(x)[0]

    def derivative(self, x):
        """``f'(x)``, exact (forward-mode), same shape as ``x``."""
        return self.value_and_derivative(x)[1]

    def value_and_derivative(self, x):
        """``(f(x), f'(x))`` for a float or an array; non-finite where undefined."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):
            try:
                v, d = self._node(x)
            except OverflowError:  # a power of plain numbers, like 9**9**9**9
                raise ConfigError(
                    _(
                        "the function {text!r} overflows: a power of numbers in it is beyond a "
                        "float's range (about 1.8e308)"
                    ).format(text=self.text)
                ) from None
            return np.broadcast_to(v, x.shape) * 1.0, np.broadcast_to(d, x.shape) * 1.0

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def parse_function(text: str) -> Expression:
    """Parse a curve ``f(x)`` safely; see the module docstring for what is allowed.

    Raises
    ------
    ConfigError
        Naming what is not allowed (a name, an attribute, a call, a keyword...).
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(
            _(
                "the function must be a non-empty expression in w (or x), like 'w**4 - "
                "3*w**2 + w'"
            )
        )
    if len(text) > MAX_LENGTH:
        raise ConfigError(
            _(
                "the function is {n_text} characters long; at most {MAX_LENGTH} are "
                "allowed"
            ).format(n_text=len(text), MAX_LENGTH=MAX_LENGTH)
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        msg = getattr(e, "msg", str(e))
        raise ConfigError(
            _("cannot read the function {text!r}: {msg}").format(text=text, msg=msg)
        ) from None
    n = sum(1 for _node in ast.walk(tree))
    if n > MAX_NODES:
        raise ConfigError(
            _("the function has {n} parts; at most {MAX_NODES} are allowed").format(
                n=n, MAX_NODES=MAX_NODES
            )
        )
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if {"w", "x"} <= names:
        raise ConfigError(
            _(
                "the function {text!r} uses both w and x; write it in one variable, w "
                "(the lecture's weight) or x"
            ).format(text=text)
        )
    node, _names = _compile(tree.body, text)
    return Expression(text.strip(), node)


def _refuse(text: str, what: str) -> ConfigError:
    return ConfigError(
        _(
            "the function {text!r} uses {what}, which is not allowed; use numbers, w "
            "(or x), pi, e, + - * / ** and the functions {value}"
        ).format(text=text, what=what, value=", ".join(sorted(FUNCTIONS)))
    )


def _compile(node: ast.AST, text: str) -> tuple[Callable, bool]:
    """An AST node -> (closure x -> (value, derivative), whether it depends on x)."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _refuse(text, _("the constant {value!r}").format(value=node.value))
        c = float(node.value)  # floats only: 10**10**10 overflows, it never hangs
        return (lambda x: (c, 0.0)), False
    if isinstance(node, ast.Name):
        if node.id in ("w", "x"):  # the one variable, in the lecture's name or x
            return (lambda x: (x, 1.0)), True
        if node.id in CONSTANTS:
            c = CONSTANTS[node.id]
            return (lambda x: (c, 0.0)), False
        raise _refuse(text, _("the name {name!r}").format(name=node.id))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        f, dep = _compile(node.operand, text)
        if isinstance(node.op, ast.UAdd):
            return f, dep

        def neg(x):
            v, d = f(x)
            return -v, -d

        return neg, dep
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
        # Python reads -x^2 + 2 as (-x) ^ (2 + 2): refuse rather than guess
        raise ConfigError(
            _("the function {text!r} uses ^; write powers with **, like x**2").format(
                text=text
            )
        )
    if isinstance(node, ast.BinOp):
        u, du_dep = _compile(node.left, text)
        w, dw_dep = _compile(node.right, text)
        return _binop(node.op, u, w, dw_dep, text), du_dep or dw_dep
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _refuse(
                text, _("a call of something that is not a plain function name")
            )
        name = node.func.id
        if name not in FUNCTIONS:
            raise _refuse(text, _("the function {name!r}").format(name=name))
        if node.keywords or len(node.args) != 1:
            raise ConfigError(
                _("{name}() in {text!r} takes exactly one argument").format(
                    name=name, text=text
                )
            )
        g, dep = _compile(node.args[0], text)
        f, f_prime = FUNCTIONS[name]

        def call(x):
            v, d = g(x)
            return f(v), f_prime(v) * d  # chain rule: (f o g)' = f'(g) g'

        return call, dep
    if isinstance(node, ast.Attribute):
        raise _refuse(text, _("attribute access (.{name})").format(name=node.attr))
    raise _refuse(text, _("{kind!r} syntax").format(kind=type(node).__name__))


def _binop(
    op: ast.operator, u: Callable, w: Callable, w_depends: bool, text: str
) -> Callable:
    if isinstance(op, ast.Add):

        def add(x):
            (a, da), (b, db) = u(x), w(x)
            return a + b, da + db

        return add
    if isinstance(op, ast.Sub):

        def sub(x):
            (a, da), (b, db) = u(x), w(x)
            return a - b, da - db

        return sub
    if isinstance(op, ast.Mult):

        def mul(x):
            (a, da), (b, db) = u(x), w(x)
            return a * b, da * b + a * db

        return mul
    if isinstance(op, ast.Div):

        def div(x):
            (a, da), (b, db) = u(x), w(x)
            return a / b, (da * b - a * db) / (b * b)

        return div
    if isinstance(op, ast.Pow):
        if not w_depends:
            # (u^c)' = c u^(c-1) u': defined for negative u with an integer c.
            def power(x):
                (a, da), (c, _) = u(x), w(x)
                return a**c, c * a ** (c - 1.0) * da

            return power

        def general_power(x):
            # u^w = e^(w ln u): (u^w)' = u^w (w' ln u + w u'/u)
            (a, da), (b, db) = u(x), w(x)
            v = a**b
            return v, v * (db * np.log(a) + b * da / a)

        return general_power
    raise _refuse(text, _("the operator {name!r}").format(name=type(op).__name__))


# -- gradient descent ----------------------------------------------------------------

STATUSES = ("converged", "not converged", "oscillating", "diverged")


@dataclass
class DescentRun:
    """One descent ``x_{k+1} = x_k - eta f'(x_k)``.

    Attributes
    ----------
    lr, x0 : float
        eta and the start.
    x, f, grad : ndarray of shape (n_steps + 1,)
        ``x_k``, ``f(x_k)`` and ``f'(x_k)``; shorter when the run diverged, empty
        when ``f`` or ``f'`` is undefined at the start ``x0`` itself.
    status : str
        One of ``STATUSES``.
    minimum : int or None
        Index into ``DescentDemo.minima`` of the minimum it converged to.
    reached_global : bool
        Whether that minimum is the lowest on the range.
    """

    lr: float
    x0: float
    x: np.ndarray
    f: np.ndarray
    grad: np.ndarray
    status: str
    minimum: int | None = None
    reached_global: bool = False

    @property
    def steps(self) -> int:
        return len(self.x) - 1

    @property
    def final_x(self) -> float:
        """The last finite ``x_k``; NaN when the run diverged at the start."""
        return float(self.x[-1]) if len(self.x) else float("nan")

    @property
    def final_f(self) -> float:
        """``f`` at ``final_x``; NaN when the run diverged at the start."""
        return float(self.f[-1]) if len(self.f) else float("nan")

    @property
    def diverged_at_start(self) -> bool:
        """Whether ``f`` or ``f'`` was undefined (non-finite) at ``x0`` itself."""
        return self.status == "diverged" and len(self.x) == 0

    @property
    def ended_in(self) -> str | None:
        """``"global minimum"`` or ``"local minimum"`` for a run that converged to
        one of the range's minima, else None."""
        if self.minimum is None:
            return None
        return "global minimum" if self.reached_global else "local minimum"

    @property
    def outcome(self) -> str:
        """The run's outcome in a few words: its status, where it ended and why (a
        ``Message``: English in JSON, ``shown()`` in the language in use)."""
        if self.diverged_at_start:
            return Message(N_("diverged at the start (f undefined at w0)"))
        if self.status == "diverged":
            return Message(
                N_("diverged after {steps} steps: eta too large"), steps=self.steps
            )
        if self.status == "oscillating":
            return Message(N_("oscillating: eta too large, the steps overshoot"))
        if self.status == "not converged":
            return Message(
                N_("not converged: still moving after {steps} steps"), steps=self.steps
            )
        if self.ended_in == "global minimum":
            return Message(N_("converged to the global minimum"))
        if self.ended_in == "local minimum":
            return Message(N_("converged to a LOCAL minimum, not the global one"))
        return Message(N_("converged (to no minimum found on the range)"))

    def to_dict(self) -> dict:
        """The fields, plus ``ended_in``, ``outcome`` and ``diverged_at_start``."""
        d = {f.name: plain(getattr(self, f.name)) for f in fields(self)}
        d.update(
            ended_in=self.ended_in,
            outcome=self.outcome,
            diverged_at_start=self.diverged_at_start,
        )
        return d


def gradient_descent(
    f: Expression,
    x0: float,
    lr: float,
    steps: int,
    *,
    xtol: float = 1e-4,
    gtol: float = 1e-3,
    bound: float = 1e6,
) -> DescentRun:
    """Run ``steps`` updates ``x <- x - lr * f'(x)`` from ``x0`` and classify the run.

    Parameters
    ----------
    f : Expression
    x0, lr : float
    steps : int
    xtol, gtol : float
        Converged: the last step moved less than ``xtol`` and ``|f'|`` < ``gtol``.
    bound : float
        Diverged: ``|x|`` exceeded it, or ``f`` or ``f'`` became non-finite.

    Returns
    -------
    DescentRun
        ``status`` is "converged", "diverged", "oscillating" (at least half of the
        last ten steps turn back without settling) or "not converged" (still moving).
    """
    path: list[tuple[float, float, float]] = []  # (x_k, f(x_k), f'(x_k))
    x = float(x0)
    status = None
    for _step in range(steps + 1):
        v, g = (float(a) for a in f.value_and_derivative(x))
        if not (np.isfinite(x) and np.isfinite(v) and np.isfinite(g)) or abs(x) > bound:
            status = "diverged"
            break
        path.append((x, v, g))
        x = x - lr * g  # the lecture's update, w <- w - eta dE/dw
    xs, fs, gs = (np.array([p[i] for p in path]) for i in range(3))
    if status is None:
        moves = np.diff(xs)
        if len(xs) > 1 and abs(moves[-1]) < xtol and abs(gs[-1]) < gtol:
            status = "converged"
        elif len(moves) >= 4 and _turns(moves[-10:]) >= len(moves[-10:]) // 2:
            status = "oscillating"
        else:
            status = "not converged"
    return DescentRun(lr=float(lr), x0=float(x0), x=xs, f=fs, grad=gs, status=status)


def _turns(moves: np.ndarray) -> int:
    """How many times consecutive steps change direction."""
    return int(np.sum(np.sign(moves[1:]) == -np.sign(moves[:-1])))


def local_minima(
    f: Expression, x_range: tuple[float, float], n_points: int = 4001
) -> np.ndarray:
    """The local minima of ``f`` strictly inside ``x_range``, sorted by x.

    Found where ``f'`` changes sign from - to + on a grid, then refined by bisection.
    A bracket needs ``f`` finite on both sides (and at the refined point): a pole
    such as log(x)'s at 0 also turns ``f'`` from - to +, but is no minimum.
    """
    x = np.linspace(*x_range, n_points)
    fx, g = f.value_and_derivative(x)
    found = []
    brackets = (g[:-1] < 0) & (g[1:] >= 0) & np.isfinite(fx[:-1]) & np.isfinite(fx[1:])
    for i in np.flatnonzero(brackets):
        a, b = x[i], x[i + 1]
        for _halving in range(60):
            m = 0.5 * (a + b)
            if f.derivative(m) < 0:
                a = m
            else:
                b = m
        if np.isfinite(f(0.5 * (a + b))):
            found.append(0.5 * (a + b))
    return np.array(found)


def in_w(text: str) -> str:
    """A curve's text with the variable ``x`` written ``w`` (the lecture's weight).

    Only the name ``x`` on its own changes: ``exp(x)`` -> ``exp(w)``; ``exp`` and a
    number such as ``0x1f`` keep their x.
    """
    return re.sub(r"\bx\b", "w", text)


@dataclass
class DescentDemo(Result):
    """Several descents on one curve, for ``retroprop plot descent``.

    Attributes
    ----------
    function : str
    x_range : (float, float)
    x, f : ndarray of shape (n_points,)
        The curve.
    minima : ndarray of shape (n_minima,)
        The local minima on the range; ``global_minimum`` indexes the lowest.
    runs : list of DescentRun
        In the order of ``starts`` (rows) times ``lrs`` (columns); each carries its
        ``outcome`` and ``ended_in`` (global or local minimum), also in ``to_dict()``.
    lrs, starts : list of float
    """

    caption = N_("Gradient descent on one curve, from several starts")

    function: str
    x_range: tuple[float, float]
    x: np.ndarray
    f: np.ndarray
    minima: np.ndarray
    global_minimum: int | None
    lrs: list[float]
    starts: list[float]
    steps: int
    runs: list[DescentRun] = field(default_factory=list)

    @property
    def function_in_w(self) -> str:
        """``function`` with its variable written ``w``, as the axes name it:
        ``"x**4 - 3*x**2 + x"`` -> ``"w**4 - 3*w**2 + w"``."""
        return in_w(self.function)

    def display_tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        """Where each (eta, start) ended, and the curve's minima."""
        runs = [[r.lr, r.x0, r.final_x, r.final_f, r.outcome] for r in self.runs]
        minima = [
            [m, N_("global") if i == self.global_minimum else N_("local")]
            for i, m in enumerate(self.minima)
        ]
        return [
            (
                Message(
                    N_("Gradient descent on L(w) = {function}, {steps} steps"),
                    function=self.function_in_w,
                    steps=self.steps,
                ),
                ["η", "w0", N_("final w"), N_("L(final w)"), N_("outcome")],
                runs,
            ),
            (N_("Minima of L(w) on the range"), ["w", N_("minimum")], minima),
        ]

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [["lr", "x0", "step", "x", "f", "grad", "status"]]
        for r in self.runs:
            for k in range(len(r.x)):
                rows.append(
                    [
                        r.lr,
                        r.x0,
                        k,
                        float(r.x[k]),
                        float(r.f[k]),
                        float(r.grad[k]),
                        r.status,
                    ]
                )
        return rows


def descent_demo(
    function: str = DEFAULT_FUNCTION,
    *,
    lrs=(0.001, 0.05, 0.2),
    starts=(-2.0, 2.0),
    steps: int = 40,
    x_range: tuple[float, float] = (-2.2, 2.2),
) -> DescentDemo:
    """Descend ``function`` from every start with every eta.

    Parameters
    ----------
    function : str
        A curve in ``x`` (see ``parse_function``).
    lrs : sequence of float
        The etas to compare; the defaults are too small, good and too large for the
        default curve.
    starts : sequence of float
        Starting points; from -2 the default curve leads to its global minimum, from
        +2 to its local one.
    steps : int
        Updates per run.
    x_range : (low, high)
        Where the curve is drawn and its minima looked for.

    Returns
    -------
    DescentDemo
    """
    f = parse_function(function)
    lo, hi = (float(v) for v in x_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ConfigError(
            _("range must be two finite numbers low < high, got {x_range}").format(
                x_range=x_range
            )
        )
    lrs = [float(v) for v in lrs]
    starts = [float(v) for v in starts]
    if not lrs or any(not np.isfinite(v) or v <= 0 for v in lrs):
        raise ConfigError(
            _("learning rates must be positive numbers, got {lrs}").format(lrs=lrs)
        )
    if not starts or any(not np.isfinite(v) for v in starts):
        raise ConfigError(
            _("starting points must be finite numbers, got {starts}").format(
                starts=starts
            )
        )
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(
            _("steps must be a positive integer, got {steps!r}").format(steps=steps)
        )
    x = np.linspace(lo, hi, 801)
    fx = f(x)
    if not np.any(np.isfinite(fx)):
        raise ConfigError(
            _(
                "the function {function!r} is not finite anywhere on [{lo:g}, {hi:g}]; "
                "choose another --range"
            ).format(function=function, lo=lo, hi=hi)
        )
    minima = local_minima(f, (lo, hi))
    global_minimum = int(np.argmin(f(minima))) if len(minima) else None
    runs = []
    for x0 in starts:
        for lr in lrs:
            run = gradient_descent(f, x0, lr, steps)
            if run.status == "converged" and len(minima):
                run.minimum = int(np.argmin(np.abs(minima - run.final_x)))
                run.reached_global = run.minimum == global_minimum
            runs.append(run)
    return DescentDemo(
        function=f.text,
        x_range=(lo, hi),
        x=x,
        f=fx,
        minima=minima,
        global_minimum=global_minimum,
        lrs=lrs,
        starts=starts,
        steps=int(steps),
        runs=runs,
    )
