"""``render_html``: recorded traces (and a run's curves) -> one self-contained page.

The renderer computes nothing: every number on the page is a number of a trace
(``Trace.to_dict()``, the same data as ``retroprop explain --format json``) or of the
run's ``History``. The page's own script draws the network diagram and the curves
from that data, and every formula it shows is one the trace carries (the loss's
``loss_formulas``, each layer's activation ``formulas`` and ``factor_formulas``, in
LaTeX that a small reader in the page turns into MathML): the script knows no
activation or loss by name. The data sits in a ``<script type="application/json">`` block, with
every ``<`` written as ``\\u003c`` so no class or feature name can close the block.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from importlib import resources
from typing import Any

from retroprop import frontend
from retroprop.engine.layers import Linear, Sequential
from retroprop.errors import ConfigError
from retroprop.explain.data import layer_label, step_context
from retroprop.i18n import N_, _, html_lang
from retroprop.jsondata import plain

TEMPLATE = "template.html"
"""The page template, a package data file next to this module."""

SCRIPTS = ("page.js",)
"""The page's code, inlined in this order after the shared front-end files
(package data files next to this module)."""

STYLE = "page.css"
"""The page's look, inlined."""

_DATA_SLOT = "__RETROPROP_DATA__"
_TITLE_SLOT = "__RETROPROP_TITLE__"
_CSS_SLOT = "__RETROPROP_CSS__"
_JS_SLOT = "__RETROPROP_JS__"

LABELS = {
    "network": N_("The network at this step"),
    "colour_by": N_("colour lines by:"),
    "weight": N_("weight"),
    "gradient": N_("gradient"),
    "colour_neurons": N_("colour neurons by:"),
    "output_out": N_("output out"),
    "delta_mode": N_("δ = ∂L/∂z"),
    "grad_note": N_(
        "Gradient colours: positive (blue) means the next update lowers the weight "
        "(w ← w - η ∂L/∂w); negative (orange) raises it."
    ),
    "click_diagram": N_(
        "Click a neuron, a line (weight) or a small square (bias), or reach them "
        "with Tab and press Enter."
    ),
    "network_aria": N_(
        "the network: Tab to a neuron, a weight or a bias and press Enter for its "
        "numbers"
    ),
    "details": N_("Details"),
    "click_details": N_("Click a neuron, a weight or a bias in the diagram."),
    "sample": N_("The sample of this step"),
    "curves": N_("Learning curves"),
    "loss_steps": N_("Loss of each recorded step's sample,"),
    "loss_epochs": N_("Mean loss per epoch"),
    "accuracy_epochs": N_("Accuracy per epoch"),
    "r2_epochs": N_("R² per epoch"),
    "train": N_("train"),
    "test": N_("test"),
    "footer": N_(
        "Made by retroprop. Every number on this page is a number of the recorded "
        "traces or of the run's history; the details show each one in full. Formulas "
        'after the lecture "Retropropagação" by Paulo Ricardo Lisboa de Almeida '
        "(CC BY 4.0)."
    ),
    # the step controls
    "steps_nav": N_("steps"),
    "first_step": N_("first step (Home)"),
    "prev_step": N_("previous step (←)"),
    "next_step": N_("next step (→)"),
    "play": N_("play (space)"),
    "pause": N_("pause (space)"),
    "step": N_("step"),
    "speed": N_("speed"),
    "step_of": N_("step {k} / {n}"),
    "epoch_n": N_("epoch {n}"),
    "iteration_n": N_("iteration {n}"),
    "keys_hint": N_("← → to move, space to play"),
    "announce": N_(
        "Step {k} of {n}: epoch {epoch}, iteration {iteration}, loss {loss}"
    ),
    # the diagram's spoken names and its scales
    "input_layer": N_("input"),
    "hidden_layer": N_("hidden layer {n}"),
    "output_layer": N_("output layer"),
    "weight_spoken": N_(
        "weight from {from} neuron {j} to {to} neuron {i}: value {value}, "
        "gradient {grad}"
    ),
    "bias_spoken": N_("bias of {layer} neuron {i}: value {value}, gradient {grad}"),
    "input_spoken": N_("{layer} {i}{name}: x {value}"),
    "neuron_spoken": N_("{layer} neuron {i}{name}: output out {value}, δ {delta}"),
    "heatmap_aria": N_("the {n} inputs as a heatmap: arrow keys move, Enter shows one"),
    "expand": N_("+{n} more"),
    "collapse": N_("show fewer"),
    "lines_weights": N_("lines: weights before the update"),
    "lines_gradients": N_("lines: gradients ∂L/∂w"),
    "scale_weights": N_("weights and biases"),
    "scale_gradients": N_("gradients"),
    "scale_out": N_("neuron output out"),
    "scale_delta": N_("neuron δ = ∂L/∂z"),
    "scale_fixed": N_("(the same scales on every step)"),
    "scale_spoken": N_("orange negative, blue positive, full colour at {scale}"),
    # the backward pass in the details
    "terms": N_("{n} terms"),
    "formula_scrolls": N_("formula (scroll it sideways)"),
    "weights_grid": N_(
        "The weights into neuron {i} from the {n} inputs, laid out as the inputs "
        "(click one; arrow keys move):"
    ),
    "backward_sum": N_(
        "Backward: this neuron's ∂L/∂out is the sum over the neurons k of {layer} of "
        "their weight from it times their δ_k:"
    ),
    "delta_of": N_("δ = ∂L/∂z of neuron {i} of {layer}"),
}
"""The page's fixed texts (``data-label`` in the template), in the language in use in
the page's data: the page shows them as given, and keeps its English without them."""


