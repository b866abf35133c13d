// The network drawing of the one front-end: the recorded report and the playground
// (server and notebook widget) draw their network with drawNetwork(svg, net), from one
// small data model that each host builds from its own numbers (a recorded step, a live
// snapshot). TensorFlow Playground's colours (colours.js): orange negative, blue
// positive, on the scales the host gives, drawn beside it with scaleBar().
//
// net = {
//   layers: [{size, view, head: [line, line] | null, names: [..] | null}], L = 0 inputs;
//     view: {kind: "all"} | {kind: "first", shown: n, open: bool} (the first n neurons and
//     a button that opens the layer: net.on.expand) | {kind: "window", a, b} (neurons
//     a..b-1, with buttons to move: net.on.view) | {kind: "collapsed"} (one bar) |
//     {kind: "heatmap", pick: bool} (the inputs as a square picture; pick: each pixel
//     is a neuron to select)
//   linears: [{from, to, weight: "2.weight", bias: "2.bias" | null}]
//   weight(lin, i, j), bias(lin, i): the number a line or a bias square is coloured by
//   neuron(L, i): the number a neuron is coloured by, or null
//   scales: {edge, neuron}: full colour at these magnitudes
//   text(L, i): the short text inside a neuron (or ""); outText(i): beside an output
//   ring(L, i): true for a neuron drawn with the "true class" ring
//   spoken: {weight(lin, i, j), bias(lin, i), neuron(L, i), heatmap(L), more(L, open) ->
//            {text, label},
//            collapsed(L), window(L, view), show(L, a, b), shut(L)}: the aria-labels
//   selected: "2.weight[1,3]" | "2:1" | null; focus: a selector to focus after drawing
//   on: {select({kind: "param", name, index} | {kind: "neuron", layer, index}),
//        expand(L), view(L, {open, start})}
// }
import { mix } from "./colours.js";
import { el, sv, pressable } from "./dom.js";

const WIDE_STEP = 16;  // a window moves by this many neurons (the session's WIDE_LAYER)
const KEYS = ["data-param", "data-neuron", "data-expand", "data-layer-open",
              "data-layer-prev", "data-layer-next", "data-layer-collapse"];

function drawnRange(layer) {  // [a, b) of the neurons drawn one by one, or null
  const v = layer.view;
  if (v.kind === "all") return [0, layer.size];
  if (v.kind === "first") return [0, v.open ? layer.size : Math.min(v.shown, layer.size)];
  if (v.kind === "window") return [v.a, v.b];
  return null;
}
function slot(layer) {  // a row under the neurons for the layer's buttons
  const v = layer.view;
  return v.kind === "window" || (v.kind === "first" && (v.open || v.shown < layer.size));
}

// where everything goes: the svg's viewBox, each neuron's centre, the radius
function place(svg, net) {
  const layers = net.layers, nL = layers.length;
  const narrow = (svg.clientWidth || 760) < 560;
  const W = narrow ? 420 : 760;
  const left = narrow ? 84 : 120, right = W - (narrow ? 92 : 150), top = 56;
  const rows = Math.max(...layers.map((l) => {
    const r = drawnRange(l);
    return r ? r[1] - r[0] + (slot(l) ? 1 : 0) : 0;
  }), 1);
  const gap = rows > 20 ? Math.max(9, 760 / rows) : (narrow ? 48 : 44);
  const R = Math.min(narrow ? 17 : 21, 0.42 * gap);
  const heat = layers[0].view.kind === "heatmap";
  const side = heat ? Math.ceil(Math.sqrt(layers[0].size)) : 0;
  const cell = heat ? Math.min(8, (narrow ? 100 : 140) / side) : 0;  // room for the layers right of it
  const H = Math.max(narrow ? 260 : 320, top + 24 + gap * Math.max(0, rows - 1) + 2 * R,
                     top + 24 + cell * Math.ceil(layers[0].size / Math.max(1, side)));
  const bottom = H - 24, middle = (top + bottom) / 2;
  const xs = layers.map((_, L) => left + (right - left) * L / Math.max(1, nL - 1));
  if (heat) {  // the picture's left edge at `left - 20`; the other layers move right of it
    xs[0] = left - 20 + (cell * side) / 2;
    const x0 = left + cell * side + 30;
    for (let L = 1; L < nL; L++) xs[L] = x0 + (right - x0) * (L - 1) / Math.max(1, nL - 2);
  }
  const pos = layers.map((l, L) => {
    const out = [], r = drawnRange(l);
    if (l.view.kind === "heatmap") {
      const y0 = middle - (cell * Math.ceil(l.size / side)) / 2, x0 = xs[L] - (cell * side) / 2;
      for (let k = 0; k < l.size; k++) out[k] = {x: x0 + cell * (k % side), y: y0 + cell * Math.floor(k / side)};
      out.box = {x0, y0, w: cell * side, h: cell * Math.ceil(l.size / side), cell, side};
      return out;
    }
    if (!r) return out;
    const m = r[1] - r[0], y0 = middle - gap * (m - 1) / 2;
    for (let k = r[0]; k < r[1]; k++) out[k] = {x: xs[L], y: y0 + gap * (k - r[0])};
    out.more = {x: xs[L], y: y0 + gap * m};
    return out;
  });
  return {W, H, R, xs, pos, top, bottom, middle, narrow};
}

