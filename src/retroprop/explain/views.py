"""The tables a Trace is shown as, shared by the terminal and Markdown renderers.

A view only selects and formats numbers the trace already holds; each column header
comes in plain text (for the terminal) and in LaTeX (for Markdown), read from the
formulas the trace carries (the activation's and the loss's own), so no activation
or loss is known here by name. Forward tables go from the input to the output, then
the loss (and the predicted class), then backward tables from the output layer
down, one for the biases and one for the weights of each layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from retroprop.explain.data import LayerTrace, TraceData
from retroprop.i18n import _


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
    f = layer.factor_formulas.get(key, {})
    return Column(f"{key} = {f.get('text', key)}", f.get("latex", key))


def _sample_col(trace: TraceData) -> list[Column]:
    word = _("sample")
    return [Column(word, rf"\text{{{word}}}")] if trace.n_samples > 1 else []


def views(trace: TraceData, digits: int = 6) -> list[TableView]:
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
            _("Input"),
            [
                *_sample_col(trace),
                Column("j", "j"),
                Column(_("feature"), rf"\text{{{_('feature')}}}", False),
                Column("x_j", "x_j"),
            ],
            rows,
        )
    )

    for layer in trace.layers:
        n_out, n_in = layer.weight.shape
        act = layer.activation
        title = _("{name} forward: Linear({n_in}, {n_out})").format(
            name=layer.label, n_in=n_in, n_out=n_out
        )
        title += _(" then {activation}").format(activation=act) if act else ""
        s_ = layer.symbol
        # the lecture's out_j^(l-1): the previous layer's outputs (x for the first)
        first = layer.number == 1
        prev = "x" if first else f"out^({layer.number - 1})"
        prev_latex = (
            r"\mathbf{x}" if first else rf"\mathbf{{out}}^{{({layer.number - 1})}}"
        )
        cols = [
            *_sample_col(trace),
            Column("i", "i"),
            Column(
                f"{s_}_i = w_i · {prev} + b_i",
                rf"{s_}_i = \mathbf{{w}}_i \cdot {prev_latex} + b_i",
            ),
        ]
        if act:
            a_sym = "out"
            fm = layer.formulas
            text = f"{a_sym}_i = {act}(z_i)"
            if fm.get("text") and fm["text"] != f"{act}(z)":  # a formula, not the name
                text += f", {act}(z) = {fm['text']}"
            cols.append(Column(text, rf"{a_sym}_i = {fm.get('latex_i') or act}"))
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

    lf: dict[str, Any] = trace.loss_formulas
    classes_given = lf.get("target") == "class"
    probs, tv = trace.probabilities, trace.target_values
    cols = [*_sample_col(trace), Column("i", "i")]
    if classes_given:
        cols.append(Column(_("class"), rf"\text{{{_('class')}}}", False))
    cols.append(Column("out_i", "out_i"))
    if probs is not None:
        cols.append(
            Column(
                lf.get("probabilities_text") or "p_i",
                lf.get("probabilities_latex") or "p_i",
            )
        )
    if classes_given:
        cols.append(Column("δ_ri", r"\delta_{ri}"))
    else:
        cols.append(Column("t_i", "t_i"))
    rows = []
    for s in samples:
        for i in range(k):
            row = [*lead(s), str(i)]
            if classes_given:
                row.append(cname(i))
            row.append(f(trace.output[s, i]))
            if probs is not None:
                row.append(f(probs[s, i]))
            if classes_given:
                row.append("1" if i == trace.target[s] else "0")
            else:
                row.append(f(tv[s, i]) if tv is not None else "")
            rows.append(row)
    notes = []
    predicted = _("predicted class")
    for s in samples:
        who = _("sample {s}: ").format(s=s) if n > 1 else ""
        lwho = rf"\text{{{who}}}" if n > 1 else ""
        L = fmt(trace.loss_per_sample[s], 5)
        text, latex = lf.get("text", "L"), lf.get("latex", "L")
        tn, ln = lf.get("text_numbers"), lf.get("latex_numbers")
        if tn and ln and probs is not None and classes_given:
            p_r = fmt(probs[s, int(trace.target[s])], 4)
            text += " = " + tn.replace("{p_r}", p_r)
            latex += " = " + ln.replace("{p_r}", p_r)
        if classes_given:
            r = int(trace.target[s])
            named = f" ({classes[r]})" if r < len(classes) else ""
            lnamed = rf"\ (\text{{{classes[r]}}})" if r < len(classes) else ""
            text, latex = f"r = {r}{named}, {text}", rf"r = {r}{lnamed},\ {latex}"
        notes.append((f"{who}{text} = {L}", rf"{lwho}{latex} = {L}"))
        if trace.prediction is not None and k > 1:
            c = int(trace.prediction[s])
            named = f" ({classes[c]})" if c < len(classes) else ""
            lnamed = rf"\ (\text{{{classes[c]}}})" if c < len(classes) else ""
            pt = lf.get("prediction_text", "argmax_i out_i")
            pl = lf.get("prediction_latex", r"\arg\max_i out_i")
            notes.append(
                (
                    _("{who}predicted class {formula} = {c}{named}").format(
                        who=who, formula=pt, c=c, named=named
                    ),
                    rf"{lwho}\text{{{predicted} }} {pl} = {c}{lnamed}",
                )
            )
    title = _(lf.get("title") or f"{trace.loss_function} loss")
    if n > 1:
        notes.append(
            (
                _("batch loss (mean over {n} samples) = {loss}").format(
                    n=n, loss=fmt(trace.loss, 5)
                ),
                rf"\bar L = {fmt(trace.loss, 5)}",
            )
        )
    out.append(TableView(title, cols, rows, notes))
    if trace.stopped is not None:
        # backpropagation cannot go on: say where and why, and show nothing after
        out.append(
            TableView(
                _("Backpropagation stops at {at}").format(at=trace.stopped["at"]),
                [Column(_("why"), rf"\text{{{_('why')}}}", False)],
                [[_(trace.stopped["reason"])]],
            )
        )
        return out

    batch_words = _("batch of {n}: factors are means over the samples").format(n=n)
    batch_note = (
        [
            (
                (
                    _(
                        "batch of {n} samples: each factor is its mean over the "
                        "samples; the gradient is the mean of the per-sample products"
                    ).format(n=n)
                ),
                rf"\text{{{batch_words}}}",
            )
        ]
        if n > 1
        else []
    )
    product = _("product")
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
                    f"dL/d{sym} = {product}",
                    rf"\frac{{\partial L}}{{\partial {lsym}}}",
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
            what = _("biases") if is_bias else _("weights")
            out.append(
                TableView(
                    _("{name} backward: {what} {parameter}").format(
                        name=layer.label, what=what, parameter=pname
                    ),
                    cols,
                    rows,
                    batch_note,
                )
            )
    return out