PHRASES = (
    N_("value before the update"),
    N_("learning rate η"),
    N_("updated value"),
    N_("Chain-rule factors (from the trace)"),
    N_("z (pre-activation)"),
    N_("input x (standardised)"),
    N_("raw value"),
    N_("true class r"),
    N_("mean loss of the batch"),
    N_("training row"),
    N_("true class"),
    N_("predicted"),
    N_("right"),
    N_("wrong"),
    N_("feature"),
    N_("raw"),
    N_("x (standardised)"),
    N_("class"),
    N_("loss of this sample"),
    N_("epoch"),
    N_("iteration"),
    N_("inputs x"),
    N_("No such parameter in this step."),
    N_("data:"),
    N_("network:"),
    N_("batch size"),
    N_("seed"),
)
"""Words the page's script writes as they are in English; ``LABELS["phrases"]`` maps
each to the language in use."""


def network_layout(net: Sequential) -> tuple[list[dict], list[dict]]:
    """The diagram's layers and connections, read from the network's modules.

    Returns
    -------
    layers : list of dict
        Layer 0 is the inputs, then one per Linear: ``size``, ``kind`` (``"input"``,
        ``"hidden"``, ``"output"``), ``activation`` (name or None), ``module`` (the
        Linear's name in the network: ``"fc1"``, or its index ``"0"``), ``label``
        (``layer_label``: ``"fc1 (hidden layer 1)"``) and ``bias`` (its
        ``state_dict`` name).
    linears : list of dict
        One per Linear: ``module``, ``weight`` and ``bias`` names, ``in``, ``out`` and
        the diagram layers it connects (``from``, ``to``).
    """
    mods = list(net)
    names = {id(p): n for n, p in net.named_parameters()}
    layers = [
        {
            "size": net.in_features,
            "kind": "input",
            "activation": None,
            "module": None,
            "bias": None,
        }
    ]
    linears = []
    lin_idx = [i for i, m in enumerate(mods) if isinstance(m, Linear)]
    for n, i in enumerate(lin_idx):
        lin = mods[i]
        assert isinstance(lin, Linear)
        nxt = mods[i + 1] if i + 1 < len(mods) else None
        act = (
            getattr(nxt, "name", None)
            if nxt is not None and not isinstance(nxt, Linear)
            else None
        )
        bias = names[id(lin.bias)] if lin.bias is not None else None
        layers.append(
            {
                "size": lin.out_features,
                "kind": "output" if n == len(lin_idx) - 1 else "hidden",
                "activation": act,
                "module": net.names[i],
                "label": layer_label(net.names[i], n + 1, n == len(lin_idx) - 1),
                "bias": bias,
            }
        )
        linears.append(
            {
                "module": net.names[i],
                "weight": names[id(lin.weight)],
                "bias": bias,
                "in": lin.in_features,
                "out": lin.out_features,
                "from": n,
                "to": n + 1,
            }
        )
    return layers, linears


