"""What counts as divergence: one definition, used by every training path.

A run has diverged when one of these holds (``judge`` decides, ``KINDS`` names them):

- ``"non-finite"``: the loss or a parameter became inf or NaN (the training step
  stops there and keeps the last finite parameters);
- ``"growing"``: the loss ended far above where it started: above the loss of
  predicting the class frequencies (``chance_loss``: the entropy of the class prior
  for cross-entropy, the targets' variance for MSE) and either above ``GROWTH``
  times the initial loss, or above ``SATURATED`` times it with outputs that barely
  depend on the input (spread below ``FLAT``: eta threw the weights out of range);
- ``"dead"``: the outputs are the same for every sample to rounding (spread below
  ``DEAD``) while the inputs vary, so the loss cannot go below chance (the dead ReLU
  network at a huge eta).

``train`` raises ``DivergenceError`` for each (``--lr 10000`` exits 1 and saves
nothing); ``train_many`` flags its members with the same rule (``ManyResult.diverged``
and ``divergence``), which is what ``sweep lr`` and ``seeds`` report.

The advice follows the cause: when the loss is already non-finite with the initial
weights, no eta is to blame and the message names the data's largest column
(``data_advice``); otherwise it suggests a smaller eta. Numbers print with ``num``,
so 1e302 never prints as 300 digits.
"""

from __future__ import annotations

import math

import numpy as np

from retroprop.errors import num
from retroprop.i18n import _, decimal

GROWTH = 10.0
"""A loss that ends above this many times its initial value (and above chance) grew."""

FLAT = 1e-4
"""Outputs whose spread over the samples is below this (relative to 1 + their size
for logits, to the targets' range for MSE) have saturated: they barely depend on
the input."""

SATURATED = 2.0
"""A saturated network whose loss ended above this many times its start grew."""

DEAD = 1e-12
"""Outputs whose relative spread is below this (to rounding, the same for every
sample, while the inputs vary) come from a dead network."""

KINDS = ("non-finite", "growing", "dead")
"""The kinds of divergence, in the order ``judge`` tests them."""

BIG_DATA = 1e6
"""Inputs or MSE targets larger than this in magnitude are named in the advice."""


def chance_loss(y: np.ndarray, k: int, loss: str) -> float:
    """The loss of predicting the class frequencies (or the mean target) for all.

    Cross-entropy: the entropy of the class prior, ``-sum_c q_c ln q_c`` with ``q``
    the frequencies of ``y`` of shape ``(n,)`` (``ln k`` for balanced classes). MSE:
    ``mean((t - mean(t))^2)`` over every element of the targets (one-hot rows of
    ``k`` columns for classes), the same averaging as ``MSELoss``.
    """
    y = np.asarray(y)
    if loss == "cross_entropy":
        q = np.bincount(y.astype(np.int64), minlength=k) / len(y)
        q = q[q > 0]
        return float(-(q * np.log(q)).sum())
    if k > 1 and y.ndim == 1:
        t = np.zeros((len(y), k))
        t[np.arange(len(y)), y.astype(np.int64)] = 1.0
    else:
        t = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.mean((t - t.mean(axis=0)) ** 2))


def output_spread(out: np.ndarray, X: np.ndarray, y: np.ndarray, loss: str) -> float:
    """How much the outputs ``out`` of shape ``(n, k)`` vary over the samples,
    relative to their size (logits) or to the targets' range (MSE regression).

    ``inf`` when it cannot tell: fewer than two samples, non-finite outputs, or
    inputs ``X`` that are all the same row (then constant outputs are right).
    """
    out = np.asarray(out, dtype=np.float64)
    if len(out) < 2 or not np.isfinite(out).all():
        return math.inf
    X = np.asarray(X)
    if not (X.max(axis=0) - X.min(axis=0) > 0).any():
        return math.inf
    spread = float((out.max(axis=0) - out.min(axis=0)).max())
    if loss == "cross_entropy" or out.shape[1] > 1:
        scale = 1.0 + float(np.abs(out).max())
    else:
        t = np.asarray(y, dtype=np.float64)
        scale = float(t.max() - t.min()) or 1.0
    return spread / scale


