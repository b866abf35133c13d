// The playground page: controls, the network drawing, the details panel, the decision
// regions, the hidden neurons' heatmaps and the curves. One module for every host:
// mount(root, transport) draws into root; transport.send(msg) sends a command and
// transport.onMessage(cb) receives the session's snapshots (a WebSocket in the local
// server, model.send / msg:custom in the notebook widget). Numbers come from the
// engine's trace as JSON; data-exact holds String(x), the shortest text that reads back
// as the same float (Python's repr), so every shown number is the engine's own.

/* global uPlot */

const SVG = "http://www.w3.org/2000/svg";
// TensorFlow Playground's convention: orange negative, blue positive.
const NEG = [245, 147, 34], POS = [8, 119, 189], MID = [232, 234, 237];
const CLASS_COLOURS = [[245, 147, 34], [8, 119, 189], [46, 139, 87], [155, 89, 182],
                       [200, 60, 60], [120, 120, 120]];
const DATASETS = ["iris", "xor", "circle", "gauss", "spiral", "moons"];
const ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"];

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") e.textContent = v; else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) e.append(k);
  return e;
}
function sv(tag, attrs = {}, ...kids) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}
const exact = (v) => (v === null || v === undefined ? "" : String(v));
function short(v) {
  if (v === null || v === undefined) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return v.toFixed(4);
}
function num(v, field) {
  // the full value is the text (the arithmetic closes on what is shown)
  return el("span", {class: "num", "data-field": field, "data-exact": exact(v)}, exact(v));
}
function mix(t) {  // t in [-1, 1] -> orange .. grey .. blue
  const c = t < 0 ? NEG : POS, s = Math.min(1, Math.abs(t));
  return `rgb(${MID.map((m, k) => Math.round(m + (c[k] - m) * s)).join(",")})`;
}
function niceScale(m) {  // the legend's end: 1, 2 or 5 times a power of ten >= m
  if (!(m > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(m)));
  for (const f of [1, 2, 5, 10]) if (f * p >= m) return f * p;
  return 10 * p;
}

function layerName(L, layers) {
  // the explain views' one label: "fc1 (hidden layer 1)", "fc3 (output layer)"
  if (L === 0) return "input";
  const lin = layers[L - 1];
  if (lin && lin.label) return lin.label;
  return L === layers.length ? "output layer" : `hidden layer ${L}`;
}

