// The playground page: controls, the network drawing, the details panel, the explained
// step, the decision regions, the hidden neurons' heatmaps and the curves. One module
// for every host: mount(root, transport, options) draws into root; transport.send(msg)
// sends a command and transport.onMessage(cb) receives the session's snapshots (a
// WebSocket in the local server, model.send / msg:custom in the notebook widget).
// options.labels holds the page's words in the language in use (the Python table
// retroprop.playground.labels.LABELS, translated); EN below is the same table in
// English, the fallback (a test keeps the two equal). Numbers come from the engine's
// trace as JSON; data-exact holds String(x), the shortest text that reads back as the
// same float (Python's repr), so every shown number is the engine's own.

import { mix, niceScale } from "../shared/colours.js";
import { el, exact } from "../shared/dom.js";
import { drawNetwork, neuronText, paramKey, scaleBar, selectionKey } from "../shared/network.js";
import { drawDetails, factorRows, rowsTable } from "../shared/details.js";
import { drawCurves } from "../shared/curves.js";

const CLASS_COLOURS = [[245, 147, 34], [8, 119, 189], [46, 139, 87], [155, 89, 182],
                       [200, 60, 60], [120, 120, 120]];
const DATASETS = ["iris", "xor", "circle", "gauss", "spiral", "moons"];
const ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"];
const SPEEDS = [0, 1, 2, 5, 10, 20, 50, 100, 500, 1000];  // updates per second; 0: max
const STAGES = ["forward", "loss", "backward", "update"];
const STAGE_NAME = {forward: "stage_forward", loss: "stage_loss", backward: "stage_backward", update: "stage_update"};
const STAGE_TEXT = {forward: "forward_text", loss: "loss_text", backward: "backward_text", update: "update_text"};
const WIDE = 16;  // neurons drawn at a time in a wide layer (the session's WIDE_LAYER)
const MAX_ROWS = 64;  // rows of the update stage's table

