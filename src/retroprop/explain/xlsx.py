"""A spreadsheet of one SGD step whose cells recompute it (lecture's exercise 4).

Two sheets. ``parameters`` (first) lists every parameter, one per row, as
``name, index, value, grad, lr, updated``: ``value`` is a plain number (the weight or
bias before the step), ``grad``, ``lr`` and ``updated`` are formulas. ``step`` holds
``eta``, the input and the true class (plain numbers) and, as formulas over them and
the ``value`` cells, the whole step, one column per sample: each layer's ``z`` and
``a``, the softmax ``p``, ``L = -ln(p_r)``, the chain-rule factors, and each layer's
``delta``. Changing a weight, an input or eta recomputes everything.

The cell formulas come from the classes, through the trace: each activation's
``spreadsheet``/``spreadsheet_prime`` templates (``{z}`` and ``{a}`` become cells; an
activation without templates gets retroprop's numbers instead, labelled so) and
the loss's ``sheet_rows``, ``spreadsheet`` and factor templates. They are the
lecture's formulas written a second time, on purpose: a student's spreadsheet is
the independent check. Its values are compared with the trace's
(``tests/test_explain_renderers.py``, with LibreOffice where installed). Columns G-I
of ``parameters`` repeat retroprop's own numbers and the difference, for the reader.
Numbers are stored as openpyxl writes them, to 16 significant digits (a relative
change below 1e-16, far under the 1e-9 the spreadsheet is checked to).
"""

from __future__ import annotations

import re

from retroprop.errors import ConfigError
from retroprop.explain.data import TraceData
from retroprop.i18n import N_, _

PARAMETER_COLUMNS = (
    N_("name"),
    N_("index"),
    N_("value"),
    N_("grad"),
    N_("lr"),
    N_("updated"),
)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, cells: dict[str, str]) -> str:
    """``template`` with each ``{name}`` replaced by ``cells[name]``.

    Raises ``ConfigError`` naming a placeholder the workbook does not define.
    """

    def one(m: re.Match) -> str:
        if m.group(1) not in cells:
            raise ConfigError(
                _(
                    "spreadsheet template {template!r} uses {{{value}}}; known: {value2}"
                ).format(
                    template=template,
                    value=m.group(1),
                    value2=", ".join("{" + k + "}" for k in sorted(cells)),
                )
            )
        return cells[m.group(1)]

    return _PLACEHOLDER.sub(one, template)


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
            self.ws.cell(self.row, 2 + s, _("sample {n}").format(n=s)).font = Font(
                bold=True
            )
        rows = []
        for u, label in enumerate(labels):
            self.row += 1
            self.ws.cell(self.row, 1, label)
            for s in range(self.n):
                self.ws.cell(self.row, 2 + s, value(u, s))
            rows.append(self.row)
        return rows


