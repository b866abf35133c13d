"use strict";
(function () {
const DATA = JSON.parse(document.getElementById("retroprop-data").textContent);
// The page's fixed texts in the report's language: Python puts them in DATA.labels.
const LBL = DATA.labels || {};
for (const el of document.querySelectorAll("[data-label]")) {
  const text = LBL[el.dataset.label];
  if (text) el.textContent = text;
}
for (const el of document.querySelectorAll("[data-label-aria]")) {
  const text = LBL[el.dataset.labelAria];
  if (text) el.setAttribute("aria-label", text);
}
// an English phrase of the page in the page's language (LABELS["phrases"])
function P(text) { return (LBL.phrases || {})[text] || text; }
// a text of the page's language with {name} slots filled
function T(key, values) {
  let s = key in LBL ? LBL[key] : key;
  for (const [k, v] of Object.entries(values || {})) s = s.split("{" + k + "}").join(String(v));
  return s;
}
const MML = "http://www.w3.org/1998/Math/MathML";
const steps = DATA.steps;
const layers = DATA.layers;
let current = 0;
let selection = null;  // {kind: "param", name, index} or {kind: "neuron", layer, index}
let edgeMode = "value";
let timer = null;

// ---------- small helpers ----------
function mm(tag, ...kids) {
  const e = document.createElementNS(MML, tag);
  for (const k of kids) {
    if (k == null) continue;
    e.append(typeof k === "string" ? k : k);
  }
  return e;
}
// MathML shorthands: identifiers, operators, numbers, sub/superscripts, fractions
const mi = (t) => mm("mi", t);
const mo = (t) => mm("mo", t);
const mn = (t) => mm("mn", t);
const row = (...k) => mm("mrow", ...k);
const sub = (b, s) => mm("msub", b, s);
const subsup = (b, s, p) => mm("msubsup", b, s, p);
const frac = (a, b) => mm("mfrac", a, b);
const d = (top, bot) => frac(row(mi("\u2202"), top), row(mi("\u2202"), bot));
function num(v) {  // a trace number inside a formula (its full value in the tables)
  const e = mn(fmt(v));
  e.setAttribute("data-exact", exact(v));
  return e;
}
function math(...k) {
  const m = mm("math", ...k);
  m.setAttribute("display", "block");
  return m;
}

// A small LaTeX reader for the formulas the trace carries (the activation's and the
// loss's own): letters, numbers, operators, {groups}, ^ and _, \frac, \text,
// \operatorname, Greek letters and a few symbols. What it does not know it shows
// as text, never as an error.
const TEX_SYMBOLS = {
  alpha: "\u03b1", beta: "\u03b2", gamma: "\u03b3", delta: "\u03b4", epsilon: "\u03b5",
  eta: "\u03b7", theta: "\u03b8", lambda: "\u03bb", mu: "\u03bc", pi: "\u03c0",
  rho: "\u03c1", sigma: "\u03c3", tau: "\u03c4", phi: "\u03c6", omega: "\u03c9",
  Delta: "\u0394", Sigma: "\u03a3", Phi: "\u03a6", partial: "\u2202", infty: "\u221e",
};
const TEX_OPERATORS = {
  cdot: "\u22c5", times: "\u00d7", ge: "\u2265", geq: "\u2265", le: "\u2264",
  leq: "\u2264", ne: "\u2260", neq: "\u2260", pm: "\u00b1", leftarrow: "\u2190",
  to: "\u2192", rightarrow: "\u2192", sum: "\u2211", prod: "\u220f", approx: "\u2248",
  lvert: "|", rvert: "|", vert: "|", mid: "|",
};
const TEX_FUNCTIONS = new Set(["ln", "log", "exp", "tanh", "sinh", "cosh", "sin", "cos",
  "tan", "max", "min", "arg", "sgn", "erf"]);
function tex(src) {
  let k = 0;
  function atom() {  // one item, or null at the end of a group
    while (k < src.length && src[k] === " ") k++;
    if (k >= src.length) return null;
    const c = src[k];
    if (c === "}") return null;
    if (c === "{") { k++; const g = seq(); k++; return g; }
    if (c === "\\") {
      k++;
      const m = /^[A-Za-z]+/.exec(src.slice(k));
      if (!m) { const ch = src[k++] || ""; return ch === "," || ch === " " || ch === ";" ? mm("mspace", null) : mo(ch); }
      const name = m[0];
      k += name.length;
      if (name === "frac") { const a = atom(), b = atom(); return frac(a || row(), b || row()); }
      if (name === "text" || name === "mathrm") { const t = rawGroup(); return mm("mtext", t); }
      if (name === "operatorname") { const t = rawGroup(); const e = mi(t); e.setAttribute("mathvariant", "normal"); return e; }
      if (name === "left" || name === "right") return atom();
      if (name in TEX_SYMBOLS) return mi(TEX_SYMBOLS[name]);
      if (name in TEX_OPERATORS) return mo(TEX_OPERATORS[name]);
      if (TEX_FUNCTIONS.has(name)) { const e = mi(name); e.setAttribute("mathvariant", "normal"); return e; }
      return mm("mtext", "\\" + name);
    }
    const number = /^[0-9]+(\.[0-9]+)?|^\.[0-9]+/.exec(src.slice(k));
    if (number) { k += number[0].length; return mn(number[0]); }
    k++;
    if (/[A-Za-z]/.test(c)) return mi(c);
    if (c === "-") return mo("\u2212");
    if (c === "'") return mo("\u2032");
    return mo(c);
  }
  function rawGroup() {  // the text of {...}, as is
    while (src[k] === " ") k++;
    if (src[k] !== "{") return "";
    const end = src.indexOf("}", k);
    const t = src.slice(k + 1, end < 0 ? src.length : end);
    k = end < 0 ? src.length : end + 1;
    return t;
  }
  function seq() {
    const items = [];
    for (;;) {
      while (k < src.length && src[k] === " ") k++;
      if (k >= src.length || src[k] === "}") break;
      if (src[k] === "^" || src[k] === "_") {
        const base = items.pop() || row();
        let sb = null, sp = null;
        while (src[k] === "^" || src[k] === "_") {
          const which = src[k++];
          const arg = atom() || row();
          if (which === "_") sb = arg; else sp = arg;
        }
        items.push(sb && sp ? subsup(base, sb, sp) : sb ? sub(base, sb) : mm("msup", base, sp));
        continue;
      }
      const a = atom();
      if (a === null) { k++; continue; }
      items.push(a);
    }
    return row(...items);
  }
  try { return seq(); } catch (e) { return mm("mtext", src); }
}
// A formula in i and j (the trace's formulas are per neuron) written for neuron
// i = I and input j = J: each i or j inside a subscript becomes the number.
function indexTex(latex, I, J) {
  return latex.replace(/_(\{[^{}]*\}|[A-Za-z])/g, (all, s) => {
    const body = s[0] === "{" ? s.slice(1, -1) : s;
    const parts = [...body].map((c) => (c === "i" && I !== undefined ? String(I)
                                        : c === "j" && J !== undefined ? String(J) : c));
    if (parts.join("") === body) return all;
    return "_{" + (parts.length > 1 ? parts.join(",") : parts[0]) + "}";
  });
}
function lhsOf(latex) {  // "A = B" -> "A"
  const n = latex.indexOf("=");
  return n < 0 ? latex : latex.slice(0, n);
}
function texMath(latex) {  // the LaTeX stays on the element, for copying and tests
  const m = math(tex(latex));
  m.setAttribute("alttext", latex);
  return m;
}

function fmt(v) {
  if (v === null || v === undefined) return "\u2013";
  if (typeof v !== "number") return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a === 1) return String(v);
  if (a >= 1e-3 && a < 1e4) return v.toFixed(4);
  return v.toExponential(3);
}
function numShort(v) {  // a rounded number with its full value in data-exact
  return el("span", {class: "num", "data-exact": exact(v)}, fmt(v));
}
let sampleIdx = 0;  // which sample of a batch the diagram shows
let allFeatures = false;  // the sample panel lists every input of a wide input layer
function first(v) {  // the shown sample's row of a batch-first array
  if (!(Array.isArray(v) && Array.isArray(v[0]))) return v;
  return v[Math.min(sampleIdx, v.length - 1)];
}

// ---------- reading the trace ----------
const paramCache = new Map();
// A large network's step stores its parameters by columns (html.py's
// compact_parameters): base64 float64 arrays, decoded once, read one entry at a time.
function f64(b64) {
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let k = 0; k < bin.length; k++) bytes[k] = bin.charCodeAt(k);
  return new Float64Array(bytes.buffer);
}
function decoded(holder, key) {
  if (typeof holder[key] === "string") holder[key] = f64(holder[key]);
  return holder[key];
}
function fromColumn(col, index) {
  const f = col.shape.length === 2 ? index[0] * col.shape[1] + index[1] : index[0];
  if (index.some((v, d) => v < 0 || v >= col.shape[d])) return undefined;
  const pick = (c) => {
    if (c.same) return decoded(col, c.same)[f];
    const v = decoded(c, "v"); return c.by === "i" ? v[index[0]] : c.by === "j" ? v[index[1]] : v[f]; };
  const factors = {};
  for (const [k, c] of Object.entries(col.factors)) factors[k] = pick(c);
  const p = {name: col.name, index, value: decoded(col, "value")[f], grad: decoded(col, "grad")[f],
             updated: decoded(col, "updated")[f], factors};
  if (col.per_sample) {
    p.per_sample = col.per_sample.map((s) => {
      const o = {};
      for (const [k, c] of Object.entries(s)) o[k] = pick(c);
      return o;
    });
  }
  return p;
}
function params(i) {
  if (!paramCache.has(i)) {
    const tr = steps[i].trace;
    if (tr.parameters) {
      const m = new Map();
      for (const p of tr.parameters) m.set(paramKey(p.name, p.index), p);
      paramCache.set(i, m);
    } else {
      const cols = new Map((tr.parameter_columns || []).map((c) => [c.name, c]));
      paramCache.set(i, {get(key) {
        const at = key.lastIndexOf("["), col = cols.get(key.slice(0, at));
        return col ? fromColumn(col, key.slice(at + 1, -1).split(",").map(Number)) : undefined;
      }});
    }
  }
  return paramCache.get(i);
}
function param(i, name, index) { return params(i).get(paramKey(name, index)); }
function targetOf(tr) {
  const t = tr.target;
  return Array.isArray(t) ? t[Math.min(sampleIdx, t.length - 1)] : t;
}
function batchSize(tr) { return Array.isArray(tr.target) ? tr.target.length : 1; }
function sampleLoss(tr) {  // the loss L of the shown sample
  const l = tr.loss_per_sample;
  return Array.isArray(l) ? l[Math.min(sampleIdx, l.length - 1)] : tr.loss;
}
function probsOf(tr) { return first(tr.probabilities); }
// the loss's own description (Loss.describe()); older traces: cross-entropy
function lossOf(tr) {
  if (tr.loss_formulas && tr.loss_formulas.text) return tr.loss_formulas;
  return {name: tr.loss_function, text: "L", latex: "L", factors: [],
          probabilities_name: tr.probabilities ? "softmax" : null, outputs:
          tr.probabilities ? "probabilities" : "values",
          target: tr.probabilities ? "class" : "values"};
}
function predictionOf(tr) {  // the predicted class of the shown sample, or null
  const p = tr.prediction;
  if (Array.isArray(p)) return p[Math.min(sampleIdx, p.length - 1)];
  const probs = probsOf(tr);
  if (!probs) return null;
  let best = 0;
  probs.forEach((v, k) => { if (v > probs[best]) best = k; });
  return best;
}
function classOf(tr) {  // the shown sample's true class, or null for value targets
  const r = targetOf(tr);
  return typeof r === "number" ? r : null;
}
// the trace's record of a diagram layer's Linear (its formulas and factors)
function layerRecord(tr, module) {
  return (tr.layers || []).find((r) => r && r.name === String(module)) || null;
}
// forward values of the diagram's layer L (0 = inputs): {z, a} arrays or null
function forwardOf(tr, L) {
  const lay = tr.layers;
  if (!Array.isArray(lay)) return null;
  if (L === 0) {
    const x = tr.input !== undefined ? tr.input : (tr.x !== undefined ? tr.x : null);
    return x === null ? null : {a: first(x), z: null};
  }
  const spec = layers[L];
  let rec = lay.find((r) => r && (r.module === spec.module || r.linear === spec.module ||
                                  r.name === String(spec.module)));
  if (!rec) rec = lay[L - 1];
  if (!rec) return null;
  const z = first(rec.z !== undefined ? rec.z : rec.pre_activation);
  let a = first(rec.a !== undefined ? rec.a : rec.activation);
  if (a === undefined || a === null) a = z;
  return {z: z, a: a};
}