def outputs_collapsed(out: np.ndarray, y: np.ndarray, loss: str) -> bool:
    """True when the outputs ``out`` of shape ``(n, k)`` are the same for every
    sample to ``FLAT`` (``output_spread``; the inputs taken as varying)."""
    return output_spread(out, np.arange(2.0)[:, None], y, loss) <= FLAT


def judge(initial: float, final: float, chance: float, spread: float) -> str | None:
    """The kind of divergence (one of ``KINDS``) of a run whose loss went from
    ``initial`` to ``final``, or None when it did not diverge (see the module
    docstring). ``spread`` is ``output_spread`` of the final network."""
    if not math.isfinite(final):
        return "non-finite"
    if chance <= 0:  # one class, or constant targets: a constant output is right
        return None
    if final > chance and (
        final > GROWTH * initial or (spread <= FLAT and final > SATURATED * initial)
    ):
        return "growing"
    if spread <= DEAD:
        return "dead"
    return None


def describe(kind: str, initial: float, final: float, chance: float) -> str:
    """What went wrong, for ``DivergenceError``'s message, in the language in use
    (numbers with the decimal comma in Portuguese)."""
    if kind == "non-finite":
        return _("the loss became {final}").format(final=decimal(num(final)))
    prior = _("chance ({chance}, the loss of predicting the class frequencies)").format(
        chance=decimal(num(chance))
    )
    if kind == "growing":
        return _(
            "the loss ended at {final}, {times} times where it started ({initial}) "
            "and above {prior}"
        ).format(
            final=decimal(num(final)),
            times=decimal(num(final / initial)),
            initial=decimal(num(initial)),
            prior=prior,
        )
    return _(
        "the network's outputs no longer depend on its input (a dead or saturated "
        "network): the loss ended at {final}, no better than {prior}"
    ).format(final=decimal(num(final)), prior=prior)


def data_advice(
    X: np.ndarray, y: np.ndarray, loss: str, lr: float | None = None
) -> str:
    """Advice naming the data's largest column: the inputs' (``column j of X``) or
    the MSE targets', when larger than ``BIG_DATA``; else ''. ``lr`` None: the loss
    was not finite before any update, so eta is not the cause; else a smaller eta
    is suggested too."""
    X = np.asarray(X)
    parts = []
    if X.size:
        col_max = np.abs(X).max(axis=0)
        j = int(np.argmax(col_max))
        if col_max[j] > BIG_DATA:
            parts.append(
                _("column {j} of X reaches {value}").format(
                    j=j, value=decimal(num(col_max[j]))
                )
            )
    if loss == "mse":
        t = np.abs(np.asarray(y, dtype=np.float64))
        if t.size and t.max() > BIG_DATA:
            parts.append(
                _("the targets reach {value}").format(value=decimal(num(t.max())))
            )
    if not parts:
        return ""
    then = (
        _("the learning rate is not the cause")
        if lr is None
        else _("or try a smaller learning rate (eta), e.g. lr={lr}").format(
            lr=num(lr / 10)
        )
    )
    return _(
        "The data overflow the network ({parts}): standardise or rescale them "
        "(e.g. rp.datasets.Standardizer); {then}"
    ).format(parts="; ".join(parts), then=then)


__all__ = [
    "BIG_DATA",
    "DEAD",
    "FLAT",
    "GROWTH",
    "KINDS",
    "SATURATED",
    "chance_loss",
    "data_advice",
    "describe",
    "eta_advice",
    "judge",
    "num",
    "output_spread",
    "outputs_collapsed",
]


def eta_advice(lr: float) -> str:
    """Advice to try a smaller learning rate (``DivergenceError.at``'s default)."""
    return _("Try a smaller learning rate (eta), e.g. lr={lr}").format(lr=num(lr / 10))