def layout_from_trace(trace: dict) -> tuple[list[dict], list[dict]]:
    """``network_layout`` read from a trace's ``layers`` (``Trace.to_dict()``).

    For pages made from a trace alone (``retroprop explain --format html``).
    """
    rows = trace["layers"]
    first = rows[0]["weight"]
    layers = [
        {
            "size": len(first[0]),
            "kind": "input",
            "activation": None,
            "module": None,
            "bias": None,
        }
    ]
    linears = []
    for n, row in enumerate(rows):
        out, inp = len(row["weight"]), len(row["weight"][0])
        module = row["name"]
        layers.append(
            {
                "size": out,
                "kind": "output" if row["is_output"] else "hidden",
                "activation": row["activation"],
                "module": module,
                "label": layer_label(module, n + 1, row["is_output"]),
                "bias": row["bias_name"],
            }
        )
        linears.append(
            {
                "module": module,
                "weight": row["weight_name"],
                "bias": row["bias_name"],
                "in": inp,
                "out": out,
                "from": n,
                "to": n + 1,
            }
        )
    return layers, linears


COMPACT_ABOVE = 2_000
"""Networks with more parameters than this store each step's ``parameters`` by
columns (``compact_parameters``): the same numbers, about a quarter of the bytes."""


def compact_parameters(trace: dict) -> dict:
    """``trace`` with its ``parameters`` list stored as ``parameter_columns``.

    One column per parameter tensor, in ``state_dict`` order: ``name``, ``shape``
    and ``value``, ``grad``, ``updated`` as base64 of little-endian float64 (the
    exact doubles: the page's ``String(x)`` gives back Python's ``repr``), and each
    chain-rule factor (``factors``; ``per_sample`` when the batch has more than one
    sample) as ``{"by": "i" | "j" | "ij", "v": base64}``: a factor that is the same
    along a weight matrix's rows (``"j"``) or columns (``"i"``) is stored once, and
    one equal to the gradient as ``{"same": "grad"}``. Each layer's ``weight`` and
    ``bias`` are left out: they are the ``value`` columns. The numbers are the
    trace's; only their layout changes. A trace whose parameters are
    not complete tensors in row-major order, or whose factors are not all numbers,
    is returned as it is.
    """
    import numpy as np

    groups: dict[str, list[dict]] = {}
    for p in trace["parameters"]:
        groups.setdefault(p["name"], []).append(p)
    n_samples = int(trace.get("n_samples") or 1)

    def f64(values: Any) -> str:
        import base64

        return base64.b64encode(np.asarray(values, dtype="<f8").tobytes()).decode()

    def column(values: list, shape: list[int], grad: np.ndarray) -> dict:
        a = np.asarray(values, dtype=float).reshape(shape)
        if np.array_equal(a.ravel(), grad, equal_nan=True):
            return {"same": "grad"}
        if a.ndim == 2 and np.array_equal(a, a[:1].repeat(len(a), 0), equal_nan=True):
            return {"by": "j", "v": f64(a[0])}
        if a.ndim == 2 and np.array_equal(
            a, a[:, :1].repeat(a.shape[1], 1), equal_nan=True
        ):
            return {"by": "i", "v": f64(a[:, 0])}
        return {"by": "ij", "v": f64(a.ravel())}

    columns = []
    for name, ps in groups.items():
        shape = [max(p["index"][d] for p in ps) + 1 for d in range(len(ps[0]["index"]))]
        if [list(i) for i in np.ndindex(*shape)] != [p["index"] for p in ps]:
            return trace
        keys = list(ps[0]["factors"])
        if any(
            list(f) != keys
            or any(
                not isinstance(v, float | int) or isinstance(v, bool)
                for v in f.values()
            )
            for p in ps
            for f in [p["factors"], *(p.get("per_sample") or [])]
        ):
            return trace
        col: dict[str, Any] = {"name": name, "shape": shape}
        for key in ("value", "grad", "updated"):
            col[key] = f64([p[key] for p in ps])
        grad = np.asarray([p["grad"] for p in ps], dtype=float)
        col["factors"] = {
            k: column([p["factors"][k] for p in ps], shape, grad) for k in keys
        }
        if n_samples > 1:
            col["per_sample"] = [
                {
                    k: column([p["per_sample"][s][k] for p in ps], shape, grad)
                    for k in keys
                }
                for s in range(n_samples)
            ]
        columns.append(col)
    out = {k: v for k, v in trace.items() if k != "parameters"}
    out["parameter_columns"] = columns
    out["layers"] = [
        {k: v for k, v in rec.items() if k not in ("weight", "bias")}
        for rec in trace["layers"]
    ]
    return out