// ---------- header ----------
function header() {
  const m = DATA.meta || {};
  const lf = lossOf(steps[0].trace);
  document.getElementById("loss-formula").append(math(tex(lf.latex)));
  document.getElementById("title").firstChild.textContent = DATA.title || "retroprop";
  const meta = document.getElementById("meta");
  const bits = [];
  if (m.data) bits.push(P("data:") + " " + m.data);
  bits.push(P("network:") + " " + layers.map((l) => l.size).join("\u2013") +
            (m.activation && layers.length > 2 ? " (" + m.activation + ")" : ""));
  if (m.lr !== undefined) bits.push("\u03b7 = " + m.lr);
  if (m.batch_size !== undefined) bits.push(P("batch size") + " " + m.batch_size);
  if (m.epochs !== undefined) bits.push(m.epochs + " epochs");
  if (m.seed !== undefined) bits.push(P("seed") + " " + m.seed);
  if (m.weights) bits.push(m.weights);
  if (m.task === "regression") bits.push("regression of " + m.target + " (standardised on train)");
  for (const b of bits) meta.append(el("span", {}, b));
}

// ---------- the network diagram ----------
// Drawn by the shared front-end's drawNetwork (frontend/network.js) from this step's
// numbers. TensorFlow Playground's convention: orange negative, blue positive, grey
// near 0. Every colour scale is fixed over all recorded steps (niceScale of the
// largest |number| of any step), so shrinking gradients show as fading lines.
const MAX_SHOWN = 16;   // a layer wider than this collapses to its first COLLAPSED
const COLLAPSED = 12;
const HEAT = 64;        // more inputs than this: the input layer is a heatmap
const heatInputs = layers[0].size > HEAT;
const expanded = new Set();
let neuronMode = "a";
function maxAbs(values) {
  let m = 0;
  for (const v of values) if (typeof v === "number" && isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
  return m;
}
function* flat(v) {  // every number of a nested array
  if (Array.isArray(v)) { for (const x of v) yield* flat(x); } else yield v;
}
function* stepNumbers(what) {
  for (const s of steps) {
    const tr = s.trace;
    if ((what === "value" || what === "grad") && tr.parameters) {
      for (const p of tr.parameters) yield p[what];
    } else if (what === "value" || what === "grad") {
      for (const c of tr.parameter_columns) yield* decoded(c, what);
    } else if (what === "a") {
      yield* flat(tr.input);
      for (const r of tr.layers || []) yield* flat(r.a);
    } else {  // delta, and dL/dx at the inputs
      const l0 = (tr.layers || [])[0];
      if (l0 && l0.grad_a_prev) yield* flat(l0.grad_a_prev);
      for (const r of tr.layers || []) yield* flat(r.delta);
    }
  }
}
const SCALES = {};
function scaleOf(what) {
  if (!(what in SCALES)) SCALES[what] = niceScale(maxAbs(stepNumbers(what)));
  return SCALES[what];
}
// the spoken names (aria-label), in the page's language
function layerSpoken(L) {
  if (L === 0) return T("input_layer");
  return layers[L].label || T(L === layers.length - 1 ? "output_layer" : "hidden_layer", {n: L});
}
function neuronValue(tr, L, k) {
  if (neuronMode === "a") {
    const f = forwardOf(tr, L);
    return f && f.a ? f.a[k] : null;
  }
  if (L === 0) {
    const l0 = (tr.layers || [])[0];
    return l0 && l0.grad_a_prev ? first(l0.grad_a_prev)[k] : null;
  }
  const rec = layerRecord(tr, layers[L].module);
  return rec && rec.delta ? first(rec.delta)[k] : null;
}
function layerTitle(l, L) {  // two lines: the layer, then its activation or softmax
  if (l.kind === "input") return [P("inputs x"), ""];
  if (l.kind === "output") {
    const lf = lossOf(steps[0].trace);
    return [l.label || "outputs", lf.probabilities_name ? "+ " + lf.probabilities_name : ""];
  }
  const name = l.label || ("hidden layer " + L);
  return l.activation ? [name + ",", l.activation] : [name, ""];
}
function viewOf(L) {
  if (L === 0 && heatInputs) return {kind: "heatmap", pick: true};
  if (layers[L].size <= MAX_SHOWN) return {kind: "all"};
  return {kind: "first", shown: COLLAPSED, open: expanded.has(L)};
}
// the step's network in the shared drawing's model (frontend/network.js)
function stepNetwork() {
  const P = params(current), tr = steps[current].trace, key = edgeMode;
  const probs = probsOf(tr), r = classOf(tr);
  const wide = (document.getElementById("network").clientWidth || 760) >= 560;
  const p = (name, index) => P.get(paramKey(name, index));
  const spokenParam = (lin, index, text) => {
    const q = p(text === "weight_spoken" ? lin.weight : lin.bias, index);
    return q ? T(text, {from: layerSpoken(lin.from), j: index[1] + 1, to: layerSpoken(lin.to),
                        layer: layerSpoken(lin.to), i: index[0] + 1, value: fmt(q.value), grad: fmt(q.grad)}) : "";
  };
  return {
    layers: layers.map((l, L) => ({
      size: l.size, view: viewOf(L), head: layerTitle(l, L),
      names: L === 0 ? Array.from({length: l.size}, (_, k) => (DATA.feature_names || [])[k] || ("x" + k))
        : l.kind === "output" ? Array.from({length: l.size}, (_, k) => (DATA.class_names || [])[k] || ("class " + k))
        : null})),
    linears: DATA.linears,
    weight: (lin, i, j) => { const q = p(lin.weight, [i, j]); return q ? q[key] : undefined; },
    bias: (lin, i) => { const q = p(lin.bias, [i]); return q ? q[key] : undefined; },
    neuron: (L, k) => neuronValue(tr, L, k),
    scales: {edge: scaleOf(key), neuron: scaleOf(neuronMode)},
    text: (L, k) => neuronText(neuronValue(tr, L, k), neuronMode !== "a"),
    outText: (k) => (probs ? "p = " + fmt(probs[k]) + (k === r && wide ? "  \u2190 true" : "") : ""),
    ring: (L, k) => layers[L].kind === "output" && k === r,
    spoken: {
      weight: (lin, i, j) => spokenParam(lin, [i, j], "weight_spoken"),
      bias: (lin, i) => spokenParam(lin, [i], "bias_spoken"),
      neuron: (L, k) => {
        const f = forwardOf(tr, L), a = f && f.a ? f.a[k] : null;
        const rec = L ? layerRecord(tr, layers[L].module) : null;
        const delta = rec && rec.delta ? first(rec.delta)[k] : null;
        const name = L === 0 ? (DATA.feature_names || [])[k] : L === layers.length - 1 ? (DATA.class_names || [])[k] : null;
        return T(L === 0 ? "input_spoken" : "neuron_spoken", {
          layer: layerSpoken(L), i: k + 1, name: name ? " (" + name + ")" : "", value: fmt(a), delta: fmt(delta)});
      },
      heatmap: (L) => T("heatmap_aria", {n: layers[L].size}),
      more: (L, open) => {
        const text = open ? T("collapse") : T("expand", {n: layers[L].size - COLLAPSED});
        return {text, label: text + " (" + layerSpoken(L) + ")"};
      },
    },
    selected: selectionKey(selection),
    on: {
      select,
      expand: (L) => { if (expanded.has(L)) expanded.delete(L); else expanded.add(L); updateNetwork(); },
    },
  };
}
function updateNetwork() {
  drawNetwork(document.getElementById("network"), stepNetwork());
  document.getElementById("net-sub").textContent = "\u2014 " +
    (edgeMode === "value" ? T("lines_weights") : T("lines_gradients"));
  drawLegend();
}
function drawLegend() {
  const box = document.getElementById("legend");
  const bar = (title, scale) => scaleBar(title + ":", scale, T("scale_spoken", {scale: String(scale)}));
  box.replaceChildren(
    bar(edgeMode === "value" ? T("scale_weights") : T("scale_gradients"), scaleOf(edgeMode)),
    bar(neuronMode === "a" ? T("scale_out") : T("scale_delta"), scaleOf(neuronMode)),
    el("span", {class: "t"}, T("scale_fixed")));
  document.getElementById("grad-note").hidden = edgeMode !== "grad";
}

// ---------- the digits of an update that close ----------
// "updated = value - eta x grad" is shown with d decimals, the smallest d (at least 4,
// and at least 3 significant digits of the gradient) for which the arithmetic done
// exactly on the shown numbers, rounded to d decimals (half to even), gives the
// shown updated value. Exact decimal arithmetic with BigInt; the numbers are the
// trace's, only their rounding for display is chosen here.
function scaled(text) {  // "-0.0123" or "1.5e-7" -> {n: BigInt, e: decimals}
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
  let digits = (m[2] || "0") + (m[3] || ""), e = (m[3] || "").length - Number(m[4] || 0);
  if (e < 0) { digits += "0".repeat(-e); e = 0; }
  return {n: BigInt(m[1] + digits), e};
}
function roundDiv(n, by) {  // n / by, to the nearest integer, ties to even (by > 0)
  let q = n / by, r = n % by;
  if (r < 0n) { r += by; q -= 1n; }
  if (2n * r > by || (2n * r === by && q % 2n !== 0n)) q += 1n;
  return q;
}
function closingDigits(value, lr, grad, updated) {
  const l = scaled(exact(lr));
  const ag = Math.abs(grad);
  let d = Math.max(4, ag > 0 ? Math.min(12, 2 - Math.floor(Math.log10(ag))) : 4);
  for (; d <= 20; d++) {
    const v = scaled(value.toFixed(d)).n, g = scaled(grad.toFixed(d)).n, u = scaled(updated.toFixed(d)).n;
    const x = v * 10n ** BigInt(l.e) - l.n * g;  // scale 10^(d + l.e)
    if (roundDiv(x, 10n ** BigInt(l.e)) === u) return d;
  }
  return null;
}
function updateMath(theta, L, p, lr) {
  const dec = closingDigits(p.value, lr, p.grad, p.updated);
  const show = (v, term) => {
    const e = mn(dec === null ? exact(v) : v.toFixed(dec));
    e.setAttribute("data-term", term);
    e.setAttribute("data-exact", exact(v));
    return e;
  };
  const g = show(p.grad, "grad");
  const m = math(row(theta(), mo("\u2190"), theta(), mo("\u2212"), mi("\u03b7"),
                     d(L(), theta()), mo("="), show(p.value, "value"), mo("\u2212"),
                     show(lr, "lr"), mo("\u00d7"),
                     p.grad < 0 ? row(mo("("), g, mo(")")) : g, mo("="), show(p.updated, "updated")));
  m.setAttribute("data-arith", "update");
  m.setAttribute("data-decimals", dec === null ? "" : String(dec));
  return m;
}

// ---------- the backward pass ----------
// dL/dout_i of a hidden neuron i of diagram layer L (or dL/dx_i of an input) is
// sum_k w_ki delta_k over the next layer's neurons k: the lecture's rule for hidden
// weights, with the trace's numbers (the weights before the update, the next
// layer's deltas) and the trace's result.
function backwardSum(tr, L, i) {
  const next = DATA.linears.find((q) => q.from === L);
  if (!next) return null;
  const rec = layerRecord(tr, next.module);
  if (!rec || !rec.delta) return null;
  const delta = first(rec.delta);
  const result = L === 0 ? (rec.grad_a_prev ? first(rec.grad_a_prev)[i] : null)
    : (() => { const own = layerRecord(tr, layers[L].module); return own && own.grad_a ? first(own.grad_a)[i] : null; })();
  if (result === null || result === undefined) return null;
  const lhs = () => (L === 0 ? sub(mi("x"), mn(String(i))) : sub(mi("out"), mn(String(i))));
  const terms = [];
  const n = next.out, shown = Math.min(n, 6);
  for (let k = 0; k < shown; k++) {
    if (k) terms.push(mo("+"));
    const w = param(current, next.weight, [k, i]).value, dk = delta[k];  // before the update
    terms.push(w < 0 ? row(mo("("), num(w), mo(")")) : num(w), mo("\u00d7"),
               dk < 0 ? row(mo("("), num(dk), mo(")")) : num(dk));
  }
  if (shown < n) terms.push(mo("+"), mo("\u2026"), mtext(" (" + T("terms", {n}) + ")"));
  const rule = math(row(d(mi("L"), lhs()), mo("="),
    mm("munder", mo("\u2211"), mi("k")), sub(mi("w"), row(mi("k"), mn(String(i)))), sub(mi("\u03b4"), mi("k"))));
  rule.setAttribute("alttext", "\\frac{\\partial L}{\\partial " + (L === 0 ? "x" : "out") + "_{" + i + "}} = \\sum_k w_{k" + i + "} \\delta_k");
  const numbers = math(row(d(mi("L"), lhs()), mo("="), ...terms, mo("="), num(result)));
  numbers.setAttribute("data-arith", "backward");
  return {rule, numbers, result, next};
}
function mtext(t) { return mm("mtext", t); }
function backwardParts(tr, L, k) {  // the backward pass at neuron k of layer L: formulas, rows
  const formulas = [], rows = [];
  const back = backwardSum(tr, L, k);
  if (back) {
    formulas.push(el("div", {class: "sub"}, T("backward_sum", {layer: layerSpoken(back.next.to)})),
                  el("div", {class: "formula"}, back.rule), el("div", {class: "formula"}, back.numbers));
    rows.push({label: L === 0 ? "\u2202L/\u2202x" : "\u2202L/\u2202out (dL/da)", value: back.result,
               field: "grad_a", strong: true});
  }
  if (L === 0) return {formulas, rows};
  const rec = layerRecord(tr, layers[L].module);
  if (!rec || !rec.delta) return {formulas, rows};
  const dl = first(rec.delta)[k];
  if (!back && rec.grad_a) rows.push({label: "\u2202L/\u2202out (dL/da)", value: first(rec.grad_a)[k], field: "grad_a"});
  if (rec.f_prime) {
    const fp = first(rec.f_prime)[k], ga = first(rec.grad_a)[k];
    rows.push({label: "f\u2032(z)", value: fp, field: "f_prime"});
    const m = math(row(sub(mi("\u03b4"), mn(String(k))), mo("="), d(mi("L"), sub(mi("out"), mn(String(k)))),
      mo("\u22c5"), mi("f"), mo("\u2032"), mo("("), sub(mi("z"), mn(String(k))), mo(")"), mo("="),
      num(ga), mo("\u00d7"), num(fp), mo("="), num(dl)));
    formulas.push(el("div", {class: "formula"}, m));
  }
  rows.push({label: "\u03b4 = \u2202L/\u2202z", value: dl, field: "delta", strong: true});
  return {formulas, rows};
}

// ---------- details panel ----------
function layerOfParam(name) {
  const lin = DATA.linears.find((l) => l.weight === name || l.bias === name);
  return lin;
}
function formulaFor(lin, isWeight, i, j, p) {
  // MathML nodes can sit in one place only: each use builds its own.
  // The chain and each factor's formula are the trace's (the loss's own factors at
  // the output layer, the activation's derivative, then dz_i/dtheta).
  const tr = steps[current].trace;
  const rec = layerRecord(tr, lin.module);
  const forms = (rec && rec.factor_formulas) || {};
  const I = () => mn(String(i)), J = () => mn(String(j));
  const L = () => mi("L");
  const theta = () => (isWeight ? sub(mi("w"), row(I(), J())) : sub(mi("b"), I()));
  const fkeys = Object.keys(p.factors || {}).filter((k) => k !== "product");
  const chain = [];
  fkeys.forEach((k, n) => {
    if (n) chain.push(mo("\u22c5"));
    chain.push(forms[k] ? tex(indexTex(lhsOf(forms[k].latex), i, j)) : mm("mtext", k));
  });
  const rule = math(row(d(L(), theta()), mo("="), ...chain));
  const each = fkeys.filter((k) => forms[k] && forms[k].latex.indexOf("=") >= 0)
    .map((k) => texMath(indexTex(forms[k].latex, i, j)));
  const lf = lossOf(tr);
  const simple = layers[lin.to].kind === "output" && lf.product_latex
    ? texMath(indexTex(lf.product_latex, i, j)) : null;
  // the same chain with the trace's numbers: each factor, then their product
  // one sample: the trace's factors; a batch: the shown sample's factors (the
  // gradient is the mean of the per-sample products, not the product of means)
  const nb = Array.isArray(p.per_sample) ? p.per_sample.length : 1;
  const f = (nb > 1 ? p.per_sample[Math.min(sampleIdx, nb - 1)] : p.factors) || {};
  const Ls = () => (nb > 1 ? sub(mi("L"), mn(String(Math.min(sampleIdx, nb - 1) + 1))) : L());
  const keys = Object.keys(f).filter((k) => k !== "product" && typeof f[k] === "number");
  const numbers = [];
  keys.forEach((k, n) => {
    if (n) numbers.push(mo("\u00d7"));
    const v = f[k];
    numbers.push(v < 0 ? row(mo("("), num(v), mo(")")) : num(v));
  });
  const product = typeof f.product === "number" ? f.product : p.grad;
  const values = math(row(d(Ls(), theta()), mo("="), ...numbers, mo("="), num(product)));
  const mean = nb > 1 ? math(row(d(L(), theta()), mo("="), frac(mn("1"), mn(String(nb))),
    mm("munderover", mo("\u2211"), row(mi("s"), mo("="), mn("1")), mn(String(nb))),
    d(sub(mi("L"), mi("s")), theta()), mo("="), num(p.grad))) : null;
  const update = updateMath(theta, L, p, stepLr());
  return [rule, ...each, simple, keys.length ? values : null, mean, update].filter((x) => x);
}
function stepLr() { const tr = steps[current].trace; return tr.lr; }
function showParam(sel) {
  const box = document.getElementById("details");
  const p = param(current, sel.name, sel.index);
  const lin = layerOfParam(sel.name);
  if (!p || !lin) { box.replaceChildren(el("div", {class: "empty"}, P("No such parameter in this step."))); return; }
  const isW = sel.index.length === 2;
  const i = sel.index[0], j = sel.index[1];
  const where = isW
    ? `weight from ${neuronName(lin.from, j)} to ${neuronName(lin.to, i)}`
    : `bias of ${neuronName(lin.to, i)}`;
  const rows = [
    {label: P("value before the update"), value: p.value, field: "value"},
    {label: "gradient \u2202L/\u2202" + (isW ? "w" : "b"), value: p.grad, field: "grad", strong: true},
    {label: P("learning rate \u03b7"), value: stepLr(), field: "lr"},
    {label: P("updated value"), value: p.updated, field: "updated", strong: true}];
  const rec = layerRecord(steps[current].trace, lin.module);
  if (rec && rec.delta) {
    rows.push({label: T("delta_of", {i, layer: layerSpoken(lin.to)}), value: first(rec.delta)[i], field: "delta"});
  }
  const after = [];
  if (layers[lin.to].kind !== "output") {  // a hidden weight: its dL/dout_i is a sum
    const back = backwardSum(steps[current].trace, lin.to, i);
    if (back) {
      after.push(el("div", {class: "sub"}, T("backward_sum", {layer: layerSpoken(back.next.to)})),
                 el("div", {class: "formula"}, back.rule), el("div", {class: "formula"}, back.numbers));
    }
  }
  const nb = Array.isArray(p.per_sample) ? p.per_sample.length : 1;
  const si = Math.min(sampleIdx, nb - 1);
  const fr = factorRows(nb > 1 ? p.per_sample[si] : p.factors);
  if (fr.length) {
    after.push(el("div", {class: "sub", style: "margin-top:10px"}, nb > 1
      ? `Chain-rule factors of sample ${si + 1} of ${nb} (the gradient is the mean of the products)`
      : P("Chain-rule factors (from the trace)")), rowsTable(fr));
  }
  drawDetails(box, {key: paramKey(sel.name, sel.index), sub: where + " \u2014 step " + steps[current].iteration,
                    before: formulaFor(lin, isW, i, j, p).map((f) => el("div", {class: "formula"}, f)), rows, after});
}
// A first-layer neuron of a network whose inputs are a heatmap: its weights from
// every input as the same grid, each cell a weight to click (arrow keys move).
function weightGrid(i) {
  const lin = DATA.linears[0], n = lin.in, side = Math.ceil(Math.sqrt(n)), c = 10;
  const scale = scaleOf("value");
  const svg = sv("svg", {viewBox: `0 0 ${side * c} ${Math.ceil(n / side) * c}`, class: "wgrid",
                         role: "group", "aria-label": T("weights_grid", {i, n})});
  for (let j = 0; j < n; j++) {
    const p = param(current, lin.weight, [i, j]);
    const g = sv("g", {"data-param": `${lin.weight}[${i},${j}]`, class: "cell",
                       "aria-label": T("weight_spoken", {from: layerSpoken(0), j: j + 1, to: layerSpoken(1),
                                                          i: i + 1, value: fmt(p.value), grad: fmt(p.grad)})},
                 sv("rect", {x: c * (j % side), y: c * Math.floor(j / side), width: c, height: c,
                             fill: mix(p.value / scale)}));
    pressable(g, () => select({kind: "param", name: lin.weight, index: [i, j]}));
    g.setAttribute("tabindex", j === 0 ? "0" : "-1");
    g.addEventListener("keydown", (ev) => {
      const mv = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: side, ArrowUp: -side}[ev.key];
      if (mv === undefined) return;
      ev.preventDefault(); ev.stopPropagation();
      const to = svg.querySelector(`[data-param="${lin.weight}[${i},${Math.max(0, Math.min(n - 1, j + mv))}]"]`);
      g.setAttribute("tabindex", "-1"); to.setAttribute("tabindex", "0"); to.focus();
    });
    svg.append(g);
  }
  return el("div", {class: "sub"}, T("weights_grid", {i, n}), svg);
}
function neuronName(L, k) {
  const l = layers[L];
  if (l.kind === "input") return (DATA.feature_names || [])[k] || "input " + k;
  if (l.kind === "output") return "output " + k + " (" + ((DATA.class_names || [])[k] || k) + ")";
  return "neuron " + k + " of hidden layer " + L;
}
function showNeuron(sel) {
  const tr = steps[current].trace;
  const L = sel.layer, k = sel.index, l = layers[L];
  const f = forwardOf(tr, L);
  const before = [], rows = [];
  const formula = (m) => before.push(el("div", {class: "formula"}, m));
  if (l.kind === "input") {
    formula(math(row(sub(mi("x"), mn(String(k))), mo("="),
      frac(row(mi("raw"), mo("\u2212"), mi("mean")), mi("std")), mo("="),
      num(f && f.a ? f.a[k] : null))));
    rows.push({label: P("input x (standardised)"), value: f && f.a ? f.a[k] : null, field: "a", strong: true});
    const raw = steps[current].x_raw;
    if (raw) rows.push({label: P("raw value"), value: first(raw)[k], field: "raw"});
  } else {
    const z = f && f.z ? f.z[k] : null, a = f && f.a ? f.a[k] : null;
    const lin = DATA.linears.find((q) => q.to === L);
    const rec = lin ? layerRecord(tr, lin.module) : null;
    const forms = (rec && rec.formulas) || {};
    const out = l.kind === "output";
    const zs = out && !l.activation ? "out" : "z";
    formula(math(row(sub(mi(zs), mn(String(k))), mo("="), sub(mi("w"), mn(String(k))), mo("\u22c5"),
                     sup1(mi("out"), row(mo("("), mi("l"), mo("\u2212"), mn("1"), mo(")"))),
                     mo("+"), sub(mi("b"), mn(String(k))), mo("="), num(z))));
    rows.push({label: out && !l.activation ? "out (= z)" : P("z (pre-activation)"), value: z, field: "z"});
    if (l.activation) {
      const as = "out";  // the lecture's out_j^(l), hidden or output
      const latex = forms.latex_i ? indexTex(forms.latex_i, k) : null;
      const rhs = latex ? tex(latex) : row(mi("f"), mo("("), sub(mi("z"), mn(String(k))), mo(")"));
      const fa = math(row(sub(mi(as), mn(String(k))), mo("="), rhs, mo("="), num(a)));
      if (latex) fa.setAttribute("alttext", as + "_{" + k + "} = " + latex);
      formula(fa);
      rows.push({label: as + " = " + l.activation + "(z)" + (forms.text ? " = " + forms.text : ""),
                 value: a, field: "a", strong: !out});
    }
    if (out) {
      const lf = lossOf(tr), probs = probsOf(tr), r = classOf(tr);
      if (probs && lf.probabilities_latex) {
        const pl = indexTex(lf.probabilities_latex, k);
        const pm = math(row(tex(pl), mo("="), num(probs[k])));
        pm.setAttribute("alttext", pl);
        formula(pm);
      }
      const lm = math(row(tex(lf.latex), mo("="), num(sampleLoss(tr))));
      lm.setAttribute("alttext", lf.latex);
      formula(lm);
      if (probs) rows.push({label: "probability p (" + lf.name + ")", value: probs[k], field: "p", strong: true});
      if (r !== null) rows.push({label: P("true class r"), text: (DATA.class_names || [])[r] || String(r)});
      const tv = tr.target_values ? first(tr.target_values) : null;
      if (tv) rows.push({label: "target t", value: tv[k], field: "t"});
      const pred = (DATA.meta || {}).task === "regression" ? null : predictionOf(tr);  // a value, no class
      if (pred !== null) rows.push({label: "predicted class (" + (lf.prediction_text || "argmax") + ")",
                                    text: (DATA.class_names || [])[pred] || String(pred)});
      rows.push({label: "loss " + lf.text, value: sampleLoss(tr), field: "loss"});
      if (batchSize(tr) > 1) rows.push({label: P("mean loss of the batch"), value: tr.loss, field: "batch-loss"});
    }
    if (lin && lin.bias) {
      const b = param(current, lin.bias, [k]);
      if (b) rows.push({label: "bias " + lin.bias + "[" + k + "]", value: b.value, field: "bias"});
    }
  }
  const back = backwardParts(tr, L, k);
  before.push(...back.formulas);
  rows.push(...back.rows);
  if (L === 1 && heatInputs) before.push(weightGrid(k));
  drawDetails(document.getElementById("details"), {
    key: `${L}:${k}`, title: neuronName(L, k),
    sub: "layer " + L + " (" + l.kind + ") \u2014 step " + steps[current].iteration, before, rows});
}
function sup1(b, s) { return mm("msup", b, s); }
function msup(b, s) { return mm("msup", b, s); }
function select(sel) {
  selection = sel;
  markSelected(document.getElementById("network"), selectionKey(sel));
  refreshDetails();
}
function refreshDetails() {
  if (!selection) return;
  if (selection.kind === "param") showParam(selection); else showNeuron(selection);
  // a formula wider than the panel scrolls: the keyboard must reach it too
  for (const f of document.querySelectorAll("#details .formula")) {
    if (f.scrollWidth > f.clientWidth) {
      f.setAttribute("tabindex", "0");
      f.setAttribute("role", "group");
      f.setAttribute("aria-label", T("formula_scrolls"));
    }
  }
}

