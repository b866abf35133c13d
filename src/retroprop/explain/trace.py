"""``explain_step``: one SGD step of the engine, with every number kept, as a Trace.

The trace is the engine's own computation, recorded, not a second implementation:
the network's modules run their ``forward`` (caching ``a_prev``, ``z``, ``a``), the
loss its ``forward`` and ``backward``, then each module's ``backward`` is called in
reverse and what it returns is kept (``dL/da``, ``delta = dL/dz``); the gradients are
read from ``Parameter.grad`` and the updated values from a real ``SGD.step()`` on a
copy of the network. What the trace adds is the lecture's decomposition of each
gradient into chain-rule factors, shown beside the engine's product:

- output layer: the factors the loss provides (``Loss.chain``); for cross-entropy
  ``dL/db_i = dL/dp_r * dp_r/dout_i * dout_i/db_i`` with ``dL/dp_r = -1/p_r``,
  ``dp_r/dout_i = p_r (delta_ri - p_i)``, ``dout_i/db_i = 1``, whose product is
  ``p_i - delta_ri``; for MSE ``dL/dout_i = 2 (out_i - t_i) / k``; ``dout_i/dw_ij =
  out_j`` for the weights;
- hidden layers: the backpropagated error ``dL/dout_i = sum_k w_ki dL/dz_k``, the
  activation's derivative ``dout_i/dz_i = f'(z_i)`` (``a (1 - a)`` for the sigmoid,
  ``a`` being the neuron's output) and ``dz_i/db_i = 1``, ``dz_i/dw_ij = out_j``.

The notation is the lecture's: ``out_j`` is a neuron's output (``out_j^(l-1)`` the
previous layer's, the input ``x_j`` for the first layer), ``delta_ri`` is only the
Kronecker delta (1 when ``i = r``), and the error term ``dL/dz_i`` is written as
such (the engine's variable ``delta``), never as a bare delta.

Per-sample values are per-sample losses' derivatives; for a batch of ``n`` samples the
gradient is their mean (the engine's ``reduction="mean"``), and ``factors`` hold the
batch mean of each factor (the product's mean is the gradient).

The trace also carries every formula its views show: each layer's activation
formulas and chain-rule factors, and the loss's formulas (read from the activation
and loss classes), so the renderers (``views``, ``markdown``, ``text``, ``tabular``,
``xlsx``, the report page) know no activation or loss by name. They read
``data.TraceData`` and never this module; ``Trace`` here adds them as methods.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import cast

import numpy as np

from retroprop.engine.activations import Activation, indexed_latex
from retroprop.engine.layers import Linear, Sequential
from retroprop.engine.losses import LOSSES
from retroprop.engine.optim import SGD
from retroprop.errors import ConfigError, DataError, NotDifferentiableError
from retroprop.explain.data import (
    SCHEMA,
    LayerTrace,
    ParameterTrace,
    TraceData,
    step_context,
)
from retroprop.explain.markdown import to_markdown
from retroprop.explain.tabular import to_csv
from retroprop.explain.text import to_text
from retroprop.explain.xlsx import to_xlsx
from retroprop.i18n import _, decimal, ngettext

__all__ = ["SCHEMA", "LayerTrace", "ParameterTrace", "Trace", "explain_step"]

CHAIN_FORMULAS: dict[str, tuple[str, str]] = {
    "dL/dout_i": (
        "Σ_k w_ki ∂L/∂z_k",
        (
            r"\frac{\partial L}{\partial out_i} = \sum_k w_{ki} "
            r"\frac{\partial L}{\partial z_k}"
        ),
    ),
    "dout_i/db_i": ("1", r"\frac{\partial out_i}{\partial b_i} = 1"),
    "dz_i/db_i": ("1", r"\frac{\partial z_i}{\partial b_i} = 1"),
    "dout_i/dw_ij": ("out_j", r"\frac{\partial out_i}{\partial w_{ij}} = out_j"),
    "dz_i/dw_ij": ("out_j", r"\frac{\partial z_i}{\partial w_{ij}} = out_j"),
    "product": ("dL/dθ", r"\frac{\partial L}{\partial \theta}"),
}
"""The factors every network has, whatever its loss and activations: key -> (plain
text of the right-hand side, the whole equation in LaTeX)."""


def _derivative_formula(key: str, act: Activation) -> dict[str, str]:
    """``dout_i/dz_i`` written with the activation's derivative."""
    top = "out_i"
    return {
        "text": act.formula("text_prime"),
        "latex": (
            rf"\frac{{\partial {top}}}{{\partial z_i}} = "
            + indexed_latex(act.formula("latex_prime"), "i")
        ),
    }