def render_html(
    traces: Sequence[Any],
    net: Sequential | None = None,
    *,
    class_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    steps: Sequence[dict] | None = None,
    history: dict | None = None,
    meta: dict | None = None,
    title: str = "retroprop report",
) -> str:
    """The report page as one HTML string.

    Parameters
    ----------
    traces : sequence of Trace or dict
        The recorded steps, in order: ``explain_step`` traces or their ``to_dict()``.
    net : Sequential, optional
        The network the traces are of (its layout draws the diagram; its numbers
        are not used). Default: the layout recorded in the first trace.
    class_names : sequence of str of length n_classes, optional
    feature_names : sequence of str of length n_features, optional
    steps : sequence of dict, optional
        One per trace: ``iteration`` and ``epoch`` (1-based), ``batch`` (training
        row indices) and ``x_raw`` (the sample's features before standardising,
        shape ``(n, n_features)``). Defaults to iterations 1, 2, ...
    history : dict, optional
        Curves of the run: ``loss``, ``accuracy`` (and ``val_loss``,
        ``val_accuracy``), one per epoch starting at epoch ``first_epoch``, and
        ``iterations_per_epoch`` to place the current step on them.
    meta : dict, optional
        Shown in the header: ``data``, ``activation``, ``lr``, ``batch_size``,
        ``epochs``, ``seed``.
    title : str

    Returns
    -------
    str
        The page, self-contained (no external resource of any kind).
    """
    traces = [t.to_dict() if hasattr(t, "to_dict") else t for t in traces]
    if not traces:
        raise ConfigError("the report needs at least one recorded step, got none")
    if steps is None:
        steps = [{"iteration": k + 1} for k in range(len(traces))]
    if len(steps) != len(traces):
        raise ConfigError(f"steps has {len(steps)} entries for {len(traces)} traces")
    layers, linears = (
        network_layout(net) if net is not None else layout_from_trace(traces[0])
    )
    n_in, n_out = layers[0]["size"], layers[-1]["size"]
    if class_names is not None and len(class_names) != n_out:
        raise ConfigError(
            f"{len(class_names)} class names for a network with {n_out} outputs"
        )
    if feature_names is not None and len(feature_names) != n_in:
        raise ConfigError(
            f"{len(feature_names)} feature names for a network with {n_in} inputs"
        )
    big = len(traces[0]["parameters"]) > COMPACT_ABOVE
    data = {
        "title": title,
        "meta": meta or {},
        "class_names": list(class_names) if class_names is not None else None,
        "feature_names": list(feature_names) if feature_names is not None else None,
        "layers": layers,
        "linears": linears,
        "steps": [
            {**dict(s), "trace": compact_parameters(t) if big else t}
            for s, t in zip(steps, traces)
        ],
        "history": history,
        "labels": {
            **{key: _(text) for key, text in LABELS.items()},
            "phrases": {text: _(text) for text in PHRASES},
        },
    }
    return fill_template(data, title)


