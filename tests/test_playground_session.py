"""The playground's Session: its default run is `retroprop train`'s and `explain`'s
default run, number for number; the commands; the exports."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import numpy as np
import pytest

import retroprop as rp
from retroprop.errors import ConfigError
from retroprop.playground.commands import apply, dumps, export
from retroprop.playground.session import Session, Setup
from retroprop.recipe import build_network, prepare_data


def explain_json(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "retroprop", "explain", *args, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("k", [0, 7])
def test_k_steps_are_explain_step_k_plus_1(k):
    s = Session()
    s.steps(k)
    mine = json.loads(s.trace().to_json())
    cli = explain_json("--step", str(k + 1))
    assert mine["parameters"] == cli["parameters"]  # exact floats
    assert mine["layers"] == cli["layers"]
    assert mine["meta"] == cli["meta"]


def test_mini_batch_and_lr_follow_explain():
    s = Session(Setup(batch_size=4, lr=0.2))
    s.steps(5)
    cli = explain_json("--step", "6", "--batch-size", "4", "--lr", "0.2")
    assert json.loads(s.trace().to_json())["parameters"] == cli["parameters"]


def test_two_epochs_equal_rp_train():
    split = prepare_data()
    net = build_network(split)
    rp.train(
        net,
        split.X_train,
        split.y_train,
        epochs=2,
        lr=0.05,
        batch_size=1,
        seed=1,
        engine="numpy",
    )
    s = Session()
    s.run_epoch()
    s.run_epoch()
    assert s.iteration == 2 * 120 and s.epoch == 3
    for (n1, p1), (n2, p2) in zip(net.named_parameters(), s.net.named_parameters()):
        assert n1 == n2
        np.testing.assert_array_equal(p1.data, p2.data)
    assert s.history[-1]["iteration"] == 240


def test_lr_applies_from_the_next_update():
    s = Session()
    s.step()
    s.set_lr(0.5)
    t = json.loads(s.trace().to_json())
    p = next(p for p in t["parameters"] if p["name"] == "4.bias" and p["index"] == [0])
    s.step()
    assert s.parameter("4.bias")[0] == p["value"] - 0.5 * p["grad"]


def test_batch_size_changes_mid_epoch_without_restart():
    s = Session()
    s.steps(3)
    w = s.parameter("0.weight").copy()
    s.set_batch_size(10)
    assert len(s.next_batch()) == 10
    assert s.iteration == 3
    np.testing.assert_array_equal(s.parameter("0.weight"), w)  # no restart
    s.step()
    assert s.position == 13


def test_edit_changes_the_loss_and_is_checked():
    s = Session()
    before = s.measure()["train_loss"]
    s.edit("4.bias", (2,), 4.0)
    assert s.parameter("4.bias")[2] == 4.0
    assert s.history[-1]["train_loss"] != before
    with pytest.raises(ConfigError, match="shape"):
        s.edit("4.bias", (3,), 1.0)
    with pytest.raises(ConfigError, match=r"0\.weight"):
        s.edit("9.weight", (0, 0), 1.0)


def test_setup_round_trips_through_the_query_and_names_bad_values():
    s = Setup(dataset="moons", hidden=(6, 2), activation="tanh", lr=0.1, seed=4)
    assert Setup.from_query(s.to_query()) == s
    assert Setup.from_query({}) == Setup()
    for query, word in (
        ({"dataset": "mnist"}, "dataset"),
        ({"hidden": "4,x"}, "hidden"),
        ({"hidden": "0"}, "hidden"),
        ({"lr": "-1"}, "learning rate"),
        ({"batch": "two"}, "batch"),
        ({"activation": "step"}, "activation"),
    ):
        with pytest.raises(ConfigError, match=word):
            Setup.from_query(query)


def test_toy_data_session_and_plane():
    s = Session(Setup(dataset="xor", hidden=(5, 4)))
    plane = s.plane()
    assert np.array(plane["classes"]).shape == (40, 40)
    assert [len(layer) for layer in plane["neurons"]] == [5, 4]
    assert len(plane["train"]) + len(plane["test"]) == 200
    s.steps(10)
    assert s.iteration == 10


def test_apply_commands_and_errors():
    s = Session()
    (snap,) = apply(s, {"cmd": "step", "n": 3})
    assert snap["iteration"] == 3 and snap["type"] == "state"
    replies = apply(s, {"cmd": "lr", "value": "abc"})
    assert replies[0]["type"] == "error" and "learning rate" in replies[0]["message"]
    assert s.lr == 0.05  # unchanged
    apply(s, {"cmd": "lr", "value": 0.2})
    (snap,) = apply(s, {"cmd": "setup", "setup": {"hidden": "3"}})
    assert snap["iteration"] == 0 and [len(l["bias"]) for l in snap["layers"]] == [3, 3]
    assert snap["lr"] == 0.2 and snap["setup"]["lr"] == "0.2"  # kept across a restart
    assert apply(s, {"cmd": "nope"})[0]["type"] == "error"
    # play and pause are the host's: the page gets the state, no error
    assert [r["type"] for r in apply(s, {"cmd": "pause"})] == ["state"]
    json.loads(dumps(snap))  # valid JSON, no NaN


def test_divergence_stops_with_a_message():
    s = Session(Setup(lr=1e6, hidden=(4,), activation="relu"))
    s.train_for(0.5, max_updates=500)
    (snap,) = apply(s, {"cmd": "state"})
    assert s.error and (
        "learning rate" in s.error or "eta" in s.error or "diverg" in s.error
    )
    json.loads(dumps(snap))


def test_exports(tmp_path):
    s = Session()
    s.steps(2)
    model = export(s, "safetensors")
    path = tmp_path / "m.safetensors"
    path.write_bytes(base64.b64decode(model["base64"]))
    back = rp.load(path)
    for (_, a), (_, b) in zip(back.net.named_parameters(), s.net.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    step = json.loads(base64.b64decode(export(s, "json")["base64"]))
    assert step["meta"]["step"] == 3
    assert b"|" in base64.b64decode(export(s, "markdown")["base64"])
    assert base64.b64decode(export(s, "xlsx")["base64"])[:2] == b"PK"


def _run_script(tmp_path, s: Session) -> tuple[list[float], list[np.ndarray]]:
    """The exported PyTorch script's printed max |torch - retroprop| per parameter,
    and PyTorch's final parameters (a line the test adds to the script)."""
    script = base64.b64decode(export(s, "torch")["base64"]).decode()
    path = tmp_path / "run.py"
    path.write_text(
        script + "\nimport json\n"
        "print('FINAL', json.dumps([p.tolist() for p in model.state_dict().values()]))\n"
    )
    out = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, check=True
    )
    lines = out.stdout.splitlines()
    final = json.loads(lines[-1].removeprefix("FINAL "))
    diffs = [float(line.rsplit("=", 1)[1]) for line in lines[:-1]]
    return diffs, [np.array(v) for v in final]