// A weight's line: a cubic from neuron j to neuron i whose control points depend on
// the target i, and are never the symmetric ones (c = 0.5, whose middle is the centre,
// the middle of every horizontal line too), so two lines do not share their middle
// point: clicking the middle of a line selects that line.
function edgePath(x1, y1, x2, y2, i, nOut) {
  const c = 0.3 + 0.4 * (i + 0.37) / Math.max(1, nOut), cx = x1 + c * (x2 - x1);
  return `M${x1},${y1} C${cx},${y1} ${cx},${y2} ${x2},${y2}`;
}

// a click lands on the line nearest to the pointer (the wide invisible hit strokes of
// crossing lines overlap); a synthetic click (no coordinates) keeps its own line
function svgPoint(svg, ev) {
  const p = svg._pointer, pt = svg.createSVGPoint();
  const near = p && Math.abs(p.x - ev.clientX) <= 1 && Math.abs(p.y - ev.clientY) <= 1;
  pt.x = near ? p.x : ev.clientX; pt.y = near ? p.y : ev.clientY;
  return pt.matrixTransform(svg.getScreenCTM().inverse());
}
function distance(path, p) {  // from p to the path, by sampling and refining
  const len = path.getTotalLength();
  let best = 0, bd = Infinity;
  const at = (s) => {
    const q = path.getPointAtLength(Math.max(0, Math.min(len, s)));
    const dd = (q.x - p.x) ** 2 + (q.y - p.y) ** 2;
    if (dd < bd) { bd = dd; best = s; }
  };
  for (let k = 0; k <= 60; k++) at(len * k / 60);
  for (let span = len / 60; span > 1e-3; span /= 4) {
    const c = best;
    for (let k = -4; k <= 4; k++) at(c + span * k / 4);
  }
  return Math.sqrt(bd);
}
function nearestEdge(svg, ev, fallback) {
  if (!ev.clientX && !ev.clientY) return fallback;
  const p = svgPoint(svg, ev);
  let best = fallback, bd = Infinity;
  for (const e of svg._edges) {
    if (!e.hit.isPointInStroke(p)) continue;
    const dd = distance(e.hit, p);
    if (dd < bd) { bd = dd; best = e; }
  }
  return best;
}

function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "\u2026" : text; }
function keyOf(node) {
  const a = node && node.getAttribute && KEYS.find((k) => node.hasAttribute(k));
  return a ? `[${a}="${node.getAttribute(a)}"]` : null;
}
export function paramKey(name, index) { return name + "[" + index.join(",") + "]"; }
export function selectionKey(sel) {
  if (!sel) return null;
  return sel.kind === "param" ? paramKey(sel.name, sel.index) : `${sel.layer}:${sel.index}`;
}

// the drawn element of a selection gets the class "selected", and only it
export function markSelected(svg, key) {
  for (const e of svg.querySelectorAll(".selected")) e.classList.remove("selected");
  if (!key) return;
  const q = key.includes("[") ? `[data-param="${key}"]` : `[data-neuron="${key}"]`;
  const target = svg.querySelector(q);
  if (target) target.classList.add("selected");
}

