"""A spreadsheet of one SGD step whose cells recompute it (lecture's exercise 4).

Two sheets. ``parameters`` (first) lists every parameter, one per row, as
``name, index, value, grad, lr, updated``: ``value`` is a plain number (the weight or
bias before the step), ``grad``, ``lr`` and ``updated`` are formulas. ``step`` holds
``eta``, the input and the true class (plain numbers) and, as formulas over them and
the ``value`` cells, the whole step, one column per sample: each layer's ``z`` and
``a``, the softmax ``p``, ``L = -ln(p_r)``, the chain-rule factors, and each layer's
``delta``. Changing a weight, an input or eta recomputes everything.

This module writes the lecture's formulas a second time, on purpose: a student's
spreadsheet is the independent check. Its values are compared with the trace's
(``tests/test_explain_renderers.py``, with LibreOffice where installed). Columns G-I
of ``parameters`` repeat retroprop's own numbers and the difference, for the reader.
Numbers are stored as openpyxl writes them, to 16 significant digits (a relative
change below 1e-16, far under the 1e-9 the spreadsheet is checked to).
"""

from __future__ import annotations

from retroprop.errors import ConfigError
from retroprop.explain.trace import Trace

PARAMETER_COLUMNS = ("name", "index", "value", "grad", "lr", "updated")

# activation name -> (a from the z cell, f'(z) from the z and a cells), in cell syntax
_ACT = {
    "sigmoid": (lambda z, p: f"1/(1+EXP(-{z}))", lambda z, a, p: f"{a}*(1-{a})"),
    "tanh": (lambda z, p: f"TANH({z})", lambda z, a, p: f"1-{a}^2"),
    "relu": (lambda z, p: f"MAX({z},0)", lambda z, a, p: f"IF({z}>0,1,0)"),
    "leaky_relu": (
        lambda z, p: f"IF({z}>0,{z},{p['negative_slope']!r}*{z})",
        lambda z, a, p: f"IF({z}>0,1,{p['negative_slope']!r})",
    ),
    "identity": (lambda z, p: f"{z}", lambda z, a, p: "1"),
}


def _col(k: int) -> str:
    """1-based column number -> letters (1 -> A, 27 -> AA)."""
    s = ""
    while k:
        k, r = divmod(k - 1, 26)
        s = chr(65 + r) + s
    return s


class _Sheet:
    """Writes labelled blocks: one row per unit, one column (from B) per sample."""

    def __init__(self, ws, n: int):
        self.ws, self.n, self.row = ws, n, 4

    def cell(self, row: int, s: int) -> str:
        return f"{_col(2 + s)}{row}"

    def span(self, row: int) -> str:
        """The row's cells over every sample (B{row}:..{row})."""
        return f"{_col(2)}{row}:{_col(1 + self.n)}{row}"

    def block(self, title: str, labels: list[str], value) -> list[int]:
        """Write a block; ``value(u, s)`` gives unit ``u``'s cell for sample ``s``."""
        from openpyxl.styles import Font

        self.row += 1
        self.ws.cell(self.row, 1, title).font = Font(bold=True)
        for s in range(self.n):
            self.ws.cell(self.row, 2 + s, f"sample {s}").font = Font(bold=True)
        rows = []
        for u, label in enumerate(labels):
            self.row += 1
            self.ws.cell(self.row, 1, label)
            for s in range(self.n):
                self.ws.cell(self.row, 2 + s, value(u, s))
            rows.append(self.row)
        return rows