// ---------- sample panel ----------
function updateSample() {
  const box = document.getElementById("sample");
  const s = steps[current], tr = s.trace;
  const probs = probsOf(tr), r = classOf(tr), lf = lossOf(tr);
  const x = forwardOf(tr, 0);
  const raw = s.x_raw ? first(s.x_raw) : null;
  box.replaceChildren();
  const names = DATA.class_names || [];
  const best = (DATA.meta || {}).task === "regression" ? null : predictionOf(tr);
  const row0 = s.batch ? P("training row") + " " + (s.batch.length > 1 ? s.batch[Math.min(sampleIdx, s.batch.length - 1)] : s.batch[0]) + " \u00b7 " : "";
  const head = r !== null
    ? el("div", {class: "sub", style: "margin-bottom:6px"}, row0 + P("true class") + " ",
         el("b", {}, names[r] || String(r)),
         best !== null ? " \u00b7 " + P("predicted") + " " : null,
         best !== null ? el("b", {}, names[best] || String(best)) : null,
         best !== null ? el("span", {class: "tag" + (best === r ? "" : " wrong")}, best === r ? P("right") : P("wrong")) : null)
    : el("div", {class: "sub", style: "margin-bottom:6px"}, row0 + "targets: values (" + lf.name + ")");
  box.append(head);
  const n = batchSize(tr);
  if (n > 1) {
    const pick = el("div", {class: "sub"}, `a batch of ${n}: the gradients are the means over its samples. Show sample `);
    for (let q = 0; q < n; q++) {
      const b = el("button", {class: "pick" + (q === sampleIdx ? " on" : ""), "data-sample": String(q)},
                   String(q + 1));
      b.addEventListener("click", () => { sampleIdx = q; go(current); });
      pick.append(b, " ");
    }
    box.append(pick);
  }
  const ft = el("table", {}, el("tr", {}, el("th", {}, P("feature")),
                                raw ? el("th", {class: "r"}, P("raw")) : null,
                                el("th", {class: "r"}, P("x (standardised)"))));
  const nIn = layers[0].size, listed = nIn > 32 && !allFeatures ? 16 : nIn;
  for (let k = 0; k < listed; k++) {
    const n = (DATA.feature_names || [])[k] || "x" + k;
    ft.append(el("tr", {}, el("td", {}, n),
                 raw ? el("td", {class: "r"}, numShort(raw[k])) : null,
                 el("td", {class: "r"}, x && x.a ? numShort(x.a[k]) : "\u2013")));
  }
  box.append(ft);
  if (nIn > 32) {  // 784 pixels: the first 16, the rest on demand (and in the heatmap)
    const more = el("button", {class: "pick", "aria-expanded": allFeatures ? "true" : "false"},
                    allFeatures ? T("collapse") : T("expand", {n: nIn - listed}));
    more.addEventListener("click", () => { allFeatures = !allFeatures; updateSample(); });
    box.append(more);
  }
  const outs = forwardOf(tr, layers.length - 1);
  const tv = tr.target_values ? first(tr.target_values) : null;
  const pt = probs
    ? el("table", {style: "margin-top:10px"},
         el("tr", {}, el("th", {}, P("class")), el("th", {class: "r"}, "p"), el("th", {}, "p × 100 %")))
    : el("table", {style: "margin-top:10px"},
         el("tr", {}, el("th", {}, "output"), el("th", {class: "r"}, "out"),
            tv ? el("th", {class: "r"}, "target t") : null));
  if (!probs && outs && outs.a) outs.a.forEach((o, k) => {
    pt.append(el("tr", {class: k === r ? "true-class" : ""},
      el("td", {}, (names[k] || String(k)) + (k === r ? " (true)" : "") + (k === best ? " \u2190 predicted" : "")),
      el("td", {class: "r"}, numShort(o)), tv ? el("td", {class: "r"}, numShort(tv[k])) : null));
  });
  if (probs) probs.forEach((p, k) => {
    const bar = el("div", {class: "bar"}, el("div", {style: `width:${(100 * p).toFixed(1)}%;` +
      (k === r ? "background:var(--good)" : "")}));
    pt.append(el("tr", {class: k === r ? "true-class" : ""},
      el("td", {}, (names[k] || String(k)) + (k === r ? " (true)" : "")),
      el("td", {class: "r"}, numShort(p)), el("td", {style: "width:45%"}, bar)));
  });
  box.append(pt);
  const dm = DATA.meta || {};
  if (dm.target_scale !== undefined && outs && outs.a) {  // regression: back in the target's units
    const un = (v) => dm.target_mean + dm.target_scale * v;
    box.append(el("div", {class: "sub", id: "unscaled", style: "margin-top:8px"},
                  (dm.target || "target") + " in its own units (mean " + dm.target_mean.toPrecision(6) +
                  " + scale " + dm.target_scale.toPrecision(6) + " \u00d7 value): predicted ",
                  numShort(un(outs.a[0])), tv ? " \u00b7 true " : null, tv ? numShort(un(tv[0])) : null));
  }
  box.append(el("div", {class: "sub", style: "margin-top:8px"}, P("loss of this sample") + " ", lf.text,
                " = ", numShort(sampleLoss(tr)),
                n > 1 ? el("span", {}, " \u00b7 mean over the batch ", numShort(tr.loss)) : null));
}

