"""Worked exercises like the lecture's: one SGD step of a small network, by hand.

``make_exercise`` draws a network with short numbers (weights, input and eta rounded
to a few decimals, so a student can compute with them), a sample and its class ``r``,
and runs ``explain_step`` on exactly those numbers: the answer key is the engine's own
computation of the step, not a second implementation. ``Exercise.given`` holds the
data of the statement, ``Exercise.answers`` every number the student computes, in
the order of the lecture: the forward pass (``z_i^(l)``, ``out_i^(l)``), the softmax
``p_i``, the loss ``L = -ln p_r``, the backward pass as chain-rule factors
(``dL/dz_i = p_i - delta_ri`` at the output, ``dL/dout_j = sum_i w_ij dL/dz_i``,
``dout_j/dz_j = f'(z_j)`` below), the gradients ``dL/dw_ij = dL/dz_i out_j`` and
``dL/db_i = dL/dz_i``, and the updated values ``w - eta dL/dw``.

Each quantity carries a formula over the others (``formula``, a template whose
``{key}`` fields name other quantities), which the renderers show in symbols (the
sheet) and write as live cell formulas (the key's xlsx).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from retroprop.engine.activations import ACTIVATIONS, Activation
from retroprop.engine.layers import Linear, Sequential
from retroprop.engine.network import mlp
from retroprop.errors import ConfigError
from retroprop.explain.trace import Trace, explain_step
from retroprop.i18n import _

DEFAULT_SIZES = (2, 2, 2)
"""Two inputs, one hidden layer of two sigmoid neurons, two classes by softmax: the
smallest network with every part of the lecture's (hidden layer, softmax,
cross-entropy), small enough to do by hand. ``sizes=(4, 4, 3, 3)`` is the lecture's."""


@dataclass
class Quantity:
    """One number of the exercise.

    Attributes
    ----------
    key : str
        An identifier (``"z1_0"``, ``"fc1_w_0_1"``), referred to by formulas.
    symbol : str
        How the sheet writes it: ``"z_0^(1)"``, ``"∂L/∂z_0^(2)"``.
    value : float
    section : str
        ``"given"``, ``"forward"``, ``"softmax"``, ``"loss"``, ``"backward"``,
        ``"gradients"`` or ``"update"``.
    formula : str or None
        How it is computed, a template over other quantities' keys
        (``"{fc1_w_0_0}*{x_0}+{fc1_w_0_1}*{x_1}+{fc1_b_0}"``) in spreadsheet syntax
        (``+ - * / ^``, ``EXP``, ``LN``, ``IF``, ``MAX``, ``TANH``); None for given
        numbers.
    shown : str
        The rule in words of symbols, for the sheet (``"sigmoid(z_0^(1))"``).
    """

    key: str
    symbol: str
    value: float
    section: str
    formula: str | None = None
    shown: str = ""


@dataclass
class Exercise:
    """One version of the exercise and its key; see ``make_exercise``."""

    number: int
    seed: int
    sizes: tuple[int, ...]
    activation: str
    lr: float
    decimals: int
    net: Sequential
    x: np.ndarray
    r: int
    trace: Trace
    given: list[Quantity] = field(default_factory=list)
    answers: list[Quantity] = field(default_factory=list)

    def quantity(self, key: str) -> Quantity:
        for q in itertools.chain(self.given, self.answers):
            if q.key == key:
                return q
        raise KeyError(
            _("no quantity {key!r} in exercise {number}").format(
                key=key, number=self.number
            )
        )

    def values(self) -> dict[str, float]:
        """Every quantity's key -> value."""
        return {q.key: q.value for q in itertools.chain(self.given, self.answers)}


def _short(
    rng: np.random.Generator, shape: tuple[int, ...], decimals: int
) -> np.ndarray:
    """Numbers in [-1, 1] on a grid of ``10**-decimals``, never 0 (a zero weight
    makes part of the exercise trivial)."""
    steps = 10**decimals
    magnitude = rng.integers(1, steps + 1, size=shape) / steps
    sign = rng.choice([-1.0, 1.0], size=shape)
    return np.round(sign * magnitude, decimals)