@dataclass
class Trace(TraceData):
    """One SGD step of a network on one sample (or a small batch), every number kept.

    Build it with ``explain_step``. The data and its JSON form are ``TraceData``'s
    (``to_dict``, ``to_json``); the renderers: ``to_markdown``, ``to_csv``,
    ``to_xlsx``, ``to_text`` (rich tables).
    """

    def to_csv(self, path=None) -> str:
        """One row per parameter; see ``retroprop.explain.tabular.to_csv``."""
        return to_csv(self, path)

    def to_markdown(self, path=None) -> str:
        """Markdown with LaTeX math; see ``retroprop.explain.markdown``."""
        return to_markdown(self, path)

    def to_text(self, width: int = 120) -> str:
        """The terminal tables as plain text; see ``retroprop.explain.text``."""
        return to_text(self, width=width)

    def to_xlsx(self, path) -> None:
        """A workbook of live formulas; see ``retroprop.explain.xlsx``."""
        to_xlsx(self, path)

    # -- notebook displays (Jupyter, Colab): they read the renderers, never compute --

    def _repr_html_(self) -> str:
        """The terminal's tables as compact HTML, formulas in the column headers."""
        from retroprop.display import html_block, html_lines, html_table
        from retroprop.explain.views import views

        where = step_context(self.meta)  # where the weights came from, too
        title = ngettext(
            "One SGD step: loss {loss}, η = {lr}, {n} sample",
            "One SGD step: loss {loss}, η = {lr}, {n} samples",
            self.n_samples,
        ).format(
            loss=self.loss_function, lr=decimal(f"{self.lr:g}"), n=self.n_samples
        ) + (f" ({where})" if where else "")
        parts = ["<p>" + _("Update: θ ← θ - η dL/dθ.") + "</p>"]
        for view in views(self):
            parts.append(
                html_table(
                    [c.text for c in view.columns],
                    view.rows,
                    caption=view.title,
                    numeric=[c.numeric for c in view.columns],
                )
            )
            parts.append(html_lines(text for text, _ in view.notes))
        return html_block(title, *parts)

    def _repr_markdown_(self) -> str:
        """``to_markdown()``: the same tables with LaTeX formulas."""
        return self.to_markdown()

    def __repr__(self) -> str:
        shapes = "-".join(
            str(n) for n in [self.x.shape[1], *(l.weight.shape[0] for l in self.layers)]
        )
        return (
            f"<Trace: one SGD step of a {shapes} network, loss {self.loss_function} = "
            f"{self.loss:.6g}, eta = {self.lr:g}, {self.n_samples} sample(s), "
            f"{len(self.parameters)} parameters; .to_text(), .to_markdown(), "
            f".parameter(name, index)>"
        )


def _layers_of(net: Sequential) -> list[tuple[int, int | None]]:
    """``[(linear index, activation index or None), ...]``; refuses other shapes."""
    pairs, mods, i = [], list(net), 0
    while i < len(mods):
        m = mods[i]
        if not isinstance(m, Linear):
            raise ConfigError(
                _(
                    "explain_step needs Linear layers each followed by at most one "
                    "activation; module {i} is {name}"
                ).format(i=i, name=type(m).__name__)
            )
        act = None
        if i + 1 < len(mods) and isinstance(mods[i + 1], Activation):
            act = i + 1
        pairs.append((i, act))
        i += 2 if act is not None else 1
    return pairs