def to_xlsx(trace: TraceData, path) -> None:
    """Write the workbook to ``path`` atomically (needs ``openpyxl``)."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(
            _("the xlsx format needs openpyxl: pip install 'retroprop[xlsx]'")
        ) from None
    if trace.stopped is not None:
        _stopped_xlsx(trace, path)
        return
    wb = Workbook()
    wp = wb.active
    # the sheets' names in the language in use; formulas name them quoted ('passo'!B2)
    wp.title = _("parameters")
    ws = wb.create_sheet(_("step"))
    step = f"'{ws.title}'"
    n, k = trace.n_samples, trace.output.shape[1]
    sh = _Sheet(ws, n)

    # parameters: one row per scalar parameter; remember each value cell
    header = [
        *PARAMETER_COLUMNS,
        N_("retroprop grad"),
        N_("retroprop updated"),
        N_("updated - retroprop"),
    ]
    for c, text in enumerate(header, start=1):
        wp.cell(1, c, _(text)).font = Font(bold=True)
    value_cell: dict[tuple[str, tuple[int, ...]], str] = {}
    prow: dict[tuple[str, tuple[int, ...]], int] = {}
    for r, p in enumerate(trace.parameters, start=2):
        wp.cell(r, 1, p.name)
        wp.cell(r, 2, str(list(p.index)))
        wp.cell(r, 3, p.value)
        wp.cell(r, 5, f"={step}!$B$2")
        wp.cell(r, 6, f"=C{r}-E{r}*D{r}")  # w <- w - eta * dL/dw
        wp.cell(r, 7, p.grad)
        wp.cell(r, 8, p.updated)
        wp.cell(r, 9, f"=F{r}-H{r}")
        value_cell[p.name, p.index] = f"'{wp.title}'!$C${r}"
        prow[p.name, p.index] = r

    ws.cell(
        1, 1, _("One SGD step, recomputed by the spreadsheet (retroprop explain)")
    ).font = Font(bold=True)
    ws.cell(2, 1, "eta")
    ws.cell(2, 2, trace.lr)
    ws.cell(
        3,
        1,
        _(
            "loss: {loss}; one column per sample; gradients are means over the samples"
        ).format(loss=trace.loss_function),
    )

    a_rows = sh.block(
        _("input x"),
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
            f"{layer.label}: z_i = w_i . out_prev + b_i",
            [f"z_{i}" for i in range(n_out)],
            z_formula,
        )
        if layer.activation is not None:
            fa = layer.formulas.get("spreadsheet")
            a_rows = sh.block(
                f"{layer.label}: out_i = {layer.activation}(z_i)"
                + ("" if fa else _(" (retroprop's values: no spreadsheet formula)")),
                [f"a_{i}" for i in range(n_out)],
                lambda i, s, zs=zs, fa=fa, L=layer: (
                    "=" + fill(fa, {"z": sh.cell(zs[i], s)}) if fa else float(L.a[s, i])
                ),
            )
        else:
            a_rows = zs
        layer_rows.append((prev, zs, a_rows))
    out_rows = a_rows

    def cells(rows, s):
        return [sh.cell(r, s) for r in rows]

    # The loss, from its own templates: the target, its intermediate rows (softmax
    # p...), L, then each chain-rule factor and their product dL/dout_i.
    lf = trace.loss_formulas
    names: dict[str, list[int]] = {"out": out_rows}  # per-output rows, by name
    scalars: dict[str, int] = {}  # one-row quantities, by name
    if lf["target"] == "class":
        (scalars["r"],) = sh.block(
            _("true class r"), ["r"], lambda u, s: int(trace.target[s])
        )
    else:
        tv = trace.target_values
        assert tv is not None  # a loss that compares with values records them
        names["t"] = sh.block(
            _("target t_i"),
            [f"t_{i}" for i in range(k)],
            lambda i, s: float(tv[s, i]),
        )

    def cells_for(i: int, s: int) -> dict[str, str]:
        c = {"i": str(i), "k": str(k)}
        for key, rows in names.items():
            c[key] = f"{sh.cell(rows[0], s)}:{sh.cell(rows[-1], s)}"
            c[f"{key}_i"] = sh.cell(rows[i], s)
        for key, r in scalars.items():
            c[key] = sh.cell(r, s)
        return c

    def write(key: str, label: str, template: str, per_output: bool) -> None:
        if per_output:
            names[key] = sh.block(
                label,
                [f"{key}_{i}" for i in range(k)],
                lambda i, s: "=" + fill(template, cells_for(i, s)),
            )
        else:
            (scalars[key],) = sh.block(
                label, [key], lambda u, s: "=" + fill(template, cells_for(0, s))
            )

    for row in lf["sheet_rows"]:
        write(row["key"], _(row["label"]), row["spreadsheet"], row["per_output"])
    write("L", _("loss {formula}").format(formula=lf["text"]), lf["spreadsheet"], False)
    l_row = scalars["L"]
    factor_keys = []
    for fct in lf["factors"]:
        write(
            fct["key"],
            f"{fct['key']} = {fct['text']}",
            fct["spreadsheet"],
            fct["per_output"],
        )
        factor_keys.append(fct["key"])

    def product(i: int, s: int) -> str:
        c = cells_for(i, s)
        return "=" + "*".join(
            c[f"{key}_i"] if key in names else c[key] for key in factor_keys
        )

    grad_out = sh.block(
        "dL/dout_i = " + " * ".join(factor_keys),
        [f"dL/dout_{i}" for i in range(k)],
        product,
    )
    sh.row += 1
    ws.cell(sh.row + 1, 1, _("batch loss (mean)")).font = Font(bold=True)
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
                f"{layer.label}: dL/dout_i = sum_k w_ki dL/dz_k",
                [f"dL/dout_{i}" for i in range(n_out)],
                lambda i, s, above=above, d_above=d_above: (
                    "="
                    + "+".join(
                        f"{value_cell[above.weight_name, (kk, i)]}*{sh.cell(d, s)}"
                        for kk, d in enumerate(d_above)
                    )
                ),
            )
        if layer.activation is not None:
            fp = layer.formulas.get("spreadsheet_prime")
            fprime = sh.block(
                _("{layer}: f'(z_i) for {activation}").format(
                    layer=layer.label, activation=layer.activation
                )
                + ("" if fp else _(" (retroprop's values: no spreadsheet formula)")),
                [f"f'(z_{i})" for i in range(n_out)],
                lambda i, s, fp=fp, zs=zs, a=a_rows, L=layer: (
                    "=" + fill(fp, {"z": sh.cell(zs[i], s), "a": sh.cell(a[i], s)})
                    if fp
                    else float(L.f_prime[s, i])
                ),
            )
            deltas[li] = sh.block(
                f"{layer.label}: dL/dz_i",
                [f"dL/dz_{i}" for i in range(n_out)],
                lambda i, s, g=grad_a, f=fprime: (
                    f"={sh.cell(g[i], s)}*{sh.cell(f[i], s)}"
                ),
            )
        else:
            deltas[li] = sh.block(
                f"{layer.label}: dL/dz_i",
                [f"dL/dz_{i}" for i in range(n_out)],
                lambda i, s, g=grad_a: f"={sh.cell(g[i], s)}",
            )

    # gradients: the mean over the samples of dL/dz_i (bias) and dL/dz_i out_j (weight)
    for li, layer in enumerate(trace.layers):
        prev = layer_rows[li][0]
        for (name, idx), r in prow.items():
            if name == layer.bias_name:
                wp.cell(r, 4, f"=AVERAGE({step}!{sh.span(deltas[li][idx[0]])})")
            elif name == layer.weight_name:
                i, j = idx
                wp.cell(
                    r,
                    4,
                    f"=SUMPRODUCT({step}!{sh.span(deltas[li][i])},"
                    f"{step}!{sh.span(prev[j])})/{n}",
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


def _stopped_xlsx(trace: TraceData, path) -> None:
    """A step backpropagation cannot make: the forward tables (numbers as numbers)
    and, on the ``stopped`` sheet, the factor where it stops and why."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from retroprop.explain.views import views

    wb = Workbook()
    stop = wb.active
    assert stop is not None and trace.stopped is not None
    stop.title = _("stopped")
    stop.append([_("stopped at"), trace.stopped["at"]])
    stop.append([_("reason"), _(trace.stopped["reason"])])
    stop["A1"].font = stop["A2"].font = Font(bold=True)
    ws = wb.create_sheet(_("forward"))
    for view in views(trace, digits=17)[:-1]:
        ws.append([view.title])
        ws.cell(ws.max_row, 1).font = Font(bold=True)
        ws.append([c.text for c in view.columns])
        for row in view.rows:
            ws.append(
                [
                    float(v) if c.numeric and v not in ("", "nan") else v
                    for c, v in zip(view.columns, row)
                ]
            )
        for text, _kind in view.notes:
            ws.append([text])
        ws.append([])
    import io

    from retroprop.atomic import write_bytes

    buf = io.BytesIO()
    wb.save(buf)
    write_bytes(path, buf.getvalue())