/* labels */
const EN = {
  "title": "retroprop playground",
  "controls": "Training controls",
  "play": "Play",
  "pause": "Pause",
  "step_once": "One update",
  "epoch_once": "One epoch",
  "reset": "Reset",
  "speed": "speed",
  "speed_aria": "speed: updates per second while playing",
  "speed_max": "as fast as possible",
  "speed_n": "{n} per second",
  "lr_aria": "η, the learning rate",
  "batch": "batch",
  "batch_aria": "batch size",
  "momentum": "momentum",
  "momentum_aria": "momentum μ: each update adds μ times the previous one",
  "hidden": "hidden",
  "hidden_aria": "hidden layer sizes, comma-separated",
  "activation": "activation",
  "activation_aria": "activation of every hidden layer",
  "per_layer": "per layer",
  "activation_layer_aria": "activation of hidden layer {n}",
  "loss": "loss",
  "loss_aria": "loss function",
  "cross_entropy": "cross-entropy",
  "mse": "MSE",
  "data": "data",
  "data_aria": "data set",
  "noise": "noise",
  "noise_aria": "noise of the 2-D data",
  "seed": "seed",
  "csv_aria": "CSV data of your own (upload)",
  "features": "features",
  "features_aria": "feature columns of the CSV, by name or number, comma-separated (like train --features)",
  "all": "all",
  "drop": "drop",
  "drop_aria": "columns of the CSV to leave out, by name or number, comma-separated (like train --drop)",
  "progress": "Progress",
  "update": "update",
  "epoch": "epoch",
  "train_loss": "train loss",
  "accuracy": "accuracy",
  "network": "Network",
  "network_aria": "the network: tab to a neuron, weight or bias and press Enter for its numbers",
  "colour_by": "Colour neurons by",
  "colour_out": "output out",
  "details_title": "Details of the next update",
  "details_hint": "Click (or tab to and press Enter on) a weight, a bias or a neuron.",
  "boundary_title": "Decision regions",
  "boundary_aria": "decision regions",
  "hidden_maps": "What each hidden neuron computes",
  "curves": "Loss and accuracy",
  "export": "Export",
  "export_model": "model .safetensors",
  "export_json": "step JSON",
  "export_md": "step Markdown",
  "export_xlsx": "step xlsx",
  "export_torch": "PyTorch script",
  "input": "input",
  "output_layer": "output layer",
  "hidden_layer": "hidden layer {n}",
  "weight_aria": "weight from {from} neuron {j} to {to} neuron {i}: value {v}",
  "neuron_aria": "{layer} neuron {i}{label}: {what} {v}",
  "bias_aria": "bias of {layer} neuron {i}: value {v}",
  "class_n": "class {n}",
  "scale_wb": "weights and biases",
  "scale_out": "neuron output out",
  "scale_delta": "neuron ∂L/∂z",
  "scale_sr": "orange negative, blue positive, full colour at {s}",
  "delta_note": "∂L/∂z > 0: the next update lowers the weights into that neuron from positive inputs (w_ij ← w_ij − η ∂L/∂z_i out_j).",
  "no_trace": "No trace: the next step cannot be explained (see the message above); reset or lower η.",
  "update_on": "Update {step} (epoch {epoch}), on training sample {sample}; η = {lr}",
  "value": "value",
  "gradient": "gradient ∂L/∂θ",
  "updated": "updated",
  "delta_of": "∂L/∂z_{i} of neuron {i}",
  "chain_rule": "Chain rule",
  "mean_over": "∂L/∂θ = mean over the {n} samples of {chain} = {g}",
  "velocity": "velocity v (momentum)",
  "velocity_before": "velocity before",
  "set_by_hand": "Set by hand: ",
  "set": "Set",
  "new_value_aria": "new value of {name}",
  "set_to": "{name} set to {v}",
  "input_x": "input x (standardised)",
  "neuron_title": "{layer} neuron {i}",
  "announce_update": "Update {n} done, epoch {e}: training loss {loss}",
  "announce_paused": "Paused after update {n}: training loss {loss}",
  "exported": "Exported {file}",
  "plane_axes": "{x} (across) × {y} (up), standardised; other inputs at their mean",
  "plane_aria": "decision regions over {x} and {y}: {classes}; white-ringed dots are training samples, black-ringed dots test samples",
  "plane_key": " · white ring: train, black ring: test",
  "heatmap_aria": "output out of {layer} neuron {i} over the plane",
  "curve_loss": "Loss (train, test)",
  "curve_acc": "Accuracy (train, test)",
  "train": "train",
  "test": "test",
  "closed": "The connection to the playground closed{reason}; is `retroprop playground` still running? Reload to reconnect.",
  "upload_big": "the CSV file is larger than {kib} KiB; use a smaller file",
  "upload_refused": "upload refused ({status})",
  "explain_title": "The explained step",
  "explain_hint": "Walk through the next update one stage at a time, with the engine's numbers.",
  "stage_forward": "forward",
  "stage_loss": "loss",
  "stage_backward": "backward",
  "stage_update": "update",
  "next_stage": "Next stage",
  "apply_update": "Apply the update",
  "stage_shown": "Stage {n} of 4: {name}",
  "forward_text": "Forward: each layer computes z = w·out⁽ˡ⁻¹⁾ + b and out = f(z), from the inputs to the outputs.",
  "loss_text": "Loss: the outputs against the true class r.",
  "backward_text": "Backward: ∂L/∂z from the outputs back to the first layer, ∂L/∂z_i = ∂L/∂out_i × f′(z_i), with ∂L/∂out_j = Σ_i w_ij ∂L/∂z_i.",
  "update_text": "Update: every weight and bias moves against its gradient, w ← w − η ∂L/∂w.",
  "update_momentum_text": "Update with momentum μ = {mu}: v ← μ v + ∂L/∂w, then w ← w − η v.",
  "only_drawn": "(the drawn neurons only)",
  "parameter": "parameter",
  "target": "target",
  "true_class": "true class r = {r}",
  "loss_is": "loss L",
  "input_heatmap_aria": "input layer: {n} inputs drawn as a {w}×{h} heatmap of the sample",
  "collapsed_aria": "{layer}: {n} neurons, collapsed; press Enter to open",
  "window_label": "neurons {a}–{b} of {n}",
  "show_aria": "{layer}: show neurons {a}–{b}",
  "collapse_aria": "{layer}: collapse to one bar",
  "weights_in": "its weights from the {n} inputs, drawn as the inputs are"
};
/* end labels */

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
function short(v) {
  if (v === null || v === undefined) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return v.toFixed(4);
}

