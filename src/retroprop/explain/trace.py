"""``explain_step``: one SGD step of the engine, with every number kept, as a Trace.

The trace is the engine's own computation, recorded, not a second implementation:
the network's modules run their ``forward`` (caching ``a_prev``, ``z``, ``a``), the
loss its ``forward`` and ``backward``, then each module's ``backward`` is called in
reverse and what it returns is kept (``dL/da``, ``delta = dL/dz``); the gradients are
read from ``Parameter.grad`` and the updated values from a real ``SGD.step()`` on a
copy of the network. What the trace adds is the lecture's decomposition of each
gradient into chain-rule factors, shown beside the engine's product:

- output layer, cross-entropy: ``dL/db_i = dL/dp_r * dp_r/dout_i * dout_i/db_i`` with
  ``dL/dp_r = -1/p_r``, ``dp_r/dout_i = p_r (delta_ri - p_i)``, ``dout_i/db_i = 1``,
  whose product is ``p_i - delta_ri``; ``dout_i/dw_ij = a_j`` for the weights;
- output layer, MSE: ``dL/dout_i = 2 (out_i - t_i) / k``;
- hidden layers: the backpropagated error ``dL/da_i = sum_k w_ki delta_k``, the
  activation's derivative ``da_i/dz_i = f'(z_i)`` (``a (1 - a)`` for the sigmoid)
  and ``dz_i/db_i = 1``, ``dz_i/dw_ij = a_j``.

Per-sample values are per-sample losses' derivatives; for a batch of ``n`` samples the
gradient is their mean (the engine's ``reduction="mean"``), and ``factors`` hold the
batch mean of each factor (the product's mean is the gradient).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import numpy as np

from retroprop.engine.activations import Activation
from retroprop.engine.layers import Linear, Sequential
from retroprop.engine.losses import LOSSES, log_softmax
from retroprop.engine.optim import SGD
from retroprop.errors import ConfigError, DataError, NotDifferentiableError
from retroprop.jsondata import plain

SCHEMA = "retroprop.explain/1"
"""The ``schema`` value of ``Trace.to_dict()``; bumped if a key changes meaning."""

FACTOR_TEXT: dict[str, str] = {
    "dL/dp_r": "-1/p_r",
    "dp_r/dout_i": "p_r (δ_ri - p_i)",
    "dL/dout_i": "2 (out_i - t_i) / k",
    "dout_i/dz_i": "f'(z_i)",
    "dL/da_i": "Σ_k w_ki δ_k",
    "da_i/dz_i": "f'(z_i)",
    "dout_i/db_i": "1",
    "dz_i/db_i": "1",
    "dout_i/dw_ij": "a_j",
    "dz_i/dw_ij": "a_j",
    "product": "dL/dθ",
}
"""Factor key -> its formula in the lecture's notation (plain text)."""

DERIVATIVE_TEXT: dict[str, str] = {
    "sigmoid": "a (1 - a)",
    "tanh": "1 - a²",
    "relu": "1 if z > 0 else 0",
    "leaky_relu": "1 if z > 0 else slope",
    "identity": "1",
}
"""Activation name -> its derivative written in terms of the cached ``z`` and ``a``."""


@dataclass
class LayerTrace:
    """One Linear layer (and the activation after it, if any) in one step.

    Arrays are batch-first: ``n`` samples, ``in``/``out`` the layer's widths.
    Backward arrays are per-sample derivatives (of each sample's own loss).

    Attributes
    ----------
    name : str
        The Linear's index in the Sequential (``"0"``, ``"2"``, ``"4"``...).
    activation : str or None
        Name of the activation after the Linear (None: the layer outputs ``z``).
    activation_params : dict
        The activation's settings (``{"negative_slope": 0.01}`` for leaky_relu).
    is_output : bool
        Whether this is the network's last layer.
    weight : ndarray of shape (out, in)
    bias : ndarray of shape (out,) or None
        The values before the update.
    a_prev, z, a : ndarrays of shape (n, in), (n, out), (n, out)
        What ``forward`` cached: input, pre-activation, output.
    grad_a : ndarray of shape (n, out)
        ``dL/da`` that reached the layer's output (from the loss, or from the next
        Linear's ``backward``: ``sum_k w_ki delta_k``).
    f_prime : ndarray of shape (n, out) or None
        ``f'(z)`` from the activation's ``derivative()``.
    delta : ndarray of shape (n, out)
        ``dL/dz``, what the Linear's ``backward`` received.
    grad_a_prev : ndarray of shape (n, in)
        What the Linear's ``backward`` returned: ``delta @ W``.
    factors : dict of str -> ndarray of shape (n, out)
        The neuron-level chain-rule factors, in order (see ``FACTOR_TEXT``).
    """

    name: str
    activation: str | None
    is_output: bool
    weight: np.ndarray
    bias: np.ndarray | None
    a_prev: np.ndarray
    z: np.ndarray
    a: np.ndarray
    grad_a: np.ndarray
    f_prime: np.ndarray | None
    delta: np.ndarray
    grad_a_prev: np.ndarray
    factors: dict[str, np.ndarray]
    activation_params: dict = field(default_factory=dict)

    @property
    def weight_name(self) -> str:
        return f"{self.name}.weight"

    @property
    def bias_name(self) -> str | None:
        return None if self.bias is None else f"{self.name}.bias"

    @property
    def symbol(self) -> str:
        """``"out"`` at the output layer without activation, else ``"z"``."""
        return "out" if self.is_output and self.activation is None else "z"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "weight_name": self.weight_name,
            "bias_name": self.bias_name,
            "activation": self.activation,
            "activation_params": dict(self.activation_params),
            "is_output": self.is_output,
            "weight": self.weight.tolist(),
            "bias": None if self.bias is None else self.bias.tolist(),
            "a_prev": self.a_prev.tolist(),
            "z": self.z.tolist(),
            "a": self.a.tolist(),
            "grad_a": self.grad_a.tolist(),
            "f_prime": None if self.f_prime is None else self.f_prime.tolist(),
            "delta": self.delta.tolist(),
            "grad_a_prev": self.grad_a_prev.tolist(),
            "factors": {k: v.tolist() for k, v in self.factors.items()},
        }