def trace_html(trace: Any, title: str | None = None) -> str:
    """The page for one explained step (``retroprop explain --format html``).

    Class and feature names, the step and the sample are read from ``trace.meta``
    when the command line put them there.

    Parameters
    ----------
    trace : Trace or dict
    title : str, optional

    Returns
    -------
    str
    """
    if getattr(trace, "stopped", None) is not None:
        return _stopped_html(trace, title)
    d = trace.to_dict() if hasattr(trace, "to_dict") else trace
    meta = d.get("meta") or {}
    sample = meta.get("sample")
    rows = sample if isinstance(sample, list) else None if sample is None else [sample]
    step = {"iteration": meta.get("step", 1), "epoch": meta.get("epoch")}
    if rows is not None:
        step["batch"] = rows
    header = {"lr": d["lr"]}
    for k in ("data", "seed"):
        if k in meta:
            header[k] = meta[k]
    if isinstance(meta.get("weights"), dict):
        header["weights"] = step_context(meta)
    return render_html(
        [d],
        class_names=meta.get("class_names"),
        feature_names=meta.get("feature_names"),
        steps=[step],
        meta=header,
        title=title
        or _("retroprop: step {step} explained").format(step=step["iteration"]),
    )


def fill_template(data: dict, title: str) -> str:
    """Put ``data`` (as JSON) and ``title`` into the template."""
    here = resources.files("retroprop.report")
    template = here.joinpath(TEMPLATE).read_text("utf-8")
    script = "\n".join(
        [frontend.bundle()]
        + [frontend.inline(here.joinpath(name).read_text("utf-8")) for name in SCRIPTS]
    )
    style = here.joinpath(STYLE).read_text("utf-8") + "\n" + frontend.styles()
    template = template.replace(_CSS_SLOT, style, 1).replace(_JS_SLOT, script, 1)
    # the page's language (pt-BR in Portuguese): screen readers and hyphenation
    template = template.replace('<html lang="en">', f'<html lang="{html_lang()}">', 1)
    return template.replace(_TITLE_SLOT, html.escape(title)).replace(
        _DATA_SLOT, embed_json(data)
    )


def embed_json(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">``.

    Floats keep Python's shortest round-trip form (``repr``), so the page's
    ``String(x)`` gives back text that ``float()`` reads as the same double. Every
    ``<`` becomes ``\\u003c`` (legal JSON string escape; ``<`` occurs only inside
    strings), so ``</script>`` or ``<!--`` in a name cannot end the block.
    """
    text = json.dumps(
        plain(data), allow_nan=False, ensure_ascii=False, separators=(",", ":")
    )
    return (
        text.replace("<", "\\u003c")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def write_html(path: str | os.PathLike, page: str) -> None:
    """Write the page to ``path`` atomically (UTF-8)."""
    from retroprop.atomic import write_text

    write_text(path, page)


def _stopped_html(trace: Any, title: str | None) -> str:
    """A step backpropagation cannot make: the forward tables and, highlighted, the
    factor where the backward pass stops and why (no diagram: there is nothing to
    click through)."""
    import html as h

    from retroprop.explain.views import views

    title = title or "retroprop: backpropagation stops"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{h.escape(title)}</title>",
        (
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
            "collapse;margin:.5em 0 1.5em}td,th{border:1px solid #999;padding:3px "
            "8px}td{text-align:right}.stopped{border:2px solid #b00;padding:1em;"
            "background:#fee}</style></head><body>"
        ),
        f"<h1>{h.escape(title)}</h1>",
    ]
    all_views = views(trace)
    for view in all_views[:-1]:
        parts.append(f"<h2>{h.escape(view.title)}</h2><table><tr>")
        parts += [f"<th>{h.escape(c.text)}</th>" for c in view.columns]
        parts.append("</tr>")
        for row in view.rows:
            cells = "".join(f"<td>{h.escape(v)}</td>" for v in row)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
        parts += [f"<p>{h.escape(text)}</p>" for text, _ in view.notes]
    last = all_views[-1]
    parts.append(
        f'<div class="stopped" id="stopped"><h2>{h.escape(last.title)}</h2>'
        f"<p>{h.escape(last.rows[0][0])}</p></div>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