def explain_step(
    net: Sequential,
    x: np.ndarray,
    y,
    lr: float = 0.05,
    loss: str = "cross_entropy",
    meta: dict | None = None,
    *,
    stop: bool = False,
) -> Trace:
    """Run one SGD step of ``net`` on ``x, y`` and record every number of it.

    ``net`` is not changed: the step runs on a copy, with the engine's own forward,
    loss, backward and ``SGD.step()``.

    Parameters
    ----------
    net : Sequential
        Linear layers, each followed by at most one activation.
    x : ndarray of shape (n_features,) or (n, n_features)
        One sample, or a small batch (its gradient is the mean of the samples').
    y : int or ndarray of shape (n,) or (n, k)
        The true class ``r`` of each sample (cross-entropy, or MSE against one-hot
        rows), or MSE's target values.
    lr : float
        The learning rate eta of ``w <- w - eta * dL/dw``.
    loss : str
        A key of ``LOSSES``: ``"cross_entropy"`` (softmax + cross-entropy on the
        outputs) or ``"mse"``.
    meta : dict or None
        Context kept in ``Trace.meta``.
    stop : bool
        For a network with an activation that has no derivative (the step
        function): False raises ``NotDifferentiableError``; True returns the
        forward pass and the loss, with ``Trace.stopped`` naming the first backward
        factor that cannot be computed and why (the lecture's point about the step
        function), and no gradients or update.

    Returns
    -------
    Trace

    Raises
    ------
    ConfigError, DataError
        On a loss, learning rate, network or data that cannot be explained.
    NotDifferentiableError
        When the network has a Step activation (unless ``stop``).
    """
    from retroprop.train import loss_targets

    if not isinstance(net, Sequential):
        raise ConfigError(
            _("net must be a retroprop Sequential, got {name}").format(
                name=type(net).__name__
            )
        )
    if loss not in LOSSES:
        raise ConfigError(
            _("loss must be one of {LOSSES}, got {loss!r}").format(
                LOSSES=sorted(LOSSES), loss=loss
            )
        )
    if (
        isinstance(lr, bool)
        or not isinstance(lr, (int, float, np.floating))
        or not np.isfinite(lr)
        or lr < 0
    ):
        raise ConfigError(
            _("lr must be a finite number >= 0, got {lr!r}").format(lr=lr)
        )
    pairs = _layers_of(net)
    dead = [m for m in net if not getattr(m, "differentiable", True)]
    if dead and not stop:
        from retroprop.engine.activations import STEP_WHY

        raise NotDifferentiableError(
            _("cannot explain a step of this network: {why}").format(why=_(STEP_WHY))
        )
    X = np.asarray(x, dtype=net.dtype)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != net.in_features or X.shape[0] == 0:
        raise DataError(
            _(
                "x must have shape ({in_features},) or (n, {in_features}), got {value}"
            ).format(in_features=net.in_features, value=np.shape(x))
        )
    if not np.isfinite(X).all():
        raise DataError(_("x holds a non-finite value"))
    n, k = X.shape[0], net.out_features
    Y = np.asarray(y)
    if Y.ndim == 0:
        Y = Y.reshape(1)
    loss_cls = LOSSES[loss]
    if loss_cls.target == "class" or (Y.ndim == 1 and k > 1):
        if Y.shape != (n,) or not np.issubdtype(Y.dtype, np.integer):
            raise DataError(
                _(
                    "y must be {n} integer class(es), got {dtype} of shape {shape}"
                ).format(n=n, dtype=Y.dtype, shape=Y.shape)
            )
        if Y.min() < 0 or Y.max() >= k:
            raise DataError(
                _("y must hold classes 0..{last}, got {low}..{high}").format(
                    last=k - 1, low=Y.min(), high=Y.max()
                )
            )

    if dead:
        return _stopped_trace(net, pairs, X, Y, lr, loss, meta)

    # The step itself: the engine's forward, loss, backward and SGD on a copy.
    work = copy.deepcopy(net)
    work.zero_grad()
    before = work.state_dict()
    out = work(X)
    loss_fn = loss_cls()
    targets = loss_targets(Y, k, loss, out.dtype)
    loss_value = loss_fn(out, targets)
    grad = loss_fn.backward()
    received, returned = {}, {}
    for i in reversed(range(len(work))):
        received[i] = grad
        grad = work[i].backward(grad)
        returned[i] = grad
    grads = {
        name: cast(np.ndarray, p.grad).copy() for name, p in work.named_parameters()
    }
    SGD(work.parameters(), lr=lr).step()
    after = work.state_dict()

    # Per-sample derivatives: the mean over n samples divided each by n.
    scale = float(n)
    per_sample_loss = loss_fn.per_sample(out, targets)
    probabilities = loss_fn.probabilities(out)
    target_values = (
        None
        if loss_cls.target == "class"
        else np.asarray(targets, dtype=out.dtype).reshape(out.shape).copy()
    )
    prediction = loss_fn.predict(out) if Y.ndim == 1 else None
    loss_factors = loss_fn.chain(out, targets)
    loss_factor_formulas = {
        f.key: {"text": f.text, "latex": f.latex} for f in loss_cls.factors
    }

    layers = []
    for li, (lin_i, act_i) in enumerate(pairs):
        lin = cast(Linear, work[lin_i])  # _layers_of checked the kinds
        act = cast(Activation, work[act_i]) if act_i is not None else None
        is_output = li == len(pairs) - 1
        top = act_i if act_i is not None else lin_i
        # A Linear does not cache z; without an activation, z is the next input.
        z = (
            act.z
            if act is not None
            else (out if is_output else cast(Linear, work[pairs[li + 1][0]]).a_prev)
        )
        grad_a = received[top] * scale
        delta = received[lin_i] * scale
        f_prime = act.derivative().copy() if act is not None else None
        factors: dict[str, np.ndarray] = {}
        formulas: dict[str, dict[str, str]] = {}
        if is_output:
            # the loss's own split of dL/dout_i (cross-entropy: the lecture's
            # dL/dp_r * dp_r/dout_i), per sample
            factors.update(loss_factors)
            formulas.update(loss_factor_formulas)
        else:
            factors["dL/dout_i"] = grad_a.copy()
        if f_prime is not None:
            key = "dout_i/dz_i"
            factors[key] = f_prime
            formulas[key] = _derivative_formula(key, cast(Activation, act))
        # the factors every layer has: dz_i/db_i = 1, dz_i/dw_ij = out_j (out_i at an
        # output without activation), the backpropagated dL/dout_i of hidden layers
        s_ = "out" if is_output and act is None else "z"
        generic = [f"d{s_}_i/db_i", f"d{s_}_i/dw_ij", "product"]
        for key in generic if is_output else ["dL/dout_i", *generic]:
            text, latex = CHAIN_FORMULAS[key]
            formulas[key] = {"text": text, "latex": latex}
        layers.append(
            LayerTrace(
                name=work.names[lin_i],  # "fc1" as the network came, else "0"
                activation=getattr(act, "name", None),
                is_output=is_output,
                weight=before[work.parameter_name(lin_i, "weight")],
                bias=before.get(work.parameter_name(lin_i, "bias")),
                a_prev=lin.a_prev.copy(),
                z=z.copy(),
                a=(act.a if act is not None else z).copy(),
                grad_a=grad_a,
                f_prime=f_prime,
                delta=delta,
                grad_a_prev=returned[lin_i] * scale,
                factors=factors,
                activation_params=act.params() if act is not None else {},
                factor_formulas=formulas,
                formulas=_activation_formulas(act),
                number=li + 1,
            )
        )

    parameters = []
    for layer in layers:
        s = layer.symbol
        entries = [(layer.weight_name, idx) for idx in np.ndindex(layer.weight.shape)]
        if layer.bias is not None:
            bias_name = layer.bias_name or ""
            entries += [(bias_name, idx) for idx in np.ndindex(layer.bias.shape)]
        for name, idx in entries:
            i = idx[0]
            cols = {key: arr[:, i] for key, arr in layer.factors.items()}
            if len(idx) == 2:  # weight w_ij: dz_i/dw_ij = out_j
                j = idx[1]
                cols[f"d{s}_i/dw_ij"] = layer.a_prev[:, j]
                cols["product"] = layer.delta[:, i] * layer.a_prev[:, j]
            else:
                cols[f"d{s}_i/db_i"] = np.ones(n)
                cols["product"] = layer.delta[:, i]
            per_sample = [
                {key: float(v[t]) for key, v in cols.items()} for t in range(n)
            ]
            parameters.append(
                ParameterTrace(
                    name=name,
                    index=tuple(int(v) for v in idx),
                    value=float(before[name][idx]),
                    grad=float(grads[name][idx]),
                    updated=float(after[name][idx]),
                    factors={key: float(v.mean()) for key, v in cols.items()},
                    per_sample=per_sample,
                )
            )

    return Trace(
        lr=float(lr),
        loss_function=loss,
        loss=float(loss_value),
        loss_per_sample=per_sample_loss,
        x=X.copy(),
        target=Y.copy(),
        target_values=target_values,
        output=out.copy(),
        probabilities=probabilities,
        layers=layers,
        parameters=parameters,
        meta=dict(meta or {}),
        loss_formulas=loss_cls.describe(),
        prediction=prediction,
    )