@dataclass
class ParameterTrace:
    """One scalar parameter: its value, gradient, update and chain-rule factors.

    Attributes
    ----------
    name : str
        As in ``state_dict()`` (``"4.bias"``).
    index : tuple of int
        Position in the parameter (``(i,)`` for a bias, ``(i, j)`` for a weight).
    value, grad, updated : float
        Before the step, ``Parameter.grad``, after ``SGD.step()``.
    factors : dict of str -> float
        The chain-rule factors (batch means), ending with ``"product"``.
    per_sample : list of dict of str -> float
        The same factors for each sample of the batch.
    """

    name: str
    index: tuple[int, ...]
    value: float
    grad: float
    updated: float
    factors: dict[str, float]
    per_sample: list[dict[str, float]]

    def _repr_html_(self) -> str:
        """The chain-rule factors, their product and the update, as held."""
        from retroprop.display import html_block, html_table

        where = "[" + ", ".join(map(str, self.index)) + "]"
        rows = [[k, v] for k, v in self.factors.items()]
        rows += [
            ["dL/dθ (gradient)", self.grad],
            ["θ before the step", self.value],
            ["θ - η dL/dθ (after)", self.updated],
        ]
        return html_block(f"{self.name}{where}", html_table(["factor", "value"], rows))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "index": list(self.index),
            "value": self.value,
            "grad": self.grad,
            "updated": self.updated,
            "factors": dict(self.factors),
            "per_sample": [dict(f) for f in self.per_sample],
        }


