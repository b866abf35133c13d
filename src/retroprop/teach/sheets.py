"""The exercise as sheets: the student's (blanks where the answers go) and the key
(every number; in the xlsx, live formulas), in Markdown, printable HTML and xlsx.

The words are in Portuguese (the lecture's: "pesos", "bias", "fator de aprendizagem
η", "camada oculta", "retropropagação") or English; every sentence is a whole
template with named fields, marked with ``N_`` and translated from retroprop's
gettext catalogue in the sheets' own language (``--lang`` of ``retroprop exercise``,
Portuguese by default, whatever the language of the messages).
"""

from __future__ import annotations

import html
import io
import re
from typing import TYPE_CHECKING

from retroprop.errors import ConfigError
from retroprop.i18n import N_, _, translations

if TYPE_CHECKING:
    from retroprop.teach.exercise import Exercise, Quantity

WORDS: dict[str, str] = {
    "title": N_("Exercise {number}: one step of backpropagation"),
    "key_title": N_("Answer key to exercise {number}: one step of backpropagation"),
    "version": N_("Version {number} (seed {seed})."),
    "network": N_(
        "A {sizes} network: activation function {activation} in the hidden "
        "layer, softmax at the output layer and the cross-entropy loss L = "
        "-ln(p_r). Learning rate η = {lr}."
    ),
    "network_n": N_(
        "A {sizes} network: activation function {activation} in the hidden "
        "layers, softmax at the output layer and the cross-entropy loss L = "
        "-ln(p_r). Learning rate η = {lr}."
    ),
    "instance": N_(
        "The training sample has the features x = ({x}) and the class r = {r}."
    ),
    "task": N_(
        "Compute every value of the table, in order (keep {digits} decimals): "
        "the forward pass, the probabilities p_i, the loss, the backpropagation "
        "by the chain rule, the gradient of every weight and bias and their new "
        "values after the update w ← w - η ∂L/∂w."
    ),
    "key_note": N_(
        "Values computed from the given numbers; the spreadsheet recomputes each "
        "one from its formula."
    ),
    "given": N_("Given"),
    "weights": N_("Weights {name} (layer {layer}: {role})"),
    "biases": N_("Biases {name}"),
    "hidden": N_("hidden layer {number}"),
    "output": N_("output layer"),
    "forward": N_("Forward pass"),
    "softmax": N_("Softmax: a posteriori probabilities"),
    "loss": N_("Loss"),
    "backward": N_("Backpropagation (chain rule)"),
    "gradients": N_("Gradients"),
    "update": N_("Updating the weights and biases"),
    "quantity": N_("quantity"),
    "rule": N_("how to compute it"),
    "value": N_("value"),
    "input": N_("input"),
    "sheet": N_("exercise"),
    "key": N_("key"),
}
"""Key -> the sheets' words, written in English and translated from the catalogue
(``_words``): both languages come from the same source, as every other text."""

LANGS = ("pt", "en")
SECTIONS = ("forward", "softmax", "loss", "backward", "gradients", "update")
DIGITS = 4
"""Decimals of the key's printed numbers (the student keeps as many)."""


def _words(lang: str) -> dict[str, str]:
    """The sheets' words in ``lang`` (whatever the language of the messages is)."""
    if lang not in LANGS:
        raise ConfigError(
            _("lang must be one of {langs}, got {lang!r}").format(
                langs=", ".join(LANGS), lang=lang
            )
        )
    catalogue = translations(lang)
    return {key: catalogue.gettext(text) for key, text in WORDS.items()}


def _num(v: float, lang: str, digits: int = DIGITS) -> str:
    text = f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v:g}"
    if text in ("-0", ""):
        text = "0"
    return text.replace(".", ",") if lang == "pt" else text


def _given_num(v: float, lang: str) -> str:
    text = f"{v:g}"
    return text.replace(".", ",") if lang == "pt" else text


def _intro(ex: Exercise, lang: str, key: bool) -> tuple[str, list[str]]:
    w = _words(lang)
    title = (w["key_title"] if key else w["title"]).format(number=ex.number)
    sep = "; " if lang == "pt" else ", "
    lines = [
        w["version"].format(number=ex.number, seed=ex.seed),
        w["network" if len(ex.sizes) <= 3 else "network_n"].format(
            sizes="-".join(map(str, ex.sizes)),
            activation=ex.activation,
            lr=_given_num(ex.lr, lang),
        ),
        w["instance"].format(
            x=sep.join(_given_num(float(v), lang) for v in ex.x), r=ex.r
        ),
        w["task"].format(digits=DIGITS),
    ]
    if key:
        lines.append(w["key_note"])
    return title, lines