def _stopped_trace(
    net: Sequential,
    pairs: list[tuple[int, int | None]],
    X: np.ndarray,
    Y: np.ndarray,
    lr: float,
    loss: str,
    meta: dict | None,
) -> Trace:
    """The forward pass and the loss of a network that backpropagation cannot go
    through, and where the backward pass stops: at the derivative of the topmost
    activation that has none (the first factor the chain rule needs from it)."""
    from retroprop.engine.activations import STEP_WHY
    from retroprop.train import loss_targets

    work = copy.deepcopy(net)
    out = work(X)
    loss_cls = LOSSES[loss]
    loss_fn = loss_cls()
    targets = loss_targets(Y, net.out_features, loss, out.dtype)
    loss_value = loss_fn(out, targets)
    layers, stopped_at = [], None
    for li, (lin_i, act_i) in enumerate(pairs):
        lin = cast(Linear, work[lin_i])
        act = cast(Activation, work[act_i]) if act_i is not None else None
        is_output = li == len(pairs) - 1
        z = (
            act.z
            if act is not None
            else (out if is_output else cast(Linear, work[pairs[li + 1][0]]).a_prev)
        )
        nan = np.full(z.shape, np.nan)
        layer = LayerTrace(
            name=work.names[lin_i],
            activation=getattr(act, "name", None),
            is_output=is_output,
            weight=lin.weight.data.copy(),
            bias=None if lin.bias is None else lin.bias.data.copy(),
            a_prev=lin.a_prev.copy(),
            z=z.copy(),
            a=(act.a if act is not None else z).copy(),
            grad_a=nan,
            f_prime=None,
            delta=nan.copy(),
            grad_a_prev=np.full(lin.a_prev.shape, np.nan),
            factors={},
            activation_params=act.params() if act is not None else {},
            formulas=_activation_formulas(act),
            number=li + 1,
        )
        layers.append(layer)
        if act is not None and not act.differentiable:
            stopped_at = _("dout_i/dz_i of {layer}, {f}'(z)").format(
                layer=layer.label, f=act.name
            )
    return Trace(
        lr=float(lr),
        loss_function=loss,
        loss=float(loss_value),
        loss_per_sample=loss_fn.per_sample(out, targets),
        x=X.copy(),
        target=Y.copy(),
        target_values=(
            None
            if loss_cls.target == "class"
            else np.asarray(targets, dtype=out.dtype).reshape(out.shape).copy()
        ),
        output=out.copy(),
        probabilities=loss_fn.probabilities(out),
        layers=layers,
        parameters=[],
        meta=dict(meta or {}),
        loss_formulas=loss_cls.describe(),
        prediction=loss_fn.predict(out) if Y.ndim == 1 else None,
        stopped={"at": stopped_at or "", "reason": STEP_WHY},
    )


def _activation_formulas(act: Activation | None) -> dict[str, str | None]:
    """What the views show of an activation (see ``LayerTrace.formulas``)."""
    if act is None:
        return {}
    out: dict[str, str | None] = dict(act.formulas())
    out["latex_i"] = indexed_latex(act.formula("latex"), "i")
    out["latex_prime_i"] = indexed_latex(act.formula("latex_prime"), "i")
    z, a = act.spreadsheet_cells("{z}", "{a}")
    out["spreadsheet"], out["spreadsheet_prime"] = z, a
    return out
