# ruff: noqa: RUF001  (the math signs of the lecture in the texts are meant)
"""The playground page's words: one table of English texts marked with ``N_()``,
translated into the language in use (``--lang``, ``RETROPROP_LANG``, the locale) and
passed to the page (``mount(root, transport, {labels})``), as the report's LABELS.

A text may hold ``{name}`` placeholders that the page fills (``t("weight_aria",
{from: ..., j: ...})``). ``static/app.js`` keeps the English table as its own
fallback (``EN``); a test checks the two are the same.
"""

from __future__ import annotations

import json

from retroprop.i18n import N_, _, language, translations

LABELS = {
    "title": N_("retroprop playground"),
    "controls": N_("Training controls"),
    "play": N_("Play"),
    "pause": N_("Pause"),
    "step_once": N_("One update"),
    "epoch_once": N_("One epoch"),
    "reset": N_("Reset"),
    "speed": N_("speed"),
    "speed_aria": N_("speed: updates per second while playing"),
    "speed_max": N_("as fast as possible"),
    "speed_n": N_("{n} per second"),
    "lr_aria": N_("η, the learning rate"),
    "batch": N_("batch"),
    "batch_aria": N_("batch size"),
    "momentum": N_("momentum"),
    "momentum_aria": N_("momentum μ: each update adds μ times the previous one"),
    "hidden": N_("hidden"),
    "hidden_aria": N_("hidden layer sizes, comma-separated"),
    "activation": N_("activation"),
    "activation_aria": N_("activation of every hidden layer"),
    "per_layer": N_("per layer"),
    "activation_layer_aria": N_("activation of hidden layer {n}"),
    "loss": N_("loss"),
    "loss_aria": N_("loss function"),
    "cross_entropy": N_("cross-entropy"),
    "mse": N_("MSE"),
    "data": N_("data"),
    "data_aria": N_("data set"),
    "noise": N_("noise"),
    "noise_aria": N_("noise of the 2-D data"),
    "seed": N_("seed"),
    "csv_aria": N_("CSV data of your own (upload)"),
    "features": N_("features"),
    "features_aria": N_(
        "feature columns of the CSV, by name or number, comma-separated "
        "(like train --features)"
    ),
    "all": N_("all"),
    "drop": N_("drop"),
    "drop_aria": N_(
        "columns of the CSV to leave out, by name or number, comma-separated "
        "(like train --drop)"
    ),
    "progress": N_("Progress"),
    "update": N_("update"),
    "epoch": N_("epoch"),
    "train_loss": N_("train loss"),
    "accuracy": N_("accuracy"),
    "network": N_("Network"),
    "network_aria": N_(
        "the network: tab to a neuron, weight or bias and press Enter for its numbers"
    ),
    "colour_by": N_("Colour neurons by"),
    "colour_out": N_("output out"),
    "details_title": N_("Details of the next update"),
    "details_hint": N_(
        "Click (or tab to and press Enter on) a weight, a bias or a neuron."
    ),
    "boundary_title": N_("Decision regions"),
    "boundary_aria": N_("decision regions"),
    "hidden_maps": N_("What each hidden neuron computes"),
    "curves": N_("Loss and accuracy"),
    "export": N_("Export"),
    "export_model": N_("model .safetensors"),
    "export_json": N_("step JSON"),
    "export_md": N_("step Markdown"),
    "export_xlsx": N_("step xlsx"),
    "export_torch": N_("PyTorch script"),
    "input": N_("input"),
    "output_layer": N_("output layer"),
    "hidden_layer": N_("hidden layer {n}"),
    "weight_aria": N_("weight from {from} neuron {j} to {to} neuron {i}: value {v}"),
    "neuron_aria": N_("{layer} neuron {i}{label}: {what} {v}"),
    "bias_aria": N_("bias of {layer} neuron {i}: value {v}"),
    "class_n": N_("class {n}"),
    "scale_wb": N_("weights and biases"),
    "scale_out": N_("neuron output out"),
    "scale_delta": N_("neuron ∂L/∂z"),
    "scale_sr": N_("orange negative, blue positive, full colour at {s}"),
    "delta_note": N_(
        "∂L/∂z > 0: the next update lowers the weights into that neuron from "
        "positive inputs (w_ij ← w_ij − η ∂L/∂z_i out_j)."
    ),
    "no_trace": N_(
        "No trace: the next step cannot be explained (see the message above); "
        "reset or lower η."
    ),
    "update_on": N_(
        "Update {step} (epoch {epoch}), on training sample {sample}; η = {lr}"
    ),
    "value": N_("value"),
    "gradient": N_("gradient ∂L/∂θ"),
    "updated": N_("updated"),
    "delta_of": N_("∂L/∂z_{i} of neuron {i}"),
    "chain_rule": N_("Chain rule"),
    "mean_over": N_("∂L/∂θ = mean over the {n} samples of {chain} = {g}"),
    "velocity": N_("velocity v (momentum)"),
    "velocity_before": N_("velocity before"),
    "set_by_hand": N_("Set by hand: "),
    "set": N_("Set"),
    "new_value_aria": N_("new value of {name}"),
    "set_to": N_("{name} set to {v}"),
    "input_x": N_("input x (standardised)"),
    "neuron_title": N_("{layer} neuron {i}"),
    "announce_update": N_("Update {n} done, epoch {e}: training loss {loss}"),
    "announce_paused": N_("Paused after update {n}: training loss {loss}"),
    "exported": N_("Exported {file}"),
    "plane_axes": N_(
        "{x} (across) × {y} (up), standardised; other inputs at their mean"
    ),
    "plane_aria": N_(
        "decision regions over {x} and {y}: {classes}; white-ringed dots are "
        "training samples, black-ringed dots test samples"
    ),
    "plane_key": N_(" · white ring: train, black ring: test"),
    "heatmap_aria": N_("output out of {layer} neuron {i} over the plane"),
    "curve_loss": N_("Loss (train, test)"),
    "curve_acc": N_("Accuracy (train, test)"),
    "train": N_("train"),
    "test": N_("test"),
    "closed": N_(
        "The connection to the playground closed{reason}; is `retroprop playground` "
        "still running? Reload to reconnect."
    ),
    "upload_big": N_("the CSV file is larger than {kib} KiB; use a smaller file"),
    "upload_refused": N_("upload refused ({status})"),
    "explain_title": N_("The explained step"),
    "explain_hint": N_(
        "Walk through the next update one stage at a time, with the engine's numbers."
    ),
    "stage_forward": N_("forward"),
    "stage_loss": N_("loss"),
    "stage_backward": N_("backward"),
    "stage_update": N_("update"),
    "next_stage": N_("Next stage"),
    "apply_update": N_("Apply the update"),
    "stage_shown": N_("Stage {n} of 4: {name}"),
    "forward_text": N_(
        "Forward: each layer computes z = w·out⁽ˡ⁻¹⁾ + b and out = f(z), from the "
        "inputs to the outputs."
    ),
    "loss_text": N_("Loss: the outputs against the true class r."),
    "backward_text": N_(
        "Backward: ∂L/∂z from the outputs back to the first layer, "
        "∂L/∂z_i = ∂L/∂out_i × f′(z_i), with ∂L/∂out_j = Σ_i w_ij ∂L/∂z_i."
    ),
    "update_text": N_(
        "Update: every weight and bias moves against its gradient, w ← w − η ∂L/∂w."
    ),
    "update_momentum_text": N_(
        "Update with momentum μ = {mu}: v ← μ v + ∂L/∂w, then w ← w − η v."
    ),
    "only_drawn": N_("(the drawn neurons only)"),
    "parameter": N_("parameter"),
    "target": N_("target"),
    "true_class": N_("true class r = {r}"),
    "loss_is": N_("loss L"),
    "input_heatmap_aria": N_(
        "input layer: {n} inputs drawn as a {w}×{h} heatmap of the sample"
    ),
    "collapsed_aria": N_("{layer}: {n} neurons, collapsed; press Enter to open"),
    "window_label": N_("neurons {a}–{b} of {n}"),
    "show_aria": N_("{layer}: show neurons {a}–{b}"),
    "collapse_aria": N_("{layer}: collapse to one bar"),
    "weights_in": N_("its weights from the {n} inputs, drawn as the inputs are"),
}
"""The page's texts by key, in English (``N_``: marked, translated by ``labels``)."""


def page_labels(lang: str | None = None) -> dict[str, str]:
    """``LABELS`` in ``lang`` (``"pt"``, ``"en"``; None: the language in use)."""
    if lang is None:
        return {key: _(text) for key, text in LABELS.items()}
    tr = translations(lang)
    return {key: tr.gettext(text) for key, text in LABELS.items()}


def page_data() -> str:
    """The language and the labels as the JSON the page reads (``<script
    id="rp-labels">``), with ``<`` escaped so it cannot end the script element."""
    data = {"lang": language(), "labels": page_labels()}
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c")