def make_exercise(
    number: int = 1,
    *,
    seed: int = 0,
    sizes: Sequence[int] = DEFAULT_SIZES,
    activation: str = "sigmoid",
    lr: float = 0.5,
    decimals: int = 1,
) -> Exercise:
    """Version ``number`` of the exercise, reproducible from ``seed``.

    Parameters
    ----------
    number : int
        The version (1, 2, ...); versions of one seed differ from each other.
    seed : int
        With ``number``, fixes every given number.
    sizes : sequence of int
        Layer widths from the inputs to the classes (at least 2 classes).
    activation : str
        The hidden layers' activation, a trainable key of ``ACTIVATIONS``.
    lr : float
        The fator de aprendizagem eta.
    decimals : int
        Decimals of the given weights, biases and inputs (1 to 3).

    Returns
    -------
    Exercise
    """
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1 or sizes[-1] < 2:
        raise ConfigError(
            _(
                "sizes must be the inputs, any hidden layers and at least 2 classes, "
                "e.g. 2,2,2; got {value}"
            ).format(value=",".join(map(str, sizes)))
        )
    if max(sizes) > 8:
        raise ConfigError(
            _(
                "an exercise done by hand needs layers of at most 8 neurons, got {value}"
            ).format(value=",".join(map(str, sizes)))
        )
    if activation not in ACTIVATIONS or not ACTIVATIONS[activation].differentiable:
        trainable = sorted(k for k, c in ACTIVATIONS.items() if c.differentiable)
        raise ConfigError(
            _("activation must be one of {value}, got {activation!r}").format(
                value=", ".join(trainable), activation=activation
            )
        )
    if not 1 <= decimals <= 3:
        raise ConfigError(
            _("decimals must be 1, 2 or 3, got {decimals}").format(decimals=decimals)
        )
    if number < 1:
        raise ConfigError(
            _("the version number starts at 1, got {number}").format(number=number)
        )
    rng = np.random.default_rng([seed, number])
    names = [f"fc{i + 1}" for i in range(len(sizes) - 1)]
    net = mlp(sizes, activation, names=names, seed=0)
    state = {
        name: _short(rng, value.shape, decimals)
        for name, value in net.state_dict().items()
    }
    net.load_state_dict(state)
    x = _short(rng, (sizes[0],), decimals)
    r = int(rng.integers(0, sizes[-1]))
    trace = explain_step(net, x, r, lr=lr, meta={"exercise": number, "seed": seed})
    ex = Exercise(
        number, seed, sizes, activation, float(lr), decimals, net, x, r, trace
    )
    _fill_quantities(ex)
    return ex


def _in_outputs(formula: str, out: str) -> str:
    """An activation's derivative written in its output ``a`` (``"a (1 - a)"``),
    in the lecture's symbol for that output (``"out_0^(1) (1 - out_0^(1))"``)."""
    return re.sub(r"(?<![A-Za-z])a(?![A-Za-z])", out, formula)


def _sup(layer: int) -> str:
    return f"^({layer})"