// ---------- charts ----------
// The shared curves (frontend/curves.js): each recorded step's loss (bars; a
// click shows that step), the run's loss and accuracy (or R²) per epoch; a dashed
// line marks the shown step. The numbers are built once, only the marker moves.
const CURVES = {};
function drawCharts() {
  CURVES.steps = {x: steps.map((s) => s.iteration), xlabel: P("iteration"), ymin: 0, legend: false,
                  height: 150, series: [{label: "L", y: steps.map((s) => s.trace.loss), colour: "#5c3fb5", bars: true}],
                  pick: (n) => go(n)};
  const hst = DATA.history;
  if (!(hst && hst.loss && hst.loss.length)) {  // one explained step: no run to plot
    document.getElementById("curves-card").style.display = "none";
    document.querySelector("main").style.gridTemplateAreas = '"net details" "net sample"';
    return;
  }
  const ex = hst.loss.map((_, n) => n + (hst.first_epoch || 0));
  const two = (train, test) => [{label: T("train"), y: train, colour: "#5c3fb5"}].concat(
    test && test.length ? [{label: T("test"), y: test, colour: "#a85a00", dash: [4, 3]}] : []);
  const epochs = (series, more) => ({x: ex, xlabel: P("epoch"), legend: false, height: 170, series, ...more});
  CURVES.loss = epochs(two(hst.loss, hst.val_loss), {ymin: 0});
  if (hst.r2) {  // regression: R² per epoch, MAE and RMSE at the end (target's units)
    const lo = Math.max(-1, Math.min(0, ...hst.r2, ...(hst.val_r2 || [])));
    const clip = (a) => a && a.map((v) => Math.max(v, lo));
    CURVES.acc = epochs(two(clip(hst.r2), clip(hst.val_r2)), {ymin: lo, ymax: 1});
    const last = (a) => a && a.length ? a[a.length - 1] : null;
    const fin = (p) => "R\u00b2 " + last(hst[p + "r2"]).toFixed(4) + ", MAE " + last(hst[p + "mae"]).toPrecision(4) +
                       ", RMSE " + last(hst[p + "rmse"]).toPrecision(4);
    document.getElementById("acc-title").textContent = (DATA.labels || {}).r2_epochs || "R\u00b2 per epoch";
    const info = el("div", {class: "sub", id: "regression-scores"}, "after training: train " + fin("") +
                    (hst.val_r2 ? "; test " + fin("val_") : ""));
    document.getElementById("chart-acc").after(info);
  } else {
    CURVES.acc = epochs(two(hst.accuracy, hst.val_accuracy), {ymin: 0, ymax: 1, percent: true});
  }
}
function updateCharts() {
  const s = steps[current], hst = DATA.history;
  if (!CURVES.loss) return;
  drawCurves(document.getElementById("chart-steps"), {...CURVES.steps, marker: s.iteration});
  // the epoch charts' marker: before this step's update
  const e = hst.iterations_per_epoch ? (s.iteration - 1) / hst.iterations_per_epoch : null;
  drawCurves(document.getElementById("chart-loss"), {...CURVES.loss, marker: e});
  drawCurves(document.getElementById("chart-acc"), {...CURVES.acc, marker: e});
}