@dataclass
class Trace:
    """One SGD step of a network on one sample (or a small batch), every number kept.

    Build it with ``explain_step``. Renderers: ``to_dict``, ``to_json``,
    ``to_markdown``, ``to_csv``, ``to_xlsx``, ``to_text`` (rich tables).

    Attributes
    ----------
    lr : float
        The learning rate (eta).
    loss_function : str
        A key of ``LOSSES``.
    loss : float
        The batch's mean loss before the step.
    loss_per_sample : ndarray of shape (n,)
    x : ndarray of shape (n, n_features)
    target : ndarray of shape (n,) or (n, k)
        As given: classes ``r`` (cross-entropy, or MSE against one-hot rows) or values.
    target_values : ndarray of shape (n, k) or None
        What MSE compared the output with (None for cross-entropy).
    output : ndarray of shape (n, k)
        The network's output (logits for cross-entropy).
    probabilities : ndarray of shape (n, k) or None
        ``softmax(output)`` for cross-entropy.
    layers : list of LayerTrace
    parameters : list of ParameterTrace
        Every scalar parameter, in ``state_dict`` order, row-major within each.
    meta : dict
        Free-form context (the command line puts the step, sample, class names here).
    """

    lr: float
    loss_function: str
    loss: float
    loss_per_sample: np.ndarray
    x: np.ndarray
    target: np.ndarray
    target_values: np.ndarray | None
    output: np.ndarray
    probabilities: np.ndarray | None
    layers: list[LayerTrace]
    parameters: list[ParameterTrace]
    meta: dict = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return self.x.shape[0]

    def parameter(self, name: str, index: tuple[int, ...] | int) -> ParameterTrace:
        """The entry of parameter ``name`` at ``index`` (``("4.bias", 1)``)."""
        index = (index,) if isinstance(index, (int, np.integer)) else tuple(index)
        for p in self.parameters:
            if p.name == name and p.index == index:
                return p
        raise KeyError(f"no parameter {name}{list(index)} in the trace")

    def grads(self) -> dict[str, np.ndarray]:
        """``{name: gradient array}`` shaped like ``state_dict()``."""
        return self._collect("grad")

    def updated(self) -> dict[str, np.ndarray]:
        """``{name: value after the step}`` shaped like ``state_dict()``."""
        return self._collect("updated")

    def values(self) -> dict[str, np.ndarray]:
        """``{name: value before the step}`` shaped like ``state_dict()``."""
        return self._collect("value")

    def _collect(self, what: str) -> dict[str, np.ndarray]:
        shapes = {}
        for layer in self.layers:
            shapes[layer.weight_name] = layer.weight.shape
            if layer.bias is not None:
                shapes[layer.bias_name] = layer.bias.shape
        out = {name: np.empty(shape) for name, shape in shapes.items()}
        for p in self.parameters:
            out[p.name][p.index] = getattr(p, what)
        return out

    # -- renderers ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The whole trace as JSON-ready data (the schema is in the README).

        Non-finite numbers (``dL/dp_r = -1/p_r`` when ``p_r`` underflows to 0)
        become None.
        """
        return plain(
            {
                "schema": SCHEMA,
                "lr": self.lr,
                "loss_function": self.loss_function,
                "loss": self.loss,
                "loss_per_sample": self.loss_per_sample.tolist(),
                "n_samples": self.n_samples,
                "input": self.x.tolist(),
                "target": self.target.tolist(),
                "target_values": (
                    None if self.target_values is None else self.target_values.tolist()
                ),
                "output": self.output.tolist(),
                "probabilities": (
                    None if self.probabilities is None else self.probabilities.tolist()
                ),
                "layers": [layer.to_dict() for layer in self.layers],
                "parameters": [p.to_dict() for p in self.parameters],
                "factor_formulas": dict(FACTOR_TEXT),
                "meta": self.meta,
            }
        )

    def to_json(self, path=None, *, indent: int | None = 2) -> str:
        """``to_dict()`` as JSON text; also written atomically to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"
        if path is not None:
            from retroprop.atomic import write_text

            write_text(path, text)
        return text

    def to_csv(self, path=None) -> str:
        """One row per parameter; see ``retroprop.explain.tabular.to_csv``."""
        from retroprop.explain.tabular import to_csv

        return to_csv(self, path)

    def to_markdown(self, path=None) -> str:
        """Markdown with LaTeX math; see ``retroprop.explain.markdown``."""
        from retroprop.explain.markdown import to_markdown

        return to_markdown(self, path)

    def to_text(self, width: int = 120) -> str:
        """The terminal tables as plain text; see ``retroprop.explain.text``."""
        from retroprop.explain.text import to_text

        return to_text(self, width=width)

    def to_xlsx(self, path) -> None:
        """A workbook of live formulas; see ``retroprop.explain.xlsx``."""
        from retroprop.explain.xlsx import to_xlsx

        to_xlsx(self, path)

    # -- notebook displays (Jupyter, Colab): they read the renderers, never compute --

    def _repr_html_(self) -> str:
        """The terminal's tables as compact HTML, formulas in the column headers."""
        from retroprop.display import html_block, html_lines, html_table
        from retroprop.explain.views import views

        where = ", ".join(
            f"{k} {self.meta[k]}" for k in ("step", "sample", "epoch") if k in self.meta
        )
        title = (
            f"One SGD step: loss {self.loss_function}, η = {self.lr:g}, "
            f"{self.n_samples} sample(s)" + (f" ({where})" if where else "")
        )
        parts = ["<p>Update: θ ← θ - η dL/dθ.</p>"]
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
                f"explain_step needs Linear layers each followed by at most one "
                f"activation; module {i} is {type(m).__name__}"
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

    Returns
    -------
    Trace

    Raises
    ------
    ConfigError, DataError
        On a loss, learning rate, network or data that cannot be explained.
    NotDifferentiableError
        When the network has a Step activation.
    """
    from retroprop.train import loss_targets

    if not isinstance(net, Sequential):
        raise ConfigError(
            f"net must be a retroprop Sequential, got {type(net).__name__}"
        )
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    if (
        isinstance(lr, bool)
        or not isinstance(lr, (int, float, np.floating))
        or not np.isfinite(lr)
        or lr < 0
    ):
        raise ConfigError(f"lr must be a finite number >= 0, got {lr!r}")
    pairs = _layers_of(net)
    for m in net:
        if not getattr(m, "differentiable", True):
            from retroprop.engine.activations import STEP_WHY

            raise NotDifferentiableError(
                f"cannot explain a step of this network: {STEP_WHY}"
            )
    X = np.asarray(x, dtype=net.dtype)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != net.in_features or X.shape[0] == 0:
        raise DataError(
            f"x must have shape ({net.in_features},) or (n, {net.in_features}), "
            f"got {np.shape(x)}"
        )
    if not np.isfinite(X).all():
        raise DataError("x holds a non-finite value")
    n, k = X.shape[0], net.out_features
    Y = np.asarray(y)
    if Y.ndim == 0:
        Y = Y.reshape(1)
    if loss == "cross_entropy" or (Y.ndim == 1 and k > 1):
        if Y.shape != (n,) or not np.issubdtype(Y.dtype, np.integer):
            raise DataError(
                f"y must be {n} integer class(es), got {Y.dtype} of shape {Y.shape}"
            )
        if Y.min() < 0 or Y.max() >= k:
            raise DataError(f"y must hold classes 0..{k - 1}, got {Y.min()}..{Y.max()}")

    # The step itself: the engine's forward, loss, backward and SGD on a copy.
    work = copy.deepcopy(net)
    work.zero_grad()
    before = work.state_dict()
    out = work(X)
    loss_fn = LOSSES[loss]()
    targets = loss_targets(Y, k, loss, out.dtype)
    loss_value = loss_fn(out, targets)
    grad = loss_fn.backward()
    received, returned = {}, {}
    for i in reversed(range(len(work))):
        received[i] = grad
        grad = work[i].backward(grad)
        returned[i] = grad
    grads = {name: p.grad.copy() for name, p in work.named_parameters()}
    SGD(work.parameters(), lr=lr).step()
    after = work.state_dict()

    # Per-sample derivatives: the mean over n samples divided each by n.
    scale = float(n)
    if loss == "cross_entropy":
        p = loss_fn.p
        per_sample_loss = -log_softmax(out)[np.arange(n), Y]  # L = -ln p_r
        probabilities = p.copy()
        target_values = None
    else:
        diff = loss_fn.diff
        per_sample_loss = (diff * diff).mean(axis=1)
        probabilities = None
        target_values = np.asarray(targets, dtype=out.dtype).reshape(out.shape).copy()

    layers = []
    for li, (lin_i, act_i) in enumerate(pairs):
        lin: Linear = work[lin_i]
        act = work[act_i] if act_i is not None else None
        is_output = li == len(pairs) - 1
        top = act_i if act_i is not None else lin_i
        # A Linear does not cache z; without an activation, z is the next input.
        z = (
            act.z
            if act is not None
            else (out if is_output else work[pairs[li + 1][0]].a_prev)
        )
        grad_a = received[top] * scale
        delta = received[lin_i] * scale
        f_prime = act.derivative().copy() if act is not None else None
        factors: dict[str, np.ndarray] = {}
        if is_output and loss == "cross_entropy":
            # dL/dp_r = -1/p_r and dp_r/dout_i = p_r (delta_ri - p_i): the lecture's
            # split of the engine's dL/dout_i = p_i - delta_ri.
            p_r = p[np.arange(n), Y][:, None]
            onehot = np.zeros_like(p)
            onehot[np.arange(n), Y] = 1.0
            with np.errstate(divide="ignore", over="ignore"):  # -inf when p_r == 0
                factors["dL/dp_r"] = np.broadcast_to(-1.0 / p_r, p.shape).copy()
            factors["dp_r/dout_i"] = p_r * (onehot - p)
        elif is_output:
            factors["dL/dout_i"] = grad_a.copy()
        else:
            factors["dL/da_i"] = grad_a.copy()
        if f_prime is not None:
            factors["dout_i/dz_i" if is_output else "da_i/dz_i"] = f_prime
        layers.append(
            LayerTrace(
                name=str(lin_i),
                activation=getattr(act, "name", None),
                is_output=is_output,
                weight=before[f"{lin_i}.weight"],
                bias=before.get(f"{lin_i}.bias"),
                a_prev=lin.a_prev.copy(),
                z=z.copy(),
                a=(act.a if act is not None else z).copy(),
                grad_a=grad_a,
                f_prime=f_prime,
                delta=delta,
                grad_a_prev=returned[lin_i] * scale,
                factors=factors,
                activation_params={
                    k: v
                    for k, v in (act.config() if act else {}).items()
                    if k not in ("type", "name")
                },
            )
        )

    parameters = []
    for layer in layers:
        s = layer.symbol
        entries = [(layer.weight_name, idx) for idx in np.ndindex(layer.weight.shape)]
        if layer.bias is not None:
            entries += [(layer.bias_name, idx) for idx in np.ndindex(layer.bias.shape)]
        for name, idx in entries:
            i = idx[0]
            cols = {key: arr[:, i] for key, arr in layer.factors.items()}
            if len(idx) == 2:  # weight w_ij: dz_i/dw_ij = a_j
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
    )