def _parameter_blocks(ex: Exercise, lang: str) -> list[tuple[str, list[list[str]]]]:
    """``(heading, rows)`` of each layer's weights (rows of the matrix) and biases."""
    w = _words(lang)
    blocks = []
    for layer in ex.trace.layers:
        role = (
            w["output"] if layer.is_output else w["hidden"].format(number=layer.number)
        )
        head = w["weights"].format(
            name=layer.weight_name, layer=layer.number, role=role
        )
        rows = [[""] + [f"j = {j}" for j in range(layer.weight.shape[1])]]
        for i in range(layer.weight.shape[0]):
            rows.append(
                [f"i = {i}"]
                + [
                    _given_num(
                        float(ex.quantity(f"{layer.name}_w_{i}_{j}").value), lang
                    )
                    for j in range(layer.weight.shape[1])
                ]
            )
        blocks.append((head, rows))
        brows = [[f"i = {i}" for i in range(layer.weight.shape[0])]]
        brows.append(
            [
                _given_num(ex.quantity(f"{layer.name}_b_{i}").value, lang)
                for i in range(layer.weight.shape[0])
            ]
        )
        blocks.append((w["biases"].format(name=layer.bias_name), brows))
    return blocks


def _sections(ex: Exercise) -> list[tuple[str, list[Quantity]]]:
    return [
        (s, [q for q in ex.answers if q.section == s])
        for s in SECTIONS
        if any(q.section == s for q in ex.answers)
    ]


def to_markdown(ex: Exercise, *, key: bool, lang: str = "pt") -> str:
    """The student's sheet (``key=False``: blanks) or the key, as Markdown."""
    w = _words(lang)
    title, intro = _intro(ex, lang, key)
    out = [f"# {title}", ""]
    for line in intro:
        out += [line, ""]
    out += [f"## {w['given']}", ""]
    for head, rows in _parameter_blocks(ex, lang):
        out += [f"**{head}**", ""]
        out.append("| " + " | ".join(rows[0]) + " |")
        out.append("|" + "---|" * len(rows[0]))
        for row in rows[1:]:
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    for section, qs in _sections(ex):
        out += [f"## {w[section]}", ""]
        out.append(f"| {w['quantity']} | {w['rule']} | {w['value']} |")
        out.append("|---|---|---:|")
        for q in qs:
            value = _num(q.value, lang) if key else "\\_\\_\\_\\_\\_\\_\\_\\_"
            out.append(f"| {q.symbol} | {q.shown} | {value} |")
        out.append("")
    return "\n".join(out)