// ---------- step control ----------
function go(i) {
  const before = current;
  current = Math.max(0, Math.min(steps.length - 1, i));
  const s = steps[current];
  const range = document.getElementById("step");
  range.value = String(current + 1);
  document.getElementById("step-label").textContent =
    T("step_of", {k: current + 1, n: steps.length});
  document.getElementById("step-where").textContent =
    (s.epoch ? T("epoch_n", {n: s.epoch}) + ", " : "") + T("iteration_n", {n: s.iteration}) +
    " \u00b7 " + T("keys_hint");
  updateNetwork();
  updateSample();
  updateCharts();
  refreshDetails();
  if (before !== current || !document.getElementById("announce").textContent) {
    document.getElementById("announce").textContent = T("announce", {
      k: current + 1, n: steps.length, epoch: s.epoch || 1, iteration: s.iteration,
      loss: fmt(s.trace.loss)});
  }
}
function speed() { return Number(document.getElementById("speed").value) || 700; }
function play() {
  const btn = document.getElementById("play");
  if (timer) {
    clearInterval(timer); timer = null; btn.textContent = "\u25B6";
    btn.setAttribute("aria-label", T("play")); btn.setAttribute("aria-pressed", "false");
    return;
  }
  if (current >= steps.length - 1) go(0);
  btn.textContent = "\u275A\u275A";
  btn.setAttribute("aria-label", T("pause")); btn.setAttribute("aria-pressed", "true");
  timer = setInterval(() => {
    if (current >= steps.length - 1) { play(); return; }
    go(current + 1);
  }, speed());
}
function controls() {
  const range = document.getElementById("step");
  range.max = String(steps.length);
  if (steps.length === 1) {
    for (const id of ["first", "prev", "play", "next", "step"]) {
      document.getElementById(id).disabled = true;
    }
  }
  range.addEventListener("input", () => go(Number(range.value) - 1));
  document.getElementById("prev").addEventListener("click", () => go(current - 1));
  document.getElementById("next").addEventListener("click", () => go(current + 1));
  document.getElementById("first").addEventListener("click", () => go(0));
  document.getElementById("play").addEventListener("click", play);
  for (const r of document.querySelectorAll('input[name="edge-mode"]')) {
    r.addEventListener("change", () => { edgeMode = r.value; updateNetwork(); });
  }
  for (const r of document.querySelectorAll('input[name="neuron-mode"]')) {
    r.addEventListener("change", () => { neuronMode = r.value; updateNetwork(); });
  }
  document.getElementById("speed").addEventListener("change", () => {
    if (timer) { play(); play(); }  // restart at the new speed
  });
  document.addEventListener("keydown", (ev) => {
    // the slider moves itself (and fires "input"); radio buttons use arrows too
    if (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT") return;
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") { go(current + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") { go(current - 1); ev.preventDefault(); }
    else if (ev.key === "Home") { go(0); ev.preventDefault(); }
    else if (ev.key === "End") { go(steps.length - 1); ev.preventDefault(); }
    else if (ev.key === " " && ev.target.tagName !== "BUTTON") { play(); ev.preventDefault(); }
  });
}

header();
drawCharts();
controls();
go(0);
// start where the lecture starts: the last layer's bias of the true class
const last = DATA.linears[DATA.linears.length - 1];
const r0 = classOf(steps[0].trace);
if (last && last.bias) select({kind: "param", name: last.bias, index: [r0 === null ? 0 : r0]});
document.body.setAttribute("data-ready", "1");
})();