def to_xlsx(trace: Trace, path) -> None:
    """Write the workbook to ``path`` atomically (needs ``openpyxl``)."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "the xlsx format needs openpyxl: pip install 'retroprop[xlsx]'"
        ) from None
    for layer in trace.layers:
        if layer.activation is not None and layer.activation not in _ACT:
            raise ConfigError(
                f"no spreadsheet formula for activation "
                f"{layer.activation!r}; known: {sorted(_ACT)}"
            )
    wb = Workbook()
    wp = wb.active
    wp.title = "parameters"
    ws = wb.create_sheet("step")
    n, k = trace.n_samples, trace.output.shape[1]
    sh = _Sheet(ws, n)

    # parameters: one row per scalar parameter; remember each value cell
    header = [
        *PARAMETER_COLUMNS,
        "retroprop grad",
        "retroprop updated",
        "updated - retroprop",
    ]
    for c, text in enumerate(header, start=1):
        wp.cell(1, c, text).font = Font(bold=True)
    value_cell: dict[tuple[str, tuple[int, ...]], str] = {}
    prow: dict[tuple[str, tuple[int, ...]], int] = {}
    for r, p in enumerate(trace.parameters, start=2):
        wp.cell(r, 1, p.name)
        wp.cell(r, 2, str(list(p.index)))
        wp.cell(r, 3, p.value)
        wp.cell(r, 5, "=step!$B$2")
        wp.cell(r, 6, f"=C{r}-E{r}*D{r}")  # w <- w - eta * dL/dw
        wp.cell(r, 7, p.grad)
        wp.cell(r, 8, p.updated)
        wp.cell(r, 9, f"=F{r}-H{r}")
        value_cell[p.name, p.index] = f"parameters!$C${r}"
        prow[p.name, p.index] = r

    ws.cell(
        1, 1, "One SGD step, recomputed by the spreadsheet (retroprop explain)"
    ).font = Font(bold=True)
    ws.cell(2, 1, "eta")
    ws.cell(2, 2, trace.lr)
    ws.cell(
        3,
        1,
        f"loss: {trace.loss_function}; one column per sample; "
        f"gradients are means over the samples",
    )

    a_rows = sh.block(
        "input x",
        [f"x_{j}" for j in range(trace.x.shape[1])],
        lambda u, s: float(trace.x[s, u]),
    )
    layer_rows = []  # per layer: (a_prev rows, z rows, a rows)
    for layer in trace.layers:
        n_out, n_in = layer.weight.shape

        def w(i, j, L=layer):
            return value_cell[L.weight_name, (i, j)]

        prev = a_rows

        def z_formula(i, s, L=layer, prev=prev, w=w, n_in=n_in):
            top = f"{w(i, 0)}:{w(i, n_in - 1).split('!')[1]}"
            f = f"=SUMPRODUCT({top},{sh.cell(prev[0], s)}:{sh.cell(prev[-1], s)})"
            if L.bias is not None:
                f += f"+{value_cell[L.bias_name, (i,)]}"
            return f

        zs = sh.block(
            f"layer {layer.name}: z_i = w_i . a_prev + b_i",
            [f"z_{i}" for i in range(n_out)],
            z_formula,
        )
        if layer.activation is not None:
            fa = _ACT[layer.activation][0]
            a_rows = sh.block(
                f"layer {layer.name}: a_i = {layer.activation}(z_i)",
                [f"a_{i}" for i in range(n_out)],
                lambda i, s, zs=zs, fa=fa, L=layer: (
                    "=" + fa(sh.cell(zs[i], s), L.activation_params)
                ),
            )
        else:
            a_rows = zs
        layer_rows.append((prev, zs, a_rows))
    out_rows = a_rows

    def cells(rows, s):
        return [sh.cell(r, s) for r in rows]

    if trace.loss_function == "cross_entropy":
        p_rows = sh.block(
            "softmax p_i = e^out_i / sum_j e^out_j",
            [f"p_{i}" for i in range(k)],
            lambda i, s: (
                f"=EXP({sh.cell(out_rows[i], s)})/("
                + "+".join(f"EXP({c})" for c in cells(out_rows, s))
                + ")"
            ),
        )
        (r_row,) = sh.block("true class r", ["r"], lambda u, s: int(trace.target[s]))
        d_rows = sh.block(
            "delta_ri",
            [f"delta_r{i}" for i in range(k)],
            lambda i, s: f"=IF({sh.cell(r_row, s)}={i},1,0)",
        )

        def p_r(s):
            return (
                f"INDEX({sh.cell(p_rows[0], s)}:{sh.cell(p_rows[-1], s)},"
                f"{sh.cell(r_row, s)}+1)"
            )

        (l_row,) = sh.block("loss L = -ln(p_r)", ["L"], lambda u, s: f"=-LN({p_r(s)})")
        (dldp,) = sh.block(
            "dL/dp_r = -1/p_r", ["dL/dp_r"], lambda u, s: f"=-1/{p_r(s)}"
        )
        dpdo = sh.block(
            "dp_r/dout_i = p_r (delta_ri - p_i)",
            [f"dp_r/dout_{i}" for i in range(k)],
            lambda i, s: f"={p_r(s)}*({sh.cell(d_rows[i], s)}-{sh.cell(p_rows[i], s)})",
        )
        grad_out = sh.block(
            "dL/dout_i = dL/dp_r * dp_r/dout_i",
            [f"dL/dout_{i}" for i in range(k)],
            lambda i, s: f"={sh.cell(dldp, s)}*{sh.cell(dpdo[i], s)}",
        )
    else:
        t_rows = sh.block(
            "target t_i",
            [f"t_{i}" for i in range(k)],
            lambda i, s: float(trace.target_values[s, i]),
        )
        (l_row,) = sh.block(
            "loss L = (1/k) sum_i (out_i - t_i)^2",
            ["L"],
            lambda u, s: (
                "=("
                + "+".join(
                    f"({sh.cell(o, s)}-{sh.cell(t, s)})^2"
                    for o, t in zip(out_rows, t_rows)
                )
                + f")/{k}"
            ),
        )
        grad_out = sh.block(
            "dL/dout_i = 2 (out_i - t_i) / k",
            [f"dL/dout_{i}" for i in range(k)],
            lambda i, s: f"=2*({sh.cell(out_rows[i], s)}-{sh.cell(t_rows[i], s)})/{k}",
        )
    sh.row += 1
    ws.cell(sh.row + 1, 1, "batch loss (mean)").font = Font(bold=True)
    ws.cell(sh.row + 1, 2, f"=AVERAGE({sh.span(l_row)})")
    sh.row += 1

    grad_a = grad_out
    deltas: list[list[int]] = [[] for _ in trace.layers]
    for li in reversed(range(len(trace.layers))):
        layer = trace.layers[li]
        prev, zs, a_rows = layer_rows[li]
        n_out = layer.weight.shape[0]
        if li < len(trace.layers) - 1:
            above = trace.layers[li + 1]
            d_above = deltas[li + 1]
            grad_a = sh.block(
                f"layer {layer.name}: dL/da_i = sum_k w_ki delta_k",
                [f"dL/da_{i}" for i in range(n_out)],
                lambda i, s, above=above, d_above=d_above: (
                    "="
                    + "+".join(
                        f"{value_cell[above.weight_name, (kk, i)]}*{sh.cell(d, s)}"
                        for kk, d in enumerate(d_above)
                    )
                ),
            )
        if layer.activation is not None:
            fp = _ACT[layer.activation][1]
            fprime = sh.block(
                f"layer {layer.name}: f'(z_i) for {layer.activation}",
                [f"f'(z_{i})" for i in range(n_out)],
                lambda i, s, fp=fp, zs=zs, a=a_rows, L=layer: (
                    "=" + fp(sh.cell(zs[i], s), sh.cell(a[i], s), L.activation_params)
                ),
            )
            deltas[li] = sh.block(
                f"layer {layer.name}: delta_i = dL/dz_i",
                [f"delta_{i}" for i in range(n_out)],
                lambda i, s, g=grad_a, f=fprime: (
                    f"={sh.cell(g[i], s)}*{sh.cell(f[i], s)}"
                ),
            )
        else:
            deltas[li] = sh.block(
                f"layer {layer.name}: delta_i = dL/dz_i",
                [f"delta_{i}" for i in range(n_out)],
                lambda i, s, g=grad_a: f"={sh.cell(g[i], s)}",
            )

    # gradients: the mean over the samples of delta_i (bias) and delta_i a_j (weight)
    for li, layer in enumerate(trace.layers):
        prev = layer_rows[li][0]
        for (name, idx), r in prow.items():
            if name == layer.bias_name:
                wp.cell(r, 4, f"=AVERAGE(step!{sh.span(deltas[li][idx[0]])})")
            elif name == layer.weight_name:
                i, j = idx
                wp.cell(
                    r,
                    4,
                    f"=SUMPRODUCT(step!{sh.span(deltas[li][i])},"
                    f"step!{sh.span(prev[j])})/{n}",
                )
    wp.column_dimensions["A"].width = 12
    ws.column_dimensions["A"].width = 40
    for c in range(2, 10):
        wp.column_dimensions[_col(c)].width = 22
    for s in range(n):
        ws.column_dimensions[_col(2 + s)].width = 22

    import io

    from retroprop.atomic import write_bytes

    # Into memory first: openpyxl's ZipFile, left half-written by a full disk, would
    # print a traceback from its __del__; the bytes then go out in one atomic write.
    buf = io.BytesIO()
    wb.save(buf)
    write_bytes(path, buf.getvalue())