def test_torch_script_replays_every_change_of_the_run(tmp_path):
    # eta, momentum and the batch size changed mid-run and a weight set by hand:
    # the script makes each change before the same update, so PyTorch ends where
    # the playground did (a script with the final settings from the start would
    # not: the last assertion checks the run really moved away from that).
    pytest.importorskip("torch")
    s = Session()
    s.steps(3)
    s.set_lr(0.3)
    s.steps(2)
    s.edit("2.weight", (1, 3), 0.75)
    s.set_batch_size(7)
    s.set_momentum(0.5)
    s.steps(4)
    s.set_lr(0.02)
    s.steps(3)
    assert [c[:2] for c in s.changes] == [
        (3, "lr"),
        (5, "edit"),
        (5, "batch_size"),
        (5, "momentum"),
        (9, "lr"),
    ]
    diffs, final = _run_script(tmp_path, s)
    assert len(diffs) == 6 and max(diffs) < 1e-12
    for (name, p), q in zip(s.net.named_parameters(), final, strict=True):
        np.testing.assert_allclose(q, p.data, rtol=0, atol=1e-12, err_msg=name)
    replay = Session(s.current_setup())  # the final settings from the first update
    replay.steps(s.iteration)
    assert not np.allclose(replay.parameter("2.weight"), s.parameter("2.weight"))