const SHELL = `
<header class="bar" aria-label="Training controls">
  <h1>retroprop playground</h1>
  <div class="group">
    <button id="play" type="button">Play</button>
    <button id="pause" type="button">Pause</button>
    <button id="step-once" type="button">One update</button>
    <button id="epoch-once" type="button">One epoch</button>
    <button id="reset" type="button">Reset</button>
  </div>
  <div class="group">
    <label>η <input id="lr" type="number" step="any" min="0" inputmode="decimal" aria-label="η, the learning rate"></label>
    <label>batch <input id="batch-size" type="number" min="1" step="1" aria-label="batch size"></label>
    <label>hidden <input id="hidden" type="text" size="6" aria-label="hidden layer sizes, comma-separated"></label>
    <label>activation <select id="activation" aria-label="activation"></select></label>
    <label>loss <select id="loss" aria-label="loss"><option value="cross_entropy">cross-entropy</option><option value="mse">MSE</option></select></label>
    <label>data <select id="dataset" aria-label="data set"></select></label>
    <label>noise <input id="noise" type="number" min="0" max="2" step="0.05" aria-label="noise of the 2-D data"></label>
    <label>seed <input id="seed" type="number" min="0" step="1" aria-label="seed"></label>
    <label class="file">CSV <input id="upload" type="file" accept=".csv,text/csv" aria-label="CSV data of your own (upload)"></label>
    <label class="columns">features <input id="features" type="text" size="8" placeholder="all" aria-label="feature columns of the CSV, by name or number, comma-separated (like train --features)"></label>
    <label class="columns">drop <input id="drop" type="text" size="6" aria-label="columns of the CSV to leave out, by name or number, comma-separated (like train --drop)"></label>
  </div>
  <div class="group status" aria-label="Progress">
    <span>update <output id="iteration">0</output></span>
    <span>epoch <output id="epoch">1</output></span>
    <span>train loss <output id="loss-value" data-exact="">–</output></span>
    <span>accuracy <output id="accuracy">–</output></span>
  </div>
</header>
<p id="error" role="alert" hidden></p>
<main class="panes">
  <section class="pane net" aria-labelledby="net-title">
    <h2 id="net-title">Network <small id="arch"></small></h2>
    <div class="legend" id="legend"></div>
    <fieldset class="toggle"><legend>Colour neurons by</legend>
      <label><input type="radio" name="colour" value="activation" checked> output out</label>
      <label><input type="radio" name="colour" value="delta"> ∂L/∂z</label>
    </fieldset>
    <svg id="network" role="group" aria-label="the network: tab to a neuron, weight or bias and press Enter for its numbers"></svg>
  </section>
  <section class="pane" aria-labelledby="details-title">
    <h2 id="details-title">Details of the next update</h2>
    <div id="details"><p class="hint">Click (or tab to and press Enter on) a weight, a bias or a neuron.</p></div>
  </section>
  <section class="pane" aria-labelledby="boundary-title">
    <h2 id="boundary-title">Decision regions <small id="plane-axes"></small></h2>
    <canvas id="boundary" width="320" height="320" role="img" aria-label="decision regions"></canvas>
    <p class="key" id="class-key"></p>
    <h3>What each hidden neuron computes</h3>
    <div id="heatmaps"></div>
  </section>
  <section class="pane" aria-labelledby="curves-title">
    <h2 id="curves-title">Loss and accuracy</h2>
    <div id="curve-loss" class="curve"></div>
    <div id="curve-acc" class="curve"></div>
    <h3>Export</h3>
    <div class="group" id="exports">
      <button type="button" data-export="safetensors">model .safetensors</button>
      <button type="button" data-export="json">step JSON</button>
      <button type="button" data-export="markdown">step Markdown</button>
      <button type="button" data-export="xlsx">step xlsx</button>
      <button type="button" data-export="torch">PyTorch script</button>
    </div>
  </section>
</main>
<div id="announce" class="sr-only" aria-live="polite" role="status"></div>
`;