export function drawNetwork(svg, net) {
  const doc = svg.ownerDocument;
  const focus = net.focus || (svg.contains(doc.activeElement) ? keyOf(doc.activeElement) : null);
  if (!svg._listening) {  // the last pointerdown, in fractional pixels (a click's are whole)
    svg.addEventListener("pointerdown", (ev) => { svg._pointer = {x: ev.clientX, y: ev.clientY}; });
    svg._listening = true;
  }
  const g = place(svg, net), {W, H, R, pos} = g, layers = net.layers;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  svg._edges = [];
  const gEdges = sv("g", {class: "edges"}), gNodes = sv("g", {class: "nodes"});
  svg.append(gEdges, gNodes);
  const select = (target) => net.on.select(target);
  // where a line to or from layer L's neuron i ends: its circle, or the edge of a
  // heatmap or of a collapsed layer's bar (side -1: the left, +1: the right)
  const anchor = (L, i, side) => {
    const l = layers[L];
    if (l.view.kind === "heatmap") {
      const b = pos[L].box;
      return [b.x0 + (side > 0 ? b.w + 4 : -4), g.middle];
    }
    if (l.view.kind === "collapsed") return [g.xs[L] + side * 12, g.middle];
    return [pos[L][i].x + side * R, pos[L][i].y];
  };
  let budget = 4000;  // lines drawn at most (the rest through a neuron's details)
  for (const lin of net.linears) {
    const outs = drawnRange(layers[lin.to]), ins = drawnRange(layers[lin.from]);
    const span = (r) => (r ? Array.from({length: r[1] - r[0]}, (_, q) => r[0] + q) : [0]);
    if (!outs || !ins) {  // a bundle: the weights are not drawn one by one
      for (const i of span(outs)) for (const j of span(ins)) {
        const [x0, y0] = anchor(lin.from, j, 1), [x1, y1] = anchor(lin.to, i, -1);
        gEdges.append(sv("path", {d: `M${x0},${y0} L${x1},${y1}`, class: "bundle", "aria-hidden": "true"}));
      }
      continue;
    }
    const n = (outs[1] - outs[0]) * (ins[1] - ins[0]);
    if (n > budget) continue;
    budget -= n;
    for (const i of span(outs)) {
      for (const j of span(ins)) {
        const [x0, y0] = anchor(lin.from, j, 1), [x1, y1] = anchor(lin.to, i, -1);
        const d = edgePath(x0, y0, x1, y1, i, layers[lin.to].size);
        const v = net.weight(lin, i, j), known = typeof v === "number";
        const r = known ? Math.min(1, Math.abs(v) / net.scales.edge) : 0;
        const vis = sv("path", {d, class: "vis", stroke: known ? mix(v / net.scales.edge) : "#ccc",
                                "stroke-width": (0.6 + 5 * r).toFixed(2)});
        const hit = sv("path", {d, class: "hit"});
        const e = {name: lin.weight, index: [i, j], hit};
        const node = sv("g", {class: "edge", "data-param": paramKey(lin.weight, [i, j]),
                              "aria-label": net.spoken.weight(lin, i, j)}, hit, vis);
        pressable(node, (ev) => {
          const t = ev.type === "click" ? nearestEdge(svg, ev, e) : e;
          select({kind: "param", name: t.name, index: t.index});
        });
        gEdges.append(node);
        svg._edges.push(e);
      }
    }
  }
  const spacing = layers.length > 2 ? Math.abs(g.xs[layers.length - 1] - g.xs[1]) / (layers.length - 2) : W;
  const room = Math.max(6, Math.floor(spacing / (W < 500 ? 8 : 7)));
  layers.forEach((l, L) => {
    if (l.head) {
      const [first, second] = l.head;
      svg.append(sv("text", {x: g.xs[L], y: 16, "text-anchor": "middle", class: "head", "aria-hidden": "true"},
                    sv("tspan", {x: g.xs[L], dy: 0}, clip(first, room) + (second ? " " : "")),
                    sv("tspan", {x: g.xs[L], dy: 14}, clip(second || "", room))));
    }
    const lin = net.linears.find((q) => q.to === L);
    if (l.view.kind === "heatmap") { gNodes.append(heatmap(svg, net, L, pos[L])); return; }
    if (l.view.kind === "collapsed") { gNodes.append(collapsedBar(net, L, g)); return; }
    const r = drawnRange(l);
    for (let k = r[0]; k < r[1]; k++) {
      const p = pos[L][k], v = net.neuron(L, k);
      const ring = net.ring && net.ring(L, k);
      const c = sv("circle", {cx: p.x, cy: p.y, r: R, fill: v === null || v === undefined ? "#fff" : mix(v / net.scales.neuron),
                              "stroke-width": ring ? 3 : 1.2, stroke: ring ? "#2b8a3e" : "#555"});
      const node = sv("g", {class: "neuron", "data-neuron": `${L}:${k}`, "aria-label": net.spoken.neuron(L, k)}, c);
      pressable(node, () => select({kind: "neuron", layer: L, index: k}));
      gNodes.append(node);
      const text = R >= 12 && net.text ? net.text(L, k) : "";
      if (text) {
        const strong = v !== null && v !== undefined && Math.abs(v) / net.scales.neuron > 0.6;
        const style = (strong ? "fill:#fff;" : "") + (text.length > 5 ? "font-size:8.5px" : "");
        gNodes.append(sv("text", {x: p.x, y: p.y + 4, "text-anchor": "middle", class: "val", "aria-hidden": "true",
                                  style: style || null}, text));
      }
      const name = l.names && R >= 8 ? l.names[k] : null;
      if (name && L === 0) {
        gNodes.append(sv("text", {x: p.x - R - 6, y: p.y + 4, "text-anchor": "end", class: "label",
                                  "aria-hidden": "true"}, clip(name, W < 500 ? 9 : 16)));
      } else if (name) {
        gNodes.append(sv("text", {x: p.x + R + 6, y: p.y - 2, class: "cls label", "aria-hidden": "true"},
                         clip(name, W < 500 ? 10 : 18)));
        const out = net.outText ? net.outText(k) : "";
        if (out) gNodes.append(sv("text", {x: p.x + R + 6, y: p.y + 13, class: "val", "aria-hidden": "true"}, out));
      }
      if (lin && lin.bias) {
        // the square is drawn small; its (invisible) target is finger-sized
        const s = Math.max(8, Math.min(14, 0.62 * R)), hs = Math.max(s, 26);
        const bx = p.x - R - s / 2 + 3, by = p.y + R - s / 2 + 2;
        const b = net.bias(lin, k);
        const box = sv("rect", {x: bx - s / 2, y: by - s / 2, width: s, height: s, rx: 2, class: "box",
                                fill: b === undefined || b === null ? "#fff" : mix(b / net.scales.edge)});
        const hit = sv("rect", {x: bx - hs / 2, y: by - hs / 2, width: hs, height: hs, class: "hit"});
        const node = sv("g", {class: "bias", "data-param": paramKey(lin.bias, [k]),
                              "aria-label": net.spoken.bias(lin, k)}, hit, box);
        pressable(node, () => select({kind: "param", name: lin.bias, index: [k]}));
        gNodes.append(node);
      }
    }
    if (l.view.kind === "first" && slot(l)) gNodes.append(moreButton(net, L, pos[L].more));
    if (l.view.kind === "window") gNodes.append(windowNav(net, L, pos[L].more));
  });
  markSelected(svg, net.selected);
  if (focus) {
    const again = svg.querySelector(focus);
    if (again && doc.activeElement !== again) again.focus({preventScroll: true});
  }
}