def test_torch_script_reproduces_the_run(tmp_path):
    pytest.importorskip("torch")
    s = Session()
    s.steps(5)
    script = base64.b64decode(export(s, "torch")["base64"]).decode()
    assert "class NeuralNetwork(nn.Module)" in script and "self.fc3" in script
    path = tmp_path / "run.py"
    path.write_text(script)
    out = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, check=True
    )
    diffs = [float(line.rsplit("=", 1)[1]) for line in out.stdout.splitlines()]
    assert len(diffs) == 6 and max(diffs) < 1e-12


def test_a_named_network_is_drawn_and_explained_by_its_names():
    # the lecture's names: the drawing, the trace and the edits use fc1..fc3, and each
    # layer carries the label every explain view gives it
    from retroprop.engine.network import mlp
    from retroprop.engine.optim import SGD
    from retroprop.training import TrainingStep

    s = Session()
    renamed = {"0": "fc1", "2": "fc2", "4": "fc3"}
    named = mlp([4, 4, 3, 3], names=["fc1", "fc2", "fc3"])
    named.load_state_dict(
        {
            f"{renamed[layer]}.{kind}": v
            for (layer, kind), v in (
                (k.split("."), v) for k, v in s.net.state_dict().items()
            )
        }
    )
    before = json.loads(s.trace().to_json())
    s.net = named
    s.optimizer = SGD(named.parameters(), lr=s.lr)
    s.train_step = TrainingStep(named, s.setup.loss, s.optimizer)
    layers = s.layers()
    assert [l["name"] for l in layers] == ["fc1", "fc2", "fc3"]
    assert [l["label"] for l in layers] == [
        "fc1 (hidden layer 1)",
        "fc2 (hidden layer 2)",
        "fc3 (output layer)",
    ]
    after = json.loads(s.trace().to_json())
    assert [l["label"] for l in after["layers"]] == [l["label"] for l in layers]
    for p, q in zip(before["parameters"], after["parameters"]):
        layer, kind = p["name"].split(".")
        assert q["name"] == f"{renamed[layer]}.{kind}" and q["index"] == p["index"]
        assert (q["value"], q["grad"], q["updated"]) == (
            p["value"],
            p["grad"],
            p["updated"],
        )
    s.edit("fc3.bias", (1,), 0.5)
    assert s.parameter("fc3.bias")[1] == 0.5
    with pytest.raises(ConfigError, match=r"fc3\.bias"):
        s.parameter("4.bias")


@pytest.mark.parametrize(
    ("activation", "lr", "kind"),
    [
        ("sigmoid", 100.0, "growing"),
        ("relu", 3.0, "growing"),
        ("tanh", 10.0, "growing"),
    ],
)
def test_a_too_large_eta_diverges_as_train_says(activation, lr, kind):
    """One epoch at too large an eta on Iris: the session judges the run as rp.train
    does, with train's kind and message, after run_epoch and after a played chunk."""
    split = prepare_data()
    with pytest.raises(rp.DivergenceError) as by_train:
        rp.train(
            build_network(split, activation=activation),
            split.X_train,
            split.y_train,
            epochs=1,
            lr=lr,
            batch_size=1,
            seed=1,
            engine="numpy",
        )
    assert by_train.value.what.startswith("the loss ended at")  # not non-finite
    s = Session(Setup(lr=lr, activation=activation))
    with pytest.raises(rp.DivergenceError) as by_session:
        s.run_epoch()
    assert str(by_session.value) == str(by_train.value) and s.divergence == kind
    played = Session(Setup(lr=lr, activation=activation))
    assert played.train_for(600, max_updates=120) == 120
    (snap,) = apply(played, {"cmd": "state"})
    assert snap["error"] == str(by_train.value) and snap["divergence"] == kind
    (snap,) = apply(played, {"cmd": "reset"})
    assert snap["divergence"] is None and snap["error"] is None