export function mount(root, transport, options = {}) {
  const labels = {...EN, ...(options.labels || {})};
  // t("weight_aria", {from: ..., j: 2}): the label with its {placeholders} filled
  const t = (key, vars = {}) => (labels[key] || key).replace(/\{(\w+)\}/g,
    (m, k) => (k in vars ? String(vars[k]) : m));
  if (options.lang) root.setAttribute("lang", options.lang);
  root.classList.add("rp-playground");
  root.innerHTML = shell(t);
  const $ = (sel) => root.querySelector(sel);
  const state = {snap: null, selected: null, colour: "activation",
                 stage: null, renderMs: [], frames: 0, onSetup: options.onSetup || (() => {}),
                 upload: options.upload || null};

  for (const a of ACTIVATIONS) $("#activation").append(el("option", {value: a, text: a}));
  $("#activation").append(el("option", {value: "", text: t("per_layer"), hidden: true}));
  for (const d of DATASETS) $("#dataset").append(el("option", {value: d, text: d}));
  for (const n of SPEEDS) {
    $("#speed").append(el("option", {value: String(n), text: n ? t("speed_n", {n}) : t("speed_max")}));
  }

  const send = (msg) => transport.send(msg);
  $("#play").addEventListener("click", () => send({cmd: "play"}));
  $("#pause").addEventListener("click", () => send({cmd: "pause"}));
  $("#step-once").addEventListener("click", () => { state.wantAnnounce = true; send({cmd: "step", n: 1}); });
  $("#epoch-once").addEventListener("click", () => { state.wantAnnounce = true; send({cmd: "epoch"}); });
  $("#reset").addEventListener("click", () => { state.wantAnnounce = true; send({cmd: "reset"}); });
  $("#lr").addEventListener("change", (e) => send({cmd: "lr", value: e.target.value}));
  $("#batch-size").addEventListener("change", (e) => send({cmd: "batch_size", value: e.target.value}));
  $("#momentum").addEventListener("change", (e) => send({cmd: "momentum", value: e.target.value}));
  $("#speed").addEventListener("change", (e) => send({cmd: "speed", value: e.target.value}));
  const setup = (field) => (e) => send({cmd: "setup", setup: {[field]: e.target.value}});
  $("#hidden").addEventListener("change", setup("hidden"));
  $("#activation").addEventListener("change", (e) => { if (e.target.value) setup("activation")(e); });
  $("#loss").addEventListener("change", setup("loss"));
  $("#dataset").addEventListener("change", setup("dataset"));
  $("#noise").addEventListener("change", setup("noise"));
  $("#seed").addEventListener("change", setup("seed"));
  for (const r of root.querySelectorAll('input[name="colour"]')) {
    r.addEventListener("change", () => { state.colour = r.value; renderNetwork(); });
  }
  for (const b of root.querySelectorAll("[data-export]")) {
    b.addEventListener("click", () => send({cmd: "export", format: b.dataset.export}));
  }
  $("#stage-next").addEventListener("click", nextStage);
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
    // a refused command's message, kept over the snapshot that follows it
    if (msg.type === "error") { state.refused = msg.message; showError(msg.message); return; }
    if (msg.type === "export") { download(msg); return; }
    if (msg.type !== "state") return;
    const first = state.snap === null;
    // a new run (not a new eta, batch size, momentum) starts the explained step over
    const runKey = (snap) => JSON.stringify({...snap.setup, lr: null, batch: null, momentum: null});
    const prevSetup = state.snap && runKey(state.snap);
    state.snap = msg;
    showError(msg.error || state.refused || "");
    state.refused = null;
    if (prevSetup && prevSetup !== runKey(msg)) state.stage = null;
    const t0 = performance.now();
    render(first);
    state.renderMs.push(performance.now() - t0);  // how long a frame takes to draw
    state.frames += 1;
    if (state.renderMs.length > 200) state.renderMs.shift();
  });

  function download(msg) {
    const bytes = Uint8Array.from(atob(msg.base64), (c) => c.charCodeAt(0));
    const a = el("a", {href: URL.createObjectURL(new Blob([bytes], {type: msg.mime})),
                       download: msg.filename});
    root.append(a); a.click(); a.remove();
    announce(t("exported", {file: msg.filename}));
  }

  function announce(text) { $("#announce").textContent = text; }

  function render(first) {
    const s = state.snap;
    const active = root.ownerDocument.activeElement;
    const setIf = (id, v) => { const e = $(id); if (e !== active) e.value = v; };
    setIf("#lr", String(s.lr));
    setIf("#batch-size", String(s.batch_size));
    setIf("#momentum", String(s.momentum ?? 0));
    setIf("#speed", String(s.speed ?? 0));
    setIf("#hidden", s.setup.hidden);
    const acts = String(s.setup.activation).split(",");
    setIf("#activation", acts.length > 1 && new Set(acts).size > 1 ? "" : acts[0]);
    drawActivations(acts);
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
    renderNetwork();
    renderDetails();
    drawStage();
    drawPlane();
    renderCurves();
    const loss = short(m.train_loss);
    if (state.wantAnnounce) {
      state.wantAnnounce = false;
      announce(t("announce_update", {n: s.iteration, e: s.epoch, loss}));
    } else if (!s.playing && state.wasPlaying) {
      announce(t("announce_paused", {n: s.iteration, loss}));
    }
    state.wasPlaying = s.playing;
    if (first) root.setAttribute("data-ready", "");
  }

  function drawActivations(acts) {
    // one select per hidden layer, beside #activation (which sets them all)
    const box = $("#activations"), s = state.snap;
    const nHidden = sizes(s).length - 2;
    const per = acts.length > 1 ? acts : Array(nHidden).fill(acts[0]);
    $("#per-layer").hidden = nHidden < 2;  // one hidden layer: #activation is its own
    if (box.childElementCount !== nHidden) {
      box.replaceChildren();
      for (let k = 0; k < nHidden; k++) {
        const sel = el("select", {id: `activation-${k + 1}`, "data-activation-layer": String(k + 1),
                                  "aria-label": t("activation_layer_aria", {n: k + 1})});
        for (const a of ACTIVATIONS) sel.append(el("option", {value: a, text: a}));
        sel.addEventListener("change", () => {
          const now = [...box.querySelectorAll("select")].map((x) => x.value);
          send({cmd: "setup", setup: {activation: now.join(",")}});
        });
        box.append(sel);
      }
    }
    const active = root.ownerDocument.activeElement;
    box.querySelectorAll("select").forEach((sel, k) => { if (sel !== active) sel.value = per[k]; });
  }

  // --- the network ------------------------------------------------------------------
  function sizes(s) {
    if (s.sizes) return s.sizes;
    return [s.layers[0].weight[0].length, ...s.layers.map((l) => l.bias.length)];
  }
  function layerName(L) {
    // the explain views' one label: "fc1 (hidden layer 1)", "4 (output layer)"
    const layers = state.snap.layers;
    if (L === 0) return t("input");
    const lin = layers[L - 1];
    if (lin && lin.label) return lin.label;
    return L === layers.length ? t("output_layer") : t("hidden_layer", {n: L});
  }
  // how layer L is drawn: every neuron, a window of a wide layer, collapsed, or (the
  // inputs) a heatmap
  function layout(L) {
    const s = state.snap, n = sizes(s)[L];
    if (L === 0) {
      const lin = s.layers[0];
      if (lin.cols === null) return {kind: "heatmap", n};
      return {kind: "all", n, a: 0, b: n};
    }
    const rows = s.layers[L - 1].rows;
    if (rows === undefined) return {kind: "all", n, a: 0, b: n};
    if (rows === null) return {kind: "collapsed", n};
    if (rows[0] === 0 && rows[1] === n) return {kind: "all", n, a: 0, b: n};
    return {kind: "window", n, a: rows[0], b: rows[1]};
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

  // the snapshot's network in the shared drawing's model (frontend/network.js): the
  // snapshot carries the drawn window of each layer's weights and biases
  function snapshotNetwork() {
    const s = state.snap, n = sizes(s), nL = n.length, tr = s.trace;
    const views = n.map((_, L) => {
      const l = layout(L);
      return l.kind === "heatmap" ? {kind: "heatmap", pick: false} : l.kind === "collapsed" ? {kind: "collapsed"}
        : l.kind === "window" ? {kind: "window", a: l.a, b: l.b} : {kind: "all"};
    });
    const start = (L) => (views[L].kind === "window" ? views[L].a : 0);
    const linears = s.layers.map((lin, k) => ({from: k, to: k + 1, weight: `${lin.name}.weight`,
                                               bias: `${lin.name}.bias`, lin}));
    let wmax = 0;
    for (const l of s.layers) for (const row of l.weight) for (const w of row) wmax = Math.max(wmax, Math.abs(w));
    for (const l of s.layers) for (const b of l.bias) wmax = Math.max(wmax, Math.abs(b));
    let vmax = 0;
    for (let L = 0; L < nL; L++) for (let i = 0; i < n[L]; i++) { const v = neuronValue(L, i); if (v !== null && isFinite(v)) vmax = Math.max(vmax, Math.abs(v)); }
    const weight = (q, i, j) => q.lin.weight[i - start(q.to)][j - start(q.from)];
    const bias = (q, i) => q.lin.bias[i - start(q.to)];
    const r = tr && tr.loss_function === "cross_entropy" && tr.target ? tr.target[0] : null;
    return {
      layers: n.map((size, L) => ({
        size, view: views[L],
        head: L === 0 ? [t("input"), ""] : [layerName(L), (tr && tr.layers[L - 1].activation) || ""],
        names: L === 0 ? Array.from({length: size}, (_, i) => s.feature_names[i] || `x${i + 1}`)
          : L === nL - 1 ? Array.from({length: size}, (_, i) => s.class_names[i] || t("class_n", {n: i})) : null})),
      linears, weight, bias,
      neuron: neuronValue,
      scales: {edge: niceScale(wmax), neuron: niceScale(vmax)},
      text: (L, i) => neuronText(neuronValue(L, i), state.colour !== "activation"),
      ring: (L, i) => L === nL - 1 && i === r,
      spoken: {
        weight: (q, i, j) => t("weight_aria", {from: layerName(q.from), j: j + 1, to: layerName(q.to), i: i + 1, v: short(weight(q, i, j))}),
        bias: (q, i) => t("bias_aria", {layer: layerName(q.to), i: i + 1, v: short(bias(q, i))}),
        neuron: (L, i) => {
          const label = L === 0 ? (s.feature_names[i] || `x${i + 1}`) : L === nL - 1 ? (s.class_names[i] || t("class_n", {n: i})) : "";
          return t("neuron_aria", {layer: layerName(L), i: i + 1, label: label ? ` (${label})` : "",
                                   what: state.colour === "activation" ? t("colour_out") : "∂L/∂z", v: short(neuronValue(L, i))});
        },
        heatmap: (L) => {
          const w = Math.ceil(Math.sqrt(n[L]));
          return t("input_heatmap_aria", {n: n[L], w, h: Math.ceil(n[L] / w)});
        },
        collapsed: (L) => t("collapsed_aria", {layer: layerName(L), n: n[L]}),
        window: (L, v) => t("window_label", {a: v.a + 1, b: v.b, n: n[L]}),
        show: (L, a, b) => t("show_aria", {layer: layerName(L), a, b}),
        shut: (L) => t("collapse_aria", {layer: layerName(L)}),
      },
      selected: selectionKey(state.selected),
      focus: state.focusKey,
      on: {
        select: (target) => {
          state.selected = target;
          state.focusKey = target.kind === "param" ? `[data-param="${paramKey(target.name, target.index)}"]`
                                                   : `[data-neuron="${target.layer}:${target.index}"]`;
          if (target.kind === "param") send({cmd: "select", name: target.name, index: target.index});
          else send({cmd: "select", kind: "neuron", layer: target.layer, index: target.index});
          renderNetwork();
          renderDetails();
        },
        view: (L, msg) => {  // the server draws another window: keep the keyboard on its buttons
          const was = views[L];
          state.focusKey = was.kind === "collapsed" ? `[data-layer-collapse="${L}"]`
            : !msg.open ? `[data-layer-open="${L}"]`
            : `[${msg.start > was.a ? "data-layer-next" : "data-layer-prev"}="${L}"]`;
          send({cmd: "view", layer: L, ...msg});
        },
      },
    };
  }

  function renderNetwork() {
    const net = snapshotNetwork();
    drawNetwork($("#network"), net);
    if (state.focusKey && root.querySelector(state.focusKey)) state.focusKey = null;
    const legend = $("#legend");
    legend.replaceChildren(
      scaleBar(t("scale_wb"), net.scales.edge, t("scale_sr", {s: net.scales.edge})),
      scaleBar(state.colour === "activation" ? t("scale_out") : t("scale_delta"), net.scales.neuron,
               t("scale_sr", {s: net.scales.neuron})),
    );
    if (state.colour === "delta") legend.append(el("p", {class: "note", text: t("delta_note")}));
  }

  // --- the details panel --------------------------------------------------------------
  function renderDetails() {
    // the shared details panel (frontend/details.js) from the snapshot's trace
    const box = $("#details"), sel = state.selected, s = state.snap;
    if (!sel) return;
    const tr = s.trace;
    if (!tr) { box.replaceChildren(el("p", {class: "hint", text: t("no_trace")})); return; }
    const meta = tr.meta || {};
    const sub = t("update_on", {step: meta.step, epoch: meta.epoch, sample: JSON.stringify(meta.sample), lr: tr.lr});
    if (sel.kind === "param") {
      const p = tr.parameters.find((q) => q.name === sel.name && q.index.join(",") === sel.index.join(","));
      if (!p) return;
      const rec = tr.layers.find((l) => l.weight_name === sel.name || l.bias_name === sel.name);
      const momentum = p.velocity !== undefined;
      const rows = [{label: t("value"), value: p.value, field: "value"},
                    {label: t("gradient"), value: p.grad, field: "grad", strong: true},
                    {label: "η", value: tr.lr, field: "lr"}];
      if (momentum) {
        rows.push({label: "μ", value: tr.momentum, field: "momentum"},
                  {label: t("velocity_before"), value: p.buffer, field: "buffer"},
                  {label: t("velocity"), value: p.velocity, field: "velocity"});
      }
      rows.push({label: t("updated"), value: p.updated, field: "updated", strong: true});
      const i = sel.index[0];
      if (rec && rec.delta) rows.push({label: t("delta_of", {i: i + 1}), value: rec.delta[0][i], field: "delta"});
      const forms = (rec && rec.factor_formulas) || {};
      const keys = Object.keys(p.factors);
      const texts = Object.fromEntries(keys.filter((k) => forms[k]).map((k) => [k, forms[k].text]));
      const after = [el("h4", {text: t("chain_rule")}), rowsTable(factorRows(p.factors, texts))];
      const arith = (kind, text) => after.push(el("p", {class: "arith", "data-arith": kind, text}));
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
        arith("delta", `∂L/∂z_${i + 1} = ${front.join(" × ")} = ${front.map((k) => exact(p.factors[k])).join(" × ")} ${sign} ${exact(d)}`);
        arith("grad", `∂L/∂θ = ∂L/∂z_${i + 1} × ${last} = ${exact(d)} × ${exact(p.factors[last])} = ${exact(p.grad)}`);
      } else {
        arith(null, t("mean_over", {n: tr.n_samples, chain: chain.join(" × "), g: exact(p.grad)}));
      }
      if (momentum) {
        arith("velocity", p.buffer === null ? `v = ∂L/∂θ = ${exact(p.velocity)}`
          : `v = μ × v_before + ∂L/∂θ = ${exact(tr.momentum)} × ${exact(p.buffer)} + ${exact(p.grad)} = ${exact(p.velocity)}`);
        arith("update", `updated = value − η × v = ${exact(p.value)} − ${exact(tr.lr)} × ${exact(p.velocity)} = ${exact(p.updated)}`);
      } else {
        arith("update", `updated = value − η × grad = ${exact(p.value)} − ${exact(tr.lr)} × ${exact(p.grad)} = ${exact(p.updated)}`);
      }
      const form = el("form", {class: "edit"});
      const pname = paramKey(sel.name, sel.index);
      const input = el("input", {type: "number", step: "any", id: "edit-value", value: exact(p.value),
                                 "aria-label": t("new_value_aria", {name: pname})});
      form.append(el("label", {for: "edit-value", text: t("set_by_hand")}), input,
                  el("button", {type: "submit", text: t("set")}));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        send({cmd: "edit", name: sel.name, index: sel.index, value: input.value});
        announce(t("set_to", {name: pname, v: input.value}));
      });
      after.push(form);
      drawDetails(box, {key: pname, sub, rows, after});
    } else {
      const L = sel.layer, i = sel.index, rows = [];
      if (L === 0) {
        rows.push({label: t("input_x"), value: tr.input[0][i], field: "value", strong: true});
        if (tr.layers[0].grad_a_prev) rows.push({label: "∂L/∂x", value: tr.layers[0].grad_a_prev[0][i], field: "grad"});
      } else {
        const rec = tr.layers[L - 1];
        rows.push({label: "z = w·out⁽ˡ⁻¹⁾ + b", value: rec.z[0][i], field: "z"},
                  {label: rec.activation ? "out = f(z)" : "out = z", value: rec.a[0][i], field: "value"});
        if (rec.is_output && tr.probabilities) rows.push({label: "p (softmax)", value: tr.probabilities[0][i], field: "p"});
        if (rec.grad_a) rows.push({label: "∂L/∂out", value: rec.grad_a[0][i], field: "grad"});
        if (rec.f_prime) rows.push({label: "f′(z)", value: rec.f_prime[0][i], field: "f_prime"});
        rows.push({label: "∂L/∂z", value: rec.delta[0][i], field: "delta", strong: true});
      }
      const inc = s.incoming;
      const after = inc && inc.layer === L && inc.index === i ? [weightPicture(inc.weight)] : [];
      drawDetails(box, {key: `${L}:${i}`, title: t("neuron_title", {layer: layerName(L), i: i + 1}), sub, rows, after});
    }
  }

  function weightPicture(w) {
    // a first-layer neuron's weights, laid out as the input heatmap (28 x 28 for 784)
    const n = w.length, side = Math.ceil(Math.sqrt(n)), rows = Math.ceil(n / side);
    let m = 0;
    for (const v of w) m = Math.max(m, Math.abs(v));
    const scale = niceScale(m);
    const c = el("canvas", {width: side, height: rows, "data-incoming": "", role: "img",
                            "aria-label": t("weights_in", {n})});
    const ctx = c.getContext("2d");
    w.forEach((v, k) => { ctx.fillStyle = mix(v / scale); ctx.fillRect(k % side, Math.floor(k / side), 1, 1); });
    return el("figure", {class: "incoming"}, c, el("figcaption", {text: `${t("weights_in", {n})} (±${scale})`}));
  }

  // --- the explained step: forward -> loss -> backward -> update ---------------------
  function nextStage() {
    if (state.stage === STAGES.length - 1) {
      // the last stage's button applies the update; then the next update's forward
      state.stage = 0;
      state.wantAnnounce = true;
      send({cmd: "step", n: 1});
      return;
    }
    state.stage = state.stage === null ? 0 : state.stage + 1;
    drawStage();
    announce(t("stage_shown", {n: state.stage + 1, name: t(STAGE_NAME[STAGES[state.stage]])}));
  }

  function drawStage() {
    const box = $("#stage-body"), s = state.snap, tr = s.trace, k = state.stage;
    root.querySelectorAll("#stages li").forEach((li, q) => {
      if (q === k) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    });
    $("#stage-next").textContent = k === STAGES.length - 1 ? t("apply_update") : t("next_stage");
    box.replaceChildren();
    if (k === null) { box.append(el("p", {class: "hint", text: t("explain_hint")})); return; }
    $("#explain").dataset.stage = STAGES[k];
    if (!tr) { box.append(el("p", {class: "hint", text: t("no_trace")})); return; }
    // the network shows what the stage computes: outputs going forward, deltas back
    const want = k <= 1 ? "activation" : k === 2 ? "delta" : state.colour;
    if (want !== state.colour) {
      state.colour = want;
      const r = root.querySelector(`input[name="colour"][value="${want}"]`);
      if (r) r.checked = true;
      renderNetwork();
    }
    const n = sizes(s);
    const shown = (L) => {  // the neurons of layer L the tables list
      const l = layout(L);
      return l.kind === "all" || l.kind === "window" ? [l.a, l.b] : [0, Math.min(WIDE, n[L])];
    };
    const v = (x, key) => el("span", {class: "num", "data-stage-value": key, "data-exact": exact(x)}, exact(x));
    const table = (caption, heads, rows) => {
      const tb = el("table", {class: "stage"}, el("caption", {text: caption}));
      tb.append(el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", {scope: "col", text: h})))));
      const body = el("tbody");
      for (const r of rows) body.append(el("tr", {}, ...r.map((c, q) => el(q === 0 ? "th" : "td", q === 0 ? {scope: "row"} : {}, c))));
      tb.append(body);
      return tb;
    };
    const range = ([a, b]) => Array.from({length: b - a}, (_, q) => a + q);
    const note = (L) => (layout(L).kind === "all" ? "" : " " + t("only_drawn"));
    const stage = STAGES[k];
    box.append(el("p", {class: "sub", text: t(STAGE_TEXT[stage])}));
    if (stage === "forward") {
      tr.layers.forEach((rec, q) => {
        const L = q + 1;
        box.append(table(layerName(L) + note(L), ["i", "z_i", rec.activation ? `out_i = ${rec.activation}(z_i)` : "out_i = z_i"],
          range(shown(L)).map((i) => [String(i + 1), v(rec.z[0][i], `z:${L}:${i}`), v(rec.a[0][i], `a:${L}:${i}`)])));
      });
    } else if (stage === "loss") {
      const L = tr.layers.length, rec = tr.layers[L - 1];
      const r = tr.target !== undefined && tr.target !== null && tr.loss_function === "cross_entropy" ? tr.target[0] : null;
      const heads = ["i", "out_i"];
      if (tr.probabilities) heads.push("p_i");
      if (tr.target_values) heads.push(t("target"));
      box.append(table(layerName(L), heads, range([0, n[L]]).map((i) => {
        const row = [String(i + 1), v(rec.a[0][i], `out:${i}`)];
        if (tr.probabilities) row.push(v(tr.probabilities[0][i], `p:${i}`));
        if (tr.target_values) row.push(v(tr.target_values[0][i], `target:${i}`));
        return row;
      })));
      if (r !== null) box.append(el("p", {text: t("true_class", {r: `${r} (${s.class_names[r] || ""})`})}));
      const dl = el("dl");
      dl.append(el("dt", {text: t("loss_is")}), el("dd", {}, v(tr.loss, "loss")));
      box.append(dl);
    } else if (stage === "backward") {
      for (let q = tr.layers.length - 1; q >= 0; q--) {
        const rec = tr.layers[q], L = q + 1;
        const heads = ["i", "∂L/∂out_i"];
        if (rec.f_prime) heads.push("f′(z_i)");
        heads.push("∂L/∂z_i");
        box.append(table(layerName(L) + note(L), heads, range(shown(L)).map((i) => {
          const row = [String(i + 1), v(rec.grad_a[0][i], `grad_a:${L}:${i}`)];
          if (rec.f_prime) row.push(v(rec.f_prime[0][i], `f_prime:${L}:${i}`));
          row.push(v(rec.delta[0][i], `delta:${L}:${i}`));
          return row;
        })));
      }
    } else {
      const momentum = tr.parameters.length && tr.parameters[0].velocity !== undefined;
      if (momentum) box.append(el("p", {class: "sub", text: t("update_momentum_text", {mu: tr.momentum})}));
      const heads = [t("parameter"), t("value"), "∂L/∂θ"];
      if (momentum) heads.push("v");
      heads.push(t("updated"));
      const rows = tr.parameters.slice(0, MAX_ROWS).map((p) => {
        const key = `${p.name}[${p.index.join(",")}]`;
        const row = [key, v(p.value, `value:${key}`), v(p.grad, `grad:${key}`)];
        if (momentum) row.push(v(p.velocity, `velocity:${key}`));
        row.push(v(p.updated, `updated:${key}`));
        return row;
      });
      box.append(table(`η = ${tr.lr}` + (tr.parameters.length > MAX_ROWS ? ` (${MAX_ROWS} / ${tr.parameters.length})` : ""), heads, rows));
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
    $("#plane-axes").textContent = t("plane_axes", {x: p.features[0], y: p.features[1]});
    canvas.setAttribute("aria-label", t("plane_aria", {x: p.features[0], y: p.features[1], classes: state.snap.class_names.join(", ")}));
    const key = $("#class-key");
    key.replaceChildren(...state.snap.class_names.map((c, k) =>
      el("span", {class: "sw", style: `--c: rgb(${CLASS_COLOURS[k % CLASS_COLOURS.length].join(",")})`, text: c})),
      el("span", {text: t("plane_key")}));
    const box = $("#heatmaps");
    const rows = p.neuron_rows || p.neurons.map((l) => [0, l.length]);
    const total = p.neurons.reduce((a, l) => a + l.length, 0);
    $("#heatmaps-title").hidden = total === 0;
    if (box.childElementCount !== total || box.dataset.rows !== JSON.stringify(rows)) {
      box.replaceChildren();
      box.dataset.rows = JSON.stringify(rows);
      p.neurons.forEach((layer, l) => layer.forEach((_, q) => {
        const i = rows[l][0] + q;
        const c = el("canvas", {width: 40, height: 40, role: "img", "data-heatmap": `${l + 1}:${i}`,
                                "aria-label": t("heatmap_aria", {layer: layerName(l + 1), i: i + 1})});
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
  function renderCurves() {
    const h = state.snap.history;
    const curves = (box, title, y, train, test) => drawCurves(box, {
      title, x: h.iteration, xlabel: t("update"), ylabel: y,
      series: [{label: t("train"), y: train, colour: "rgb(8,119,189)"},
               {label: t("test"), y: test, colour: "rgb(245,147,34)", dash: [6, 3]}]});
    curves($("#curve-loss"), t("curve_loss"), t("loss"), h.train_loss, h.test_loss);
    curves($("#curve-acc"), t("curve_acc"), t("accuracy"), h.train_accuracy, h.test_accuracy);
  }

  return {
    get snapshot() { return state.snap; },
    get renderMs() { return state.renderMs.slice(); },
    get frames() { return state.frames; },
    t,
  };
}

function shell(t) {
  const T = (k) => esc(t(k));
  return `
<header class="bar" aria-label="${T("controls")}">
  <h1>${T("title")}</h1>
  <div class="group">
    <button id="play" type="button">${T("play")}</button>
    <button id="pause" type="button">${T("pause")}</button>
    <button id="step-once" type="button">${T("step_once")}</button>
    <button id="epoch-once" type="button">${T("epoch_once")}</button>
    <button id="reset" type="button">${T("reset")}</button>
    <label>${T("speed")} <select id="speed" aria-label="${T("speed_aria")}"></select></label>
  </div>
  <div class="group">
    <label>η <input id="lr" type="number" step="any" min="0" inputmode="decimal" aria-label="${T("lr_aria")}"></label>
    <label>${T("batch")} <input id="batch-size" type="number" min="1" step="1" aria-label="${T("batch_aria")}"></label>
    <label>${T("momentum")} <input id="momentum" type="number" min="0" max="0.999" step="0.1" inputmode="decimal" aria-label="${T("momentum_aria")}"></label>
    <label>${T("hidden")} <input id="hidden" type="text" size="6" aria-label="${T("hidden_aria")}"></label>
    <label>${T("activation")} <select id="activation" aria-label="${T("activation_aria")}"></select></label>
    <span class="per-layer" id="per-layer">${T("per_layer")} <span id="activations"></span></span>
    <label>${T("loss")} <select id="loss" aria-label="${T("loss_aria")}"><option value="cross_entropy">${T("cross_entropy")}</option><option value="mse">${T("mse")}</option></select></label>
    <label>${T("data")} <select id="dataset" aria-label="${T("data_aria")}"></select></label>
    <label>${T("noise")} <input id="noise" type="number" min="0" max="2" step="0.05" aria-label="${T("noise_aria")}"></label>
    <label>${T("seed")} <input id="seed" type="number" min="0" step="1" aria-label="${T("seed")}"></label>
    <label class="file">CSV <input id="upload" type="file" accept=".csv,text/csv" aria-label="${T("csv_aria")}"></label>
    <label class="columns">${T("features")} <input id="features" type="text" size="8" placeholder="${T("all")}" aria-label="${T("features_aria")}"></label>
    <label class="columns">${T("drop")} <input id="drop" type="text" size="6" aria-label="${T("drop_aria")}"></label>
  </div>
  <div class="group status" aria-label="${T("progress")}">
    <span>${T("update")} <output id="iteration">0</output></span>
    <span>${T("epoch")} <output id="epoch">1</output></span>
    <span>${T("train_loss")} <output id="loss-value" data-exact="">–</output></span>
    <span>${T("accuracy")} <output id="accuracy">–</output></span>
  </div>
</header>
<p id="error" role="alert" hidden></p>
<main class="panes">
  <section class="pane net" aria-labelledby="net-title">
    <h2 id="net-title">${T("network")} <small id="arch"></small></h2>
    <div class="legend" id="legend"></div>
    <fieldset class="toggle"><legend>${T("colour_by")}</legend>
      <label><input type="radio" name="colour" value="activation" checked> ${T("colour_out")}</label>
      <label><input type="radio" name="colour" value="delta"> ∂L/∂z</label>
    </fieldset>
    <svg id="network" role="group" aria-label="${T("network_aria")}"></svg>
  </section>
  <section class="pane" aria-labelledby="details-title">
    <h2 id="details-title">${T("details_title")}</h2>
    <div id="details"><p class="hint">${T("details_hint")}</p></div>
  </section>
  <section class="pane" id="explain" aria-labelledby="explain-title">
    <h2 id="explain-title">${T("explain_title")}</h2>
    <ol id="stages" class="stages">
      <li data-stage="forward">${T("stage_forward")}</li><li data-stage="loss">${T("stage_loss")}</li><li data-stage="backward">${T("stage_backward")}</li><li data-stage="update">${T("stage_update")}</li>
    </ol>
    <button id="stage-next" type="button">${T("next_stage")}</button>
    <div id="stage-body"></div>
  </section>
  <section class="pane" aria-labelledby="boundary-title">
    <h2 id="boundary-title">${T("boundary_title")} <small id="plane-axes"></small></h2>
    <canvas id="boundary" width="320" height="320" role="img" aria-label="${T("boundary_aria")}"></canvas>
    <p class="key" id="class-key"></p>
    <h3 id="heatmaps-title">${T("hidden_maps")}</h3>
    <div id="heatmaps"></div>
  </section>
  <section class="pane" aria-labelledby="curves-title">
    <h2 id="curves-title">${T("curves")}</h2>
    <div id="curve-loss" class="curve"></div>
    <div id="curve-acc" class="curve"></div>
    <h3>${T("export")}</h3>
    <div class="group" id="exports">
      <button type="button" data-export="safetensors">${T("export_model")}</button>
      <button type="button" data-export="json">${T("export_json")}</button>
      <button type="button" data-export="markdown">${T("export_md")}</button>
      <button type="button" data-export="xlsx">${T("export_xlsx")}</button>
      <button type="button" data-export="torch">${T("export_torch")}</button>
    </div>
  </section>
</main>
<div id="announce" class="sr-only" aria-live="polite" role="status"></div>
`;
}