// the inputs as a picture (28 x 28 for 784), coloured on the neurons' scale; with
// `pick`, each pixel is an input neuron: one tab stop, the arrow keys move inside
function heatmap(svg, net, L, pos) {
  const l = net.layers[L], b = pos.box, pick = l.view.pick;
  const gh = sv("g", {class: "heatmap", "data-input-heatmap": "", role: pick ? "group" : "img",
                      "aria-label": net.spoken.heatmap(L)});
  gh.append(sv("rect", {x: b.x0 - 1, y: b.y0 - 1, width: b.w + 2, height: b.h + 2, class: "frame"}));
  for (let k = 0; k < l.size; k++) {
    const v = net.neuron(L, k);
    const c = sv("rect", {x: pos[k].x, y: pos[k].y, width: b.cell + 0.05, height: b.cell + 0.05, class: "pixel",
                          fill: v === null || v === undefined ? "#fff" : mix(v / net.scales.neuron)});
    if (!pick) { gh.append(c); continue; }
    const node = sv("g", {class: "neuron", "data-neuron": `${L}:${k}`, "aria-label": net.spoken.neuron(L, k)}, c);
    pressable(node, () => net.on.select({kind: "neuron", layer: L, index: k}));
    node.setAttribute("tabindex", k === 0 ? "0" : "-1");
    node.addEventListener("keydown", (ev) => {
      const mv = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: b.side, ArrowUp: -b.side}[ev.key];
      if (mv === undefined) return;
      ev.preventDefault(); ev.stopPropagation();
      const to = svg.querySelector(`[data-neuron="${L}:${Math.max(0, Math.min(l.size - 1, k + mv))}"]`);
      node.setAttribute("tabindex", "-1"); to.setAttribute("tabindex", "0"); to.focus();
    });
    gh.append(node);
  }
  return gh;
}