def test_a_healthy_run_is_judged_healthy():
    s = Session()
    s.steps(7)
    s.run_epoch()
    assert s.train_for(600, max_updates=120) == 120
    assert s.divergence is None and s.error is None
    assert s.check_divergence() is None


def test_momentum_equals_rp_train_and_torch_sgd():
    """A session with momentum is rp.train with momentum (bit for bit) and
    torch.optim.SGD(momentum) on the same batches (float64, 1e-12)."""
    torch = pytest.importorskip("torch")
    split = prepare_data()
    net = build_network(split)
    rp.train(
        net,
        split.X_train,
        split.y_train,
        epochs=1,
        lr=0.05,
        momentum=0.9,
        batch_size=1,
        seed=1,
        engine="numpy",
    )
    s = Session(Setup(momentum=0.9))
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 4),
        torch.nn.Sigmoid(),
        torch.nn.Linear(4, 3),
        torch.nn.Sigmoid(),
        torch.nn.Linear(3, 3),
    ).double()
    with torch.no_grad():
        for (_, p), (_, q) in zip(model.named_parameters(), s.net.named_parameters()):
            p.copy_(torch.from_numpy(q.data))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    X, y = torch.from_numpy(s.split.X_train), torch.from_numpy(s.split.y_train)
    for _ in range(120):  # one epoch
        idx = torch.from_numpy(s.next_batch().copy())
        s.step()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
        opt.step()
    for (_, p1), (_, p2), (_, t) in zip(
        net.named_parameters(), s.net.named_parameters(), model.named_parameters()
    ):
        np.testing.assert_array_equal(p1.data, p2.data)
        np.testing.assert_allclose(p2.data, t.detach().numpy(), rtol=0, atol=1e-12)


def test_momentum_applies_from_the_next_update_and_the_step_shows_it():
    s = Session()
    s.steps(3)
    s.set_momentum(0.5)
    assert s.current_setup().to_query()["momentum"] == "0.5"
    snap = s.snapshot(plane=False)
    (p,) = [
        p
        for p in snap["trace"]["parameters"]
        if p["name"] == "2.weight" and p["index"] == [1, 3]
    ]
    # the first update with momentum starts the velocity at the gradient
    assert p["buffer"] is None and p["velocity"] == p["grad"]
    s.step()
    assert s.parameter("2.weight")[1, 3] == p["updated"]
    snap = s.snapshot(plane=False)
    (p,) = [
        p
        for p in snap["trace"]["parameters"]
        if p["name"] == "2.weight" and p["index"] == [1, 3]
    ]
    assert p["velocity"] == 0.5 * p["buffer"] + p["grad"]
    assert p["updated"] == p["value"] - 0.05 * p["velocity"]
    s.step()
    assert s.parameter("2.weight")[1, 3] == p["updated"]  # what the page showed
    with pytest.raises(ConfigError, match="momentum"):
        s.set_momentum(1.5)
    assert "momentum" in apply(s, {"cmd": "momentum", "value": "x"})[0]["message"]