def _fill_quantities(ex: Exercise) -> None:
    """``given`` and ``answers`` from the exercise's network and trace."""
    net, t = ex.net, ex.trace
    lins = [m for m in net if isinstance(m, Linear)]
    acts: list[Activation | None] = []
    mods = list(net)
    for i, m in enumerate(mods):
        if isinstance(m, Linear):
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            acts.append(nxt if isinstance(nxt, Activation) else None)
    given, answers = ex.given, ex.answers
    for j, v in enumerate(ex.x):
        given.append(Quantity(f"x_{j}", f"x_{j}", float(v), "given"))
    given.append(Quantity("r", "r", float(ex.r), "given"))
    given.append(Quantity("eta", "η", ex.lr, "given"))
    for layer, lin in zip(t.layers, lins):
        n = layer.name
        for i, j in np.ndindex(*lin.weight.data.shape):
            given.append(
                Quantity(
                    f"{n}_w_{i}_{j}",
                    f"w_{i}{j}{_sup(layer.number)}",
                    float(lin.weight.data[i, j]),
                    "given",
                )
            )
        for i in range(lin.out_features):
            assert lin.bias is not None
            given.append(
                Quantity(
                    f"{n}_b_{i}",
                    f"b_{i}{_sup(layer.number)}",
                    float(lin.bias.data[i]),
                    "given",
                )
            )

    # forward: z_i^(l) = sum_j w_ij out_j^(l-1) + b_i, out_i^(l) = f(z_i^(l))
    inputs = [f"x_{j}" for j in range(len(ex.x))]
    outs_of: list[list[str]] = []
    for li, (layer, act) in enumerate(zip(t.layers, acts)):
        n, L = layer.name, layer.number
        zs, outs = [], []
        for i in range(layer.z.shape[1]):
            terms = "+".join(f"{{{n}_w_{i}_{j}}}*{{{a}}}" for j, a in enumerate(inputs))
            zs.append(f"z{L}_{i}")
            answers.append(
                Quantity(
                    f"z{L}_{i}",
                    f"z_{i}{_sup(L)}",
                    float(layer.z[0, i]),
                    "forward",
                    f"{terms}+{{{n}_b_{i}}}",
                    f"Σ_j w_{i}j{_sup(L)} · out_j{_sup(L - 1)} + b_{i}{_sup(L)}"
                    if li
                    else f"Σ_j w_{i}j{_sup(L)} · x_j + b_{i}{_sup(L)}",
                )
            )
        if act is not None:
            for i in range(layer.z.shape[1]):
                cell, _ = act.spreadsheet_cells(f"{{z{L}_{i}}}", f"{{out{L}_{i}}}")
                outs.append(f"out{L}_{i}")
                answers.append(
                    Quantity(
                        f"out{L}_{i}",
                        f"out_{i}{_sup(L)}",
                        float(layer.a[0, i]),
                        "forward",
                        cell,
                        f"{act.name}(z_{i}{_sup(L)}) = {act.formula('text')}",
                    )
                )
        else:
            outs = zs
        outs_of.append(outs)
        inputs = outs
    # softmax and the loss, at the output: p_i = e^(z_i) / sum_k e^(z_k), L = -ln p_r
    top = t.layers[-1].number
    zs = [f"z{top}_{i}" for i in range(t.output.shape[1])]
    total = "+".join(f"EXP({{{z}}})" for z in zs)
    assert t.probabilities is not None
    for i, z in enumerate(zs):
        answers.append(
            Quantity(
                f"p_{i}",
                f"p_{i}",
                float(t.probabilities[0, i]),
                "softmax",
                f"EXP({{{z}}})/({total})",
                f"e^(z_{i}{_sup(top)}) / Σ_k e^(z_k{_sup(top)})",
            )
        )
    answers.append(Quantity("L", "L", t.loss, "loss", f"-LN({{p_{ex.r}}})", "-ln(p_r)"))

    # backward, from the output down: the error term dL/dz_i of each layer
    for li in reversed(range(len(t.layers))):
        layer, act = t.layers[li], acts[li]
        L = layer.number
        if layer.is_output:
            for i in range(layer.delta.shape[1]):
                kron = 1 if i == ex.r else 0
                answers.append(
                    Quantity(
                        f"dz{L}_{i}",
                        f"∂L/∂z_{i}{_sup(L)}",
                        float(layer.delta[0, i]),
                        "backward",
                        f"{{p_{i}}}-{kron}",
                        f"p_{i} - δ_r{i}  (δ_r{i} = {kron}: r = {ex.r})",
                    )
                )
            continue
        above = t.layers[li + 1]
        for j in range(layer.delta.shape[1]):
            terms = "+".join(
                f"{{{above.name}_w_{i}_{j}}}*{{dz{L + 1}_{i}}}"
                for i in range(above.delta.shape[1])
            )
            answers.append(
                Quantity(
                    f"dout{L}_{j}",
                    f"∂L/∂out_{j}{_sup(L)}",
                    float(layer.grad_a[0, j]),
                    "backward",
                    terms,
                    f"Σ_i w_i{j}{_sup(L + 1)} · ∂L/∂z_i{_sup(L + 1)}",
                )
            )
            assert act is not None and layer.f_prime is not None
            _value, prime = act.spreadsheet_cells(f"{{z{L}_{j}}}", f"{{out{L}_{j}}}")
            answers.append(
                Quantity(
                    f"fp{L}_{j}",
                    f"∂out_{j}{_sup(L)}/∂z_{j}{_sup(L)}",
                    float(layer.f_prime[0, j]),
                    "backward",
                    prime,
                    f"{act.name}'(z_{j}{_sup(L)}) = "
                    + _in_outputs(act.formula("text_prime"), f"out_{j}{_sup(L)}"),
                )
            )
            answers.append(
                Quantity(
                    f"dz{L}_{j}",
                    f"∂L/∂z_{j}{_sup(L)}",
                    float(layer.delta[0, j]),
                    "backward",
                    f"{{dout{L}_{j}}}*{{fp{L}_{j}}}",
                    f"∂L/∂out_{j}{_sup(L)} · ∂out_{j}{_sup(L)}/∂z_{j}{_sup(L)}",
                )
            )

    # gradients and the update: dL/dw_ij = dL/dz_i out_j, w <- w - eta dL/dw
    prev_of = [[f"x_{j}" for j in range(len(ex.x))], *outs_of[:-1]]
    prev_sym = ["x_{j}", *[f"out_{{j}}{_sup(la.number)}" for la in t.layers[:-1]]]
    for li, layer in enumerate(t.layers):
        n, L = layer.name, layer.number
        for i, j in np.ndindex(*layer.weight.shape):
            p = t.parameter(layer.weight_name, (i, j))
            src = prev_of[li][j]
            answers.append(
                Quantity(
                    f"g{n}_w_{i}_{j}",
                    f"∂L/∂w_{i}{j}{_sup(L)}",
                    p.grad,
                    "gradients",
                    f"{{dz{L}_{i}}}*{{{src}}}",
                    f"∂L/∂z_{i}{_sup(L)} · " + prev_sym[li].format(j=j),
                )
            )
        for i in range(layer.weight.shape[0]):
            p = t.parameter(f"{n}.bias", i)
            answers.append(
                Quantity(
                    f"g{n}_b_{i}",
                    f"∂L/∂b_{i}{_sup(L)}",
                    p.grad,
                    "gradients",
                    f"{{dz{L}_{i}}}",
                    f"∂L/∂z_{i}{_sup(L)} · 1",
                )
            )
    for layer in t.layers:
        n, L = layer.name, layer.number
        for i, j in np.ndindex(*layer.weight.shape):
            p = t.parameter(layer.weight_name, (i, j))
            answers.append(
                Quantity(
                    f"new{n}_w_{i}_{j}",
                    f"w_{i}{j}{_sup(L)} (t+1)",
                    p.updated,
                    "update",
                    f"{{{n}_w_{i}_{j}}}-{{eta}}*{{g{n}_w_{i}_{j}}}",
                    f"w_{i}{j}{_sup(L)} - η · ∂L/∂w_{i}{j}{_sup(L)}",
                )
            )
        for i in range(layer.weight.shape[0]):
            p = t.parameter(f"{n}.bias", i)
            answers.append(
                Quantity(
                    f"new{n}_b_{i}",
                    f"b_{i}{_sup(L)} (t+1)",
                    p.updated,
                    "update",
                    f"{{{n}_b_{i}}}-{{eta}}*{{g{n}_b_{i}}}",
                    f"b_{i}{_sup(L)} - η · ∂L/∂b_{i}{_sup(L)}",
                )
            )


def make_exercises(variants: int, *, seed: int = 0, **kwargs) -> list[Exercise]:
    """Versions 1..``variants`` of the exercise (see ``make_exercise``)."""
    if variants < 1:
        raise ConfigError(
            _("variants must be at least 1, got {variants}").format(variants=variants)
        )
    return [make_exercise(k, seed=seed, **kwargs) for k in range(1, variants + 1)]
