// The details panel of the one front-end: what a clicked weight, bias or neuron holds,
// every number in full (its text is String(x), the shortest text that reads back as
// the same double, and data-exact holds the same), so the arithmetic shown closes on
// the shown numbers. The recorded report and the playground (server and widget) fill
// it with drawDetails(box, panel) from one small model each builds from its numbers:
//
// panel = {key: "2.weight[1,3]" or "2:1", title: the heading's text (key if absent),
//          sub: a line under it, before: [nodes] (formulas), rows: [row], after: [nodes]}
// row = {label, value, field, strong} (a number: data-field=field, data-exact) or
//       {label, text} (a word, such as a class name)
import { el, exact } from "./dom.js";

// a number in full: no hover needed, data-exact for tests and copying
export function numberCell(v, field) {
  return el("span", {class: "num", "data-field": field, "data-exact": exact(v)}, exact(v) || "\u2013");
}

// the chain rule's factors, each a row (an array factor: its numbers one after another)
export function factorRows(factors, formulas = {}) {
  const rows = [];
  for (const [k, v] of Object.entries(factors || {})) {
    const label = formulas[k] ? `${k} = ${formulas[k]}` : k;
    if (typeof v === "number") rows.push({label, value: v, field: "factor:" + k});
    else if (Array.isArray(v) && v.every((x) => typeof x === "number")) {
      const cell = el("span", {"data-field": "factor:" + k});
      v.forEach((x, n) => { if (n) cell.append(", "); cell.append(numberCell(x)); });
      rows.push({label, node: cell});
    } else rows.push({label, text: JSON.stringify(v)});
  }
  return rows;
}

// a table of rows (the panel's own, or a second one such as the factors)
export function rowsTable(rows) {
  return el("table", {class: "kv"}, ...rows.map((r) => el("tr", {class: r.strong ? "key" : null},
    el("td", {}, r.label),
    el("td", {}, r.node || ("text" in r ? el("span", {}, r.text) : numberCell(r.value, r.field))))));
}

export function drawDetails(box, panel) {
  const parts = [
    el("h3", {class: "what"}, el("code", {"data-selected": panel.key}, panel.title || panel.key)),
    panel.sub ? el("p", {class: "sub"}, panel.sub) : null,
    ...(panel.before || []),
    panel.rows && panel.rows.length ? rowsTable(panel.rows) : null,
    ...(panel.after || [])];
  box.replaceChildren(...parts.filter((p) => p !== null && p !== undefined));
}