def test_activation_per_layer():
    s = Session(Setup.from_query({"hidden": "4,3", "activation": "tanh,relu"}))
    kinds = [type(m).__name__ for m in s.net.modules]
    assert kinds == ["Linear", "Tanh", "Linear", "ReLU", "Linear"]
    # the same initial weights as one activation for all (mlp's, from the seed)
    same = Session(Setup(activation="tanh"))
    for (_, a), (_, b) in zip(s.net.named_parameters(), same.net.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert s.setup.to_query()["activation"] == "tanh,relu"
    layers = s.snapshot(plane=False)["layers"]
    assert [layer["activation"] for layer in layers] == ["Tanh", "ReLU", ""]
    # the step explained is explain_step's on a network built by hand
    net = build_network(prepare_data(), activation="tanh")
    net.modules[3] = rp.engine.activations.ACTIVATIONS["relu"]()
    rows = s.next_batch()
    trace = rp.explain_step(net, s.split.X_train[rows], s.split.y_train[rows])
    assert (
        json.loads(trace.to_json())["parameters"]
        == json.loads(s.trace().to_json())["parameters"]
    )
    for bad, says in (("tanh,relu,relu", "3 layers"), ("tanh,step", "one of")):
        with pytest.raises(ConfigError, match=says):
            Setup.from_query({"activation": bad})


def test_speed_gives_updates_per_frame():
    s = Session()
    s.set_speed(30)
    assert [s.play_frame(0.05) for _ in range(4)] == [1, 2, 1, 2]  # 1.5 per frame
    assert s.iteration == 6
    with pytest.raises(ConfigError, match="speed"):
        s.set_speed(-1)
    assert apply(s, {"cmd": "speed", "value": 0})[0]["speed"] == 0


def test_a_wide_network_sends_only_what_is_drawn():
    s = Session(Setup(hidden=(40, 20)))  # Iris: 4 inputs, then two wide layers
    assert s.large
    snap = s.snapshot()
    # collapsed layers: no weight between them, a light trace of every neuron
    assert [layer["rows"] for layer in snap["layers"]] == [None, None, [0, 3]]
    assert snap["layers"][1]["weight"] == []
    assert snap["trace"]["light"] and len(snap["trace"]["layers"][0]["a"][0]) == 40
    assert snap["plane"]["neurons"] == [[], []]
    apply(s, {"cmd": "view", "layer": 1, "open": True, "start": 17})
    apply(s, {"cmd": "view", "layer": 2, "open": True, "start": 0})
    snap = s.snapshot()
    assert snap["layers"][0]["rows"] == [16, 32] and snap["layers"][1]["cols"] == [
        16,
        32,
    ]
    w = s.parameter("2.weight")
    assert snap["layers"][1]["weight"] == w[0:16, 16:32].tolist()
    # each drawn weight's numbers: the engine's own backward, as explain_step gives
    rows = s.next_batch()
    trace = rp.explain_step(s.net, s.split.X_train[rows], s.split.y_train[rows])
    full = {(p.name, p.index): p for p in trace.parameters}
    light = snap["trace"]["parameters"]
    assert len(light) == 16 * 4 + 16 + 16 * 16 + 16 + 3 * 16 + 3
    for p in light:
        ref = full[(p["name"], tuple(p["index"]))]
        assert p["value"] == ref.value
        assert p["grad"] == ref.grad  # the same backward, the same floats
        assert p["updated"] == p["value"] - 0.05 * p["grad"]
    assert snap["trace"]["target"] == [int(s.split.y_train[rows][0])]
    with pytest.raises(ConfigError, match="wide layers are 1, 2"):
        s.set_view(3, True)


def test_a_first_layer_neuron_of_a_heatmap_input_sends_its_weights():
    from retroprop.datasets import Dataset

    rng = np.random.default_rng(0)
    ds = Dataset(
        X=rng.normal(size=(60, 49)),
        y=np.arange(60) % 3,
        feature_names=[f"px{i}" for i in range(49)],
        class_names=["a", "b", "c"],
        name="pixels",
    )
    s = Session(Setup(dataset="upload", hidden=(8,)), ds)
    assert s.window(0) is None  # 49 inputs: a heatmap
    (snap,) = apply(s, {"cmd": "select", "kind": "neuron", "layer": 1, "index": 5})
    assert snap["incoming"]["weight"] == s.parameter("0.weight")[5].tolist()
    small = Session()
    assert (
        apply(small, {"cmd": "select", "kind": "neuron", "layer": 1, "index": 0}) == []
    )