export function mount(root, transport, options = {}) {
  root.classList.add("rp-playground");
  root.innerHTML = SHELL;
  const $ = (sel) => root.querySelector(sel);
  const state = {snap: null, selected: null, colour: "activation", charts: null,
                 lastAnnounce: 0, onSetup: options.onSetup || (() => {}),
                 upload: options.upload || null};

  for (const a of ACTIVATIONS) $("#activation").append(el("option", {value: a, text: a}));
  for (const d of DATASETS) $("#dataset").append(el("option", {value: d, text: d}));

  const send = (msg) => transport.send(msg);
  $("#play").addEventListener("click", () => send({cmd: "play"}));
  $("#pause").addEventListener("click", () => send({cmd: "pause"}));
  $("#step-once").addEventListener("click", () => { state.wantAnnounce = true; send({cmd: "step", n: 1}); });
  $("#epoch-once").addEventListener("click", () => { state.wantAnnounce = true; send({cmd: "epoch"}); });
  $("#reset").addEventListener("click", () => { state.wantAnnounce = true; send({cmd: "reset"}); });
  $("#lr").addEventListener("change", (e) => send({cmd: "lr", value: e.target.value}));
  $("#batch-size").addEventListener("change", (e) => send({cmd: "batch_size", value: e.target.value}));
  const setup = (field) => (e) => send({cmd: "setup", setup: {[field]: e.target.value}});
  $("#hidden").addEventListener("change", setup("hidden"));
  $("#activation").addEventListener("change", setup("activation"));
  $("#loss").addEventListener("change", setup("loss"));
  $("#dataset").addEventListener("change", setup("dataset"));
  $("#noise").addEventListener("change", setup("noise"));
  $("#seed").addEventListener("change", setup("seed"));
  for (const r of root.querySelectorAll('input[name="colour"]')) {
    r.addEventListener("change", () => { state.colour = r.value; drawNetwork(); });
  }
  for (const b of root.querySelectorAll("[data-export]")) {
    b.addEventListener("click", () => send({cmd: "export", format: b.dataset.export}));
  }
  $("#upload").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (!file || !state.upload) return;
    try {
      const key = await state.upload(file, {features: $("#features").value, drop: $("#drop").value});
      if (!$("#dataset option[value=upload]")) {
        $("#dataset").append(el("option", {value: "upload", text: file.name}));
      }
      send({cmd: "setup", setup: {dataset: "upload", upload: key}});
    } catch (err) { showError(String(err.message || err)); }
  });
  if (!state.upload) {
    for (const l of [$("#upload"), $("#features"), $("#drop")]) l.closest("label").hidden = true;
  }

  function showError(text) {
    const p = $("#error");
    p.hidden = !text;
    p.textContent = text || "";
  }

  transport.onMessage((msg) => {
    if (msg.type === "error") { showError(msg.message); return; }
    if (msg.type === "export") { download(msg); return; }
    if (msg.type !== "state") return;
    const first = state.snap === null;
    // a new run (not a new eta or batch size) starts new curves
    const runKey = (snap) => JSON.stringify({...snap.setup, lr: null, batch: null});
    const prevSetup = state.snap && runKey(state.snap);
    state.snap = msg;
    if (!msg.error) showError(""); else showError(msg.error);
    if (prevSetup && prevSetup !== runKey(msg)) state.charts = null;
    render(first);
  });

  function download(msg) {
    const bytes = Uint8Array.from(atob(msg.base64), (c) => c.charCodeAt(0));
    const a = el("a", {href: URL.createObjectURL(new Blob([bytes], {type: msg.mime})),
                       download: msg.filename});
    root.append(a); a.click(); a.remove();
    announce(`Exported ${msg.filename}`);
  }

  function announce(text) { $("#announce").textContent = text; }

  function render(first) {
    const s = state.snap;
    const active = root.ownerDocument.activeElement;
    const setIf = (id, v) => { const e = $(id); if (e !== active) e.value = v; };
    setIf("#lr", String(s.lr));
    setIf("#batch-size", String(s.batch_size));
    setIf("#hidden", s.setup.hidden);
    setIf("#activation", s.setup.activation);
    setIf("#loss", s.setup.loss);
    setIf("#dataset", s.setup.dataset);
    setIf("#noise", s.setup.noise);
    setIf("#seed", s.setup.seed);
    $("#noise").disabled = !["xor", "circle", "gauss", "spiral", "moons"].includes(s.setup.dataset);
    $("#iteration").textContent = String(s.iteration);
    $("#epoch").textContent = String(s.epoch);
    const m = s.measure;
    $("#loss-value").textContent = short(m.train_loss);
    $("#loss-value").setAttribute("data-exact", exact(m.train_loss));
    $("#accuracy").textContent = m.train_accuracy === null ? "–" : `${(100 * m.train_accuracy).toFixed(1)} %`;
    root.dataset.playing = s.playing ? "yes" : "no";
    $("#play").setAttribute("aria-pressed", s.playing ? "true" : "false");
    state.onSetup(s.setup);
    drawNetwork();
    drawDetails();
    drawPlane();
    drawCurves();
    if (state.wantAnnounce) {
      state.wantAnnounce = false;
      announce(`Update ${s.iteration} done, epoch ${s.epoch}: training loss ${short(m.train_loss)}`);
    } else if (!s.playing && state.wasPlaying) {
      announce(`Paused after update ${s.iteration}: training loss ${short(m.train_loss)}`);
    }
    state.wasPlaying = s.playing;
    if (first) root.setAttribute("data-ready", "");
  }

  // --- the network ------------------------------------------------------------------
  function sizes(s) {
    return [s.layers[0].weight[0].length, ...s.layers.map((l) => l.bias.length)];
  }
  function selectedKey() {
    const t = state.selected;
    if (!t) return null;
    return t.kind === "param" ? `${t.name}[${t.index.join(",")}]` : `${t.layer}:${t.index}`;
  }
  function neuronValue(L, i) {
    const tr = state.snap.trace;
    if (!tr) return null;
    if (state.colour === "activation") {
      if (L === 0) return tr.input[0][i];
      const rec = tr.layers[L - 1];
      return (rec.is_output && tr.probabilities) ? tr.probabilities[0][i] : rec.a[0][i];
    }
    if (L === 0) return tr.layers[0].grad_a_prev ? tr.layers[0].grad_a_prev[0][i] : null;
    return tr.layers[L - 1].delta[0][i];
  }

  function drawNetwork() {
    const s = state.snap, svg = $("#network");
    const n = sizes(s), nL = n.length;
    // a phone gets a narrower drawing, so neurons and biases stay finger-sized
    const narrow = (svg.clientWidth || 600) < 500;
    const W = narrow ? 400 : 600, H = Math.max(220, 44 * Math.max(...n) + 30);
    const left = narrow ? 74 : 96, right = narrow ? 66 : 90, maxLabel = narrow ? 8 : 13;
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.replaceChildren();
    const x = (L) => left + (L * (W - left - right)) / (nL - 1);
    const y = (L, i) => H / 2 + (i - (n[L] - 1) / 2) * 44;
    let wmax = 0;
    for (const l of s.layers) for (const row of l.weight) for (const w of row) wmax = Math.max(wmax, Math.abs(w));
    const wscale = niceScale(wmax);
    let vmax = 0;
    for (let L = 0; L < nL; L++) for (let i = 0; i < n[L]; i++) { const v = neuronValue(L, i); if (v !== null && isFinite(v)) vmax = Math.max(vmax, Math.abs(v)); }
    const vscale = niceScale(vmax);
    const sel = selectedKey();
    const edges = sv("g", {class: "edges"}), nodes = sv("g", {class: "nodes"});
    s.layers.forEach((lin, k) => {
      const L = k + 1;
      for (let i = 0; i < n[L]; i++) {
        for (let j = 0; j < n[L - 1]; j++) {
          const w = lin.weight[i][j], key = `${lin.name}.weight[${i},${j}]`;
          const d = `M${x(L - 1) + 12},${y(L - 1, j)} C${(x(L - 1) + x(L)) / 2},${y(L - 1, j)} ${(x(L - 1) + x(L)) / 2},${y(L, i)} ${x(L) - 12},${y(L, i)}`;
          const g = sv("g", {class: "edge" + (key === sel ? " selected" : ""), "data-param": key,
                             tabindex: "0", role: "button",
                             "aria-label": `weight from ${layerName(L - 1, s.layers)} neuron ${j + 1} to ${layerName(L, s.layers)} neuron ${i + 1}: value ${short(w)}`});
          g.append(sv("path", {d, class: "line", stroke: mix(w / wscale),
                               "stroke-width": String(0.6 + 5 * Math.min(1, Math.abs(w) / wscale))}));
          g.append(sv("path", {d, class: "hit"}));
          bind(g, {kind: "param", name: `${lin.name}.weight`, index: [i, j]});
          edges.append(g);
        }
      }
    });
    for (let L = 0; L < nL; L++) {
      for (let i = 0; i < n[L]; i++) {
        const v = neuronValue(L, i), key = `${L}:${i}`;
        const label = L === 0 ? (s.feature_names[i] || `x${i + 1}`)
                    : L === nL - 1 ? (s.class_names[i] || `class ${i}`) : "";
        const g = sv("g", {class: "neuron" + (key === sel ? " selected" : ""), "data-neuron": key,
                           tabindex: "0", role: "button",
                           "aria-label": `${layerName(L, s.layers)} neuron ${i + 1}${label ? " (" + label + ")" : ""}: ${state.colour === "activation" ? "output out" : "∂L/∂z"} ${short(v)}`});
        g.append(sv("circle", {cx: x(L), cy: y(L, i), r: 12, fill: v === null ? "#fff" : mix(v / vscale)}));
        if (label) {
          const t = sv("text", {x: L === 0 ? x(L) - 16 : x(L) + 16, y: y(L, i) + 4,
                                "text-anchor": L === 0 ? "end" : "start", class: "label"});
          t.textContent = label.length > maxLabel ? label.slice(0, maxLabel - 1) + "…" : label;
          t.setAttribute("aria-hidden", "true");
          nodes.append(t);  // beside the neuron, so its spoken name is the aria-label
        }
        bind(g, {kind: "neuron", layer: L, index: i});
        nodes.append(g);
        if (L > 0) {
          const lin = s.layers[L - 1], b = lin.bias[i], bkey = `${lin.name}.bias[${i}]`;
          const r = sv("rect", {x: x(L) - 5, y: y(L, i) + 13, width: 10, height: 10, rx: 2,
                                class: "bias" + (bkey === sel ? " selected" : ""),
                                fill: mix(b / wscale), "data-param": bkey, tabindex: "0",
                                role: "button",
                                "aria-label": `bias of ${layerName(L, s.layers)} neuron ${i + 1}: value ${short(b)}`});
          bind(r, {kind: "param", name: `${lin.name}.bias`, index: [i]});
          nodes.append(r);
        }
      }
    }
    svg.append(edges, nodes);
    const legend = $("#legend");
    legend.replaceChildren(
      scaleBar("weights and biases", wscale),
      scaleBar(state.colour === "activation" ? "neuron output out" : "neuron ∂L/∂z", vscale),
    );
    if (state.colour === "delta") {
      legend.append(el("p", {class: "note", text: "∂L/∂z > 0: the next update lowers the weights into that neuron from positive inputs (w_ij ← w_ij − η ∂L/∂z_i out_j)."}));
    }
    restoreFocus();
  }

  function scaleBar(title, scale) {
    return el("div", {class: "scale"},
      el("span", {class: "t", text: title}),
      el("span", {text: `−${scale}`}),
      el("span", {class: "bar", "aria-hidden": "true"}),
      el("span", {text: `+${scale}`}),
      el("span", {class: "sr-only", text: `orange negative, blue positive, full colour at ${scale}`}));
  }

  function bind(node, target) {
    const pick = () => {
      state.selected = target;
      state.focusKey = target.kind === "param" ? `[data-param="${target.name}[${target.index.join(",")}]"]`
                                               : `[data-neuron="${target.layer}:${target.index}"]`;
      if (target.kind === "param") send({cmd: "select", name: target.name, index: target.index});
      drawNetwork();
      drawDetails();
    };
    node.addEventListener("click", pick);
    node.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); }
    });
    node.addEventListener("focus", () => { state.focusKey = null; state.hasFocus = node; });
  }
  function restoreFocus() {
    // redrawing replaces the SVG nodes; keep the keyboard where it was
    if (state.focusKey) {
      const e = $("#network").querySelector(state.focusKey) || root.querySelector(state.focusKey);
      if (e && root.ownerDocument.activeElement !== e) e.focus({preventScroll: true});
    } else if (state.hasFocus && !state.hasFocus.isConnected) {
      const key = state.hasFocus.getAttribute("data-param");
      const nk = state.hasFocus.getAttribute("data-neuron");
      const e = key ? root.querySelector(`[data-param="${key}"]`) : root.querySelector(`[data-neuron="${nk}"]`);
      if (e) e.focus({preventScroll: true});
      state.hasFocus = e;
    }
  }

  // --- the details panel --------------------------------------------------------------
  function drawDetails() {
    const box = $("#details"), t = state.selected, s = state.snap;
    if (!t) return;
    const tr = s.trace;
    box.replaceChildren();
    if (!tr) { box.append(el("p", {class: "hint", text: "No trace: the next step cannot be explained (see the message above); reset or lower η."})); return; }
    const meta = tr.meta || {};
    box.append(el("p", {class: "sub", text: `Update ${meta.step} (epoch ${meta.epoch}), on training sample ${JSON.stringify(meta.sample)}; η = ${tr.lr}`}));
    if (t.kind === "param") {
      const p = tr.parameters.find((q) => q.name === t.name && q.index.join(",") === t.index.join(","));
      if (!p) return;
      const rec = tr.layers.find((l) => l.weight_name === t.name || l.bias_name === t.name);
      box.append(el("h3", {}, el("code", {"data-selected": "", text: `${t.name}[${t.index.join(",")}]`})));
      const dl = el("dl");
      const row = (k, v) => dl.append(el("dt", {text: k}), el("dd", {}, v));
      row("value", num(p.value, "value"));
      row("gradient ∂L/∂θ", num(p.grad, "grad"));
      row("η", num(tr.lr, "lr"));
      row("updated", num(p.updated, "updated"));
      const i = t.index[0];
      if (rec && rec.delta) row(`∂L/∂z_${i + 1} of neuron ${i + 1}`, num(rec.delta[0][i], "delta"));
      box.append(dl);
      box.append(el("h4", {text: "Chain rule"}));
      const forms = (rec && rec.factor_formulas) || {};
      const ul = el("ul", {class: "factors"});
      const keys = Object.keys(p.factors);
      for (const k of keys) {
        const f = forms[k] ? forms[k].text : "";
        ul.append(el("li", {}, el("span", {class: "fk", text: k}), f ? ` = ${f} = ` : " = ",
                     num(p.factors[k], "factor:" + k)));
      }
      box.append(ul);
      // The lecture's chain multiplies its factors; the engine computes dL/dz
      // once per neuron (p - onehot at the outputs) and grad = delta x the last factor.
      // Both lines are shown with full numbers: the second closes exactly in floating
      // point; the first may differ from delta in the last digits (then "≈").
      const chain = keys.filter((k) => k !== "product");
      const last = chain[chain.length - 1], front = chain.slice(0, -1);
      const d = rec && rec.delta && tr.n_samples === 1 ? rec.delta[0][i] : null;
      if (d !== null) {
        const prod = front.reduce((a, k) => a * p.factors[k], 1);
        const sign = prod === d ? "=" : "≈";
        box.append(el("p", {class: "arith", "data-arith": "delta",
          text: `∂L/∂z_${i + 1} = ${front.join(" × ")} = ${front.map((k) => exact(p.factors[k])).join(" × ")} ${sign} ${exact(d)}`}));
        box.append(el("p", {class: "arith", "data-arith": "grad",
          text: `∂L/∂θ = ∂L/∂z_${i + 1} × ${last} = ${exact(d)} × ${exact(p.factors[last])} = ${exact(p.grad)}`}));
      } else {
        box.append(el("p", {class: "arith", text: `∂L/∂θ = mean over the ${tr.n_samples} samples of ${chain.join(" × ")} = ${exact(p.grad)}`}));
      }
      box.append(el("p", {class: "arith", "data-arith": "update",
        text: `updated = value − η × grad = ${exact(p.value)} − ${exact(tr.lr)} × ${exact(p.grad)} = ${exact(p.updated)}`}));
      const form = el("form", {class: "edit"});
      const input = el("input", {type: "number", step: "any", id: "edit-value", value: exact(p.value),
                                 "aria-label": `new value of ${t.name}[${t.index.join(",")}]`});
      form.append(el("label", {for: "edit-value", text: "Set by hand: "}), input,
                  el("button", {type: "submit", text: "Set"}));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        send({cmd: "edit", name: t.name, index: t.index, value: input.value});
        announce(`${t.name}[${t.index.join(",")}] set to ${input.value}`);
      });
      box.append(form);
    } else {
      const L = t.layer, i = t.index;
      box.append(el("h3", {}, el("code", {"data-selected": "", text: `${layerName(L, s.layers)} neuron ${i + 1}`})));
      const dl = el("dl");
      const row = (k, v) => dl.append(el("dt", {text: k}), el("dd", {}, v));
      if (L === 0) {
        row("input x (standardised)", num(tr.input[0][i], "value"));
        if (tr.layers[0].grad_a_prev) row("∂L/∂x", num(tr.layers[0].grad_a_prev[0][i], "grad"));
      } else {
        const rec = tr.layers[L - 1];
        row("z = w·out⁽ˡ⁻¹⁾ + b", num(rec.z[0][i], "z"));
        row(rec.activation ? "out = f(z)" : "out = z", num(rec.a[0][i], "value"));
        if (rec.is_output && tr.probabilities) row("p (softmax)", num(tr.probabilities[0][i], "p"));
        if (rec.grad_a) row("∂L/∂out", num(rec.grad_a[0][i], "grad"));
        if (rec.f_prime) row("f′(z)", num(rec.f_prime[0][i], "f_prime"));
        row("∂L/∂z", num(rec.delta[0][i], "delta"));
      }
      box.append(dl);
    }
  }

  // --- the input plane ----------------------------------------------------------------
  function paintGrid(canvas, grid, colourOf) {
    const ctx = canvas.getContext("2d");
    const n = grid.length, cw = canvas.width / n, ch = canvas.height / n;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        ctx.fillStyle = colourOf(grid[r][c], r, c);
        ctx.fillRect(Math.floor(c * cw), Math.floor(r * ch), Math.ceil(cw), Math.ceil(ch));
      }
    }
  }
  function drawPlane() {
    const p = state.snap.plane;
    if (!p) return;
    const canvas = $("#boundary");
    const [x0, x1, y0, y1] = p.extent;
    paintGrid(canvas, p.classes, (k, r, c) => {
      const col = CLASS_COLOURS[k % CLASS_COLOURS.length];
      const a = 0.15 + 0.5 * (p.confidence[r][c] - 0.3) / 0.7;
      return `rgba(${col.join(",")},${Math.max(0.1, a).toFixed(3)})`;
    });
    const ctx = canvas.getContext("2d");
    const px = (v) => ((v - x0) / (x1 - x0)) * canvas.width;
    const py = (v) => ((y1 - v) / (y1 - y0)) * canvas.height;
    const dot = (pt, k, test) => {
      ctx.beginPath();
      ctx.arc(px(pt[0]), py(pt[1]), 3.5, 0, 2 * Math.PI);
      ctx.fillStyle = `rgb(${CLASS_COLOURS[k % CLASS_COLOURS.length].join(",")})`;
      ctx.fill();
      ctx.lineWidth = test ? 2 : 1;
      ctx.strokeStyle = test ? "#000" : "#fff";
      ctx.stroke();
    };
    p.train.forEach((pt, k) => dot(pt, p.train_y[k], false));
    p.test.forEach((pt, k) => dot(pt, p.test_y[k], true));
    $("#plane-axes").textContent = `${p.features[0]} (across) × ${p.features[1]} (up), standardised; other inputs at their mean`;
    canvas.setAttribute("aria-label", `decision regions over ${p.features[0]} and ${p.features[1]}: ${state.snap.class_names.join(", ")}; white-ringed dots are training samples, black-ringed dots test samples`);
    const key = $("#class-key");
    key.replaceChildren(...state.snap.class_names.map((c, k) =>
      el("span", {class: "sw", style: `--c: rgb(${CLASS_COLOURS[k % CLASS_COLOURS.length].join(",")})`, text: c})),
      el("span", {text: " · white ring: train, black ring: test"}));
    const box = $("#heatmaps");
    const total = p.neurons.reduce((a, l) => a + l.length, 0);
    if (box.childElementCount !== total) {
      box.replaceChildren();
      p.neurons.forEach((layer, l) => layer.forEach((_, i) => {
        const c = el("canvas", {width: 40, height: 40, role: "img", "data-heatmap": `${l + 1}:${i}`,
                                "aria-label": `output out of ${layerName(l + 1, state.snap.layers)} neuron ${i + 1} over the plane`});
        box.append(el("figure", {}, c, el("figcaption", {text: `h${l + 1}.${i + 1}`})));
      }));
    }
    let k = 0;
    const cvs = box.querySelectorAll("canvas");
    p.neurons.forEach((layer) => layer.forEach((grid) => {
      let lo = Infinity, hi = -Infinity;
      for (const row of grid) for (const v of row) { if (v < lo) lo = v; if (v > hi) hi = v; }
      const mid = (lo + hi) / 2, half = Math.max(1e-9, (hi - lo) / 2);
      paintGrid(cvs[k++], grid, (v) => mix((v - mid) / half));
    }));
  }

  // --- the curves ---------------------------------------------------------------------
  function drawCurves() {
    const h = state.snap.history;
    if (typeof uPlot === "undefined") return;
    const width = Math.max(180, Math.min(520, $("#curve-loss").clientWidth || 320));
    if (!state.charts || state.charts.width !== width) {
      $("#curve-loss").replaceChildren();
      $("#curve-acc").replaceChildren();
      const opts = (title, y) => ({
        title, width, height: 160,
        scales: {x: {time: false}},
        axes: [{label: "update"}, {label: y}],
        series: [{label: "update"},
                 {label: "train", stroke: "rgb(8,119,189)", width: 2},
                 {label: "test", stroke: "rgb(245,147,34)", width: 2, dash: [6, 3]}],
      });
      state.charts = {
        width,
        loss: new uPlot(opts("Loss (train, test)", "loss"), [[], [], []], $("#curve-loss")),
        acc: new uPlot(opts("Accuracy (train, test)", "accuracy"), [[], [], []], $("#curve-acc")),
      };
    }
    state.charts.loss.setData([h.iteration, h.train_loss, h.test_loss]);
    state.charts.acc.setData([h.iteration, h.train_accuracy, h.test_accuracy]);
  }

  return {
    get snapshot() { return state.snap; },
  };
}