// a wide layer as one bar: a strip of every neuron's colour; Enter opens it
function collapsedBar(net, L, g) {
  const n = net.layers[L].size, h = Math.min(g.bottom - g.top, 300), cx = g.xs[L], cy = g.middle;
  const bar = sv("g", {class: "collapsed", "data-layer-open": String(L), "aria-label": net.spoken.collapsed(L)},
                 sv("rect", {x: cx - 10, y: cy - h / 2, width: 20, height: h, rx: 4, class: "frame"}));
  const c = h / n;
  for (let i = 0; i < n; i++) {
    const v = net.neuron(L, i);
    bar.append(sv("rect", {x: cx - 8, y: cy - h / 2 + i * c, width: 16, height: Math.max(c, 0.5),
                           fill: v === null || v === undefined ? "#fff" : mix(v / net.scales.neuron)}));
  }
  pressable(bar, () => net.on.view(L, {open: true, start: 0}));
  return sv("g", {}, bar, sv("text", {x: cx, y: cy + h / 2 + 14, "text-anchor": "middle", class: "label",
                                      "aria-hidden": "true"}, String(n)));
}

// the first neurons of a wide layer, and a button that opens (or shuts) the layer
function moreButton(net, L, p) {
  const open = net.layers[L].view.open, {text, label} = net.spoken.more(L, open);
  const b = sv("g", {class: "more", "data-expand": String(L), "aria-expanded": open ? "true" : "false",
                     "aria-label": label},
               sv("rect", {x: p.x - 44, y: p.y - 11, width: 88, height: 22, rx: 11}),
               sv("text", {x: p.x, y: p.y + 4, "text-anchor": "middle", "aria-hidden": "true"}, text));
  return pressable(b, () => net.on.expand(L));
}

// "neurons 17-32 of 256" with previous / collapse / next buttons
function windowNav(net, L, p) {
  const v = net.layers[L].view, n = net.layers[L].size;
  const nav = sv("g", {class: "window-nav"},
                 sv("text", {x: p.x, y: p.y - 2, "text-anchor": "middle", class: "label window"}, net.spoken.window(L, v)));
  const button = (dx, text, attr, aria, msg) => {
    const b = sv("g", {class: "nav", [attr]: String(L), "aria-label": aria},
                 sv("rect", {x: p.x + dx - 9, y: p.y + 4, width: 18, height: 16, rx: 3}),
                 sv("text", {x: p.x + dx, y: p.y + 16, "text-anchor": "middle", "aria-hidden": "true"}, text));
    nav.append(pressable(b, () => net.on.view(L, msg)));
  };
  const prev = Math.max(0, v.a - WIDE_STEP), next = v.b < n ? v.b : v.a;
  button(-22, "\u2039", "data-layer-prev", net.spoken.show(L, prev + 1, Math.min(n, prev + WIDE_STEP)),
         {open: true, start: prev});
  button(0, "\u00d7", "data-layer-collapse", net.spoken.shut(L), {open: false, start: v.a});
  button(22, "\u203a", "data-layer-next", net.spoken.show(L, next + 1, Math.min(n, next + WIDE_STEP)),
         {open: true, start: next});
  return nav;
}

// a neuron's number inside its circle: two decimals, or (a gradient) two significant digits
export function neuronText(x, gradient) {
  if (x === null || x === undefined) return "";
  if (!gradient) return Math.abs(x) < 100 ? x.toFixed(2) : x.toExponential(0);
  return Math.abs(x) >= 0.01 || x === 0 ? x.toPrecision(2) : x.toExponential(1).replace("e-", "e\u2212");
}

// a colour scale: its title, -s, the ramp, +s, and the same said for screen readers
export function scaleBar(title, scale, spoken) {
  return el("span", {class: "scale"}, el("span", {class: "t", text: title}),
    el("span", {class: "num", text: "\u2212" + scale}), el("span", {class: "ramp", "aria-hidden": "true"}),
    el("span", {class: "num", text: "+" + scale}), el("span", {class: "sr-only", text: spoken}));
}
