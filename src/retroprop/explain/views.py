"""The tables a Trace is shown as, shared by the terminal and Markdown renderers.

A view only selects and formats numbers the trace already holds; each column header
comes in plain text (for the terminal) and in LaTeX (for Markdown). Forward tables
go from the input to the output, then the loss, then backward tables from the output
layer down, one for the biases and one for the weights of each layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from retroprop.explain.trace import DERIVATIVE_TEXT, FACTOR_TEXT, LayerTrace, Trace

FACTOR_LATEX: dict[str, str] = {
    "dL/dp_r": r"\frac{\partial L}{\partial p_r} = -\frac{1}{p_r}",
    "dp_r/dout_i": r"\frac{\partial p_r}{\partial out_i} = p_r(\delta_{ri} - p_i)",
    "dL/dout_i": r"\frac{\partial L}{\partial out_i} = \frac{2}{k}(out_i - t_i)",
    "dout_i/dz_i": r"\frac{\partial out_i}{\partial z_i} = f'(z_i)",
    "dL/da_i": r"\frac{\partial L}{\partial a_i} = \sum_k w_{ki} \delta_k",
    "da_i/dz_i": r"\frac{\partial a_i}{\partial z_i} = f'(z_i)",
    "dout_i/db_i": r"\frac{\partial out_i}{\partial b_i} = 1",
    "dz_i/db_i": r"\frac{\partial z_i}{\partial b_i} = 1",
    "dout_i/dw_ij": r"\frac{\partial out_i}{\partial w_{ij}} = a_j",
    "dz_i/dw_ij": r"\frac{\partial z_i}{\partial w_{ij}} = a_j",
}
"""Factor key -> its LaTeX formula."""

DERIVATIVE_LATEX: dict[str, str] = {
    "sigmoid": "a_i(1 - a_i)",
    "tanh": "1 - a_i^2",
    "relu": r"[z_i > 0]",
    "leaky_relu": r"1 \text{ or slope}",
    "identity": "1",
}

ACTIVATION_LATEX: dict[str, str] = {
    "sigmoid": r"\sigma",
    "tanh": r"\tanh",
    "relu": r"\operatorname{relu}",
    "leaky_relu": r"\operatorname{lrelu}",
    "identity": r"\operatorname{id}",
}


@dataclass
class Column:
    text: str
    latex: str
    numeric: bool = True


@dataclass
class TableView:
    """A titled table: columns (plain and LaTeX headers) and rows of strings."""

    title: str
    columns: list[Column]
    rows: list[list[str]]
    notes: list[tuple[str, str]] = field(default_factory=list)  # (text, LaTeX) lines


def fmt(v: float, digits: int = 6) -> str:
    """A number to ``digits`` significant figures (``-0`` shown as ``0``): the one
    number format, ``retroprop.display.fmt``."""
    from retroprop.display import fmt as display_fmt

    return display_fmt(v, digits)


def _factor_column(key: str, layer: LayerTrace) -> Column:
    text = f"{key} = {FACTOR_TEXT[key]}"
    latex = FACTOR_LATEX[key]
    if key in ("da_i/dz_i", "dout_i/dz_i") and layer.activation in DERIVATIVE_TEXT:
        text = f"{key} = {DERIVATIVE_TEXT[layer.activation]}"
        latex = latex.replace("f'(z_i)", DERIVATIVE_LATEX[layer.activation])
    return Column(text, latex)


def _sample_col(trace: Trace) -> list[Column]:
    return [Column("sample", r"\text{sample}")] if trace.n_samples > 1 else []


def views(trace: Trace, digits: int = 6) -> list[TableView]:
    """Every table of the trace, in reading order: forward, loss, backward."""

    def f(v):
        return fmt(v, digits)

    n = trace.n_samples
    samples = range(n)
    lead = (lambda s: [str(s)]) if n > 1 else (lambda s: [])
    out: list[TableView] = []

    names = trace.meta.get("feature_names") or []
    rows = [
        [*lead(s), str(j), names[j] if j < len(names) else "", f(trace.x[s, j])]
        for s in samples
        for j in range(trace.x.shape[1])
    ]
    out.append(
        TableView(
            "Input",
            [
                *_sample_col(trace),
                Column("j", "j"),
                Column("feature", r"\text{feature}", False),
                Column("x_j", "x_j"),
            ],
            rows,
        )
    )

    for layer in trace.layers:
        n_out, n_in = layer.weight.shape
        act = layer.activation
        title = f"Layer {layer.name} forward: Linear({n_in}, {n_out})"
        title += f" then {act}" if act else ""
        s_ = layer.symbol
        cols = [
            *_sample_col(trace),
            Column("i", "i"),
            Column(
                f"{s_}_i = w_i · a_prev + b_i",
                rf"{s_}_i = \mathbf{{w}}_i \cdot \mathbf{{a}}^{{prev}} + b_i",
            ),
        ]
        if act:
            a_sym = "out" if layer.is_output else "a"
            fl = ACTIVATION_LATEX.get(act, rf"\operatorname{{{act}}}")
            cols.append(Column(f"{a_sym}_i = {act}(z_i)", rf"{a_sym}_i = {fl}(z_i)"))
        rows = [
            [*lead(s), str(i), f(layer.z[s, i]), *([f(layer.a[s, i])] if act else [])]
            for s in samples
            for i in range(n_out)
        ]
        out.append(TableView(title, cols, rows))

    k = trace.output.shape[1]
    classes = trace.meta.get("class_names") or []

    def cname(i):
        return classes[i] if i < len(classes) else ""

    if trace.loss_function == "cross_entropy":
        cols = [
            *_sample_col(trace),
            Column("i", "i"),
            Column("class", r"\text{class}", False),
            Column("out_i", "out_i"),
            Column(
                "p_i = e^out_i / Σ_j e^out_j",
                r"p_i = \frac{e^{out_i}}{\sum_j e^{out_j}}",
            ),
            Column("δ_ri", r"\delta_{ri}"),
        ]
        rows = [
            [
                *lead(s),
                str(i),
                cname(i),
                f(trace.output[s, i]),
                f(trace.probabilities[s, i]),
                "1" if i == trace.target[s] else "0",
            ]
            for s in samples
            for i in range(k)
        ]
        notes = []
        for s in samples:
            r = int(trace.target[s])
            pr, L = trace.probabilities[s, r], trace.loss_per_sample[s]
            who = f"sample {s}: " if n > 1 else ""
            named = f" ({classes[r]})" if r < len(classes) else ""
            lnamed = rf"\ (\text{{{classes[r]}}})" if r < len(classes) else ""
            lwho = rf"\text{{sample {s}: }}" if n > 1 else ""
            notes.append(
                (
                    (
                        f"{who}r = {r}{named}, L = -ln(p_r) = -ln({fmt(pr, 4)}) = "
                        f"{fmt(L, 5)}"
                    ),
                    (
                        rf"{lwho}r = {r}{lnamed},\ L = -\ln(p_r) = -\ln({fmt(pr, 4)}) "
                        rf"= {fmt(L, 5)}"
                    ),
                )
            )
        title = "Softmax and cross-entropy loss"
    else:
        cols = [
            *_sample_col(trace),
            Column("i", "i"),
            Column("out_i", "out_i"),
            Column("t_i", "t_i"),
        ]
        rows = [
            [*lead(s), str(i), f(trace.output[s, i]), f(trace.target_values[s, i])]
            for s in samples
            for i in range(k)
        ]
        notes = []
        for s in samples:
            who = f"sample {s}: " if n > 1 else ""
            lwho = rf"\text{{sample {s}: }}" if n > 1 else ""
            L = fmt(trace.loss_per_sample[s], 5)
            notes.append(
                (
                    f"{who}L = (1/k) Σ_i (out_i - t_i)² = {L}",
                    rf"{lwho}L = \frac{{1}}{{k}}\sum_i (out_i - t_i)^2 = {L}",
                )
            )
        title = "Mean squared error loss"
    if n > 1:
        notes.append(
            (
                f"batch loss (mean over {n} samples) = {fmt(trace.loss, 5)}",
                rf"\bar L = {fmt(trace.loss, 5)}",
            )
        )
    out.append(TableView(title, cols, rows, notes))

    batch_note = (
        [
            (
                (
                    f"batch of {n} samples: each factor is its mean over the samples; "
                    f"the gradient is the mean of the per-sample products"
                ),
                rf"\text{{batch of {n}: factors are means over the samples}}",
            )
        ]
        if n > 1
        else []
    )
    by_name: dict[str, list] = {}
    for p in trace.parameters:
        by_name.setdefault(p.name, []).append(p)
    for layer in reversed(trace.layers):
        for pname, is_bias in ((layer.bias_name, True), (layer.weight_name, False)):
            if pname is None:
                continue
            params = by_name[pname]
            keys = [key for key in params[0].factors if key != "product"]
            if is_bias:
                idx_cols = [Column("i", "i")]
                sym, lsym = "b_i", "b_i"
            else:
                idx_cols = [Column("i", "i"), Column("j", "j")]
                sym, lsym = "w_ij", "w_{ij}"
            cols = [
                *idx_cols,
                *[_factor_column(key, layer) for key in keys],
                Column(
                    f"dL/d{sym} = product", rf"\frac{{\partial L}}{{\partial {lsym}}}"
                ),
                Column(sym, lsym),
                Column(
                    f"{sym} - η dL/d{sym}",
                    rf"{lsym} - \eta \frac{{\partial L}}{{\partial {lsym}}}",
                ),
            ]
            rows = [
                [
                    *map(str, p.index),
                    *[f(p.factors[key]) for key in keys],
                    f(p.grad),
                    f(p.value),
                    f(p.updated),
                ]
                for p in params
            ]
            what = "biases" if is_bias else "weights"
            out.append(
                TableView(
                    f"Layer {layer.name} backward: {what} {pname}",
                    cols,
                    rows,
                    batch_note,
                )
            )
    return out
