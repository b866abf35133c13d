// The small DOM helpers of the one front-end (the recorded report, the playground and
// its notebook widget): elements, SVG elements, a number's exact text and a pressable
// node. An ES module for the playground's server; retroprop.frontend.inline() drops
// the `export`s where a host inlines it.
export const SVG_NS = "http://www.w3.org/2000/svg";

function fill(e, attrs, kids, set) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") e.textContent = v; else set(k, v === true ? "" : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

// el("td", {class: "r", text: "1.5"}, child, ...): null, undefined and false
// attributes are left out, true is an empty attribute, null children are skipped
export function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  return fill(e, attrs, kids, (k, v) => e.setAttribute(k, v));
}

export function sv(tag, attrs, ...kids) {
  const e = document.createElementNS(SVG_NS, tag);
  return fill(e, attrs, kids, (k, v) => e.setAttribute(k, v));
}

// the shortest text that reads back as the same double (Python's repr)
export function exact(v) {
  return v === null || v === undefined ? "" : String(v);
}

// click, Enter and Space do the same; the node is a focusable button
export function pressable(node, onPress) {
  node.setAttribute("tabindex", "0");
  node.setAttribute("role", "button");
  node.addEventListener("click", onPress);
  node.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); ev.stopPropagation(); onPress(ev); }
  });
  return node;
}