PRINT_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; margin: 2em; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; margin-top: 1.2em; }
table { border-collapse: collapse; margin: .4em 0 1em; }
td, th { border: 1px solid #555; padding: 3px 8px; }
td.value { min-width: 7em; text-align: right; font-family: monospace; }
td.blank { height: 1.6em; }
.given { display: inline-block; vertical-align: top; margin-right: 2em; }
@page { size: A4; margin: 15mm; }
@media print {
  body { margin: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  table, .given { break-inside: avoid; }
}
"""
"""The sheets' stylesheet: A4 pages, tables kept whole, room to write answers."""


def to_html(ex: Exercise, *, key: bool, lang: str = "pt") -> str:
    """The sheet or the key as one self-contained HTML page, ready to print."""
    w = _words(lang)
    e = html.escape
    title, intro = _intro(ex, lang, key)
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{"pt-BR" if lang == "pt" else "en"}">',
        f'<head><meta charset="utf-8"><title>{e(title)}</title>',
        f"<style>{PRINT_CSS}</style></head>",
        "<body>",
        f"<h1>{e(title)}</h1>",
    ]
    out += [f"<p>{e(line)}</p>" for line in intro]
    out.append(f"<h2>{e(w['given'])}</h2>")
    for head, rows in _parameter_blocks(ex, lang):
        out.append(f'<div class="given"><p><strong>{e(head)}</strong></p><table>')
        out.append("<tr>" + "".join(f"<th>{e(c)}</th>" for c in rows[0]) + "</tr>")
        for row in rows[1:]:
            out.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
        out.append("</table></div>")
    for section, qs in _sections(ex):
        out.append(f"<h2>{e(w[section])}</h2><table>")
        out.append(
            f"<tr><th>{e(w['quantity'])}</th><th>{e(w['rule'])}</th>"
            f"<th>{e(w['value'])}</th></tr>"
        )
        for q in qs:
            cell = (
                f'<td class="value">{e(_num(q.value, lang))}</td>'
                if key
                else '<td class="value blank"></td>'
            )
            out.append(f"<tr><td>{e(q.symbol)}</td><td>{e(q.shown)}</td>{cell}</tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


_FIELD = re.compile(r"\{(\w+)\}")


def cell_formula(template: str, cells: dict[str, str]) -> str:
    """A quantity's formula with every ``{key}`` replaced by its cell (``C12``)."""
    return "=" + _FIELD.sub(lambda m: cells[m.group(1)], template)


def to_xlsx(ex: Exercise, *, key: bool, lang: str = "pt") -> bytes:
    """The sheet as a workbook: the given numbers, then one row per answer with its
    cell empty (the student's) or a live formula over the cells above (the key)."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font, PatternFill
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(
            _("the xlsx sheets need openpyxl: pip install 'retroprop[xlsx]'")
        ) from None
    w = _words(lang)
    title, intro = _intro(ex, lang, key)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = w["key"] if key else w["sheet"]
    bold = Font(bold=True)
    blank = PatternFill("solid", fgColor="FFF2CC")
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    for line in intro:
        ws.append([line])
    cells: dict[str, str] = {}
    ws.append([])
    ws.append([w["given"]])
    ws.cell(ws.max_row, 1).font = bold
    for q in ex.given:
        ws.append([q.symbol, "", int(q.value) if q.key == "r" else q.value])
        cells[q.key] = f"C{ws.max_row}"
    for section, qs in _sections(ex):
        ws.append([])
        ws.append([w[section], w["rule"], w["value"]])
        for c in range(1, 4):
            ws.cell(ws.max_row, c).font = bold
        for q in qs:
            ws.append([q.symbol, q.shown])
            row = ws.max_row
            cells[q.key] = f"C{row}"
            if key:
                assert q.formula is not None
                ws.cell(row, 3, cell_formula(q.formula, cells))
            else:
                ws.cell(row, 3).fill = blank
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 48
    ws.column_dimensions["C"].width = 16
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


RENDERERS = {"md": to_markdown, "html": to_html, "xlsx": to_xlsx}
"""File extension -> renderer."""


FILE_NAMES = {"pt": ("exercicio", "gabarito"), "en": ("exercise", "key")}
"""Language -> the file-name stems of the sheet and of the key."""


def write_exercises(
    exercises: list[Exercise],
    folder,
    *,
    lang: str = "pt",
    formats: tuple[str, ...] = ("md", "html", "xlsx"),
) -> list[str]:
    """Write each exercise's sheet and key in every format into ``folder`` (made if
    missing), ``exercicio-01.md``, ``gabarito-01.md``...; returns the paths."""
    import os

    from retroprop.atomic import write_bytes, write_text

    _words(lang)
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown:
        raise ConfigError(
            _("formats must be among {value}, got {value2}").format(
                value=", ".join(RENDERERS), value2=", ".join(unknown)
            )
        )
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ConfigError(
            _("{folder}: is a file; --output names a folder for the sheets").format(
                folder=folder
            )
        )
    os.makedirs(folder, exist_ok=True)
    width = max(2, len(str(len(exercises))))
    sheet, key_stem = FILE_NAMES[lang]
    paths = []
    for ex in exercises:
        for is_key, stem in ((False, sheet), (True, key_stem)):
            for fmt in formats:
                path = os.path.join(folder, f"{stem}-{ex.number:0{width}d}.{fmt}")
                if fmt == "xlsx":
                    write_bytes(path, to_xlsx(ex, key=is_key, lang=lang))
                else:
                    render = to_html if fmt == "html" else to_markdown
                    write_text(path, render(ex, key=is_key, lang=lang))
                paths.append(path)
    return paths
