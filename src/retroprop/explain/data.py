"""What an explain trace holds: one SGD step, every number and formula kept.

``TraceData`` (with ``LayerTrace`` and ``ParameterTrace``) is the trace as data and
its JSON form. The renderers (``views``, ``markdown``, ``text``, ``tabular``,
``xlsx``) read it; ``trace.Trace`` adds them as methods and ``explain_step`` builds
it. So the layers run one way: ``data`` <- renderers <- ``trace``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from retroprop.i18n import _, ngettext
from retroprop.jsondata import plain

SCHEMA = "retroprop.explain/2"
"""The ``schema`` value of ``Trace.to_dict()``; bumped if a key changes meaning
(2: layers named as the network names them, ``label``, ``number``, ``stopped``,
the lecture's factor keys ``dL/dout_i`` and ``dout_i/dz_i`` for hidden layers)."""


def layer_label(name: str, number: int, is_output: bool) -> str:
    """How every view names a Linear layer: its name, then its place in the network,
    in the language in use (a label for people: the report's page and the tables).

    ``layer_label("fc1", 1, False)`` is ``"fc1 (hidden layer 1)"`` (``"fc1 (camada
    oculta 1)"`` in Portuguese), ``layer_label("fc3", 3, True)`` is ``"fc3 (output
    layer)"``; ``number`` counts the Linear layers from 1.
    """
    if is_output:
        return _("{name} (output layer)").format(name=name)
    return _("{name} (hidden layer {number})").format(name=name, number=number)


def step_context(meta: dict) -> str:
    """Which step a trace explains and where its weights came from, in one line, in
    the language in use.

    ``meta`` as the command line fills it: ``step``, ``sample``, ``epoch`` and, for
    weights read from a file, ``weights`` (``{"file": ..., "epochs": ...}``).
    ``"step 1, sample 86, epoch 1"``; from a trained model ``"weights from
    trained.safetensors (trained for 100 epochs); the step explained is update 1
    of training continued from them (sample 86)"``.
    """
    words = {"step": _("step {n}"), "sample": _("sample {n}"), "epoch": _("epoch {n}")}
    where = ", ".join(
        words[k].format(n=meta[k]) for k in ("step", "sample", "epoch") if k in meta
    )
    source = meta.get("weights")
    if not isinstance(source, dict) or "file" not in source:
        return where
    epochs = source.get("epochs")
    origin = (
        ngettext(
            "weights from {file} (trained for {epochs} epoch)",
            "weights from {file} (trained for {epochs} epochs)",
            epochs if isinstance(epochs, int) else 2,
        ).format(file=source["file"], epochs=epochs)
        if epochs is not None
        else _("weights from {file}").format(file=source["file"])
    )
    if "step" not in meta:
        return origin
    if "sample" in meta:
        return _(
            "{origin}; the step explained is update {step} of training continued "
            "from them (sample {sample})"
        ).format(origin=origin, step=meta["step"], sample=meta["sample"])
    return _(
        "{origin}; the step explained is update {step} of training continued from them"
    ).format(origin=origin, step=meta["step"])


@dataclass
class LayerTrace:
    """One Linear layer (and the activation after it, if any) in one step.

    Arrays are batch-first: ``n`` samples, ``in``/``out`` the layer's widths.
    Backward arrays are per-sample derivatives (of each sample's own loss).

    Attributes
    ----------
    name : str
        The Linear's name in the network: the name it came with (``"fc1"`` from the
        lecture's PyTorch class, or given to ``mlp(..., names=...)``), else its index
        in the Sequential (``"0"``, ``"2"``, ``"4"``...). Its parameters are
        ``"<name>.weight"`` and ``"<name>.bias"``.
    number : int
        Its position among the Linear layers, from 1 (the lecture's layer ``l``).
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
        The neuron-level chain-rule factors, in order.
    factor_formulas : dict of str -> dict
        Each factor key of this layer's parameters -> ``{"text": right-hand side in
        plain text, "latex": the equation in LaTeX}``.
    formulas : dict of str -> str or None
        The activation's formulas with its settings filled in: ``text``,
        ``text_prime``, ``latex``, ``latex_prime`` (in ``z`` and ``a``),
        ``latex_i`` (``a_i = f(z_i)`` written per neuron), ``spreadsheet`` and
        ``spreadsheet_prime`` (templates over ``{z}`` and ``{a}``, or None). Empty
        without an activation.
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
    factor_formulas: dict[str, dict[str, str]] = field(default_factory=dict)
    formulas: dict[str, str | None] = field(default_factory=dict)
    number: int = 1

    @property
    def weight_name(self) -> str:
        return f"{self.name}.weight"

    @property
    def label(self) -> str:
        """The one way every view names the layer: ``"fc1 (hidden layer 1)"``."""
        return layer_label(self.name, self.number, self.is_output)

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
            "number": self.number,
            "label": self.label,
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
            "factor_formulas": {k: dict(v) for k, v in self.factor_formulas.items()},
            "formulas": dict(self.formulas),
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
class TraceData:
    """One SGD step of a network on one sample (or a small batch), every number kept.

    What a trace holds, and its JSON form (``to_dict``, ``to_json``);
    ``explain_step`` returns a ``Trace``, this plus its renderers.

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
    loss_formulas : dict
        The loss's own description (``Loss.describe()``): its formulas in text,
        LaTeX and spreadsheet form, its chain-rule factors, what the outputs mean
        (``"probabilities"`` or ``"values"``) and how a prediction is read.
    prediction : ndarray of shape (n,) or None
        The predicted class of each sample (``Loss.predict``: the largest output),
        when the targets are classes.
    stopped : dict or None
        For a network backpropagation cannot go through (the step function):
        ``{"at": the first backward factor that has no value, "reason": why}``; the
        trace then holds the forward pass and the loss only (no ``parameters``,
        backward arrays NaN). None for a full step.
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
    loss_formulas: dict = field(default_factory=dict)
    prediction: np.ndarray | None = None
    stopped: dict | None = None

    @property
    def n_samples(self) -> int:
        return self.x.shape[0]

    def parameter(self, name: str, index: tuple[int, ...] | int) -> ParameterTrace:
        """The entry of parameter ``name`` at ``index`` (``("fc3.bias", 1)``).

        Raises ``KeyError`` listing the trace's parameter names and their shapes
        when ``name`` is not one of them or ``index`` is outside its shape.
        """
        index = (index,) if isinstance(index, (int, np.integer)) else tuple(index)
        for p in self.parameters:
            if p.name == name and p.index == index:
                return p
        shapes = {k: v.shape for k, v in self.values().items()}
        valid = ", ".join(f"{k} {list(v)}" for k, v in shapes.items())
        if name not in shapes:
            raise KeyError(
                _(
                    "no parameter named {name!r} in the trace; its parameters (and shapes) "
                    "are: {valid}"
                ).format(name=name, valid=valid)
            )
        bounds = ", ".join(f"0..{n - 1}" for n in shapes[name])
        raise KeyError(
            _(
                "{name} has no entry {index}: its shape is {shapes}, so the index takes "
                "{n_shapes} number(s) in {bounds}"
            ).format(
                name=name,
                index=list(index),
                shapes=list(shapes[name]),
                n_shapes=len(shapes[name]),
                bounds=bounds,
            )
        )

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
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in self.layers:
            shapes[layer.weight_name] = layer.weight.shape
            if layer.bias_name is not None and layer.bias is not None:
                shapes[layer.bias_name] = layer.bias.shape
        out = {name: np.empty(shape) for name, shape in shapes.items()}
        for p in self.parameters:
            out[p.name][p.index] = getattr(p, what)
        return out

    def factor_texts(self) -> dict[str, str]:
        """Every factor key of the trace -> its right-hand side in plain text."""
        out: dict[str, str] = {}
        for layer in self.layers:
            for key, f in layer.factor_formulas.items():
                out.setdefault(key, f["text"])
        return out

    # -- as data -----------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The whole trace as JSON-ready data (the schema is in the README).

        Non-finite numbers (``dL/dp_r = -1/p_r`` when ``p_r`` underflows to 0)
        become None.
        """
        d = plain(
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
                "factor_formulas": self.factor_texts(),
                "loss_formulas": self.loss_formulas,
                "prediction": (
                    None if self.prediction is None else self.prediction.tolist()
                ),
                "meta": self.meta,
                "stopped": self.stopped,
            }
        )
        assert isinstance(d, dict)
        return d

    def to_json(self, path=None, *, indent: int | None = 2) -> str:
        """``to_dict()`` as JSON text; also written atomically to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"
        if path is not None:
            from retroprop.atomic import write_text

            write_text(path, text)
        return text
